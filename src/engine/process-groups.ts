// Starts processes each leading its own process group through child_process.spawn (launcher.ts starts the rest and
// picks which way), and keeps the registry of live groups a forced exit kills, mirrored to a watchdog that kills
// them if the engine dies.

import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'

export interface StartRequest {
  command: string
  args: string[]
  cwd: string
  /** The complete environment of the process. */
  env: Record<string, string>
  stdout: (chunk: Buffer) => void
  stderr: (chunk: Buffer) => void
  /** Written to file descriptor 3 of the process (then closed): a channel for a credential outside any environment. */
  fd3?: string
}

export interface ExitStatus {
  /** null when killed by a signal. */
  code: number | null
  signal: NodeJS.Signals | null
}

export interface StartedProcess {
  /** Also the id of the process group it leads. */
  pid: number
  exited: Promise<ExitStatus>
  /** Both output streams have ended (every process holding them closed them), or were destroyed. */
  closed: Promise<void>
  /** Stops reading output still held open by a process that left the group. */
  destroyOutput(): void
}

/** An environment without the unset entries process.env may have. */
export function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

/** The action's inputs and the runner's tokens: the action's entry takes them out of process.env, and git (which the
    engine starts with its own environment) never inherits them even while a cache call has them back. */
const NEVER_INHERITED = /^(INPUT_.*|ACTIONS_(RUNTIME_TOKEN|RUNTIME_URL|ID_TOKEN_REQUEST_TOKEN|ID_TOKEN_REQUEST_URL|RESULTS_URL|CACHE_URL))$/

/** This process's environment as the engine's own git processes get it. */
export function inheritedEnv(): Record<string, string> {
  const out = stringEnv(process.env)
  for (const name of Object.keys(out)) if (NEVER_INHERITED.test(name)) delete out[name]
  return out
}

/** Process groups the engine started and has not seen end, for a forced exit; whoever starts one tracks it. */
const liveGroups = new Set<number>()

/** Groups a launcher ends itself if the engine dies (launcher.ts): the watchdog is not told of them. */
const guarded = new Set<number>()

export function guardedByLauncher(pgid: number): void {
  guarded.add(pgid)
}

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid)
  if (!guarded.has(pgid)) tellWatchdog(`+${pgid}\n`)
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid)
  if (!guarded.delete(pgid)) tellWatchdog(`-${pgid}\n`)
}

/** The dead-man switch: a shell in its own process group that learns every live group on its stdin. Only the
    engine holds the write end of that pipe, so the kernel closes it when the engine exits for any reason, SIGKILL
    included; the shell then reads EOF and ends every group still registered: SIGTERM, and a second later SIGKILL
    to those that were still there (none left: it exits at once, and signals no process id a second later that
    may since belong to someone else). No library does this, and a shell needs nothing the engine does not already
    require. A process that left its group (setsid, a double-forked daemon) is out of its reach, as it is out of
    the engine's. Exported for its tests. */
export const WATCHDOG_SCRIPT = `trap '' INT TERM HUP
groups=' '
while IFS= read -r line; do
  case $line in
    +*) groups="$groups\${line#+} " ;;
    -*) kept=' '; for g in $groups; do [ "$g" = "\${line#-}" ] || kept="$kept$g "; done; groups=$kept ;;
  esac
done
[ "$groups" = ' ' ] && exit 0
alive=
for g in $groups; do kill -TERM "-$g" 2>/dev/null && alive="$alive $g"; done
[ -z "$alive" ] && exit 0
sleep 1
for g in $alive; do kill -KILL "-$g" 2>/dev/null; done
exit 0`

let watchdog: ChildProcess | undefined
/** Lines not yet written: every change of one turn of the event loop goes to the watchdog in one write (a pipe
    write per process start and end was a tenth of the engine's CPU in a wide fan-out). The window this adds is
    one turn, shorter than the one between a launcher starting a process and the engine learning its id. */
let unsent = ''

function tellWatchdog(line: string): void {
  if (process.platform === 'win32') return
  if (unsent === '') setImmediate(flushWatchdog).unref()
  unsent += line
}

const running = (dog: ChildProcess | undefined): dog is ChildProcess => dog !== undefined && dog.exitCode === null && dog.signalCode === null

function flushWatchdog(): void {
  const lines = unsent
  unsent = ''
  if (lines === '') return
  if (!running(watchdog)) watchdog = startWatchdog()
  else watchdog.stdin?.write(lines)
}

function startWatchdog(): ChildProcess {
  // Only PATH: it lives as long as the engine, and a step running as the same user can read its /proc environ.
  const dog = spawn('sh', ['-c', WATCHDOG_SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
  // It must not keep the engine alive, nor fail it: a write to a watchdog that died is dropped.
  dog.on('error', () => {})
  dog.stdin?.on('error', () => {})
  dog.unref()
  ;(dog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  // Every group alive now, so a restarted watchdog knows them too.
  dog.stdin?.write([...liveGroups].map((pgid) => `+${pgid}\n`).join(''))
  // The last turn's ends go out as the engine exits (a pipe write is made at once when the pipe has room), so the
  // watchdog is not left with groups the engine already ended (the clone lanes, closed just before exit).
  process.once('exit', () => {
    if (watchdog === dog && running(dog)) flushWatchdog()
  })
  return dog
}

/** Sends `signal` to every process of a group; a group that is already gone is no error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    signalGroup(pgid, signal)
  } catch {
    // Not ours to signal.
  }
}

/** The signals the engine sent to each group whose starter asked (watchSignals). */
const signalsSent = new Map<number, Set<NodeJS.Signals>>()

/** From now on, records the signals the engine sends this group, until takeSignals. */
export function watchSignals(pgid: number): void {
  signalsSent.set(pgid, new Set())
}

/** The signals sent to a watched group since watchSignals; it is watched no more. */
export function takeSignals(pgid: number): Set<NodeJS.Signals> | undefined {
  const sent = signalsSent.get(pgid)
  signalsSent.delete(pgid)
  return sent
}

/** Sends a signal (0: only checks) to a process group; false when no process of it can be signalled any more. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (signal !== 0) signalsSent.get(pgid)?.add(signal)
  try {
    process.kill(-pgid, signal)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // EPERM: what is left belongs to another user; nothing more can be done about it.
    if (code === 'ESRCH' || code === 'EPERM') return false
    throw err
  }
}

/** A forced exit (second signal) must not leave processes behind: SIGKILL every live group, synchronously. */
export function killAllGroups(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL')
  liveGroups.clear()
}

/** A long-lived helper process (a clone lane, a launcher) keeps the engine's process alive only while it works for
    the engine: busy, its process and its answers hold the event loop; idle, nothing of it does. */
export function holdWhileBusy(child: ChildProcess, busy: boolean): void {
  const streams = [child.stdin, child.stdout, child.stderr] as Array<Socket | null>
  if (busy) {
    child.ref()
    ;(child.stdout as Socket | null)?.ref()
  } else {
    child.unref()
    for (const stream of streams) stream?.unref()
  }
}

/** child_process.spawn, detached so the process leads its own group. Resolves once the process runs; rejects as
    spawn's `error` does when it cannot start. Use startInGroup (launcher.ts), which picks this or a launcher. */
export function spawnInGroup(req: StartRequest): Promise<StartedProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(req.command, req.args, {
      cwd: req.cwd,
      env: req.env,
      detached: true,
      stdio: req.fd3 === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe']
    }) as ChildProcessByStdio<null, Readable, Readable>
    const exited = new Promise<ExitStatus>((done) => child.once('exit', (code, signal) => done({ code, signal })))
    const closed = new Promise<void>((done) => child.once('close', () => done()))
    child.stdout.on('data', req.stdout)
    child.stderr.on('data', req.stderr)
    child.once('error', reject)
    child.once('spawn', () => {
      if (req.fd3 !== undefined) {
        const channel = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void }
        // A process that exits without reading it closes the other end: that is no error.
        channel.on('error', () => {})
        channel.end(req.fd3)
        // A process it started in the background (git's auto gc) may keep the other end: not a reason to wait.
        child.once('exit', () => child.stdio[3]?.destroy())
      }
      resolve({
        pid: child.pid as number,
        exited,
        closed,
        destroyOutput: () => {
          child.stdout.destroy()
          child.stderr.destroy()
        }
      })
    })
  })
}
