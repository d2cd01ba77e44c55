// Shapes shared across the engine: events, template/expression contexts and the run report (SPEC 4).

import type { InputValue } from '../config/types.js'

export interface TakoEvent {
  /** Unique id of this emission (used for fingerprints and dedup). */
  id: string
  type: string
  /** `owner/repo` of the publisher. */
  source: string
  artifact: string
  schema_version?: string
  payload: Record<string, unknown>
}

export interface StepState {
  status: StepStatus
  outputs: Record<string, string>
}

/** What `{{ ... }}` templates and CEL `if` expressions can see. */
export interface RunContext {
  inputs: Record<string, InputValue>
  steps: Record<string, StepState>
  event?: TakoEvent
  env: Record<string, string | undefined>
  run_id: string
  repository: string
}

export type StepStatus = 'success' | 'failure' | 'skipped' | 'timed_out' | 'cancelled'
export type RunStatus = 'success' | 'failure' | 'cancelled'
export type ChildStatus = 'success' | 'failure' | 'timed_out' | 'cancelled' | 'skipped' | 'reused'

/** A reused child succeeded in an earlier attempt. */
export function childSucceeded(status: ChildStatus): boolean {
  return status === 'success' || status === 'reused'
}

/** Failed, timed out or cancelled: what fails its parent. */
export function childFailed(status: ChildStatus): boolean {
  return status === 'failure' || status === 'timed_out' || status === 'cancelled'
}
export type ChildErrorKind =
  | 'step_failed'
  | 'timed_out'
  | 'cancelled'
  | 'clone_failed'
  | 'invalid_config'
  | 'invalid_inputs'
  | 'cycle'
  | 'dispatch_failed'
  /** tako/pull-request@v1: git refused the push (protected branch, lease, credentials). */
  | 'push_failed'
  /** tako/pull-request@v1: the pull-request API refused (403: permissions; 422: why). */
  | 'pull_request_failed'
  /** Not an error: a second subscription matched the same (repository, workflow); the child is `skipped`. */
  | 'duplicate'

export interface StepReport {
  id: string
  name: string
  status: StepStatus
  exit_code: number | null
  duration_ms: number
  outputs: Record<string, string>
  error?: string
  /** Steps run as this step's `on_failure` handlers. */
  on_failure?: StepReport[]
}

export type PullRequestOperation = 'created' | 'updated' | 'unchanged' | 'no_changes' | 'pushed'

/** What a run's tako/pull-request@v1 steps proposed (SPEC 2b); a step with nothing to commit leaves none. */
export interface PullRequestRecord {
  repository: string
  /** Null when no pull request was opened (pushed only). */
  number: number | null
  url: string | null
  branch: string
  base: string
  operation: PullRequestOperation
}

export interface ChildError {
  kind: ChildErrorKind
  message: string
  step?: string
  exit_code?: number | null
  log_tail?: string
}

export interface ChildReport {
  id: string
  parent_id: string
  repository: string
  ref: string
  workflow: string
  inputs: Record<string, InputValue>
  event: { type: string; source: string; schema_version?: string; payload: Record<string, unknown> }
  status: ChildStatus
  error?: ChildError
  duration_ms: number
  workspace: string
  steps: StepReport[]
  /** Dispatch mode: the remote run's page. Reused children: the attempt that ran it. */
  url?: string
  pull_requests?: PullRequestRecord[]
}

export type DiscoveryResult = 'matched' | 'no_match' | 'no_subscription' | 'error'

export interface DiscoveryEntry {
  repository: string
  ref: string
  result: DiscoveryResult
  reason: string
  /** Id of the run whose fan-out looked at this candidate ('' for the root run). */
  fan_out_of?: string
  event_type?: string
  /**
   * Only on a fan-out's own row (one per fan-out, `repository` is the event's source): how many candidates it looked
   * at and how they fared. Candidates that are merely not subscribed are counted here, not given a row each.
   */
  fan_out?: FanOutCounts
}

export interface FanOutCounts {
  candidates: number
  matched: number
  no_match: number
  no_subscription: number
  error: number
}

export interface RunReport {
  version: 1
  run_id: string
  status: RunStatus
  started_at: string
  duration_ms: number
  source: string
  workflow: string
  inputs: Record<string, InputValue>
  steps: StepReport[]
  discovery: DiscoveryEntry[]
  /** Flat list; the tree is given by `parent_id`. */
  children: ChildReport[]
  warnings: string[]
  error?: string
  /** Those of the root run; each child carries its own. */
  pull_requests?: PullRequestRecord[]
  /** A dry run's report: nothing ran. */
  dry_run?: boolean
  /** A dry run's plan of the whole tree (fan-outs, children, their inputs and nested fan-outs). */
  plan?: unknown[]
}
