import { describe, expect, it } from '@jest/globals'
import { Ajv } from 'ajv'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { builtinUses, takoJsonSchema } from '../../src/config/json-schema.js'

interface Schema {
  [key: string]: unknown
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  anyOf?: Schema[]
  oneOf?: Schema[]
  definitions?: Record<string, Schema>
}

const examplesDir = fileURLToPath(new URL('../../examples', import.meta.url))

function examples(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /^tako\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
}

/**
 * A strict draft-07 validator (unknown keywords, ignored keywords, required keys without properties all throw).
 * Union types (`type: [string, number]`) are plain draft-07 and allowed, as SchemaStore's own Ajv check does.
 */
function validator(): ReturnType<Ajv['compile']> {
  return new Ajv({ strict: true, allowUnionTypes: true, allErrors: true }).compile(takoJsonSchema())
}

const withSteps = (steps: unknown[]) => ({ version: 1, workflows: { release: { steps } } })

describe('takoJsonSchema', () => {
  const schema = takoJsonSchema() as Schema

  it('identifies itself as draft-07', () => {
    expect(schema).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'urn:tako-action:schema:tako.yml',
      title: 'tako.yml',
      type: 'object',
      required: ['version'],
      additionalProperties: false
    })
    expect(schema).not.toHaveProperty('$defs')
  })

  it('lists the keys the loader accepts, and no others', () => {
    expect(Object.keys(schema.properties!)).toEqual(['version', 'name', 'metadata', 'artifacts', 'workflows', 'subscriptions', 'events', 'repos'])
    const stepMap = schema.definitions!.Step.anyOf!.find((s) => s.type === 'object')!
    expect(stepMap.additionalProperties).toBe(false)
    expect(Object.keys(stepMap.properties!)).toEqual([
      'id',
      'name',
      'if',
      'run',
      'shell',
      'working_directory',
      'env',
      'timeout',
      'continue_on_error',
      'produces',
      'on_failure',
      'uses',
      'with'
    ])
    expect(stepMap.properties!.on_failure).toMatchObject({ type: 'array', items: { $ref: '#/definitions/Step' } })
    expect(Object.keys(schema.definitions!.Subscription.properties!)).toEqual([
      'artifact',
      'events',
      'schema_version',
      'filter',
      'filters',
      'workflow',
      'inputs',
      'runs_on'
    ])
  })

  it('carries the name, duration and reference patterns', () => {
    const workflows = schema.properties!.workflows
    expect(workflows.propertyNames).toEqual({ type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]*$' })
    const timeout = (workflows.additionalProperties as Schema).properties!.timeout
    const pattern = new RegExp(timeout.pattern as string)
    expect(['90s', '1h30m', '500ms'].every((d) => pattern.test(d))).toBe(true)
    expect(pattern.test('soon')).toBe(false)
    const repos = new RegExp((schema.properties!.repos.items as Schema).pattern as string)
    expect(['acme/api', 'acme/web-app@main', 'a-b/c.d_e@v1.2'].every((r) => repos.test(r))).toBe(true)
    expect(['acme', 'acme/..', 'acme/api@', '/api'].some((r) => repos.test(r))).toBe(false)
  })

  it('describes every property, for editors to show on hover', () => {
    const undescribed: string[] = []
    const resolve = (node: Schema): Schema => {
      const ref = node.$ref as string | undefined
      return ref ? schema.definitions![ref.replace('#/definitions/', '')] : node
    }
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`))
      if (node === null || typeof node !== 'object') return
      const s = node as Schema
      for (const [key, property] of Object.entries(s.properties ?? {})) {
        if (typeof resolve(property).description !== 'string' || resolve(property).description === '') undescribed.push(`${path}.${key}`)
      }
      // oneOf of a step map only says which keys are required ("run xor uses"), and an if only which built-in a rule is for;
      // the keys are described elsewhere.
      for (const [key, child] of Object.entries(s)) if (!['enum', 'required', 'oneOf', 'if'].includes(key)) walk(child, `${path}/${key}`)
    }
    walk(schema, '#')
    expect(undescribed).toEqual([])
    // Counted so that a regression to a handful of described keys cannot hide behind an empty list.
    expect(JSON.stringify(schema).match(/"description":/g)!.length).toBeGreaterThanOrEqual(54)
  })

  it('compiles in Ajv strict mode and accepts every examples/**/tako.yml', () => {
    const validate = validator()
    const files = examples(examplesDir)
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const file of files) {
      const valid = validate(parse(readFileSync(file, 'utf8')))
      expect({ file, errors: valid ? null : validate.errors }).toEqual({ file, errors: null })
    }
  })

  it('lists the built-in steps in uses', () => {
    const validate = validator()
    expect(builtinUses()).toContain('tako/fan-out@v1')
    for (const uses of builtinUses()) expect(validate(withSteps([{ uses }]))).toBe(true)
  })

  it.each([
    ['a step with both run and uses', { run: 'make', uses: 'tako/fan-out@v1' }, '/oneOf'],
    ['a step with neither run nor uses', { name: 'nothing' }, '/oneOf'],
    ['a step using an unknown built-in', { uses: 'tako/teleport@v1' }, '/enum'],
    ['a built-in without its version', { uses: 'tako/fan-out' }, '/enum'],
    ['a misspelt step key', { run: 'make', timout: '1m' }, '/additionalProperties']
  ])('rejects %s', (_what, step, keyword) => {
    const validate = validator()
    expect(validate(withSteps(['echo ok', { run: 'make' }]))).toBe(true)
    expect(validate(withSteps(['echo ok', step]))).toBe(false)
    expect(validate.errors!.map((e) => e.schemaPath)).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`${keyword}$`))]))
    expect(validate.errors!.every((e) => e.instancePath.startsWith('/workflows/release/steps/1'))).toBe(true)
  })
  it("knows the with keys of each built-in step, from the steps' own schemas", () => {
    // The step map is the one node holding the if/then rules, one per built-in.
    const find = (node: unknown): Schema | undefined => {
      if (node === null || typeof node !== 'object') return undefined
      if (Array.isArray((node as Schema).allOf) && ((node as Schema).allOf as Schema[]).some((r) => 'if' in r)) return node as Schema
      for (const child of Object.values(node as Schema)) {
        const found = find(child)
        if (found) return found
      }
      return undefined
    }
    const stepMap = find(schema)!
    const withOf = (uses: string): Schema => {
      const rule = (stepMap.allOf as Array<{ if: Schema; then: Schema }>).find((r) => (r.if.properties!.uses.enum as string[]).includes(uses))!
      return rule.then.properties!.with
    }
    const pr = withOf('tako/pull-request@v1')
    expect(pr.additionalProperties).toBe(false)
    expect(pr.required).toEqual(['title'])
    expect(Object.keys(pr.properties!)).toEqual(
      expect.arrayContaining([
        'title',
        'branch',
        'base',
        'body',
        'commit_message',
        'add_paths',
        'labels',
        'reviewers',
        'team_reviewers',
        'assignees',
        'draft',
        'push_only'
      ])
    )
    for (const property of Object.values(pr.properties!)) expect(typeof property.description).toBe('string')
    // A boolean may also be a template, known only when the step runs.
    expect(pr.properties!.draft.anyOf).toEqual([{ type: 'boolean' }, expect.objectContaining({ type: 'string', pattern: '\\{\\{' })])
    const fanOut = withOf('tako/fan-out@v1')
    expect(fanOut.required).toEqual(['event_type'])
    expect(Object.keys(fanOut.properties!)).toEqual([
      'event_type',
      'artifact',
      'schema_version',
      'payload',
      'wait_for_children',
      'timeout',
      'concurrency_limit',
      'fail_fast'
    ])
  })

  it('rejects a misspelt with key of a built-in step', () => {
    const validate = validator()
    expect(validate(withSteps([{ uses: 'tako/fan-out@v1', with: { event_type: 'x' } }]))).toBe(true)
    expect(validate(withSteps([{ uses: 'tako/fan-out@v1', with: { event_typ: 'x' } }]))).toBe(false)
    expect(validate(withSteps([{ uses: 'tako/pull-request@v1', with: { title: 't', lables: ['x'] } }]))).toBe(false)
    expect(validate(withSteps([{ uses: 'tako/pull-request@v1', with: { title: 't', draft: '{{ .inputs.draft }}' } }]))).toBe(true)
  })
})
