// Action logs: the root run streams live; each child's output is kept (bounded) and printed in one ::group:: when it ends.
// The root workflow is the job's own repository, trusted like any step of the job: its workflow commands act
// (`::add-mask::`, `::error`). A child's commands are neutralised, except `::add-mask::`, which can only hide more.

import { OutputBuffer } from '../engine/output-buffer.js'
import { formatMs, type RunLabel, type RunObserver } from '../engine/run-scope.js'
import type { ChildReport, StepReport } from '../engine/types.js'

const CHILD_LOG_BYTES = 2 * 1024 * 1024

export class GroupedLogs implements RunObserver {
  private readonly logs = new Map<string, OutputBuffer>()
  /** The root's unfinished last line: its step marks start a line of their own, and so do its commands. */
  private rootPartial = ''

  constructor(
    private readonly write: (text: string) => void,
    private readonly warn: (message: string) => void
  ) {}

  stepStarted(run: RunLabel, step: { id: string; name: string }): void {
    this.line(run, `▶ ${step.id}${step.name && step.name !== step.id ? `: ${step.name}` : ''}\n`)
  }

  output(run: RunLabel, chunk: string): void {
    this.line(run, chunk)
  }

  stepFinished(run: RunLabel, step: StepReport): void {
    if (!run.id && this.rootPartial) this.line(run, '\n')
    this.line(run, `${step.status === 'success' ? '✓' : step.status === 'skipped' ? '-' : '✗'} ${step.id} ${step.status} ${formatMs(step.duration_ms)}${step.error ? `: ${step.error}` : ''}\n`)
  }

  childFinished(child: ChildReport): void {
    const log = this.logs.get(child.id)
    this.logs.delete(child.id)
    const title = `${child.repository} › ${child.workflow} [${child.id}]: ${child.status} in ${formatMs(child.duration_ms)}`
    let body = log ? log.text() : ''
    if (log && log.truncatedBytes > 0) body = `[… ${log.truncatedBytes} bytes of earlier output cut]\n${body}`
    if (child.error) body += `${body && !body.endsWith('\n') ? '\n' : ''}${child.error.kind}: ${child.error.message}\n`
    this.write(`::group::${escapeCommand(title)}\n${neutralize(body)}${body.endsWith('\n') || !body ? '' : '\n'}::endgroup::\n`)
  }

  warning(message: string): void {
    this.warn(message)
  }

  private line(run: RunLabel, text: string): void {
    if (!run.id) {
      const all = this.rootPartial + text
      const cut = all.lastIndexOf('\n') + 1
      this.rootPartial = all.slice(cut)
      if (cut > 0) this.write(all.slice(0, cut))
      return
    }
    let log = this.logs.get(run.id)
    if (!log) {
      log = new OutputBuffer(CHILD_LOG_BYTES)
      this.logs.set(run.id, log)
    }
    log.append(text)
  }
}

/** Workflow commands in a child's output must not act on the parent's job (`::set-output`, `::error`, `::endgroup::`). */
function neutralize(text: string): string {
  return text.replace(/^(\s*)::(?!add-mask::)/gm, '$1:\u200b:')
}

function escapeCommand(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}
