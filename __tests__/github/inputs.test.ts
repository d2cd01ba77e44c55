import { afterEach, describe, expect, it } from '@jest/globals'
import { getInputs, parseWorkflowInputs } from '../../src/github/inputs.js'

const saved = { ...process.env }

afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
})

describe('parseWorkflowInputs', () => {
  it('keeps each value of a YAML map as the text it was written as', () => {
    expect(parseWorkflowInputs('version: 1.10\nsha: 0123\ndry: true\nnote: "a: b"\nempty:')).toEqual({
      version: '1.10',
      sha: '0123',
      dry: 'true',
      note: 'a: b',
      empty: ''
    })
  })

  it('reads a JSON map the same way', () => {
    expect(parseWorkflowInputs('{"version": 1.10, "retries": 3, "dry": false, "tag": "v1"}')).toEqual({
      version: '1.10',
      retries: '3',
      dry: 'false',
      tag: 'v1'
    })
  })

  it('keeps every = of a name=value line', () => {
    expect(parseWorkflowInputs('filter=a=b\nversion=1.10')).toEqual({ filter: 'a=b', version: '1.10' })
  })

  it('refuses lists and maps as values, and what is not a map', () => {
    expect(() => parseWorkflowInputs('tags: [a, b]')).toThrow('value of "tags" must be a string, number or boolean, not a list or a map')
    expect(() => parseWorkflowInputs('- a\n- b')).toThrow('expected a map of input names to values, or name=value lines')
  })
})

describe('getInputs', () => {
  function inputs(values: Record<string, string>): ReturnType<typeof getInputs> {
    for (const name of Object.keys(process.env)) if (name.startsWith('INPUT_')) delete process.env[name]
    for (const [name, value] of Object.entries({ workflow: 'release', ...values })) process.env[`INPUT_${name.toUpperCase()}`] = value
    return getInputs()
  }

  it('leaves the tako file to be found (tako.yml, else tako.yaml) when config is empty', () => {
    expect(inputs({ config: '' }).config).toBeUndefined()
    expect(inputs({ config: ' ci/tako.yml ' }).config).toBe('ci/tako.yml')
  })
})
