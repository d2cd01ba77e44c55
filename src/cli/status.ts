// How the CLI shows a run while it goes: on a terminal one status line that redraws under the live output
// (`12/200 done · 4 running · 1 failed · api-definitions › web-app running 1m20s`); elsewhere (CI logs) a heartbeat
// line when nothing was printed for a while, so a quiet run does not look hung. Colours through picocolors, on only
// where the stream is a terminal, unless NO_COLOR or FORCE_COLOR says otherwise (https://no-color.org).

import { clearLine, cursorTo } from 'node:readline'
import pc from 'picocolors'
import { formatMs, type RunLabel, type RunObserver } from '../engine/run-scope.js'
import type { ChildReport, DiscoveryEntry, StepReport } from '../engine/types.js'

export type Colors = ReturnType<typeof pc.createColors>

export interface StatusStream {
  isTTY?: boolean
  columns?: number
  write(text: string): boolean
}

/** NO_COLOR (any value) wins, then FORCE_COLOR (other than 0), else colour only on a terminal that is not dumb. */
export function colorsFor(stream: StatusStream, env: NodeJS.ProcessEnv = process.env): Colors {
  let enabled = Boolean(stream.isTTY) && env.TERM !== 'dumb'
  if (env.FORCE_COLOR !== undefined) enabled = env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.NO_COLOR) enabled = false
  return pc.createColors(enabled)
}

export interface StatusOptions {
  /** Quiet time after which a non-terminal stream gets a heartbeat line (default 30 s). */
  heartbeatMs?: number
  /** How often the terminal line is redrawn (default 1 s). */
  redrawMs?: number
  now?: () => number
}

/** An observer that counts children and keeps the status line; everything printed goes through print(). */
export class StatusLine implements RunObserver {
  private readonly running = new Map<string, { label: RunLabel; since: number }>()
  private done = 0
  private failed = 0
  private matched = 0
  private shown = false
  private lastWrite: number
  private readonly timer: NodeJS.Timeout
  private readonly now: () => number
  private readonly heartbeatMs: number
  private inner: RunObserver = {}

  constructor(
    private readonly stream: StatusStream,
    private readonly colors: Colors,
    opts: StatusOptions = {}
  ) {
    this.now = opts.now ?? Date.now
    this.heartbeatMs = opts.heartbeatMs ?? 30_000
    this.lastWrite = this.now()
    const every = stream.isTTY ? (opts.redrawMs ?? 1000) : Math.min(this.heartbeatMs, 5000)
    this.timer = setInterval(() => this.tick(), every)
    // The status never keeps the process alive on its own.
    this.timer.unref()
  }

  /** The observer that prints the run's own lines (LiveOutput); every event is passed on to it. */
  forwardTo(inner: RunObserver): this {
    this.inner = inner
    return this
  }

  /** Prints text above the status line (which is cleared first and drawn again after). */
  print(text: string): void {
    this.clear()
    this.stream.write(text)
    this.lastWrite = this.now()
    this.draw()
  }

  /** Removes the status line and stops the timer: the closing lines follow. */
  close(): void {
    clearInterval(this.timer)
    this.clear()
  }

  stepStarted(run: RunLabel, step: { id: string; name: string }): void {
    if (run.id && !this.running.has(run.id)) this.running.set(run.id, { label: run, since: this.now() })
    this.inner.stepStarted?.(run, step)
  }

  output(run: RunLabel, chunk: string, stream: 'stdout' | 'stderr'): void {
    this.inner.output?.(run, chunk, stream)
  }

  stepFinished(run: RunLabel, step: StepReport): void {
    this.inner.stepFinished?.(run, step)
  }

  childFinished(child: ChildReport): void {
    this.running.delete(child.id)
    this.done++
    if (child.status === 'failure' || child.status === 'timed_out' || child.status === 'cancelled') this.failed++
    this.inner.childFinished?.(child)
  }

  discovered(entry: DiscoveryEntry): void {
    // A fan-out's own row (fan_out) counts its candidates; only a candidate's row is a child to come.
    if (entry.result === 'matched' && !entry.fan_out) this.matched += Math.max(1, entry.reason.split(';').length)
    this.inner.discovered?.(entry)
  }

  warning(message: string): void {
    this.inner.warning?.(message)
  }

  /** `12/200 done · 4 running · 1 failed · acme/api › web-app running 1m20s`; empty before any child. */
  text(): string {
    const total = Math.max(this.matched, this.done + this.running.size)
    if (total === 0) return ''
    const c = this.colors
    const parts = [`${this.done}/${total} done`, `${this.running.size} running`]
    if (this.failed > 0) parts.push(c.red(`${this.failed} failed`))
    const longest = [...this.running.values()].sort((a, b) => a.since - b.since)[0]
    if (longest) parts.push(`${longest.label.repository} › ${longest.label.workflow} running ${formatMs(this.now() - longest.since)}`)
    return parts.join(' · ')
  }

  private tick(): void {
    if (this.stream.isTTY) {
      this.clear()
      this.draw()
      return
    }
    if (this.now() - this.lastWrite < this.heartbeatMs) return
    const status = this.text()
    this.stream.write(`${this.colors.dim(`… still running${status ? `: ${status}` : ''}`)}\n`)
    this.lastWrite = this.now()
  }

  private draw(): void {
    if (!this.stream.isTTY) return
    const status = this.text()
    if (!status) return
    // One terminal row: a wrapped status line could not be cleared by the next redraw.
    // A pseudo-terminal without a size says 0 columns: assume the classic 80.
    const width = Math.max(20, (this.stream.columns || 80) - 1)
    const plain = status.replace(/\x1b\[[0-9;]*m/g, '')
    this.stream.write(this.colors.dim(plain.length > width ? `${plain.slice(0, width - 1)}…` : status))
    this.shown = true
  }

  private clear(): void {
    if (!this.shown) return
    clearLine(this.stream as NodeJS.WritableStream, 0)
    cursorTo(this.stream as NodeJS.WritableStream, 0)
    this.shown = false
  }
}
