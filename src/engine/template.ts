// `{{ <path> | filter ... }}` templates (SPEC 1.4): the static check used by validation and the renderer used at run time.

import type { RunContext } from './types.js'
import { UserError } from './errors.js'

export type TemplateRoot = 'inputs' | 'steps' | 'event' | 'env' | 'run_id' | 'repository'

export interface TemplateRef {
  root: TemplateRoot
  /** Canonical path below the root: a step output is always `[id, 'outputs', name]`, an event field `['type']`
      or `['payload', ...keys]`, whichever spelling (`.Steps.<id>.<name>`, `.Event.Payload`) was written. */
  path: string[]
  /** The whole expression as written, `{{ ... }}` included. */
  raw: string
  /** Offset of the expression's `{{` in the text. */
  offset: number
  hasDefault: boolean
  /** Filter names in order, e.g. `['default', 'shell_quote']`. */
  filters: string[]
}

export interface TemplateProblem {
  offset: number
  message: string
}

export class TemplateError extends UserError {
  readonly where: string

  constructor(where: string, detail: string) {
    super(`template error in ${where}: ${detail}`)
    this.where = where
  }
}

const FILTERS: Record<string, number> = { shell_quote: 0, json: 0, default: 1, upper: 0, lower: 0, trim: 0 }
const FILTER_LIST = 'shell_quote, json, default "x", upper, lower, trim'
const ROOT_LIST = '.inputs, .steps, .event, .env, .run_id, .repository'
const EVENT_FIELDS: Record<string, string> = {
  type: 'type',
  Type: 'type',
  source: 'source',
  Source: 'source',
  schema_version: 'schema_version',
  SchemaVersion: 'schema_version',
  artifact: 'artifact',
  Artifact: 'artifact',
  id: 'id',
  ID: 'id',
  payload: 'payload',
  Payload: 'payload'
}
const SEGMENT = /[A-Za-z0-9_-]/

interface Filter {
  name: string
  arg?: string
}

interface Expression {
  raw: string
  offset: number
  end: number
  /** The path as written (`.Steps.build.version`), absent for a string literal. */
  written?: string
  ref?: TemplateRef
  literal?: string
  filters: Filter[]
}

/** Static check: balanced braces, known roots, known filters with right arity, path syntax. Never throws. */
export function checkTemplate(text: string): { refs: TemplateRef[]; problems: TemplateProblem[] } {
  const { expressions, problems } = parse(text)
  return { refs: expressions.flatMap((e) => (e.ref ? [e.ref] : [])), problems }
}

/** Renders; throws TemplateError on an unresolved reference (unless `| default "x"`) — never a placeholder. */
export function renderTemplate(text: string, ctx: RunContext, where: string): string {
  if (!text.includes('{{') && !text.includes('}}')) return text
  const { expressions, problems } = parse(text)
  if (problems.length > 0) throw new TemplateError(where, problems.map((p) => p.message).join('; '))
  let out = ''
  let last = 0
  for (const expression of expressions) {
    out += text.slice(last, expression.offset) + evaluate(expression, ctx, where)
    last = expression.end
  }
  return out + text.slice(last)
}

/** Renders every string inside objects/arrays recursively (for `with`, payload); other scalars stay as they are.
    `where` grows with the key path (`with.payload.tag`) so an error points at the value. */
export function renderDeep(value: unknown, ctx: RunContext, where: string): unknown {
  if (typeof value === 'string') return renderTemplate(value, ctx, where)
  if (Array.isArray(value)) return value.map((item, i) => renderDeep(item, ctx, `${where}[${i}]`))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderDeep(item, ctx, `${where}.${key}`)]))
  }
  return value
}

function parse(text: string): { expressions: Expression[]; problems: TemplateProblem[] } {
  const expressions: Expression[] = []
  const problems: TemplateProblem[] = []
  let i = 0
  while (i < text.length) {
    const open = text.indexOf('{{', i)
    const close = text.indexOf('}}', i)
    if (close !== -1 && (open === -1 || close < open)) {
      if (looksLikeTemplateTail(text.slice(text.lastIndexOf('\n', close) + 1, close))) {
        problems.push({ offset: close, message: '"}}" without an opening "{{"' })
      }
      i = close + 2
      continue
    }
    if (open === -1) break
    const end = findClose(text, open + 2)
    if (end === -1) {
      problems.push({ offset: open, message: `"${snippet(text, open)}" is not closed with "}}"` })
      i = open + 2
      continue
    }
    const expression = parseExpression(text, open, end + 2, problems)
    if (expression) expressions.push(expression)
    i = end + 2
  }
  return { expressions, problems }
}

/** Offset of the `}}` closing an expression whose body starts at `from`, or -1 when another `{{` or the end comes
    first. A `}}` inside a quoted filter argument does not close; a quote left open at the end of the line is
    reported by the parser, so the plain first `}}` is used instead. */
function findClose(text: string, from: number): number {
  let quote: string | undefined
  for (let j = from; j < text.length; j++) {
    const ch = text[j]
    if (quote) {
      if (ch === '\\' && quote === '"') j++
      else if (ch === quote) quote = undefined
      else if (ch === '\n') break
    } else if (ch === '"' || ch === "'") quote = ch
    else if (text.startsWith('}}', j)) return j
    else if (text.startsWith('{{', j)) return -1
  }
  const close = text.indexOf('}}', from)
  const nested = text.indexOf('{{', from)
  return close !== -1 && (nested === -1 || close < nested) ? close : -1
}

/** A `}}` with no `{{` is most often JSON, jq or shell; it is a mistake when what precedes it reads like a tako path. */
function looksLikeTemplateTail(line: string): boolean {
  return /(^|[\s{(])\.(inputs|Inputs|steps|Steps|event|Event|env|Env|run_id|repository)(\.[\w-]+)*\s*(\|\s*\w+(\s+("[^"]*"|'[^']*'))?\s*)*$/.test(line)
}

function snippet(text: string, offset: number): string {
  const line = text.slice(offset).split('\n')[0]
  return line.length > 40 ? `${line.slice(0, 40)}...` : line
}

function parseExpression(text: string, start: number, end: number, problems: TemplateProblem[]): Expression | undefined {
  const raw = text.slice(start, end)
  const fail = (offset: number, message: string): undefined => {
    problems.push({ offset, message: `"${raw}" ${message}` })
    return undefined
  }
  let i = start + 2
  const stop = end - 2
  const skipSpace = (): void => {
    while (i < stop && /\s/.test(text[i])) i++
  }
  const readQuoted = (): string | undefined => {
    const quote = text[i]
    let value = ''
    for (let j = i + 1; j < stop; j++) {
      const ch = text[j]
      if (ch === quote) {
        i = j + 1
        return value
      }
      if (ch === '\\' && quote === '"' && j + 1 < stop) {
        const next = text[++j]
        value += next === 'n' ? '\n' : next === 't' ? '\t' : next
      } else value += ch
    }
    return undefined
  }

  skipSpace()
  if (i >= stop) return fail(start, 'is empty')
  const expression: Expression = { raw, offset: start, end, filters: [] }
  const pathStart = i
  if (text[i] === '"' || text[i] === "'") {
    expression.literal = readQuoted()
    if (expression.literal === undefined) return fail(pathStart, 'has an unterminated string')
  } else {
    if (text[i] !== '.') return fail(i, `must start with a path such as .inputs.<name>, not "${text[i]}"`)
    const segments: string[] = []
    while (text[i] === '.') {
      const segStart = ++i
      while (i < stop && SEGMENT.test(text[i])) i++
      if (i === segStart) return fail(segStart, `has an empty path segment at "${text.slice(pathStart, i + 1)}"`)
      segments.push(text.slice(segStart, i))
    }
    expression.written = text.slice(pathStart, i)
    const classified = classify(segments)
    if (typeof classified === 'string') return fail(pathStart, classified)
    expression.ref = { ...classified, raw, offset: start, hasDefault: false, filters: [] }
  }
  for (;;) {
    skipSpace()
    if (i >= stop) break
    if (text[i] !== '|') return fail(i, `has an unexpected "${text.slice(i, stop).trim()}" (filters are written "| name")`)
    i++
    skipSpace()
    const nameStart = i
    while (i < stop && /\w/.test(text[i])) i++
    const name = text.slice(nameStart, i)
    if (!name) return fail(nameStart, 'has a "|" without a filter name')
    if (!(name in FILTERS)) return fail(nameStart, `uses the unknown filter ${name} (filters: ${FILTER_LIST})`)
    skipSpace()
    const filter: Filter = { name }
    if (text[i] === '"' || text[i] === "'") {
      const argStart = i
      filter.arg = readQuoted()
      if (filter.arg === undefined) return fail(argStart, 'has an unterminated string')
    }
    if (FILTERS[name] === 1 && filter.arg === undefined) {
      return fail(nameStart, `uses the filter ${name} without its argument, as in ${name} "x"`)
    }
    if (FILTERS[name] === 0 && filter.arg !== undefined) return fail(nameStart, `passes an argument to ${name}, which takes none`)
    expression.filters.push(filter)
  }
  if (expression.ref) {
    expression.ref.filters = expression.filters.map((f) => f.name)
    expression.ref.hasDefault = expression.ref.filters.includes('default')
  }
  return expression
}

/** Maps the written segments to a canonical root and path, or says what is wrong with them. */
function classify(segments: string[]): { root: TemplateRoot; path: string[] } | string {
  const [head, ...rest] = segments
  switch (head) {
    case 'inputs':
    case 'Inputs':
      return rest.length === 1 ? { root: 'inputs', path: rest } : 'must be .inputs.<name>'
    case 'steps':
    case 'Steps':
      if (rest.length === 3 && rest[1] === 'outputs') return { root: 'steps', path: rest }
      if (rest.length === 2 && head === 'Steps') return { root: 'steps', path: [rest[0], 'outputs', rest[1]] }
      return 'must be .steps.<id>.outputs.<name> (or .Steps.<id>.<name>)'
    case 'event':
    case 'Event': {
      const field = EVENT_FIELDS[rest[0] ?? '']
      if (field === 'payload') return { root: 'event', path: ['payload', ...rest.slice(1)] }
      if (field && rest.length === 1) return { root: 'event', path: [field] }
      return 'must be .event.type, .event.source, .event.schema_version, .event.artifact, .event.id or .event.payload.<key>...'
    }
    case 'env':
    case 'Env':
      return rest.length === 1 ? { root: 'env', path: rest } : 'must be .env.<NAME>'
    case 'run_id':
    case 'repository':
      return rest.length === 0 ? { root: head, path: [] } : `must be .${head}, which has no fields`
    default:
      return `refers to .${head}, which is not one of ${ROOT_LIST}`
  }
}

function evaluate(expression: Expression, ctx: RunContext, where: string): string {
  let value: unknown
  let missing: string | undefined
  if (expression.ref) {
    const found = lookup(expression.ref, ctx)
    if ('missing' in found) missing = found.missing
    else value = found.value
  } else value = expression.literal
  for (const filter of expression.filters) {
    if (filter.name === 'default') {
      if (missing !== undefined || value === '' || value === null) {
        value = filter.arg
        missing = undefined
      }
    } else if (missing === undefined) value = applyFilter(filter.name, value)
  }
  if (missing !== undefined) {
    throw new TemplateError(where, `"${expression.raw}" references ${expression.written}, which is not defined${missing ? ` (${missing})` : ''}`)
  }
  return toText(value)
}

function applyFilter(name: string, value: unknown): unknown {
  switch (name) {
    case 'json':
      return JSON.stringify(value ?? null)
    case 'shell_quote':
      return `'${toText(value).replaceAll("'", `'\\''`)}'`
    case 'upper':
      return toText(value).toUpperCase()
    case 'lower':
      return toText(value).toLowerCase()
    default:
      return toText(value).trim()
  }
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

const names = (record: object): string => Object.keys(record).join(', ')

/** The referenced value, or a hint at why it is missing ('' when there is nothing useful to add). */
function lookup(ref: TemplateRef, ctx: RunContext): { value: unknown } | { missing: string } {
  const [first, , name] = ref.path
  switch (ref.root) {
    case 'inputs':
      if (Object.hasOwn(ctx.inputs, first)) return { value: ctx.inputs[first] }
      return { missing: Object.keys(ctx.inputs).length ? `inputs set: ${names(ctx.inputs)}` : 'no inputs are set' }
    case 'steps': {
      const step = Object.hasOwn(ctx.steps, first) ? ctx.steps[first] : undefined
      if (!step) return { missing: `no step "${first}" has run before this point` }
      if (Object.hasOwn(step.outputs, name)) return { value: step.outputs[name] }
      const outputs = Object.keys(step.outputs)
      return { missing: outputs.length ? `step "${first}" has outputs ${outputs.join(', ')}` : `step "${first}" has no outputs` }
    }
    case 'event': {
      if (!ctx.event) return { missing: 'this run was not triggered by an event' }
      let value: unknown = ctx.event
      for (const key of ref.path) {
        if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return { missing: '' }
        value = (value as Record<string, unknown>)[key]
      }
      return value === undefined ? { missing: '' } : { value }
    }
    case 'env':
      // Own properties only: `.env.toString` is not the environment's, whatever an object inherits.
      return !Object.hasOwn(ctx.env, first) || ctx.env[first] === undefined ? { missing: '' } : { value: ctx.env[first] }
    case 'run_id':
      return { value: ctx.run_id }
    case 'repository':
      return { value: ctx.repository }
  }
}
