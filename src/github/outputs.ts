// The action's step outputs (SPEC 6 "Outputs") built from the run report, the child counts every report view shares,
// and the redaction of secrets that main.ts applies to everything it writes.

import { childFailed, childSucceeded, type ChildReport, type PullRequestRecord, type RunReport } from '../engine/types.js'
import { Outputs } from './constants.js'

/** How a failed child ended, in words. */
export const ENDED: Readonly<Record<string, string>> = { failure: 'failed', timed_out: 'timed out', cancelled: 'cancelled' }

export function isFailedChild(child: ChildReport): boolean {
  return childFailed(child.status)
}

export interface ChildCounts {
  triggered: number
  /** success + reused: a reused child succeeded in an earlier attempt. */
  succeeded: number
  reused: number
  failed: number
  skipped: number
}

export function countChildren(children: ChildReport[]): ChildCounts {
  const counts: ChildCounts = { triggered: children.length, succeeded: 0, reused: 0, failed: 0, skipped: 0 }
  for (const child of children) {
    if (childSucceeded(child.status)) counts.succeeded++
    if (child.status === 'reused') counts.reused++
    if (child.status === 'skipped') counts.skipped++
    if (childFailed(child.status)) counts.failed++
  }
  return counts
}

/** Every output of SPEC 6 as the strings `core.setOutput` receives; counts are over the whole tree. */
export function actionOutputs(report: RunReport, extra: { reportPath: string; cacheHit: boolean }): Record<string, string> {
  const counts = countChildren(report.children)
  // Every key in every entry (null when absent) so that `fromJSON(...)[0].url` in a workflow never hits a missing key.
  const children = report.children.map((c) => ({
    id: c.id,
    parent_id: c.parent_id,
    repository: c.repository,
    workflow: c.workflow,
    status: c.status,
    duration_ms: c.duration_ms,
    error: c.error?.message ?? null,
    url: c.url ?? null
  }))
  const stepOutputs = Object.fromEntries(report.steps.map((s) => [s.id, s.outputs]))
  return {
    [Outputs.Status]: report.status,
    [Outputs.RunId]: report.run_id,
    [Outputs.Succeeded]: String(counts.succeeded),
    [Outputs.Failed]: String(counts.failed),
    [Outputs.Skipped]: String(counts.skipped),
    [Outputs.Children]: JSON.stringify(children),
    [Outputs.PullRequests]: JSON.stringify(
      allPullRequests(report).map(({ repository, number, url, branch, operation }) => ({ repository, number, url, branch, operation }))
    ),
    [Outputs.Outputs]: JSON.stringify(stepOutputs),
    [Outputs.ReportPath]: extra.reportPath,
    [Outputs.CacheHit]: String(extra.cacheHit)
  }
}

/** What the root run and every child proposed (tako/pull-request@v1), the root's first. */
export function allPullRequests(report: RunReport): PullRequestRecord[] {
  return [...(report.pull_requests ?? []), ...report.children.flatMap((c) => c.pull_requests ?? [])]
}

/** Every output when there is no run report (the inputs or the tako file were refused, or the run never started). */
export function noRunOutputs(extra: { status: 'failure' | 'cancelled'; runId?: string; cacheHit: boolean }): Record<string, string> {
  return {
    [Outputs.Status]: extra.status,
    [Outputs.RunId]: extra.runId ?? '',
    [Outputs.Succeeded]: '0',
    [Outputs.Failed]: '0',
    [Outputs.Skipped]: '0',
    [Outputs.Children]: '[]',
    [Outputs.PullRequests]: '[]',
    [Outputs.Outputs]: '{}',
    [Outputs.ReportPath]: '',
    [Outputs.CacheHit]: String(extra.cacheHit)
  }
}

/**
 * The forms a secret leaks in: itself, its base64, and the base64 of the basic-auth pair git sends as a header;
 * base64 both with and without its padding.
 */
export function secretForms(secret: string): string[] {
  const base64 = (s: string): string[] => {
    const padded = Buffer.from(s, 'utf8').toString('base64')
    return [padded, padded.replace(/=+$/, '')]
  }
  return [secret, ...base64(secret), ...base64(`x-access-token:${secret}`)]
}

/** Replaces every form of every secret with `***`; longest first so a shorter form never splits a longer one. */
export function redact(text: string, secrets: string[]): string {
  const forms = [...new Set(secrets.filter((s) => s.trim() !== '').flatMap(secretForms))].sort((a, b) => b.length - a.length)
  let out = text
  for (const form of forms) out = out.split(form).join('***')
  return out
}
