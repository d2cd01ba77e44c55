import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse } from 'yaml'
import { takoJsonSchema } from '../../src/config/json-schema.js'

/** The generated schema compiled as an editor's validator would: strict mode, the draft the schema names. */
function validator(): (data: unknown) => ErrorObject[] {
  const schema = takoJsonSchema() as { $schema?: string }
  const options = { strict: true, allowUnionTypes: true, allErrors: true }
  const ajv = String(schema.$schema).includes('2020-12') ? new Ajv2020(options) : new Ajv(options)
  const validate = ajv.compile(schema)
  return (data) => (validate(data) ? [] : [...(validate.errors ?? [])])
}

const validate = validator()

function examples(dir = 'examples'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    return e.isDirectory() ? examples(full) : e.name === 'tako.yml' ? [full] : []
  })
}

const withStep = (uses: string, args: Record<string, unknown> | undefined): unknown => ({
  version: 1,
  workflows: { release: { steps: [{ id: 'step', uses, ...(args === undefined ? {} : { with: args }) }] } }
})

/** The additional keys Ajv names under a step's `with`. */
const unknownKeys = (errors: ErrorObject[]): string[] =>
  errors.filter((e) => e.keyword === 'additionalProperties' && e.instancePath.endsWith('/with')).map((e) => String(e.params.additionalProperty))

describe("the JSON schema's built-in `with` keys", () => {
  it('accepts every examples/**/tako.yml', () => {
    const files = examples()
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const file of files) expect({ file, errors: validate(parse(readFileSync(file, 'utf8'))) }).toEqual({ file, errors: [] })
  })

  it('rejects a misspelt key under tako/fan-out@v1, naming it', () => {
    expect(validate(withStep('tako/fan-out@v1', { event_type: 'api_published' }))).toEqual([])
    expect(unknownKeys(validate(withStep('tako/fan-out@v1', { event_typ: 'x' })))).toEqual(['event_typ'])
  })

  it('rejects an unknown key under tako/pull-request@v1, and a fan-out key there', () => {
    expect(validate(withStep('tako/pull-request@v1', { title: 'Bump', labels: ['deps'], draft: true }))).toEqual([])
    expect(unknownKeys(validate(withStep('tako/pull-request@v1', { title: 'Bump', label: 'deps' })))).toEqual(['label'])
    expect(unknownKeys(validate(withStep('tako/pull-request@v1', { title: 'Bump', event_type: 'x' })))).toEqual(['event_type'])
  })

  it('requires what the built-in requires, and the types of its values', () => {
    expect(validate(withStep('tako/pull-request@v1', { branch: 'tako/x' })).map((e) => e.params.missingProperty)).toContain('title')
    expect(validate(withStep('tako/fan-out@v1', {})).map((e) => e.params.missingProperty)).toContain('event_type')
    expect(validate(withStep('tako/fan-out@v1', { event_type: 'Not Snake' })).length).toBeGreaterThan(0)
    expect(validate(withStep('tako/fan-out@v1', { event_type: 'a', concurrency_limit: 0 })).length).toBeGreaterThan(0)
    expect(validate(withStep('tako/fan-out@v1', { event_type: 'a', wait_for_children: 'yes' })).length).toBeGreaterThan(0)
    expect(validate(withStep('tako/pull-request@v1', { title: 'Bump', draft: 1 })).length).toBeGreaterThan(0)
  })

  it('accepts a template where a number, a boolean, a map or a patterned string is expected', () => {
    const templated = {
      event_type: '{{ .inputs.event }}',
      payload: '{{ .inputs.payload }}',
      concurrency_limit: '{{ .inputs.parallel }}',
      wait_for_children: '{{ .inputs.wait }}',
      fail_fast: "{{ .inputs.mode == 'strict' }}"
    }
    expect(validate(withStep('tako/fan-out@v1', templated))).toEqual([])
    expect(validate(withStep('tako/pull-request@v1', { title: 'Bump', draft: '{{ .inputs.draft }}', author: '{{ .event.payload.author }}' }))).toEqual([])
  })

  it('leaves a script step with `with`-less keys to the rest of the schema', () => {
    expect(validate({ version: 1, workflows: { build: { steps: ['make', { run: 'make test', timeout: '5m' }] } } })).toEqual([])
  })
})
