// CEL for step `if` and subscription `filters` (SPEC 1.6): compile and type-check at load time, evaluate with a cost limit.

import { Environment, EvaluationError, type ASTNode, type ParseResult } from '@marcbachmann/cel-js'
import semver from 'semver'
import { UserError } from './errors.js'
import { normalizeRange, satisfiesRange, toVersion } from './semver.js'
import { regexTest } from './regex.js'
import type { RunContext, TakoEvent } from './types.js'

export type ExpressionKind = 'if' | 'filter'

export class ExpressionError extends UserError {}

export interface CompiledExpression {
  source: string
  kind: ExpressionKind
  evaluate(vars: Record<string, unknown>): boolean
}

/** Evaluation steps one expression may take: every evaluated node costs 1, building a value costs its size. */
export const COST_LIMIT = 1_000_000
/** Longest string our own functions (`replace`) may build: a chain of them would otherwise grow geometrically. */
const MAX_STRING = 1_000_000
const LIMITS = { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 16 }
/** Operators whose result is a freshly built value, charged by its size (`l + l` doubles, `split` multiplies). */
const BUILDERS = new Set(['+', 'call', 'rcall', 'list', 'map'])

class SemverNamespace {}

let environments: Record<ExpressionKind, Environment> | undefined

function createEnvironments(): Record<ExpressionKind, Environment> {
  const fail = (message: string): never => {
    throw new EvaluationError(message)
  }
  const version = (fn: string, text: string): string => toVersion(text) ?? fail(`semver.${fn}: "${text}" is not a version`)
  const base = new Environment({ homogeneousAggregateLiterals: false, limits: LIMITS })
    .registerVariable('event', 'map')
    .registerVariable('payload', 'map')
    .registerFunction('string.lower(): string', (s: string) => s.toLowerCase())
    .registerFunction('string.upper(): string', (s: string) => s.toUpperCase())
    .registerFunction('string.replace(string, string): string', (s: string, from: string, to: string) => replace(s, from, to, -1n))
    .registerFunction('string.replace(string, string, int): string', replace)
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) =>
      i < 0n || i > BigInt(s.length) ? fail(`charAt: index ${i} out of range`) : s.charAt(Number(i))
    )
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    // CEL specifies RE2 for `matches`; the lib's own uses RegExp (see useRe2Matches).
    .registerFunction(`string.${RE2_MATCHES}(string): bool`, (s: string, pattern: string) => {
      try {
        return regexTest(pattern, s)
      } catch (error) {
        return fail(`matches: ${JSON.stringify(pattern)} is not a valid RE2 regular expression (${(error as Error).message})`)
      }
    })
    .registerType('SemverNamespace', SemverNamespace)
    .registerConstant('semver', 'SemverNamespace', new SemverNamespace())
    .registerFunction('SemverNamespace.major(string): int', (_: unknown, s: string) => BigInt(semver.major(version('major', s))))
    .registerFunction('SemverNamespace.minor(string): int', (_: unknown, s: string) => BigInt(semver.minor(version('minor', s))))
    .registerFunction('SemverNamespace.patch(string): int', (_: unknown, s: string) => BigInt(semver.patch(version('patch', s))))
    .registerFunction('SemverNamespace.satisfies(string, string): bool', (_: unknown, s: string, range: string) => {
      try {
        return satisfiesRange(s, range)
      } catch (error) {
        return fail(`semver.satisfies: ${(error as Error).message}`)
      }
    })
  const filter = base.clone()
  const ifEnv = base.clone().registerVariable('inputs', 'map').registerVariable('steps', 'map').registerVariable('env', 'map')
  return { filter, if: ifEnv }

  /** CEL `replace`: every occurrence, or the first `count`; an empty `from` matches around each character, as in Go. */
  function replace(s: string, from: string, to: string, count: bigint): string {
    const limit = count < 0n ? Infinity : Number(count)
    let out = ''
    let pos = 0
    for (let done = 0; done < limit; done++) {
      const at = from === '' ? (pos <= s.length ? pos : -1) : s.indexOf(from, pos)
      if (at === -1) break
      out += s.slice(pos, at) + to + (from === '' ? s.slice(at, at + 1) : '')
      pos = at + Math.max(from.length, 1)
      if (out.length > MAX_STRING) fail(`replace: the result would exceed ${MAX_STRING} characters`)
    }
    return out + s.slice(pos)
  }
}

const compiled = new Map<string, CompiledExpression>()

/** Parses + type-checks (at load time); throws ExpressionError with a readable message (position if the lib gives one).
    Compiled once per (kind, source): the runner and discovery evaluate the same expressions many times. */
export function compileExpression(source: string, kind: ExpressionKind): CompiledExpression {
  const key = `${kind}\u0000${source}`
  let expression = compiled.get(key)
  if (!expression) {
    expression = compileUncached(source, kind)
    compiled.set(key, expression)
  }
  return expression
}

function compileUncached(source: string, kind: ExpressionKind): CompiledExpression {
  environments ??= createEnvironments()
  const invalid = (detail: string): ExpressionError => new ExpressionError(`invalid ${kind} expression "${source}": ${detail}`)
  if (source.trim() === '') throw invalid('it is empty')
  let parsed: ParseResult
  try {
    parsed = environments[kind].parse(source)
  } catch (error) {
    throw invalid(describe(error, source))
  }
  useRe2Matches(parsed.ast)
  const checked = parsed.check()
  if (!checked.valid) throw invalid(describe(checked.error, source))
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw invalid(`it returns ${checked.type}, expected a bool`)
  checkRangeLiterals(parsed.ast, invalid)
  const meter = { spent: 0 }
  meterNodes(parsed.ast, meter)

  return {
    source,
    kind,
    evaluate(vars) {
      meter.spent = 0
      let result: unknown
      try {
        result = parsed(vars)
      } catch (error) {
        if (meter.spent > COST_LIMIT) throw overBudget()
        throw new ExpressionError(`${kind} expression "${source}" failed: ${describe(error, source)}`)
      }
      // The lib absorbs some errors (`a || b`), so the budget is checked again once evaluation has ended.
      if (meter.spent > COST_LIMIT) throw overBudget()
      if (typeof result !== 'boolean') {
        throw new ExpressionError(`${kind} expression "${source}" returned ${celType(result)}, expected a bool`)
      }
      return result
    }
  }

  function overBudget(): ExpressionError {
    return new ExpressionError(`${kind} expression "${source}" failed: it exceeded the evaluation cost limit (${COST_LIMIT} steps)`)
  }
}

/** Variables for an `if`: inputs, steps (steps.<id>.outputs.<name>, steps.<id>.status), env, event, payload. */
export function ifVariables(ctx: RunContext): Record<string, unknown> {
  const env = Object.fromEntries(Object.entries(ctx.env).filter(([, v]) => v !== undefined))
  const steps = Object.fromEntries(Object.entries(ctx.steps).map(([id, step]) => [id, { status: step.status, outputs: { ...step.outputs } }]))
  const eventVars = ctx.event ? filterVariables(ctx.event) : { event: {}, payload: {} }
  return { ...eventVars, inputs: toCel(ctx.inputs), steps, env }
}

/** Variables for a filter: event {type, source, artifact, schema_version, payload, id} and payload alias. */
export function filterVariables(event: TakoEvent): Record<string, unknown> {
  const payload = toCel(event.payload)
  const fields: Record<string, unknown> = { id: event.id, type: event.type, source: event.source, artifact: event.artifact }
  if (event.schema_version !== undefined) fields.schema_version = event.schema_version
  return { event: { ...fields, payload }, payload }
}

/** JSON to CEL values: whole numbers become ints so `payload.count + 1 == 4` type-checks as CEL users expect. */
function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value
  if (Array.isArray(value)) return value.map(toCel)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  }
  return value
}

function celType(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'bigint') return 'int'
  if (typeof value === 'number') return 'double'
  if (typeof value === 'string') return 'string'
  if (Array.isArray(value)) return 'list'
  if (value instanceof Uint8Array) return 'bytes'
  if (value instanceof Date) return 'timestamp'
  return typeof value === 'object' ? 'map' : typeof value
}

interface LocatedError {
  summary?: string
  code?: string
  range?: { start: number }
  node?: { op?: string; start?: number; end?: number; args?: unknown }
  message: string
}

/** One line for a lib error: its summary, where it points, and for a missing key the whole path. */
function describe(error: unknown, source: string): string {
  const e = error as LocatedError
  let detail = (e.summary ?? e.message).split(RE2_MATCHES).join('matches')
  if (e.code === 'no_such_key' && e.node?.op === '.' && Array.isArray(e.node.args)) {
    detail = `no such key "${e.node.args[1]}" in ${source.slice(e.node.start, e.node.end)}`
  }
  if (e.range && e.range.start >= 0) {
    const before = source.slice(0, e.range.start)
    const line = before.split('\n').length
    const column = e.range.start - before.lastIndexOf('\n')
    detail += line > 1 ? ` (line ${line}, column ${column})` : ` (column ${column})`
  }
  return detail
}

/** The name `x.matches(re)` is given before type-checking, so it runs our RE2 function: the lib's own `matches`
    (JavaScript RegExp, backtracking) cannot be replaced, only not called. */
const RE2_MATCHES = 'matchesRe2'

function useRe2Matches(node: ASTNode): void {
  if (node.op === 'rcall' && node.args[0] === 'matches') (node.args as unknown[])[0] = RE2_MATCHES
  const children: unknown[] = Array.isArray(node.args) ? node.args.flat() : [node.args]
  for (const child of children) {
    if (child !== null && typeof child === 'object' && 'op' in child) useRe2Matches(child as ASTNode)
  }
}

/** A literal range in `semver.satisfies(v, "...")` is checked now rather than at every evaluation. */
function checkRangeLiterals(node: ASTNode, invalid: (detail: string) => ExpressionError): void {
  if (node.op === 'rcall') {
    const [name, receiver, args] = node.args
    const range = args[1]
    if (name === 'satisfies' && receiver.op === 'id' && receiver.args === 'semver' && range?.op === 'value') {
      if (typeof range.args === 'string') {
        try {
          normalizeRange(range.args)
        } catch (error) {
          throw invalid(`semver.satisfies: ${(error as Error).message}`)
        }
      }
    }
  }
  const children: unknown[] = Array.isArray(node.args) ? node.args.flat() : [node.args]
  for (const child of children) {
    if (child !== null && typeof child === 'object' && 'op' in child) checkRangeLiterals(child as ASTNode, invalid)
  }
}

type Evaluate = (this: unknown, ...args: unknown[]) => unknown

/**
 * cel-js 8 limits only the size of the parsed expression, not the work of evaluating it, and a few nested
 * macros over a list run for hours. So every node of the compiled tree (macro expansions are reachable
 * through each node's `meta`) gets its `evaluate` wrapped to charge `meter`; the lib replaces a node's
 * `evaluate` on first use, hence an accessor that wraps whatever it is given.
 */
function meterNodes(root: ASTNode, meter: { spent: number }): void {
  const nodeProto = Object.getPrototypeOf(root) as object
  const seen = new Set<object>()
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return
    seen.add(value)
    const proto = Object.getPrototypeOf(value) as object | null
    if (proto === nodeProto) {
      const node = value as ASTNode & { meta: object; evaluate: Evaluate }
      meterNode(node, meter)
      visit(node.args)
      visit(node.meta)
    } else if (Array.isArray(value) || proto === Object.prototype || proto === null) {
      Object.values(value).forEach(visit)
    }
  }
  visit(root)
}

function meterNode(node: { op: string; evaluate: Evaluate }, meter: { spent: number }): void {
  let inner = node.evaluate
  const builds = BUILDERS.has(node.op)
  const charge = (cost: number): void => {
    meter.spent += cost
    if (meter.spent > COST_LIMIT) throw new Error('evaluation cost limit exceeded')
  }
  function metered(this: unknown, ...args: unknown[]): unknown {
    charge(1)
    const result = inner.apply(this, args)
    if (builds) charge(sizeOf(result))
    return result
  }
  Object.defineProperty(node, 'evaluate', {
    configurable: true,
    get: () => metered,
    set: (fn: Evaluate) => {
      inner = fn
    }
  })
}

function sizeOf(value: unknown): number {
  if (typeof value === 'string') return Math.ceil(value.length / 16)
  if (Array.isArray(value)) return value.length
  if (value instanceof Map) return value.size
  if (value !== null && typeof value === 'object') return Object.keys(value).length
  return 0
}
