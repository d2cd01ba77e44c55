// What a run has shown of itself so far, kept so that a second signal, which ends the CLI or the action before the
// engine can report, still leaves a report: the root steps and children that finished, the children still
// running, and the discovery.

import type { InputValue } from '../config/types.js'
import type { RunLabel, RunObserver } from './run-scope.js'
import type { ChildReport, DiscoveryEntry, RunReport, StepReport } from './types.js'

export interface RunHeader {
  runId: string
  source: string
  workflow: string
  inputs: Record<string, InputValue>
  startedAt: Date
}

/** Passes every event on to `inner` and remembers what a cut-short report needs. */
export class RunProgress implements RunObserver {
  private readonly running = new Map<string, { label: RunLabel; since: number }>()
  private readonly finished: ChildReport[] = []
  private readonly steps: StepReport[] = []
  private readonly warnings: string[] = []
  private readonly discovery: DiscoveryEntry[] = []

  constructor(private readonly inner: RunObserver) {}

  stepStarted(run: RunLabel, step: { id: string; name: string }): void {
    if (run.id && !this.running.has(run.id)) this.running.set(run.id, { label: run, since: Date.now() })
    this.inner.stepStarted?.(run, step)
  }

  output(run: RunLabel, chunk: string, stream: 'stdout' | 'stderr'): void {
    this.inner.output?.(run, chunk, stream)
  }

  stepFinished(run: RunLabel, step: StepReport): void {
    if (!run.id) this.steps.push(step)
    this.inner.stepFinished?.(run, step)
  }

  childFinished(child: ChildReport): void {
    this.running.delete(child.id)
    this.finished.push(child)
    this.inner.childFinished?.(child)
  }

  discovered(entry: DiscoveryEntry): void {
    this.discovery.push(entry)
    this.inner.discovered?.(entry)
  }

  warning(message: string): void {
    this.warnings.push(message)
    this.inner.warning?.(message)
  }

  /**
   * Ends the run as cancelled by `reason`: a report of what finished, with each child still running reported
   * cancelled (and its output so far passed on, as if it had finished).
   */
  interrupt(header: RunHeader, reason: string, now = Date.now()): RunReport {
    const killed = [...this.running.values()].map(({ label, since }): ChildReport => ({
      id: label.id,
      parent_id: label.parentId ?? '',
      repository: label.repository,
      ref: '',
      workflow: label.workflow,
      inputs: {},
      event: label.event ?? { type: '', source: header.source, payload: {} },
      status: 'cancelled',
      error: { kind: 'cancelled', message: `${reason}: killed while running` },
      duration_ms: now - since,
      workspace: '',
      steps: []
    }))
    for (const child of killed) this.childFinished(child)
    return {
      version: 1,
      run_id: header.runId,
      status: 'cancelled',
      started_at: header.startedAt.toISOString(),
      duration_ms: now - header.startedAt.getTime(),
      source: header.source,
      workflow: header.workflow,
      inputs: header.inputs,
      steps: [...this.steps],
      discovery: [...this.discovery],
      children: [...this.finished],
      warnings: [...this.warnings],
      error: `${reason}: every step still running was killed; this report has only what had finished or was running`
    }
  }
}
