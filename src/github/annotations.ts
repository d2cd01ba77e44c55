// Annotations (SPEC 6 "Reporting") built from the run report or from configuration issues; main.ts emits them.

import type { ConfigIssue } from '../config/types.js'
import type { ChildReport, RunReport } from '../engine/types.js'
import { ENDED, isFailedChild } from './outputs.js'

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

/** Annotations of each level still free for a list: what was emitted before it, and the failed-step error after it. */
export interface Room {
  errors: number
  warnings: number
}

const ALL: Room = { errors: ANNOTATIONS_PER_LEVEL, warnings: ANNOTATIONS_PER_LEVEL }

/** One error per failed child, one warning per report warning, each level capped to its room. */
export function runAnnotations(report: RunReport, room: Room = ALL): Annotation[] {
  const errors = report.children.filter(isFailedChild).map(childAnnotation)
  const warnings = report.warnings.map((message): Annotation => ({ level: 'warning', title: 'tako', message }))
  return [
    ...capped(errors, room.errors, (n) => `… and ${n} more failed children: see the job summary`),
    ...capped(warnings, room.warnings, (n) => `… and ${n} more warnings: see the job summary`)
  ]
}

/** Configuration problems on the tako file at their line and column; `file` is relative to the repository root. */
export function configAnnotations(issues: ConfigIssue[], file: string, room: Room = ALL): Annotation[] {
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
    ...capped(issues.filter((i) => i.severity === 'error').map(at), room.errors, more('errors')),
    ...capped(issues.filter((i) => i.severity === 'warning').map(at), room.warnings, more('warnings'))
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

/** At most `room`; when cut, the last one counts what was left out (at least two, so always plural). */
function capped(list: Annotation[], room: number, rest: (n: number) => string): Annotation[] {
  if (list.length <= room) return list
  if (room <= 0) return []
  const shown = list.slice(0, room - 1)
  const hidden = list.length - shown.length
  const { level, file } = list[0]
  return [...shown, { level, title: 'tako', message: rest(hidden), ...(file ? { file } : {}) }]
}
