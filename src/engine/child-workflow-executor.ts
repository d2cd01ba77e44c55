// ChildWorkflowExecutor: one child run from checkout to cleanup, always ending in a ChildReport (never a throw).

import type { InputValue, SubscriptionSpec, TakoConfig } from '../config/types.js'
import { renderSubscriptionInputs } from './event-input.js'
import { resolveInputs } from './inputs.js'
import { abortReason, abortStatus, type RunScope, type TreeState } from './run-scope.js'
import type { Candidate, RepositorySource } from './repository-source.js'
import type { ChildRun, ChildRunnerFactory } from './child-runner-factory.js'
import { childFingerprint } from './resume.js'
import { stringEnv } from './process-groups.js'
import { messageOf, type WorkflowRunner } from './workflow-runner.js'
import type { ChildError, ChildReport, ChildStatus, TakoEvent } from './types.js'

export interface ChildRequest {
  candidate: Candidate
  subscription: SubscriptionSpec
  event: TakoEvent
  parent: RunScope
  signal: AbortSignal
  /** The candidate's tako.yml, as discovery read it at the commit the child checks out. */
  config: TakoConfig
  /** Id reserved for this child in plan order, so ids follow the order candidates were found. */
  id: string
}

export interface ChildWorkflowExecutorDeps {
  source: RepositorySource
  factory: ChildRunnerFactory
  runner: WorkflowRunner
}

type End = (status: ChildStatus, error?: ChildError) => ChildReport

export class ChildWorkflowExecutor {
  constructor(private readonly deps: ChildWorkflowExecutorDeps) {}

  reserveId(repository: string, workflow: string): string {
    return this.deps.factory.reserveId(repository, workflow)
  }

  /** Records a child that is not run at all (a cycle, a duplicate match, a run cancelled before it started). */
  notRun(req: ChildRequest, status: ChildStatus, error?: ChildError): ChildReport {
    return finish(req.parent.tree, newChildReport(req), Date.now(), status, error)
  }

  async run(req: ChildRequest): Promise<ChildReport> {
    const started = Date.now()
    const { tree } = req.parent
    const report = newChildReport(req)
    const end: End = (status, error) => finish(tree, report, started, status, error)
    if (req.signal.aborted) return end(abortStatus(req.signal), { kind: abortStatus(req.signal), message: `not started: ${abortReason(req.signal)}` })
    const previous = tree.reuse?.get(childFingerprint(report.repository, report.workflow, req.event))
    if (previous) {
      Object.assign(report, { inputs: previous.inputs, steps: previous.steps, url: previous.url, pull_requests: previous.pull_requests })
      return end('reused')
    }
    try {
      if ((req.subscription.runs_on ?? tree.defaultMode) === 'dispatch') return await this.dispatch(req, report, end)
      const child = await this.deps.factory.create(report.repository, report.workflow, req.id)
      report.id = child.id
      report.workspace = child.workspace
      return await this.runLocally(req, report, child, end)
    } catch (error) {
      // Anything unforeseen (a full disk, say) fails this child, not the whole tree.
      return end('failure', { kind: 'step_failed', message: `could not run: ${messageOf(error)}` })
    }
  }

  private async runLocally(req: ChildRequest, report: ChildReport, child: ChildRun, end: End): Promise<ChildReport> {
    const { tree } = req.parent
    let keep = true
    try {
      try {
        // Checkouts are bounded tree-wide like steps: a fan-out to hundreds must not start hundreds of clones at once.
        await tree.checkoutSlots(() => {
          req.signal.throwIfAborted()
          return this.deps.source.checkout(req.candidate, child.workspace, req.signal)
        })
      } catch (error) {
        if (req.signal.aborted) {
          // A checkout stopped half-way tells nothing: its folder goes, the report says why.
          keep = false
          report.workspace = ''
          return end(abortStatus(req.signal), { kind: abortStatus(req.signal), message: `not started: ${abortReason(req.signal)}` })
        }
        return end('failure', { kind: 'clone_failed', message: messageOf(error) })
      }
      const workflow = req.config.workflows[report.workflow]
      if (!workflow) {
        const available = Object.keys(req.config.workflows).join(', ') || 'none'
        return end('failure', { kind: 'invalid_config', message: `${report.repository} has no workflow "${report.workflow}" (available: ${available})` })
      }
      let inputs: Record<string, InputValue>
      try {
        inputs = resolveInputs(report.workflow, workflow.inputs, this.mapInputs(req, report.repository))
      } catch (error) {
        return end('failure', { kind: 'invalid_inputs', message: messageOf(error) })
      }
      report.inputs = inputs
      const scope: RunScope = {
        tree,
        config: req.config,
        label: { id: child.id, repository: report.repository, workflow: report.workflow, parentId: req.parent.label.id, event: report.event },
        workspace: child.workspace,
        tempDir: child.tempDir,
        ancestors: [...req.parent.ancestors, { repository: report.repository, workflow: report.workflow }],
        depth: req.parent.depth + 1,
        background: []
      }
      const result = await this.deps.runner.run({ config: req.config, workflow, inputs, scope, event: req.event, signal: req.signal })
      report.steps = result.steps
      if (result.status === 'success') {
        keep = false
        return end('success')
      }
      const failed = result.failure
      return end(result.status, {
        kind: result.status === 'failure' ? (failed?.kind ?? 'step_failed') : result.status,
        message: failed?.message ?? result.status,
        step: failed?.step || undefined,
        exit_code: failed?.exitCode ?? null,
        log_tail: failed?.logTail
      })
    } finally {
      tree.reaper.remove(child.tempDir)
      if (!report.workspace || tree.keepWorkspaces === 'none' || (!keep && tree.keepWorkspaces === 'failed')) tree.reaper.remove(child.workspace)
    }
  }

  /** The child runs as a workflow run of its own repository; this side only starts, awaits and reports it. */
  private async dispatch(req: ChildRequest, report: ChildReport, end: End): Promise<ChildReport> {
    const { tree } = req.parent
    if (!tree.dispatcher) {
      return end('failure', {
        kind: 'dispatch_failed',
        message: `${report.repository} subscribes with runs_on: dispatch, which needs the GitHub Action (mode: dispatch); the CLI runs children locally only when runs_on is local or unset`
      })
    }
    let inputs: Record<string, InputValue>
    try {
      inputs = this.mapInputs(req, report.repository)
    } catch (error) {
      return end('failure', { kind: 'invalid_inputs', message: messageOf(error) })
    }
    report.inputs = inputs
    const outcome = await tree.dispatcher.dispatch({
      childId: report.id,
      candidate: req.candidate,
      workflow: report.workflow,
      inputs,
      event: req.event,
      signal: req.signal
    })
    if (outcome.url) report.url = outcome.url
    if (outcome.steps) report.steps = outcome.steps
    return end(outcome.status, outcome.error)
  }

  private mapInputs(req: ChildRequest, repository: string): Record<string, InputValue> {
    const env = stringEnv(req.parent.tree.baseEnv ?? process.env)
    return renderSubscriptionInputs(req.subscription, req.event, { env, runId: req.parent.tree.runId, repository })
  }
}

function newChildReport(req: ChildRequest): ChildReport {
  return {
    id: req.id,
    parent_id: req.parent.label.id,
    repository: req.candidate.repository,
    ref: req.candidate.ref,
    workflow: req.subscription.workflow,
    inputs: {},
    event: { type: req.event.type, source: req.event.source, schema_version: req.event.schema_version, payload: req.event.payload },
    status: 'success',
    duration_ms: 0,
    workspace: '',
    steps: []
  }
}

function finish(tree: TreeState, report: ChildReport, started: number, status: ChildStatus, error?: ChildError): ChildReport {
  report.status = status
  const proposed = tree.pullRequests?.get(report.id)
  if (proposed?.length) report.pull_requests = proposed
  if (error) report.error = error
  report.duration_ms = Date.now() - started
  tree.children.push(report)
  tree.observer.childFinished?.(report)
  return report
}
