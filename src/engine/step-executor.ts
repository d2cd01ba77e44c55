// One interface for every kind of step: `run:` scripts and the `uses:` built-ins plug in behind it.

import type { StepSpec } from '../config/types.js'
import type { ChildErrorKind, RunContext, StepStatus } from './types.js'
import type { RunScope } from './run-scope.js'

export interface StepInvocation {
  step: StepSpec
  scope: RunScope
  context: RunContext
  /** Complete process environment for the step (process env, workflow env, step env, TAKO_*). */
  env: Record<string, string>
  /** Directory the step runs in (inside the workspace). */
  cwd: string
  /** Fires on workflow deadline or cancellation. */
  signal: AbortSignal
}

export interface StepOutcome {
  status: StepStatus
  exitCode: number | null
  outputs: Record<string, string>
  /** Why it failed, for reports. */
  error?: string
  /** Last lines of the step's output (failures). */
  logTail?: string
  /** The child error kind a failure gives its run, when more telling than step_failed (push_failed, ...). */
  errorKind?: ChildErrorKind
}

export interface StepExecutor {
  execute(invocation: StepInvocation): Promise<StepOutcome>
}
