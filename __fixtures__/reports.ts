// Hand-built run reports for the tests of the reporting layer (summary, annotations, outputs).

import type { ChildReport, DiscoveryEntry, RunReport, StepReport } from '../src/engine/types.js'

export function step(id: string, over: Partial<StepReport> = {}): StepReport {
  return { id, name: id, status: 'success', exit_code: 0, duration_ms: 1200, outputs: {}, ...over }
}

let counter = 0

export function child(repository: string, workflow: string, over: Partial<ChildReport> = {}): ChildReport {
  counter++
  return {
    id: `${repository.split('/')[1]}-${workflow}-${counter}`,
    parent_id: '',
    repository,
    ref: 'main',
    workflow,
    inputs: {},
    event: { type: 'api_published', source: 'acme/api', schema_version: '1.2.0', payload: { git_tag: 'v1.2.3' } },
    status: 'success',
    duration_ms: 65_000,
    workspace: '',
    steps: [step('build')],
    ...over
  }
}

/** A child whose step `step` failed with `exitCode`, and the given log tail. */
export function failedChild(repository: string, workflow: string, over: Partial<ChildReport> & { logTail?: string; stepId?: string } = {}): ChildReport {
  const { logTail = 'npm ERR! test failed\n', stepId = 'test', ...rest } = over
  return child(repository, workflow, {
    status: 'failure',
    workspace: `/tmp/run/children/${repository.split('/')[1]}-${workflow}`,
    error: { kind: 'step_failed', message: `step ${stepId} failed with exit code 1`, step: stepId, exit_code: 1, log_tail: logTail },
    ...rest
  })
}

export function discovery(repository: string, result: DiscoveryEntry['result'], reason: string): DiscoveryEntry {
  return { repository, ref: 'main', result, reason, fan_out_of: '', event_type: 'api_published' }
}

export function report(over: Partial<RunReport> = {}): RunReport {
  return {
    version: 1,
    run_id: 'exec-20261124-143022-a7b3c1d2',
    status: 'success',
    started_at: '2026-11-24T14:30:22.000Z',
    duration_ms: 125_000,
    source: 'acme/api',
    workflow: 'release-api',
    inputs: { version: 'v1.2.3' },
    steps: [step('build', { outputs: { version: 'v1.2.3' } }), step('fan-out', { duration_ms: 90_000, outputs: { triggered: '2' } })],
    discovery: [],
    children: [],
    warnings: [],
    ...over
  }
}
