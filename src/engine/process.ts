// Runs one step's script as a child process leading its own process group: live output, bounded capture,
// and a timeout, cancellation and end of step that leave no process of the group behind (SPEC 1.3, 2.6).
//
// When the script's main shell exits, the step is over: whatever it left running in its process group
// (`server &`, a `sleep 60 &`) gets SIGTERM, then SIGKILL after the grace period. Unlike GitHub Actions,
// where such processes live until the job ends, a tako step cannot leak processes into later steps or
// other runs. A process that left the group (setsid, daemonizing) is out of reach; if it holds the
// output pipes open, the step still ends shortly after the group is gone and its later output is lost.

import { randomUUID } from 'node:crypto'
import { rmSync, statSync, writeFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { setTimeout as delay } from 'node:timers/promises'
import { DEFAULT_MAX_CAPTURE_BYTES, OutputBuffer } from './output-buffer.js'
import { startInGroup } from './launcher.js'
import { signalGroup, trackGroup, untrackGroup, type StartedProcess } from './process-groups.js'
import { setLongTimeout } from './timers.js'

export { killAllGroups } from './process-groups.js'

export const DEFAULT_KILL_GRACE_MS = 10_000
const POLL_MS = 50
/** How long output may still arrive once the group is gone, before pipes held by an escaped process are closed. */
const DRAIN_MS = 250
/** SIGKILL cannot be caught; only a process stuck in the kernel outlives this, and then waiting longer is pointless. */
const KILL_WAIT_MS = 5_000

export interface RunScriptOptions {
  /** The (already templated) script text. */
  script: string
  /** bash: `bash --noprofile --norc -eo pipefail <file>`; sh: `sh -e <file>` (as GitHub Actions). */
  shell: 'bash' | 'sh'
  cwd: string
  /** The complete environment for the process (the caller merges process.env). */
  env: Record<string, string>
  timeoutMs?: number
  /** Abort terminates the group and marks the result cancelled. */
  signal?: AbortSignal
  /** Between SIGTERM and SIGKILL; default 10 s. */
  killGraceMs?: number
  /** Where the script file is written (the caller owns the directory; the file is deleted afterwards). */
  tempDir: string
  /** Live output, decoded as UTF-8 without splitting characters. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void
  /** Per stream, default 1 MiB; the combined buffer has the same bound. */
  maxCaptureBytes?: number
}

export interface ScriptResult {
  /** null when killed by a signal. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  cancelled: boolean
  durationMs: number
  stdout: OutputBuffer
  stderr: OutputBuffer
  /** Both streams as their chunks arrived, for log tails. Order across the two pipes is only as precise as their delivery. */
  combined: OutputBuffer
}

export async function runScript(opts: RunScriptOptions): Promise<ScriptResult> {
  const started = performance.now()
  const maxBytes = opts.maxCaptureBytes ?? DEFAULT_MAX_CAPTURE_BYTES
  const result: ScriptResult = {
    exitCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    durationMs: 0,
    stdout: new OutputBuffer(maxBytes),
    stderr: new OutputBuffer(maxBytes),
    combined: new OutputBuffer(maxBytes)
  }
  if (opts.signal?.aborted) {
    result.cancelled = true
    return result
  }
  assertDirectory(opts.cwd)
  const file = path.join(opts.tempDir, `tako-step-${randomUUID()}.sh`)
  // Owner-only: the templated script may contain secrets. A small file in the engine's own temp folder: written and
  // removed synchronously (microseconds), not through a thread-pool round trip per call.
  writeFileSync(file, opts.script, { mode: 0o600 })
  try {
    await execute(file, opts, result)
  } finally {
    rmSync(file, { force: true })
  }
  result.durationMs = Math.round(performance.now() - started)
  return result
}

async function execute(file: string, opts: RunScriptOptions, result: ScriptResult): Promise<void> {
  const [command, args] = opts.shell === 'bash' ? ['bash', ['--noprofile', '--norc', '-eo', 'pipefail', file]] : ['sh', ['-e', file]]
  const stdout = capture('stdout', result.stdout, result, opts.onOutput)
  const stderr = capture('stderr', result.stderr, result, opts.onOutput)
  let child: StartedProcess
  try {
    child = await startInGroup({ command, args, cwd: opts.cwd, env: opts.env, stdout: stdout.write, stderr: stderr.write })
  } catch (err) {
    throw new Error(`cannot start ${command}: ${(err as Error).message}`)
  }
  const pid = child.pid
  trackGroup(pid)
  const graceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  let termination: Promise<void> | undefined
  const terminate = (): Promise<void> => (termination ??= terminateGroup(pid, graceMs))

  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setLongTimeout(() => {
          result.timedOut = true
          void terminate()
        }, opts.timeoutMs)
  const onAbort = (): void => {
    result.cancelled = true
    void terminate()
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  // An abort that came while the file was written and the shell started found no listener.
  if (opts.signal?.aborted) onAbort()

  const { code, signal } = await child.exited
  timer?.clear()
  opts.signal?.removeEventListener('abort', onAbort)
  result.exitCode = code
  result.signal = signal
  await terminate()
  untrackGroup(pid)

  let drain: NodeJS.Timeout | undefined
  await Promise.race([child.closed, new Promise((resolve) => (drain = setTimeout(resolve, DRAIN_MS)))])
  clearTimeout(drain)
  child.destroyOutput()
  await child.closed
  stdout.end()
  stderr.end()
}

/** Feeds one stream into its own buffer and the combined one, and live to onOutput without splitting characters. */
function capture(
  name: 'stdout' | 'stderr',
  own: OutputBuffer,
  result: ScriptResult,
  onOutput: RunScriptOptions['onOutput']
): { write: (chunk: Buffer) => void; end: () => void } {
  const decoder = new StringDecoder('utf8')
  return {
    write: (chunk) => {
      own.append(chunk)
      result.combined.append(chunk)
      if (onOutput) {
        const text = decoder.write(chunk)
        if (text !== '') onOutput(text, name)
      }
    },
    end: () => {
      const rest = decoder.end()
      if (onOutput && rest !== '') onOutput(rest, name)
    }
  }
}

function assertDirectory(dir: string): void {
  const info = statSync(dir, { throwIfNoEntry: false })
  if (!info?.isDirectory()) throw new Error(`working directory ${dir} does not exist or is not a directory`)
}

/** Sends SIGTERM to a process group, SIGKILL after graceMs if any member is still alive. Resolves when gone. */
export async function terminateGroup(pid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pid, 'SIGTERM')) return
  if (await waitGone(pid, graceMs)) return
  if (!signalGroup(pid, 'SIGKILL')) return
  await waitGone(pid, KILL_WAIT_MS)
}

async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms
  for (;;) {
    if (!(await groupAlive(pgid))) return true
    if (performance.now() >= deadline) return false
    await delay(Math.min(POLL_MS, Math.max(0, deadline - performance.now())))
  }
}

async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false
  if (process.platform !== 'linux') return true
  // A killed member stays signalable as a zombie until its parent reaps it, and an orphan's parent is
  // init, which in some containers never reaps. Zombies are dead: only count members in another state.
  return hasLiveMember(pgid)
}

async function hasLiveMember(pgid: number): Promise<boolean> {
  const entries = await readdir('/proc').catch(() => undefined)
  if (!entries) return true
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const line = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined)
    if (!line) continue
    // Format: "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true
  }
  return false
}
