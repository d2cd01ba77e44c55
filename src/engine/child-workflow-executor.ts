// ChildWorkflowExecutor: one child run from checkout to cleanup, always ending in a ChildReport.

import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { InputValue, SubscriptionSpec, TakoConfig } from '../config/types.js'
import { parseConfig } from '../config/load.js'
import { formatIssue } from '../config/errors.js'
import { renderTemplate } from './template.js'
import { resolveInputs } from './inputs.js'
import { abortStatus, type RunScope, type TreeState } from './run-scope.js'
import type { Candidate, RepositorySource } from './repository-source.js'
import type { ChildRunnerFactory } from './child-runner-factory.js'
import { childFingerprint } from './resume.js'
import { messageOf, type WorkflowRunner } from './workflow-runner.js'
import type { ChildError, ChildReport, ChildStatus, RunContext, TakoEvent } from './types.js'

export interface ChildRequest {
  candidate: Candidate
  subscription: SubscriptionSpec
  event: TakoEvent
  parent: RunScope
  signal: AbortSignal
  /** The candidate's tako.yml as discovery read it at the same commit, when it did. */
  config?: TakoConfig
}

export interface ChildWorkflowExecutorDeps {
  source: RepositorySource
  factory: ChildRunnerFactory
  runner: WorkflowRunner
}

export class ChildWorkflowExecutor {
  constructor(private readonly deps: ChildWorkflowExecutorDeps) {}

  /** Records a child that is not run at all (a cycle, a duplicate match, a run cancelled before it started). */
  notRun(req: ChildRequest, status: ChildStatus, error?: ChildError): ChildReport {
    const report = newChildReport(req)
    report.id = this.deps.factory.reserveId(report.repository, report.workflow)
    return finish(req.parent.tree, report, Date.now(), status, error)
  }

  async run(req: ChildRequest): Promise<ChildReport> {
    const started = Date.now()
    const { tree } = req.parent
    const workflowName = req.subscription.workflow
    const report = newChildReport(req)
    const end = (status: ChildStatus, error?: ChildError): ChildReport => finish(tree, report, started, status, error)
    if (req.signal.aborted) {
      const status = abortStatus(req.signal)
      return this.notRun(req, status, { kind: status === 'timed_out' ? 'timed_out' : 'cancelled', message: `not started: ${reasonOf(req.signal)}` })
    }
    const previous = tree.reuse?.get(childFingerprint(report.repository, workflowName, req.event))
    if (previous) {
      report.id = this.deps.factory.reserveId(report.repository, workflowName)
      Object.assign(report, { inputs: previous.inputs, steps: previous.steps, url: previous.url ?? tree.reusedFrom })
      return end('reused')
    }
    if ((req.subscription.runs_on ?? tree.defaultMode) === 'dispatch') return this.dispatch(req, report, end)
    const child = await this.deps.factory.create(report.repository, workflowName)
    report.id = child.id
    report.workspace = child.workspace
    let keep = false
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
          report.workspace = ''
          return end(abortStatus(req.signal), { kind: abortStatus(req.signal) === 'timed_out' ? 'timed_out' : 'cancelled', message: `not started: ${reasonOf(req.signal)}` })
        }
        keep = true
        return end('failure', { kind: 'clone_failed', message: messageOf(error) })
      }
      const config = req.config ?? (await this.loadChildConfig(req.candidate, child.workspace))
      if (typeof config === 'string') {
        keep = true
        return end('failure', { kind: 'invalid_config', message: config })
      }
      const workflow = config.workflows[workflowName]
      if (!workflow) {
        keep = true
        return end('failure', {
          kind: 'invalid_config',
          message: `${report.repository} has no workflow "${workflowName}" (available: ${Object.keys(config.workflows).join(', ') || 'none'})`
        })
      }
      let inputs: Record<string, InputValue>
      try {
        inputs = resolveInputs(workflowName, workflow.inputs, this.mapInputs(req, report.repository))
      } catch (error) {
        keep = true
        return end('failure', { kind: 'invalid_inputs', message: messageOf(error) })
      }
      report.inputs = inputs
      const scope: RunScope = {
        tree,
        config,
        label: { id: child.id, repository: report.repository, workflow: workflowName },
        workspace: child.workspace,
        tempDir: child.tempDir,
        ancestors: [...req.parent.ancestors, { repository: report.repository, workflow: workflowName }],
        depth: req.parent.depth + 1,
        background: []
      }
      const result = await this.deps.runner.run({ config, workflow, inputs, scope, event: req.event, signal: req.signal })
      report.steps = result.steps
      if (result.status === 'success') return end('success')
      keep = true
      const failed = result.failure
      const kind = result.status === 'timed_out' ? 'timed_out' : result.status === 'cancelled' ? 'cancelled' : 'step_failed'
      return end(result.status, {
        kind,
        message: failed?.message ?? result.status,
        step: failed?.step || undefined,
        exit_code: failed?.exitCode ?? null,
        log_tail: failed?.logTail
      })
    } finally {
      tree.reaper.remove(child.tempDir)
      const remove = !report.workspace || tree.keepWorkspaces === 'none' || (tree.keepWorkspaces === 'failed' && !keep)
      if (remove) tree.reaper.remove(child.workspace)
    }
  }

  /** The child runs as a workflow run of its own repository; this side only starts, awaits and reports it. */
  private async dispatch(req: ChildRequest, report: ChildReport, end: (status: ChildStatus, error?: ChildError) => ChildReport): Promise<ChildReport> {
    const { tree } = req.parent
    report.id = this.deps.factory.reserveId(report.repository, report.workflow)
    if (!tree.dispatcher) {
      return end('failure', { kind: 'dispatch_failed', message: `${report.repository} subscribes with runs_on: dispatch, which needs the GitHub Action (mode: dispatch); the CLI runs children locally only when runs_on is local or unset` })
    }
    let inputs: Record<string, InputValue>
    try {
      inputs = this.mapInputs(req, report.repository)
    } catch (error) {
      return end('failure', { kind: 'invalid_inputs', message: messageOf(error) })
    }
    report.inputs = inputs
    const outcome = await tree.dispatcher.dispatch({ childId: report.id, candidate: req.candidate, workflow: report.workflow, inputs, event: req.event, signal: req.signal })
    if (outcome.url) report.url = outcome.url
    if (outcome.steps) report.steps = outcome.steps
    return end(outcome.status, outcome.error)
  }

  private async loadChildConfig(candidate: Candidate, workspace: string): Promise<TakoConfig | string> {
    const file = await readWorkspaceConfig(workspace)
    if (!file) return `${candidate.repository} has no tako.yml`
    const parsed = parseConfig(file.text, `${candidate.repository}/${file.name}`)
    if (!parsed.config) return parsed.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')
    return parsed.config
  }

  /** Subscription inputs are templates over the event (SPEC 1.5). */
  private mapInputs(req: ChildRequest, repository: string): Record<string, InputValue> {
    const context: RunContext = { inputs: {}, steps: {}, event: req.event, env: {}, run_id: req.parent.tree.runId, repository }
    const out: Record<string, InputValue> = {}
    for (const [name, template] of Object.entries(req.subscription.inputs)) {
      out[name] = renderTemplate(template, context, `subscription input "${name}" of ${repository}`)
    }
    return out
  }
}

function newChildReport(req: ChildRequest): ChildReport {
  return {
    id: '',
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
  if (error) report.error = error
  report.duration_ms = Date.now() - started
  tree.children.push(report)
  tree.observer.childFinished?.(report)
  return report
}

async function readWorkspaceConfig(workspace: string): Promise<{ text: string; name: string } | null> {
  for (const name of ['tako.yml', 'tako.yaml']) {
    try {
      return { text: await readFile(path.join(workspace, name), 'utf8'), name }
    } catch {
      continue
    }
  }
  return null
}

function reasonOf(signal: AbortSignal): string {
  return (signal.reason as { message?: string } | undefined)?.message ?? 'cancelled'
}
