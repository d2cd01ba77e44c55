// Located configuration problems: formatting as `file:line:col: message` and the error that carries them.

import { UserError } from '../engine/errors.js'
import type { ConfigIssue } from './types.js'

/** `file:line:col: message`, `file:line:col: warning: message`; `file: message` when the problem has no position (line 0). */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file
  return `${where}: ${i.severity === 'warning' ? 'warning: ' : ''}${i.message}`
}

/** Thrown by loadConfig when a file is missing or invalid; `message` lists every issue, one per line. */
export class ConfigError extends UserError {
  readonly issues: ConfigIssue[]

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}
