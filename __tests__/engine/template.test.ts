import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { checkTemplate, renderDeep, renderTemplate, TemplateError } from '../../src/engine/template.js'
import type { RunContext } from '../../src/engine/types.js'

const ctx: RunContext = {
  inputs: { version: 'v1.2.3', 'api-version': '2', dry: false, shards: 3, note: '', level: 'Minor ' },
  steps: {
    build: { status: 'success', outputs: { image: 'acme/api:1.2.3', empty: '' } },
    'build-x': { status: 'success', outputs: { y: 'why' } },
    quiet: { status: 'success', outputs: {} }
  },
  event: {
    id: 'evt-1',
    type: 'api_published',
    source: 'acme/api',
    artifact: 'default',
    schema_version: '1.2.0',
    payload: { git_tag: 'v9', nested: { deep: { value: 42 } }, list: [1, 'two'], flag: true, nothing: null }
  },
  env: { HOME_DIR: '/home/me', UNSET: undefined },
  run_id: 'exec-20261124-143022-a7b3c1d2',
  repository: 'acme/consumer'
}

const render = (text: string, c: RunContext = ctx): string => renderTemplate(text, c, 'step "deploy" run')

function renderError(text: string, c: RunContext = ctx): string {
  try {
    render(text, c)
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError)
    return (error as Error).message
  }
  throw new Error(`expected ${text} to fail`)
}

describe('renderTemplate', () => {
  it('renders every root in both spellings', () => {
    expect(render('{{ .inputs.version }} {{.Inputs.version}}')).toBe('v1.2.3 v1.2.3')
    expect(render('{{ .steps.build.outputs.image }}|{{ .Steps.build.image }}|{{ .Steps.build.outputs.image }}')).toBe(
      'acme/api:1.2.3|acme/api:1.2.3|acme/api:1.2.3'
    )
    expect(render('{{ .event.type }} {{ .event.source }} {{ .event.schema_version }} {{ .event.artifact }} {{ .event.id }}')).toBe(
      'api_published acme/api 1.2.0 default evt-1'
    )
    expect(render('{{ .Event.Type }} {{ .Event.Payload.git_tag }} {{ .event.payload.nested.deep.value }}')).toBe('api_published v9 42')
    expect(render('{{ .env.HOME_DIR }} {{ .run_id }} {{ .repository }}')).toBe('/home/me exec-20261124-143022-a7b3c1d2 acme/consumer')
  })

  it('accepts hyphens in path segments', () => {
    expect(render('{{ .inputs.api-version }}/{{ .steps.build-x.outputs.y }}')).toBe('2/why')
  })

  it('renders numbers, booleans, objects and arrays as text', () => {
    expect(render('{{ .inputs.shards }} {{ .inputs.dry }} {{ .event.payload.flag }}')).toBe('3 false true')
    expect(render('{{ .event.payload.nested }} {{ .event.payload.list }}')).toBe('{"deep":{"value":42}} [1,"two"]')
    expect(render('[{{ .event.payload.nothing }}]')).toBe('[]')
  })

  it('applies filters left to right', () => {
    expect(render('{{ .inputs.version | upper }} {{ .inputs.level | trim | lower }}')).toBe('V1.2.3 minor')
    expect(render('{{ .inputs.version | json }} {{ .inputs.shards | json }} {{ .event.payload.nested | json }}')).toBe('"v1.2.3" 3 {"deep":{"value":42}}')
    expect(render(`{{ .inputs.level | trim | shell_quote }}`)).toBe(`'Minor'`)
  })

  it('uses default for a missing reference and for an empty string, with either quote', () => {
    expect(render('{{ .inputs.nope | default "none" }}')).toBe('none')
    expect(render(`{{ .inputs.note | default 'blank' }}`)).toBe('blank')
    expect(render('{{ .steps.build.outputs.empty | default "x" | upper }}')).toBe('X')
    expect(render('{{ .steps.later.outputs.z | upper | default "fallback" }}')).toBe('fallback')
    expect(render('{{ .inputs.version | default "unused" }}')).toBe('v1.2.3')
    expect(render('{{ .env.UNSET | default "a \\"quoted\\" }} value" }}')).toBe('a "quoted" }} value')
  })

  it('renders a quoted literal, the way to write a literal {{', () => {
    expect(render(`docker inspect --format '{{ "{{" }}.Id}}' x`)).toBe(`docker inspect --format '{{.Id}}' x`)
  })

  it('leaves text without templates, JSON and shell braces alone', () => {
    const script = `echo '{"a":{"b":1}}' | jq '{x: {y: .a}}'; echo \${HOME}}`
    expect(render(script)).toBe(script)
  })

  it('fails on an unresolved reference, naming where, the expression and the path', () => {
    expect(renderError('echo {{ .inputs.nope }}')).toBe(
      'template error in step "deploy" run: "{{ .inputs.nope }}" references .inputs.nope, which is not defined ' +
        '(inputs set: version, api-version, dry, shards, note, level)'
    )
    expect(renderError('{{ .Steps.build.tag }}')).toBe(
      'template error in step "deploy" run: "{{ .Steps.build.tag }}" references .Steps.build.tag, which is not defined ' +
        '(step "build" has outputs image, empty)'
    )
    expect(renderError('{{ .steps.quiet.outputs.x }}')).toBe(
      'template error in step "deploy" run: "{{ .steps.quiet.outputs.x }}" references .steps.quiet.outputs.x, which is not defined (step "quiet" has no outputs)'
    )
    expect(renderError('{{ .steps.later.outputs.x }}')).toBe(
      'template error in step "deploy" run: "{{ .steps.later.outputs.x }}" references .steps.later.outputs.x, which is not defined (no step "later" has run before this point)'
    )
    expect(renderError('{{ .event.payload.nested.missing.value | upper }}')).toBe(
      'template error in step "deploy" run: "{{ .event.payload.nested.missing.value | upper }}" references .event.payload.nested.missing.value, which is not defined'
    )
    expect(renderError('{{ .env.UNSET }}')).toBe('template error in step "deploy" run: "{{ .env.UNSET }}" references .env.UNSET, which is not defined')
    expect(renderError('{{ .event.type }}', { ...ctx, event: undefined })).toBe(
      'template error in step "deploy" run: "{{ .event.type }}" references .event.type, which is not defined (this run was not triggered by an event)'
    )
    expect(renderError('{{ .inputs.x }}', { ...ctx, inputs: {} })).toBe(
      'template error in step "deploy" run: "{{ .inputs.x }}" references .inputs.x, which is not defined (no inputs are set)'
    )
  })

  it('fails on a template that does not parse', () => {
    expect(renderError('{{ .foo.x }}')).toBe(
      'template error in step "deploy" run: "{{ .foo.x }}" refers to .foo, which is not one of .inputs, .steps, .event, .env, .run_id, .repository'
    )
    expect(renderError('echo {{ .inputs.version')).toBe('template error in step "deploy" run: "{{ .inputs.version" is not closed with "}}"')
  })
})

describe('shell_quote through a real bash', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tako-template-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it.each([`it's a "test" & $HOME; rm -rf nothing`, '$(touch pwned)', '`touch pwned`; touch pwned', "''\\'\n\t*", ''])(
    'passes %j through unchanged and runs nothing',
    (value) => {
      const script = render('printf %s {{ .inputs.value | shell_quote }}', { ...ctx, inputs: { value } })
      const out = execFileSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' })
      expect(out).toBe(value)
      expect(existsSync(path.join(dir, 'pwned'))).toBe(false)
      expect(readdirSync(dir)).toEqual([])
    }
  )

  it('produces POSIX single-quote style', () => {
    expect(render('{{ .inputs.v | shell_quote }}', { ...ctx, inputs: { v: "it's" } })).toBe(`'it'\\''s'`)
  })
})

describe('renderDeep', () => {
  it('renders strings at any depth and keeps other scalars', () => {
    const value = { tag: '{{ .inputs.version }}', n: 3, ok: true, none: null, list: ['{{ .run_id }}', 1], nested: { x: '{{ .event.type | upper }}' } }
    expect(renderDeep(value, ctx, 'with')).toEqual({
      tag: 'v1.2.3',
      n: 3,
      ok: true,
      none: null,
      list: ['exec-20261124-143022-a7b3c1d2', 1],
      nested: { x: 'API_PUBLISHED' }
    })
  })

  it('names the key path of a failing value', () => {
    expect(() => renderDeep({ payload: { items: ['ok', '{{ .inputs.nope }}'] } }, ctx, 'with')).toThrow(
      'template error in with.payload.items[1]: "{{ .inputs.nope }}" references .inputs.nope, which is not defined'
    )
  })
})

describe('checkTemplate', () => {
  it('lists references with canonical paths, offsets and filters', () => {
    const text = 'a {{ .Inputs.version | default "x" }} b {{.Steps.build.image}} {{ .event.payload.a.b | shell_quote }} {{ .env.HOME }} {{ .run_id }}'
    const { refs, problems } = checkTemplate(text)
    expect(problems).toEqual([])
    expect(refs).toEqual([
      { root: 'inputs', path: ['version'], raw: '{{ .Inputs.version | default "x" }}', offset: 2, hasDefault: true, filters: ['default'] },
      { root: 'steps', path: ['build', 'outputs', 'image'], raw: '{{.Steps.build.image}}', offset: 40, hasDefault: false, filters: [] },
      { root: 'event', path: ['payload', 'a', 'b'], raw: '{{ .event.payload.a.b | shell_quote }}', offset: 63, hasDefault: false, filters: ['shell_quote'] },
      { root: 'env', path: ['HOME'], raw: '{{ .env.HOME }}', offset: 102, hasDefault: false, filters: [] },
      { root: 'run_id', path: [], raw: '{{ .run_id }}', offset: 118, hasDefault: false, filters: [] }
    ])
    for (const ref of refs) expect(text.slice(ref.offset, ref.offset + ref.raw.length)).toBe(ref.raw)
  })

  it.each<[string, number, string]>([
    ['x {{ .foo.x }}', 5, '"{{ .foo.x }}" refers to .foo, which is not one of .inputs, .steps, .event, .env, .run_id, .repository'],
    ['echo {{ .inputs.a', 5, '"{{ .inputs.a" is not closed with "}}"'],
    ['{{ .inputs.a {{ .inputs.b }}', 0, '"{{ .inputs.a {{ .inputs.b }}" is not closed with "}}"'],
    ['echo { .inputs.version }}', 23, '"}}" without an opening "{{"'],
    ['{{ .inputs.a | quote }}', 15, '"{{ .inputs.a | quote }}" uses the unknown filter quote (filters: shell_quote, json, default "x", upper, lower, trim)'],
    ['{{ .inputs.a | default }}', 15, '"{{ .inputs.a | default }}" uses the filter default without its argument, as in default "x"'],
    ['{{ .inputs.a | upper "x" }}', 15, '"{{ .inputs.a | upper "x" }}" passes an argument to upper, which takes none'],
    ['{{ .inputs.a | default "x }}', 23, '"{{ .inputs.a | default "x }}" has an unterminated string'],
    ['{{ .inputs.a | }}', 15, '"{{ .inputs.a | }}" has a "|" without a filter name'],
    ['{{ .inputs.a b }}', 13, '"{{ .inputs.a b }}" has an unexpected "b" (filters are written "| name")'],
    ['{{ }}', 0, '"{{ }}" is empty'],
    ['{{ inputs.a }}', 3, '"{{ inputs.a }}" must start with a path such as .inputs.<name>, not "i"'],
    ['{{ .inputs..a }}', 11, '"{{ .inputs..a }}" has an empty path segment at ".inputs.."'],
    ['{{ .inputs }}', 3, '"{{ .inputs }}" must be .inputs.<name>'],
    ['{{ .steps.build.image }}', 3, '"{{ .steps.build.image }}" must be .steps.<id>.outputs.<name> (or .Steps.<id>.<name>)'],
    [
      '{{ .event.kind }}',
      3,
      '"{{ .event.kind }}" must be .event.type, .event.source, .event.schema_version, .event.artifact, .event.id or .event.payload.<key>...'
    ],
    ['{{ .env }}', 3, '"{{ .env }}" must be .env.<NAME>'],
    ['{{ .run_id.x }}', 3, '"{{ .run_id.x }}" must be .run_id, which has no fields']
  ])('reports a problem in %j', (text, offset, message) => {
    expect(checkTemplate(text).problems).toEqual([{ offset, message }])
  })

  it('finds every problem in a text and keeps the good references', () => {
    const { refs, problems } = checkTemplate('{{ .nope.a }} {{ .inputs.ok }} {{ .inputs.b | bad }}')
    expect(refs.map((r) => r.path)).toEqual([['ok']])
    expect(problems.map((p) => p.offset)).toEqual([3, 46])
  })
})

describe('own properties only', () => {
  it('treats names every object inherits as unresolved references, in each root', () => {
    for (const text of [
      '{{ .env.toString }}',
      '{{ .env.constructor }}',
      '{{ .inputs.toString }}',
      '{{ .steps.build.outputs.hasOwnProperty }}',
      '{{ .event.payload.valueOf }}'
    ]) {
      expect(renderError(text)).toMatch(/which is not defined/)
    }
    expect(renderError('{{ .env.toString }}')).toBe('template error in step "deploy" run: "{{ .env.toString }}" references .env.toString, which is not defined')
    expect(render('{{ .env.toString | default "none" }}')).toBe('none')
  })
})
