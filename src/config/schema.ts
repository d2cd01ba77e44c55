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
const name = (what: string) => z.string().regex(NAME_PATTERN, { error: (iss) => `${what} ${describeValue(iss.input)} ${NAME_RULE}` })

const eventType = z.string().regex(EVENT_TYPE_PATTERN, {
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
    z.record(
      z.string().regex(ENV_NAME_PATTERN, {
        error: (iss) => `environment variable name ${describeValue(iss.input)} must contain only letters, digits and "_", and not start with a digit`
      }),
      scalar
    ),
    z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, { error: (iss) => `must be NAME=value, got ${describeValue(iss.input)}` }))
  ])
  .describe('Environment variables: a map, or a list of "NAME=value"; values are templated')

export const inputSpecSchema = z
  .strictObject({
    type: z
      .enum(['string', 'boolean', 'number'])
      .optional()
      .describe('Type of the value, default string; text given for a boolean or number is coerced ("true", numerals)'),
    required: z.boolean().optional().describe('The run is refused without a value; a default satisfies it'),
    default: scalar.optional().describe('Value when none is given; must fit the type and the validation'),
    description: z.string().optional().describe('What the input is for'),
    validation: z
      .strictObject({
        enum: z.array(scalar).min(1).optional().describe("The allowed values, of the input's type"),
        pattern: z.string().optional().describe('A regular expression a string value must match'),
        min: z.number().optional().describe('Smallest number allowed'),
        max: z.number().optional().describe('Largest number allowed')
      })
      .optional()
      .describe('Checks applied to given values and to the default')
  })
  .describe('A workflow input')

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

/** `uses:` of a step; the JSON schema lists the built-in steps (json-schema.ts), load.ts checks them with a suggestion. */
export const usesSchema = z.string().describe('A built-in step, name@version; a step has either run or uses')

/** A step written as a map; json-schema.ts adds "run xor uses", which load.ts checks with its own messages. */
export const stepMapSchema: z.ZodType<RawStepMap> = z.strictObject({
  id: name('step id').optional().describe('Unique in the workflow; default step-<n>'),
  name: z.string().optional().describe('Display name in logs and reports'),
  if: z.union([z.string(), z.boolean()]).optional().describe('CEL expression; the step runs only when it is true'),
  run: z.string().optional().describe('Script, templated'),
  shell: z.enum(['bash', 'sh']).optional().describe('bash (default; bash --noprofile --norc -eo pipefail) or sh (sh -e)'),
  working_directory: z.string().optional().describe('Relative to the repository root; must stay inside it'),
  env: envSchema.optional(),
  timeout: duration.optional(),
  continue_on_error: z.boolean().optional().describe('A failure is recorded but does not fail the workflow'),
  produces: z
    .strictObject({
      outputs: z
        .record(name('output name'), z.string())
        .optional()
        .describe('name -> from_stdout | from_stderr | from_file:<path> | from_env:<NAME> | a regular expression with one capture group')
    })
    .optional()
    .describe('What the step produces, readable as .steps.<id>.outputs.<name>'),
  get on_failure(): z.ZodOptional<z.ZodArray<z.ZodType<RawStep>>> {
    return z.array(step).min(1).optional().describe('Steps run when this step fails')
  },
  uses: usesSchema.optional(),
  with: z.record(z.string(), z.unknown()).optional().describe('Arguments of the built-in step; values are templated')
})

export const step: z.ZodType<RawStep> = z.union([z.string(), stepMapSchema]).meta({ id: 'Step', description: 'A step: a script (shorthand for run) or a map' })

const inputsSchema = z.record(name('input name'), inputSpecSchema)

export const workflowSchema = z
  .strictObject({
    description: z.string().optional().describe('What the workflow does'),
    inputs: inputsSchema.optional().describe('Declared inputs, name -> spec; an undeclared input is refused'),
    env: envSchema.optional(),
    timeout: duration.optional(),
    steps: z.array(step).min(1).describe('Run in order; the first failure fails the workflow')
  })
  .describe('A workflow: steps run in the repository checkout')

export const subscriptionSchema = z
  .strictObject({
    artifact: z
      .string()
      .regex(ARTIFACT_REF_PATTERN, {
        error: (iss) => `must be owner/repo or owner/repo:artifact, got ${describeValue(iss.input)}`
      })
      .describe('The publisher and its artifact: owner/repo (artifact default) or owner/repo:artifact'),
    events: z
      .array(z.union([eventType, z.strictObject({ type: eventType.describe('Event type, snake_case') })]))
      .min(1)
      .describe('Event types this subscription reacts to'),
    schema_version: versionLike.optional().describe('npm semver range, or [1.0.0...2.0.0) / (1.0.0...2.0.0]'),
    filter: z.string().optional().describe('CEL expression'),
    filters: z.array(z.string()).optional().describe('CEL expressions; all must be true'),
    workflow: z.string().describe('Workflow of this repository to run'),
    inputs: z.record(z.string(), scalar).optional().describe('Workflow inputs, templated with .event'),
    runs_on: z.enum(['local', 'dispatch']).optional().describe('local: checked out and run in the job; dispatch: a workflow_dispatch run in this repository')
  })
  .meta({ id: 'Subscription', description: 'Runs a workflow of this repository when another repository emits an event' })

export const takoFileSchema = z
  .strictObject({
    version: z
      .union([z.string(), z.number()], { error: (iss) => `must be a string or a number, got ${describeValue(iss.input)}` })
      .describe('Version of the file format, any scalar: 1, "1", v1, 0.1.0'),
    name: z.string().optional().describe('Display name of the repository'),
    metadata: z
      .strictObject({ name: z.string().optional().describe('Display name of the repository') })
      .optional()
      .describe('Other form of name'),
    artifacts: z
      .record(
        name('artifact name'),
        z
          .strictObject({
            path: z.string().optional().describe('Where the artifact is in the repository'),
            ecosystem: z.string().optional().describe('Its package ecosystem (npm, go, maven, ...)'),
            description: z.string().optional().describe('What the artifact is')
          })
          .nullable()
          .describe('An artifact; may be empty')
      )
      .optional()
      .describe('What this repository publishes; the artifact "default" always exists'),
    workflows: z.record(name('workflow name'), workflowSchema).optional().describe('name -> workflow'),
    subscriptions: z.array(subscriptionSchema).optional().describe('Events of other repositories this one reacts to'),
    events: z
      .strictObject({
        produces: z
          .array(
            z.strictObject({
              type: eventType.describe('Event type, snake_case'),
              schema_version: versionLike.optional().describe("Version of the payload's shape, matched against subscriptions' schema_version"),
              description: z.string().optional().describe('What the event means')
            })
          )
          .optional()
          .describe('Events this repository emits; a fan-out of an undeclared type is a warning'),
        subscriptions: z.array(subscriptionSchema).optional().describe('Same as the top-level subscriptions; both are merged')
      })
      .optional()
      .describe('Events produced and subscribed to'),
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
