// getInputs(): every action input read once and validated into one typed object (STYLE 3).

import { actionInput } from './runner-secrets.js'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { Inputs } from './constants.js'
import { parseRepositoriesInput } from './remote-source.js'
import { parseEventInput } from './child-mode.js'
import { UserError } from '../engine/errors.js'

const bool = (name: string) =>
  z.string().transform((v, ctx) => {
    const t = v.trim()
    if (['true', 'True', 'TRUE'].includes(t)) return true
    if (['false', 'False', 'FALSE', ''].includes(t)) return false
    ctx.addIssue({ code: 'custom', message: `input "${name}" must be true or false, got "${v}"` })
    return z.NEVER
  })

/** An input whose text a parser turns into a value; what the parser throws becomes the input's error. */
const parsedBy = <T>(name: string, parse: (text: string) => T) =>
  z.string().transform((text, ctx) => {
    try {
      return parse(text)
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `input "${name}": ${(error as Error).message}` })
      return z.NEVER
    }
  })

const schema = z.object({
  workflow: z.string().trim().min(1, 'input "workflow" is required: the name of a workflow of the tako file'),
  inputs: parsedBy(Inputs.Inputs, parseWorkflowInputs),
  // Empty: tako.yml, else tako.yaml, at the workspace root (SPEC 1).
  config: z.string().transform((v) => v.trim() || undefined),
  repositories: z.string().superRefine((text, ctx) => {
    for (const message of parseRepositoriesInput(text).errors) ctx.addIssue({ code: 'custom', message: `input "repositories": ${message}` })
  }),
  token: z.string(),
  maxConcurrency: z.string().transform((v, ctx) => {
    const t = v.trim() || '4'
    if (!/^\d+$/.test(t) || Number(t) < 1) {
      ctx.addIssue({ code: 'custom', message: `input "max-concurrency" must be a whole number >= 1, got "${v}"` })
      return z.NEVER
    }
    return Number(t)
  }),
  cache: bool(Inputs.Cache),
  cacheKey: z.string().transform((v) => v.trim()),
  cacheRestoreKeys: z.string().transform((v) =>
    v
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
  ),
  dryRun: bool(Inputs.DryRun),
  keepWorkspaces: bool(Inputs.KeepWorkspaces),
  strict: bool(Inputs.Strict),
  mode: z.string().transform((v, ctx) => {
    const t = v.trim() || 'local'
    if (t === 'local' || t === 'dispatch') return t
    ctx.addIssue({ code: 'custom', message: `input "mode" must be local or dispatch, got "${v}"` })
    return z.NEVER
  }),
  dispatchWorkflow: z.string().transform((v, ctx) => {
    const t = v.trim().replace(/^\.github\/workflows\//, '') || 'tako.yml'
    if (/^[A-Za-z0-9._-]+\.ya?ml$/.test(t)) return t
    ctx.addIssue({
      code: 'custom',
      message: `input "dispatch-workflow" must be the file name of a workflow in .github/workflows/ of each subscriber (like tako.yml), got "${v}"`
    })
    return z.NEVER
  }),
  event: parsedBy(Inputs.Event, parseEventInput),
  parentRun: z.string().transform((v, ctx) => {
    const t = v.trim()
    if (!t || /^https?:\/\/\S+$/.test(t)) return t
    ctx.addIssue({ code: 'custom', message: `input "parent-run" must be the http(s) URL of the parent's run, got "${v}"` })
    return z.NEVER
  })
})

export type ActionInputs = z.infer<typeof schema>

/** Thrown for invalid inputs; main.ts turns it into one failed-step message. */
export class ActionInputError extends UserError {}

export function getInputs(): ActionInputs {
  const raw = {
    workflow: actionInput(Inputs.Workflow),
    inputs: actionInput(Inputs.Inputs),
    config: actionInput(Inputs.Config),
    repositories: actionInput(Inputs.Repositories),
    token: actionInput(Inputs.Token),
    maxConcurrency: actionInput(Inputs.MaxConcurrency),
    cache: actionInput(Inputs.Cache) || 'true',
    cacheKey: actionInput(Inputs.CacheKey),
    cacheRestoreKeys: actionInput(Inputs.CacheRestoreKeys),
    dryRun: actionInput(Inputs.DryRun),
    keepWorkspaces: actionInput(Inputs.KeepWorkspaces),
    strict: actionInput(Inputs.Strict),
    mode: actionInput(Inputs.Mode),
    dispatchWorkflow: actionInput(Inputs.DispatchWorkflow),
    event: actionInput(Inputs.Event),
    parentRun: actionInput(Inputs.ParentRun)
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) throw new ActionInputError(parsed.error.issues.map((i) => i.message).join('\n'))
  return parsed.data
}

/** `name=value` lines (a value keeps every `=`), else a YAML/JSON map of scalars. Every value stays the text it was
    written as (`1.10`, `0123`): the engine coerces it to the type the workflow declares. */
export function parseWorkflowInputs(text: string): Record<string, string> {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  if (lines.length === 0) return {}
  if (lines.every((l) => /^[A-Za-z][A-Za-z0-9_-]*=/.test(l))) {
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  }
  let value: unknown
  try {
    value = parseYaml(text, { schema: 'failsafe', maxAliasCount: 10 })
  } catch (error) {
    throw new Error(`not a YAML/JSON map nor name=value lines (${(error as Error).message.split('\n')[0]})`)
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a map of input names to values, or name=value lines')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Error(`value of "${k}" must be a string, number or boolean, not a list or a map`)
    out[k] = v
  }
  return out
}
