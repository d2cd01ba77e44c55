// The zod schema of a raw tako.yml (SPEC 1): its shape only, with strict objects so that unknown keys are errors.
// Cross-references, CEL, templates and built-in step arguments are checked by load.ts over the parsed file.
// Custom messages starting with "must" are completed by load.ts with the name of the offending key.

import { parseRepoRef } from '../engine/repository-source.js'
import { z } from 'zod'
import { DURATION_PATTERN, parseDuration } from './duration.js'

export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
const OWNER = '[A-Za-z0-9][A-Za-z0-9-]*'
const REPO = '(?!\\.\\.?(?:[@:]|$))[A-Za-z0-9._-]+'
/** `owner/repo[@ref]` */
export const REPO_REF_PATTERN = new RegExp(`^${OWNER}/${REPO}(@[^\\s@]+)?$`)
/** `owner/repo[:artifact]` */
const ARTIFACT_REF_PATTERN = new RegExp(`^${OWNER}/${REPO}(:[A-Za-z][A-Za-z0-9_-]*)?$`)

/** How a value is shown after "got" in a message. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a map'
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}

const NAME_RULE = 'must start with a letter and contain only letters, digits, "_" and "-"'

/** A name of a workflow, step, input, output or artifact; `what` names it in the message ("workflow name"). */
const name = (what: string) =>
  z.string().regex(NAME_PATTERN, { error: (iss) => `${what} ${describeValue(iss.input)} ${NAME_RULE}` })

const eventType = z
  .string()
  .regex(EVENT_TYPE_PATTERN, {
    error: (iss) => `event type ${describeValue(iss.input)} must be snake_case (lower-case letters, digits and "_", starting with a letter)`
  })

const mustDuration = (iss: { input?: unknown }) => `must be a duration like 90s, 10m or 2h, got ${describeValue(iss.input)}`
const duration = z
  .string({ error: mustDuration })
  .regex(DURATION_PATTERN, { error: mustDuration, abort: true })
  .refine(
    (text) => {
      try {
        return parseDuration(text) > 0
      } catch {
        return false
      }
    },
    { error: (iss) => `must be longer than 0, got ${describeValue(iss.input)}` }
  )
  .describe('A duration: 90s, 10m, 2h, 1h30m, 500ms')

const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: (iss) => `must be a string, a number or a boolean, got ${describeValue(iss.input)}`
})
const versionLike = z.union([z.string(), z.number()], {
  error: (iss) => `must be a version like 1.2.0, got ${describeValue(iss.input)}`
})

export const envSchema = z
  .union([
    z.record(z.string().regex(ENV_NAME_PATTERN, { error: (iss) => `environment variable name ${describeValue(iss.input)} must contain only letters, digits and "_", and not start with a digit` }), scalar),
    z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, { error: (iss) => `must be NAME=value, got ${describeValue(iss.input)}` }))
  ])
  .describe('Environment variables: a map, or a list of "NAME=value"; values are templated')

export const inputSpecSchema = z.strictObject({
  type: z.enum(['string', 'boolean', 'number']).optional(),
  required: z.boolean().optional(),
  default: scalar.optional(),
  description: z.string().optional(),
  validation: z
    .strictObject({
      enum: z.array(scalar).min(1).optional(),
      pattern: z.string().optional(),
      min: z.number().optional(),
      max: z.number().optional()
    })
    .optional()
})

type RawEnv = Record<string, string | number | boolean> | string[]

/** A step as written (a map); declared by hand because the schema is recursive through on_failure. */
export interface RawStepMap {
  id?: string
  name?: string
  if?: string | boolean
  run?: string
  shell?: 'bash' | 'sh'
  working_directory?: string
  env?: RawEnv
  timeout?: string
  continue_on_error?: boolean
  produces?: { outputs?: Record<string, string> }
  on_failure?: RawStep[]
  uses?: string
  with?: Record<string, unknown>
}
export type RawStep = string | RawStepMap

/** A step written as a map; json-schema.ts adds what each built-in's `with` takes. */
export const stepMapSchema: z.ZodType<RawStepMap> = z.strictObject({
  id: name('step id').optional().describe('Unique in the workflow; default step-<n>'),
  name: z.string().optional(),
  if: z.union([z.string(), z.boolean()]).optional().describe('CEL expression; the step runs only when it is true'),
  run: z.string().optional().describe('Script, templated'),
  shell: z.enum(['bash', 'sh']).optional(),
  working_directory: z.string().optional().describe('Relative to the repository root; must stay inside it'),
  env: envSchema.optional(),
  timeout: duration.optional(),
  continue_on_error: z.boolean().optional(),
  produces: z
    .strictObject({
      outputs: z
        .record(name('output name'), z.string())
        .optional()
        .describe('name -> from_stdout | from_stderr | from_file:<path> | from_env:<NAME> | a regular expression with one capture group')
    })
    .optional(),
  get on_failure(): z.ZodOptional<z.ZodArray<z.ZodType<RawStep>>> {
    return z.array(step).min(1).optional().describe('Steps run when this step fails')
  },
  uses: z.string().optional().describe('A built-in step: tako/fan-out@v1 or tako/pull-request@v1'),
  with: z.record(z.string(), z.unknown()).optional().describe('Arguments of the built-in step; values are templated')
})

export const step: z.ZodType<RawStep> = z
  .union([z.string(), stepMapSchema])
  .meta({ id: 'Step', description: 'A step: a script (shorthand for run) or a map' })

const inputsSchema = z.record(name('input name'), inputSpecSchema)

export const workflowSchema = z.strictObject({
  description: z.string().optional(),
  inputs: inputsSchema.optional(),
  env: envSchema.optional(),
  timeout: duration.optional(),
  steps: z.array(step).min(1)
})

export const subscriptionSchema = z.strictObject({
  artifact: z.string().regex(ARTIFACT_REF_PATTERN, {
    error: (iss) => `must be owner/repo or owner/repo:artifact, got ${describeValue(iss.input)}`
  }),
  events: z.array(z.union([eventType, z.strictObject({ type: eventType })])).min(1),
  schema_version: versionLike.optional().describe('npm semver range, or [1.0.0...2.0.0) / (1.0.0...2.0.0]'),
  filter: z.string().optional().describe('CEL expression'),
  filters: z.array(z.string()).optional().describe('CEL expressions; all must be true'),
  workflow: z.string(),
  inputs: z.record(z.string(), scalar).optional().describe('Workflow inputs, templated with .event'),
  runs_on: z.enum(['local', 'dispatch']).optional()
}).meta({ id: 'Subscription', description: 'Runs a workflow of this repository when another repository emits an event' })

export const takoFileSchema = z
  .strictObject({
    version: z
      .union([z.string(), z.number()], { error: (iss) => `must be a string or a number, got ${describeValue(iss.input)}` })
      .describe('Version of the file format, any scalar: 1, "1", v1, 0.1.0'),
    name: z.string().optional(),
    metadata: z.strictObject({ name: z.string().optional() }).optional(),
    artifacts: z
      .record(
        name('artifact name'),
        z.strictObject({ path: z.string().optional(), ecosystem: z.string().optional(), description: z.string().optional() }).nullable()
      )
      .optional()
      .describe('What this repository publishes; the artifact "default" always exists'),
    workflows: z.record(name('workflow name'), workflowSchema).optional(),
    subscriptions: z.array(subscriptionSchema).optional(),
    events: z
      .strictObject({
        produces: z
          .array(z.strictObject({ type: eventType, schema_version: versionLike.optional(), description: z.string().optional() }))
          .optional(),
        subscriptions: z.array(subscriptionSchema).optional()
      })
      .optional(),
    repos: z
      .array(
        z
          .string()
          .regex(REPO_REF_PATTERN, { error: (iss) => `must be owner/repo or owner/repo@ref, got ${describeValue(iss.input)}` })
          // The same check the run applies (refs such as `--upload-pack=x` or `a..b` are refused here too).
          .superRefine((value, ctx) => {
            const parsed = parseRepoRef(value)
            if (typeof parsed === 'string' && REPO_REF_PATTERN.test(value)) ctx.addIssue({ code: 'custom', message: parsed })
          })
      )
      .optional()
      .describe('Candidate subscriber repositories')
  })
  .describe('tako.yml: dependency-aware workflows across repositories')

export type RawTakoFile = z.infer<typeof takoFileSchema>
