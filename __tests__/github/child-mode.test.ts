import { afterEach, describe, expect, it } from '@jest/globals'
import { childRunNote, parseEventInput } from '../../src/github/child-mode.js'
import { getInputs } from '../../src/github/inputs.js'

const saved = { ...process.env }

afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
})

function inputs(values: Record<string, string>): ReturnType<typeof getInputs> {
  for (const name of Object.keys(process.env)) if (name.startsWith('INPUT_')) delete process.env[name]
  for (const [name, value] of Object.entries({ workflow: 'update', ...values })) process.env[`INPUT_${name.toUpperCase()}`] = value
  return getInputs()
}

describe('parseEventInput', () => {
  it('reads the event a parent sends', () => {
    const event = { id: 'e1', type: 'api_published', source: 'acme/api', artifact: 'default', schema_version: '1.2.0', payload: { git_tag: 'v1.2.0' } }
    expect(parseEventInput(JSON.stringify(event))).toEqual(event)
    expect(parseEventInput('  ')).toBeUndefined()
  })

  it('fills what a hand-written event leaves out', () => {
    expect(parseEventInput('{"type":"api_published","source":"acme/api"}')).toEqual({
      id: expect.stringMatching(/^manual-[0-9a-f-]{36}$/),
      type: 'api_published',
      source: 'acme/api',
      artifact: 'default',
      payload: {}
    })
  })

  it('says what is wrong with an event that is not one', () => {
    expect(() => parseEventInput('{type: x}')).toThrow(/^not JSON \(/)
    expect(() => parseEventInput('{"type":"api_published","source":"acme/api","payload":[1]}')).toThrow(
      /^expected \{"type", "source", "artifact", "payload"\} of a tako event: "payload": /
    )
    expect(() => parseEventInput('{"source":"acme/api"}')).toThrow(/"type": /)
  })
})

describe('childRunNote', () => {
  it('links the parent run and names the event, with markdown in names kept literal', () => {
    const event = { id: 'e', type: 'api_published', source: 'acme/api', artifact: 'default', payload: {} }
    expect(childRunNote('https://github.com/acme/api/actions/runs/7/attempts/1', event)).toBe(
      '> Dispatched by [https://github.com/acme/api/actions/runs/7/attempts/1](https://github.com/acme/api/actions/runs/7/attempts/1) for the event api\\_published of acme/api.\n\n'
    )
    expect(childRunNote('', undefined)).toBe('')
  })
})

describe('getInputs for dispatch mode and child runs', () => {
  it('defaults to local mode, tako.yml and no event', () => {
    expect(inputs({})).toMatchObject({ mode: 'local', dispatchWorkflow: 'tako.yml', event: undefined, parentRun: '' })
  })

  it('takes dispatch mode, a workflow path and a child event', () => {
    const got = inputs({
      mode: 'dispatch',
      'dispatch-workflow': '.github/workflows/children.yaml',
      event: '{"type":"t","source":"a/b"}',
      'parent-run': 'https://github.com/a/b/actions/runs/1'
    })
    expect(got).toMatchObject({
      mode: 'dispatch',
      dispatchWorkflow: 'children.yaml',
      event: { type: 't', source: 'a/b' },
      parentRun: 'https://github.com/a/b/actions/runs/1'
    })
  })

  it('rejects what it cannot use, each with its own message', () => {
    expect(() => inputs({ mode: 'remote', 'dispatch-workflow': '../x.yml', event: 'nope', 'parent-run': 'run 7' })).toThrow(
      [
        'input "mode" must be local or dispatch, got "remote"',
        'input "dispatch-workflow" must be the file name of a workflow in .github/workflows/ of each subscriber (like tako.yml), got "../x.yml"',
        'input "event": not JSON (Unexpected token \'o\', "nope" is not valid JSON)',
        'input "parent-run" must be the http(s) URL of the parent\'s run, got "run 7"'
      ].join('\n')
    )
  })
})
