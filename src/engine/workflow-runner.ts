// WorkflowRunner: runs one workflow's steps in one checkout (SPEC 1.2-1.4), for the root run and every child.

import path from 'node:path'
import { realpath } from 'node:fs/promises'
import type { StepSpec, TakoConfig, WorkflowSpec } from '../config/types.js'
import type { InputValue } from '../config/types.js'
import { renderTemplate } from './template.js'
import { compileExpression, ifVariables } from './expressions.js'
import { inputEnvName } from './inputs.js'
import { abortReason, abortStatus, withDeadline, type RunScope } from './run-scope.js'
import type { StepExecutor, StepOutcome } from './step-executor.js'
import type { ChildErrorKind, RunContext, StepReport, StepStatus, TakoEvent } from './types.js'
import { stringEnv } from './process-groups.js'
import { payloadEnv } from './payload.js'

export interface WorkflowRunRequest {
  config: TakoConfig
  workflow: WorkflowSpec
  /** Already resolved and coerced (see resolveInputs). */
  inputs: Record<string, InputValue>
  scope: RunScope
  event?: TakoEvent
  signal: AbortSignal
}

export type WorkflowStatus = 'success' | 'failure' | 'timed_out' | 'cancelled'

export interface WorkflowResult {
  status: WorkflowStatus
  steps: StepReport[]
  /** The step that failed the workflow, with its log tail. */
  failure?: { step: string; exitCode: number | null; message: string; logTail?: string; kind?: ChildErrorKind }
}

/** The payload variables of each run with an event, written once when the run starts. */
const eventEnvs = new WeakMap<WorkflowRunRequest, Record<string, string>>()

export class WorkflowRunner {
  /** `executors.run` runs scripts; other keys are `uses:` values such as tako/fan-out@v1 (see builtins/index.ts). */
  constructor(private readonly executors: Record<string, StepExecutor>) {}

  async run(req: WorkflowRunRequest): Promise<WorkflowResult> {
    const { workflow, scope } = req
    const deadline = withDeadline(req.signal, workflow.timeoutMs, `workflow "${workflow.name}"`)
    try {
      const baseEnv = stringEnv(scope.tree.baseEnv ?? process.env)
      const context: RunContext = {
        inputs: req.inputs,
        steps: {},
        event: req.event,
        env: baseEnv,
        run_id: scope.tree.runId,
        repository: scope.label.repository
      }
      const reports: StepReport[] = []
      let result: WorkflowResult = { status: 'success', steps: reports }
      try {
        applyWorkflowEnv(workflow, context)
        if (req.event) eventEnvs.set(req, await payloadEnv(req.event.payload, scope.tempDir))
      } catch (error) {
        return { status: 'failure', steps: reports, failure: { step: '', exitCode: null, message: messageOf(error) } }
      }
      for (const step of workflow.steps) {
        if (result.status !== 'success') {
          reports.push(skipped(step))
          continue
        }
        const report = await this.runStep(step, req, context, deadline.signal)
        reports.push(report.report)
        if (isFailure(report.report.status) && !step.continue_on_error) {
          report.report.on_failure = await this.runHandlers(step, req, context, deadline.signal)
          result = {
            status: report.report.status as WorkflowStatus,
            steps: reports,
            failure: {
              step: step.id,
              exitCode: report.report.exit_code,
              message: report.outcome.error ?? 'failed',
              logTail: report.outcome.logTail,
              kind: report.outcome.errorKind
            }
          }
        }
      }
      for (const outcome of await Promise.all(scope.background)) {
        if (outcome.failed && !outcome.continueOnError && result.status === 'success') {
          result = { status: 'failure', steps: reports, failure: { step: outcome.stepId, exitCode: null, message: outcome.message } }
        }
      }
      if (result.status === 'failure' && deadline.signal.aborted) result.status = abortStatus(deadline.signal)
      return result
    } finally {
      deadline.dispose()
    }
  }

  private async runHandlers(failed: StepSpec, req: WorkflowRunRequest, context: RunContext, signal: AbortSignal): Promise<StepReport[] | undefined> {
    if (failed.on_failure.length === 0) return undefined
    const reports: StepReport[] = []
    let ok = true
    for (const handler of failed.on_failure) {
      if (!ok) {
        reports.push(skipped(handler))
        continue
      }
      const { report } = await this.runStep(handler, req, context, signal)
      reports.push(report)
      if (isFailure(report.status) && !handler.continue_on_error) ok = false
    }
    return reports
  }

  private async runStep(
    step: StepSpec,
    req: WorkflowRunRequest,
    context: RunContext,
    signal: AbortSignal
  ): Promise<{ report: StepReport; outcome: StepOutcome }> {
    const { scope } = req
    const name = stepName(step)
    const started = Date.now()
    const finish = (outcome: StepOutcome): { report: StepReport; outcome: StepOutcome } => {
      const report: StepReport = {
        id: step.id,
        name,
        status: outcome.status,
        exit_code: outcome.exitCode,
        duration_ms: Date.now() - started,
        outputs: outcome.outputs
      }
      if (outcome.error) report.error = outcome.error
      context.steps[step.id] = { status: outcome.status, outputs: outcome.outputs }
      scope.tree.observer.stepFinished?.(scope.label, report)
      return { report, outcome }
    }
    if (signal.aborted) {
      return finish({ status: abortStatus(signal), exitCode: null, outputs: {}, error: abortReason(signal) })
    }
    try {
      if (step.if !== undefined) {
        const run = compileExpression(step.if, 'if').evaluate(ifVariables(context))
        if (!run) return finish({ status: 'skipped', exitCode: null, outputs: {} })
      }
      const executor = this.executors[step.uses ?? 'run']
      if (!executor) throw new Error(`no executor for "${step.uses}"`)
      scope.tree.observer.stepStarted?.(scope.label, { id: step.id, name })
      const env = { ...context.env } as Record<string, string>
      for (const [key, raw] of Object.entries(step.env)) {
        env[key] = renderTemplate(raw, context, `step "${step.id}" env ${key}`)
      }
      Object.assign(env, takoEnv(step, req, context))
      const cwd = await stepDirectory(scope.workspace, step)
      if (!step.uses) return finish(await executor.execute({ step, scope, context, env, cwd, signal }))
      // Scripts enforce their own timeout; a built-in step gets it as a deadline on everything it started.
      const deadline = withDeadline(signal, step.timeoutMs, `step "${step.id}"`)
      const backgroundBefore = scope.background.length
      try {
        const outcome = await executor.execute({ step, scope, context, env, cwd, signal: deadline.signal })
        if (deadline.signal.aborted && !signal.aborted && outcome.status !== 'success') {
          return finish({ ...outcome, status: 'timed_out', error: `${abortReason(deadline.signal)}: ${outcome.error ?? ''}`.replace(/: $/, '') })
        }
        return finish(outcome)
      } finally {
        // Children a step left running (wait_for_children: false) stay under its deadline until they end.
        const started = scope.background.slice(backgroundBefore)
        if (started.length === 0) deadline.dispose()
        else void Promise.allSettled(started).then(() => deadline.dispose())
      }
    } catch (error) {
      return finish({ status: 'failure', exitCode: null, outputs: {}, error: messageOf(error) })
    }
  }
}

function takoEnv(step: StepSpec, req: WorkflowRunRequest, context: RunContext): Record<string, string> {
  const { scope } = req
  const env: Record<string, string> = {
    TAKO_RUN_ID: scope.tree.runId,
    TAKO_STEP_ID: step.id,
    TAKO_WORKSPACE: scope.workspace,
    TAKO_CACHE_DIR: scope.tree.cacheDir,
    TAKO_REPOSITORY: scope.label.repository,
    TAKO_WORKFLOW: req.workflow.name
  }
  if (scope.label.id) env.TAKO_CHILD_ID = scope.label.id
  for (const [name, value] of Object.entries(context.inputs)) env[inputEnvName(name)] = String(value)
  if (req.event) {
    env.TAKO_EVENT_TYPE = req.event.type
    env.TAKO_EVENT_SOURCE = req.event.source
    env.TAKO_EVENT_ARTIFACT = req.event.artifact
    Object.assign(env, eventEnvs.get(req))
    if (req.event.schema_version) env.TAKO_EVENT_SCHEMA_VERSION = req.event.schema_version
  }
  return env
}

/** The step's directory, which must stay inside the checkout even through symlinks. */
async function stepDirectory(workspace: string, step: StepSpec): Promise<string> {
  if (!step.working_directory) return workspace
  const root = await realpath(workspace)
  const dir = path.resolve(root, step.working_directory)
  let real: string
  try {
    real = await realpath(dir)
  } catch {
    throw new Error(`step "${step.id}": working_directory "${step.working_directory}" does not exist in the repository`)
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new Error(`step "${step.id}": working_directory "${step.working_directory}" leaves the repository`)
  }
  return real
}

function stepName(step: StepSpec): string {
  if (step.name) return step.name
  if (step.uses) return step.uses
  const first = (step.run ?? '').trim().split('\n')[0] ?? ''
  return first.length > 60 ? `${first.slice(0, 57)}...` : first || step.id
}

function skipped(step: StepSpec): StepReport {
  return { id: step.id, name: stepName(step), status: 'skipped', exit_code: null, duration_ms: 0, outputs: {} }
}

function isFailure(status: StepStatus): boolean {
  return status === 'failure' || status === 'timed_out' || status === 'cancelled'
}

/** Renders the workflow's `env` into the context's environment, in order (a value may use an earlier one). */
export function applyWorkflowEnv(workflow: WorkflowSpec, context: RunContext): void {
  for (const [key, raw] of Object.entries(workflow.env)) {
    context.env[key] = renderTemplate(raw, context, `workflow "${workflow.name}" env ${key}`)
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
