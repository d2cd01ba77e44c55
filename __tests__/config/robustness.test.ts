// Property tests: whatever the text, the loader answers "valid" or located errors, never a throw.

import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { parseConfig } from '../../src/config/load.js'

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 12 }).map((s) => `{{ .${s} }}`)
)
const stepArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.record(
    {
      id: fc.oneof(fc.constantFrom('a', 'b', 'step-1'), anyValue),
      run: anyValue,
      uses: fc.constantFrom('tako/fan-out@v1', 'tako/fan-out@v9', 'x/y'),
      with: fc.oneof(anyValue, fc.record({ event_type: anyValue, timeout: anyValue, payload: anyValue }, { requiredKeys: [] })),
      if: anyValue,
      env: anyValue,
      working_directory: anyValue,
      produces: fc.oneof(anyValue, fc.record({ outputs: fc.dictionary(fc.string({ maxLength: 5 }), anyValue) })),
      on_failure: fc.oneof(anyValue, fc.array(fc.record({ id: anyValue, run: anyValue }, { requiredKeys: [] }), { maxLength: 2 }))
    },
    { requiredKeys: [] }
  )
)
const fileArb = fc.record(
  {
    version: anyValue,
    workflows: fc.oneof(
      anyValue,
      fc.dictionary(
        fc.string({ maxLength: 6 }),
        fc.record({ steps: fc.oneof(anyValue, fc.array(stepArb, { maxLength: 4 })), inputs: anyValue, env: anyValue, timeout: anyValue }, { requiredKeys: [] }),
        { maxKeys: 2 }
      )
    ),
    subscriptions: fc.oneof(
      anyValue,
      fc.array(
        fc.record(
          { artifact: anyValue, events: anyValue, filter: anyValue, filters: anyValue, workflow: anyValue, inputs: anyValue, schema_version: anyValue },
          { requiredKeys: [] }
        ),
        { maxLength: 2 }
      )
    ),
    events: anyValue,
    artifacts: anyValue
  },
  { requiredKeys: [] }
)

/** Valid files to mutate: the examples plus a dense one exercising most keys. */
const SEEDS = ['api-definitions', 'user-service', 'billing-service', 'web-app'].map((r) => readFileSync(`examples/acme/${r}/tako.yml`, 'utf8'))

/** One edit of a valid file: delete, insert, duplicate or swap at arbitrary places. */
const mutation = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  edits: fc.array(
    fc.record({
      kind: fc.constantFrom('delete', 'insert', 'duplicate-line', 'swap-lines', 'indent'),
      at: fc.nat(),
      len: fc.nat({ max: 12 }),
      text: fc.constantFrom(
        ':',
        ' ',
        '\n',
        '-',
        '{{',
        '}}',
        '"',
        "'",
        '[',
        ']',
        '{',
        '}',
        '&a',
        '*a',
        '#',
        '\t',
        'x',
        'on_failure:',
        'uses: tako/fan-out@v1',
        '|',
        '>',
        '!!str',
        '%',
        '@'
      )
    }),
    { minLength: 1, maxLength: 4 }
  )
})

function mutate(m: { seed: number; edits: Array<{ kind: string; at: number; len: number; text: string }> }): string {
  let text = SEEDS[m.seed]
  for (const e of m.edits) {
    const at = text.length ? e.at % text.length : 0
    const lines = text.split('\n')
    const l = lines.length ? e.at % lines.length : 0
    if (e.kind === 'delete') text = text.slice(0, at) + text.slice(at + e.len)
    else if (e.kind === 'insert') text = text.slice(0, at) + e.text + text.slice(at)
    else if (e.kind === 'duplicate-line') text = [...lines.slice(0, l + 1), lines[l], ...lines.slice(l + 1)].join('\n')
    else if (e.kind === 'swap-lines') {
      const k = (l + 1 + (e.len % 3)) % lines.length
      ;[lines[l], lines[k]] = [lines[k], lines[l]]
      text = lines.join('\n')
    } else text = [...lines.slice(0, l), `  ${lines[l]}`, ...lines.slice(l + 1)].join('\n')
  }
  return text
}

function checkAnswer(text: string): void {
  const { config, issues } = parseConfig(text, 'tako.yml')
  for (const issue of issues) {
    expect(issue.line).toBeGreaterThanOrEqual(1)
    expect(issue.col).toBeGreaterThanOrEqual(1)
    expect(issue.message).not.toMatch(/undefined|\[object Object\]/)
  }
  expect(config !== undefined).toBe(!issues.some((i) => i.severity === 'error'))
}

describe('parseConfig on arbitrary input', () => {
  it('the seeds are valid', () => {
    for (const seed of SEEDS) expect(parseConfig(seed, 'tako.yml').issues.filter((i) => i.severity === 'error')).toEqual([])
  })

  it('never throws, locates every issue, and returns a config exactly when there is no error (generated files)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fileArb.map((file) => stringify(file)),
          fc.string({ maxLength: 200 })
        ),
        checkAnswer
      ),
      { numRuns: 1000, seed: 20261124 }
    )
  })

  it('answers "valid" or located errors for 1,000 mutations of valid files', () => {
    let invalid = 0
    fc.assert(
      fc.property(mutation, (m) => {
        const text = mutate(m)
        checkAnswer(text)
        if (!parseConfig(text, 'tako.yml').config) invalid++
      }),
      { numRuns: 1000, seed: 1124 }
    )
    // The mutations must reach the error paths, not only harmless whitespace.
    expect(invalid).toBeGreaterThan(300)
  })
})
