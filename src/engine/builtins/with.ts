// The `with` of a built-in step, checked by one zod schema per step: at load time (values known before the run) and
// at run time (after templating, where a value may arrive as text: "true", "4").

import { z } from 'zod'
import { describeValue } from '../../config/schema.js'

/** What each key must be, written so that `"<key>" must be <expectation>, got ...` reads well. */
export const expect = {
  string: (what = 'a string') => z.string({ error: what }),
  boolean: () => z.boolean({ error: 'true or false' }),
  map: () => z.record(z.string(), z.unknown(), { error: 'a map' }),
  /** A list of names; one string is read as a comma or newline separated list (a template renders to one string). */
  names: () => z.union([z.array(z.string()), z.string()], { error: 'a list of strings' })
}

export type WithSchema = z.ZodObject<Record<string, z.ZodType>>

export interface WithProblem {
  key: string
  /** 'key': the key itself is wrong (unknown, or the `with` lacks it); 'value': its value. */
  at: 'key' | 'value'
  message: string
}

/** A value holding a `{{ }}` template is only known at run time. */
export function isTemplated(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{')
}

/** Every problem of `args` against `schema`: unknown keys (with the valid ones, for "did you mean"), missing required
    keys, and values (templated ones skipped when `skipTemplated`). */
export function withProblems(uses: string, schema: WithSchema, args: Record<string, unknown>, skipTemplated: boolean): WithProblem[] {
  const shape = schema.shape
  const problems: WithProblem[] = []
  for (const [key, value] of Object.entries(args)) {
    const field = shape[key]
    if (!field) {
      problems.push({ key, at: 'key', message: `unknown key "${key}" in the "with" of ${uses}` })
      continue
    }
    if (skipTemplated && isTemplated(value)) continue
    const parsed = field.safeParse(value)
    if (!parsed.success)
      problems.push({ key, at: 'value', message: `"${key}" must be ${parsed.error.issues[0]?.message ?? 'valid'}, got ${describeValue(value)}` })
  }
  for (const [key, field] of Object.entries(shape)) {
    if (!Object.hasOwn(args, key) && !field.safeParse(undefined).success) problems.push({ key, at: 'key', message: `${uses} needs "${key}" in "with"` })
  }
  return problems
}

/** Run time: the rendered `with` as the schema's type; text that reads as the boolean or number a key wants is
    taken as one. Throws an Error naming the step and every problem. */
export function parseWith<T>(uses: string, schema: z.ZodType<T> & WithSchema, rendered: Record<string, unknown>): T {
  const args: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(rendered)) {
    const field = schema.shape[key]
    args[key] = field && typeof value === 'string' && !field.safeParse(value).success ? coerce(value) : value
  }
  const problems = withProblems(uses, schema, args, false)
  if (problems.length > 0) throw new Error(`${uses}: ${problems.map((p) => p.message).join('; ')}`)
  return schema.parse(args)
}

function coerce(text: string): unknown {
  const t = text.trim()
  if (t === 'true' || t === 'false') return t === 'true'
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t)
  return text
}

/** A names value as a list: trimmed, empty entries dropped. */
export function nameList(value: string[] | string | undefined): string[] {
  const items = typeof value === 'string' ? value.split(/[\n,]/) : (value ?? [])
  return items.map((s) => s.trim()).filter((s) => s !== '')
}
