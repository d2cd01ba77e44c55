// Annotations (SPEC 6 "Reporting") built from the run report or from configuration issues; main.ts emits them.

import type { ConfigIssue } from '../config/types.js'
import type { ChildReport, RunReport } from '../engine/types.js'
import { isFailedChild } from './outputs.js'

export interface Annotation {
  level: 'error' | 'warning' | 'notice'
  message: string
  title?: string
  file?: string
  line?: number
  col?: number
}

/**
 * GitHub shows at most 10 annotations of each level per step and silently drops the rest, so when there are more,
 * the 10th is the one that counts what was left out.
 */
export const ANNOTATIONS_PER_LEVEL = 10

const ENDED: Record<string, string> = { failure: 'failed', timed_out: 'timed out', cancelled: 'cancelled' }

/** One error per failed child, one warning per report warning, each level capped. */
export function runAnnotations(report: RunReport): Annotation[] {
  const errors = report.children.filter(isFailedChild).map(childAnnotation)
  const warnings = report.warnings.map((message): Annotation => ({ level: 'warning', title: 'tako', message }))
  return [
    ...capped(errors, (n) => `… and ${n} more failed children: see the job summary`),
    ...capped(warnings, (n) => `… and ${n} more warnings: see the job summary`)
  ]
}

/** Configuration problems on the tako file at their line and column; `file` is relative to the repository root. */
export function configAnnotations(issues: ConfigIssue[], file: string): Annotation[] {
  const at = (issue: ConfigIssue): Annotation => ({
    level: issue.severity,
    title: issue.severity === 'error' ? 'tako: invalid configuration' : 'tako: configuration warning',
    message: issue.message,
    file,
    line: issue.line,
    col: issue.col
  })
  const more = (kind: string) => (n: number) => `… and ${n} more configuration ${kind} in ${file}: run \`tako validate\` to list them all`
  return [
    ...capped(issues.filter((i) => i.severity === 'error').map(at), more('errors')),
    ...capped(issues.filter((i) => i.severity === 'warning').map(at), more('warnings'))
  ]
}

function childAnnotation(child: ChildReport): Annotation {
  const { error } = child
  const where = [`child ${child.id}`]
  if (error?.step) where.push(`step ${error.step}`)
  if (error?.exit_code != null) where.push(`exit code ${error.exit_code}`)
  const lines = [error?.message ?? `ended with status ${child.status}`, where.join(', ')]
  if (child.url) lines.push(child.url)
  return {
    level: 'error',
    title: `tako: ${child.repository} › ${child.workflow} ${ENDED[child.status] ?? child.status}`,
    message: lines.join('\n')
  }
}

/** When cut, at least two are left out, so the count is always plural. */
function capped(list: Annotation[], rest: (n: number) => string): Annotation[] {
  if (list.length <= ANNOTATIONS_PER_LEVEL) return list
  const shown = list.slice(0, ANNOTATIONS_PER_LEVEL - 1)
  const last = shown[shown.length - 1]
  const hidden = list.length - shown.length
  return [...shown, { level: last.level, title: 'tako', message: rest(hidden), ...(last.file ? { file: last.file } : {}) }]
}
