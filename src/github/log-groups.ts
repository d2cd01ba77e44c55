// Action logs: the root run streams live; each child's output is kept (bounded) and printed in one ::group:: when it ends.
// The root workflow is the job's own repository, trusted like any step of the job: its workflow commands act
// (`::add-mask::`, `::error`). A child's output is inert for the runner (see childBlock); a child's `::add-mask::`
// hides the value in that child's own block, done here, and never reaches the runner's masker: so a child cannot make
// GitHub hide the action's status words or drop its outputs.

import { randomBytes } from 'node:crypto'
import { OutputBuffer } from '../engine/output-buffer.js'
import { formatMs, type RunLabel, type RunObserver } from '../engine/run-scope.js'
import type { ChildReport, StepReport } from '../engine/types.js'

const CHILD_LOG_BYTES = 2 * 1024 * 1024
const ROOT_PARTIAL_CHARS = 64 * 1024
/** A longer `::add-mask::` line of a child is not a mask (its value would be as long as a log block). */
const MASK_LINE_BYTES = 64 * 1024
/** Masks kept per child. */
const MAX_MASKS = 1000

/** A child's output so far: its kept tail, the values it masked, and its unfinished last line (scanned for masks). */
interface ChildLog {
  buffer: OutputBuffer
  masks: Set<string>
  partial: string
}

export class GroupedLogs implements RunObserver {
  private readonly logs = new Map<string, ChildLog>()
  /** The root's unfinished last line: its step marks start a line of their own, and so do its commands. */
  private rootPartial = ''
  /** The root's last line was written in part, without its end. */
  private rootMidLine = false

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
    if (!run.id && (this.rootPartial || this.rootMidLine)) this.line(run, '\n')
    this.line(
      run,
      `${step.status === 'success' ? '✓' : step.status === 'skipped' ? '-' : '✗'} ${step.id} ${step.status} ${formatMs(step.duration_ms)}${step.error ? `: ${step.error}` : ''}\n`
    )
  }

  childFinished(child: ChildReport): void {
    const log = this.logs.get(child.id)
    this.logs.delete(child.id)
    if (log) scanMasks(log, '\n')
    const title = `${child.repository} › ${child.workflow} [${child.id}]: ${child.status} in ${formatMs(child.duration_ms)}`
    let body = log ? log.buffer.text() : ''
    if (log && log.buffer.truncatedBytes > 0) body = `[… ${log.buffer.truncatedBytes} bytes of earlier output cut]\n${body}`
    if (child.error) body += `${body && !body.endsWith('\n') ? '\n' : ''}${child.error.kind}: ${child.error.message}\n`
    this.write(childBlock(escapeCommand(title), hideMasked(body, log?.masks)))
  }

  /** A warning's text may quote a subscriber (its tako.yml, a filter's error): it is logged as a plain line. */
  warning(message: string): void {
    this.warn(inert(message))
  }

  private line(run: RunLabel, text: string): void {
    if (!run.id) {
      // Only the new text is searched, so output without newlines stays linear.
      const nl = text.lastIndexOf('\n')
      if (nl < 0) {
        this.rootPartial += text
        if (this.rootPartial.length > ROOT_PARTIAL_CHARS) {
          // A root step printing without newlines is written on as it comes, not held.
          this.write(this.rootPartial)
          this.rootPartial = ''
          this.rootMidLine = true
        }
        return
      }
      this.write(this.rootPartial + text.slice(0, nl + 1))
      this.rootPartial = text.slice(nl + 1)
      this.rootMidLine = false
      return
    }
    let log = this.logs.get(run.id)
    if (!log) {
      log = { buffer: new OutputBuffer(CHILD_LOG_BYTES), masks: new Set(), partial: '' }
      this.logs.set(run.id, log)
    }
    log.buffer.append(text)
    scanMasks(log, text)
  }
}

/** Collects the `::add-mask::` values of a child's complete lines; `text` continues its unfinished last line. */
function scanMasks(log: ChildLog, text: string): void {
  const last = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'))
  if (last < 0) {
    // No line ended: only a line that may still become a mask line is worth keeping.
    if (log.partial.length + text.length <= MASK_LINE_BYTES) log.partial += text
    else log.partial = '\0'
    return
  }
  const complete = log.partial + text.slice(0, last)
  log.partial = text.slice(last + 1)
  if (log.partial.length > MASK_LINE_BYTES) log.partial = '\0'
  for (const line of complete.split(LINE_BREAK)) {
    const m = MASK_COMMAND.exec(line)
    if (m && m[1].trim() && log.masks.size < MAX_MASKS) log.masks.add(unescapeData(m[1]))
  }
}

/** Line breaks as the runner reads a step's output (.NET ReadLine: \n, \r, \r\n). */
const LINE_BREAK = /\r\n|\r|\n/
/** What .NET's TrimStart() trims (Char.IsWhiteSpace: JavaScript's \s without U+FEFF, plus U+0085) before `::`. */
const DOTNET_SPACE = '[\\s\\u0085]'
const MASK_COMMAND = new RegExp(`^${DOTNET_SPACE}*::add-mask::(.*)$`)

function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/** Replaces each value a child masked with `***` in its own block; longest first, as the runner's masker does. */
function hideMasked(text: string, masks: Set<string> | undefined): string {
  if (!masks || masks.size === 0) return text
  let out = text
  for (const value of [...masks].sort((a, b) => b.length - a.length)) out = out.split(value).join('***')
  return out
}

/**
 * A child's output as a group the runner does not act on: between `::stop-commands::<token>` and `::<token>::` the
 * runner processes no command, and the token is drawn after the child's output is complete, so the child cannot
 * have printed it. Inside, `::` after leading white space and `##[` are defused as well, so nothing the log viewer
 * renders as a command or an error line is left even if a runner ignored stop-commands.
 */
export function childBlock(title: string, body: string): string {
  const token = randomBytes(16).toString('hex')
  const text = inert(body)
  return `::group::${title}\n::stop-commands::${token}\n${text}${text.endsWith('\n') || !text ? '' : '\n'}::${token}::\n::endgroup::\n`
}

const COMMAND_START = new RegExp(`(^|\\r\\n|\\r|\\n)(${DOTNET_SPACE}*)::`, 'g')

/** Text no runner acts on as a command: `::` starting a line (after what .NET trims) and `##[` anywhere are broken
    with a zero-width space, which the runner neither trims nor matches. */
export function inert(text: string): string {
  return text.replace(COMMAND_START, '$1$2:\u200b:').replace(/##\[/g, '##\u200b[')
}

function escapeCommand(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}
