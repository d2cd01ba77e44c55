// The normalized, validated model of a tako.yml: what the loader hands the engine.
// Every optional/alternate spelling of the file (step shorthand, `filter:` vs `filters:`,
// `events.subscriptions`, env lists) is already folded into one shape here.

export type InputType = 'string' | 'boolean' | 'number'
export type InputValue = string | number | boolean

export interface InputSpec {
  type: InputType
  required: boolean
  default?: InputValue
  description?: string
  enum?: InputValue[]
  pattern?: string
  min?: number
  max?: number
}

export type OutputSource =
  { kind: 'stdout' } | { kind: 'stderr' } | { kind: 'file'; path: string } | { kind: 'env'; name: string } | { kind: 'regex'; pattern: string }

export type Shell = 'bash' | 'sh'

export interface StepSpec {
  id: string
  name?: string
  if?: string
  run?: string
  shell: Shell
  working_directory?: string
  env: Record<string, string>
  timeoutMs?: number
  continue_on_error: boolean
  outputs: Record<string, OutputSource>
  on_failure: StepSpec[]
  uses?: string
  with?: Record<string, unknown>
  /** 1-based line of the step in its file, for error messages and annotations. */
  line?: number
}

export interface WorkflowSpec {
  name: string
  description?: string
  inputs: Record<string, InputSpec>
  env: Record<string, string>
  timeoutMs?: number
  steps: StepSpec[]
  line?: number
}

export interface SubscriptionSpec {
  /** `owner/repo` of the publisher. */
  repository: string
  /** Artifact name of the publisher, `default` when omitted. */
  artifact: string
  events: string[]
  /** npm semver range (bracket forms already converted), when given. */
  schema_version?: string
  filters: string[]
  workflow: string
  inputs: Record<string, string>
  runs_on?: 'local' | 'dispatch'
  line?: number
}

export interface ArtifactSpec {
  path?: string
  ecosystem?: string
  description?: string
}

export interface ProducedEvent {
  type: string
  schema_version?: string
  description?: string
}

export interface TakoConfig {
  /** Path of the file as given to the loader (used in messages). */
  file: string
  version: string
  name?: string
  artifacts: Record<string, ArtifactSpec>
  workflows: Record<string, WorkflowSpec>
  subscriptions: SubscriptionSpec[]
  produces: ProducedEvent[]
  /** `owner/repo[@ref]` candidates declared in the file. */
  repos: string[]
}

export interface ConfigIssue {
  file: string
  line: number
  col: number
  message: string
  severity: 'error' | 'warning'
}
