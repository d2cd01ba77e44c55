// Workflow inputs (SPEC 1.2): coercion of given values, defaults, validation, and the checks of a spec itself.

import type { InputSpec, InputType, InputValue } from '../config/types.js'
import { regexProblem, regexTest } from './regex.js'
import { UserError } from './errors.js'

export class InputError extends UserError {
  readonly problems: string[]

  constructor(problems: string[]) {
    super(problems.join('\n'))
    this.problems = problems
  }
}

const NUMERAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function typeOf(value: InputValue): InputType {
  return typeof value as InputType
}

/** The value converted to `type`, or a description of why it cannot be. */
function coerce(type: InputType, value: InputValue): { value: InputValue } | { problem: string } {
  switch (type) {
    case 'string':
      return { value: String(value) }
    case 'boolean':
      if (typeof value === 'boolean') return { value }
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) {
        return { value: value.trim().toLowerCase() === 'true' }
      }
      return { problem: `${show(value)} is not a boolean (use true or false)` }
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return { value }
      if (typeof value === 'string' && NUMERAL.test(value.trim())) return { value: Number(value.trim()) }
      return { problem: `${show(value)} is not a number` }
  }
}

/** What is wrong with a value already of the spec's type (enum, pattern, min, max), or undefined. */
function violation(spec: InputSpec, value: InputValue): string | undefined {
  if (spec.enum && !spec.enum.includes(value)) {
    return `${show(value)} is not one of ${spec.enum.map(String).join(', ')}`
  }
  if (spec.pattern !== undefined && typeof value === 'string' && !regexTest(spec.pattern, value)) {
    return `${show(value)} does not match the pattern ${spec.pattern}`
  }
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) return `${value} is less than the minimum ${spec.min}`
    if (spec.max !== undefined && value > spec.max) return `${value} is greater than the maximum ${spec.max}`
  }
  return undefined
}

function check(spec: InputSpec, value: InputValue): { value: InputValue } | { problem: string } {
  const coerced = coerce(spec.type, value)
  if ('problem' in coerced) return coerced
  const problem = violation(spec, coerced.value)
  return problem === undefined ? coerced : { problem }
}

/** Coerces text ("true"/"false", numerals) to the declared type, applies defaults, checks enum/pattern/min/max and
    required (satisfied by a default), rejects undeclared inputs listing the declared ones. Collects ALL problems. */
export function resolveInputs(workflow: string, specs: Record<string, InputSpec>, given: Record<string, InputValue>): Record<string, InputValue> {
  const problems: string[] = []
  const declared = Object.keys(specs)
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(specs, name)) continue
    const list = declared.length > 0 ? `declared: ${declared.join(', ')}` : 'it declares none'
    problems.push(`workflow "${workflow}" has no input "${name}" (${list})`)
  }
  const resolved: Record<string, InputValue> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(given, name) ? given[name] : spec.default
    if (value === undefined) {
      if (spec.required) problems.push(`missing required input "${name}" of workflow "${workflow}"`)
      continue
    }
    const result = check(spec, value)
    if ('problem' in result) problems.push(`input "${name}" of workflow "${workflow}": ${result.problem}`)
    else resolved[name] = result.value
  }
  if (problems.length > 0) throw new InputError(problems)
  return resolved
}

export function coerceInput(name: string, spec: InputSpec, value: InputValue): InputValue {
  const result = check(spec, value)
  if ('problem' in result) throw new InputError([`input "${name}": ${result.problem}`])
  return result.value
}

/** For config validation: problems with a spec itself (pattern compiles & for strings only, min/max for numbers,
    enum values of the type, default of the type and passing its own validation). */
export function checkInputSpec(name: string, spec: InputSpec): string[] {
  const problems: string[] = []
  const say = (text: string): number => problems.push(`input "${name}": ${text}`)
  if (spec.pattern !== undefined) {
    if (spec.type !== 'string') say(`pattern applies to string inputs only (this one is ${spec.type})`)
    const problem = regexProblem(spec.pattern)
    if (problem) say(`pattern ${spec.pattern} is not a valid RE2 regular expression (${problem})`)
  }
  for (const bound of ['min', 'max'] as const) {
    if (spec[bound] === undefined) continue
    if (spec.type !== 'number') say(`${bound} applies to number inputs only (this one is ${spec.type})`)
    else if (!Number.isFinite(spec[bound])) say(`${bound} must be a finite number`)
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    say(`min ${spec.min} is greater than max ${spec.max}`)
  }
  if (spec.enum !== undefined) {
    if (spec.enum.length === 0) say('enum lists no values')
    for (const option of spec.enum) {
      if (typeOf(option) !== spec.type) say(`enum value ${show(option)} is not a ${spec.type}`)
    }
  }
  if (spec.default !== undefined) {
    if (typeOf(spec.default) !== spec.type) say(`default ${show(spec.default)} is not a ${spec.type}`)
    else if (problems.length === 0) {
      const problem = violation(spec, spec.default)
      if (problem !== undefined) say(`default ${problem}`)
    }
  }
  return problems
}

/** TAKO_INPUT_<NAME>: upper-cased, chars outside [A-Z0-9_] -> '_' */
export function inputEnvName(name: string): string {
  return `TAKO_INPUT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`
}
