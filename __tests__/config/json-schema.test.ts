import { describe, expect, it } from '@jest/globals'
import { takoJsonSchema } from '../../src/config/json-schema.js'

interface Schema {
  [key: string]: unknown
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  anyOf?: Schema[]
  $defs?: Record<string, Schema>
}

describe('takoJsonSchema', () => {
  const schema = takoJsonSchema() as Schema

  it('identifies itself', () => {
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:tako-action:schema:tako.yml',
      title: 'tako.yml',
      type: 'object',
      required: ['version'],
      additionalProperties: false
    })
  })

  it('lists the keys the loader accepts, and no others', () => {
    expect(Object.keys(schema.properties!)).toEqual(['version', 'name', 'metadata', 'artifacts', 'workflows', 'subscriptions', 'events', 'repos'])
    const stepMap = schema.$defs!.Step.anyOf!.find((s) => s.type === 'object')!
    expect(stepMap.additionalProperties).toBe(false)
    expect(Object.keys(stepMap.properties!)).toEqual([
      'id', 'name', 'if', 'run', 'shell', 'working_directory', 'env', 'timeout', 'continue_on_error', 'produces', 'on_failure', 'uses', 'with'
    ])
    expect(stepMap.properties!.on_failure).toMatchObject({ type: 'array', items: { $ref: '#/$defs/Step' } })
    expect(Object.keys(schema.$defs!.Subscription.properties!)).toEqual([
      'artifact', 'events', 'schema_version', 'filter', 'filters', 'workflow', 'inputs', 'runs_on'
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

  it('knows the built-in steps and the with keys of each, from the steps\' own schemas', () => {
    const stepMap = schema.$defs!.Step.anyOf!.find((s) => s.type === 'object')!
    expect(stepMap.properties!.uses.enum).toEqual(['tako/fan-out@v1', 'tako/pull-request@v1'])
    const withOf = (uses: string): Schema => {
      const rule = (stepMap.allOf as Array<{ if: Schema; then: Schema }>).find((r) => (r.if.properties!.uses.enum as string[]).includes(uses))!
      return rule.then.properties!.with
    }
    const pr = withOf('tako/pull-request@v1')
    expect(pr.additionalProperties).toBe(false)
    expect(pr.required).toEqual(['title'])
    expect(Object.keys(pr.properties!)).toEqual([
      'title', 'branch', 'base', 'body', 'commit_message', 'add_paths', 'labels', 'reviewers', 'team_reviewers', 'assignees', 'draft', 'push_only', 'author'
    ])
    for (const property of Object.values(pr.properties!)) expect(typeof property.description).toBe('string')
    // A boolean may also be a template, known only when the step runs.
    expect(pr.properties!.draft.anyOf).toEqual([{ type: 'boolean' }, expect.objectContaining({ type: 'string', pattern: '\\{\\{' })])
    const fanOut = withOf('tako/fan-out@v1')
    expect(fanOut.required).toEqual(['event_type'])
    expect(Object.keys(fanOut.properties!)).toEqual(['event_type', 'artifact', 'schema_version', 'payload', 'wait_for_children', 'timeout', 'concurrency_limit', 'fail_fast'])
  })
})
