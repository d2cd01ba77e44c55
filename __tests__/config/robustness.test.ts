import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { parseConfig } from '../../src/config/load.js'

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 12 }).map((s) => `{{ .${s} }}`))
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

describe('parseConfig on arbitrary input', () => {
  it('never throws, locates every issue, and returns a config exactly when there is no error', () => {
    fc.assert(
      fc.property(fc.oneof(fileArb.map((file) => stringify(file)), fc.string({ maxLength: 200 })), (text) => {
        const { config, issues } = parseConfig(text, 'tako.yml')
        for (const issue of issues) {
          expect(issue.line).toBeGreaterThanOrEqual(1)
          expect(issue.col).toBeGreaterThanOrEqual(1)
          expect(issue.message).not.toMatch(/undefined|\[object Object\]/)
        }
        expect(config !== undefined).toBe(!issues.some((i) => i.severity === 'error'))
      }),
      { numRuns: 500 }
    )
  })
})
