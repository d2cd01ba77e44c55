// Starts the engine's short-lived processes (step shells, git, rm) through long-lived bash launchers instead of
// forking Node for each one.
//
// Why: child_process.spawn forks the whole engine. At 90-160 MB that blocks the engine's one thread for 2-3 ms per
// start on a quiet machine and 14-23 ms under load, and half the engine's CPU in a wide fan-out was the kernel
// copying its page tables. A launcher is a bash started once; it forks itself (a few MB) for each process. No
// library does this: the clone lanes (clone-lanes.ts) do the same for `git clone`, and this generalises them.
// What it does not save: CPU in all. Measured 2026-12-02, 400 trivial bash processes one after another used 3.1 s
// of CPU from a shell loop, 5.7 s through spawn and 7.2 s through launchers (engine included), and the same within
// noise in a 200-child fan-out; what launchers buy is an engine thread that never blocks for a fork of its heap.
//
// One launcher runs one process at a time, so launchers are made as requests come in (callers bound how many run
// at once) and reused. The engine forks itself once for all of them: a root shell (ROOT_SCRIPT) starts each launcher
// with two FIFOs as its stdin and stdout, which the engine opens (a fork of the engine blocked its thread 15-20 ms
// here, per launcher). For each request the engine opens the read ends of two FIFOs the launcher made ahead (see
// LAUNCHER_SCRIPT), writes a file of NUL-separated fields (cwd, program, argv, environment) and sends one line.
// The launcher reads the file, forks a subshell (in its own process group: `set -m`), answers `started <pid>`,
// waits for it and answers `exit <status>`. The subshell redirects stdout and stderr to the FIFOs, changes
// directory, exports exactly the requested environment and execs the program with argv[0] as given. FIFOs are
// never reused, so a process that escaped its group cannot write into a later process's output, as with pipes.
//
// Given up against spawn: `wait` gives 128+n both for a process killed by signal n and for one that exited with
// 128+n. A status of 128+n is read as the signal when the engine sent signal n to that group (a timeout or a
// cancellation), and as an exit code otherwise, which is what GitHub Actions reports for an OOM-killed step too.
//
// What goes through spawn instead: a request with a credential on fd 3 (a FIFO has a name another process of the
// user could open first; an inherited socket has none), an environment name bash cannot export or must not
// (BASH_*, SHELLOPTS, UID, ...), a path with a line break, and every platform but Linux.

import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, closeSync, constants, mkdtempSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { access } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  guardedByLauncher,
  holdWhileBusy,
  killGroup,
  spawnInGroup,
  takeSignals,
  watchSignals,
  type ExitStatus,
  type StartedProcess,
  type StartRequest
} from './process-groups.js'
import { processExists } from './scratch.js'

// $1 is the launcher's own prefix: request n uses <prefix>-<n>.req, .out and .err. FIFOs are made 16 requests at a
// time, the next batch in the background while the 9th process of a batch runs, so a request never waits for
// mkfifo and the engine can open its read ends before it asks (a FIFO opened for reading without blocking needs no
// writer yet). The first batch is made by the root with the launcher's own two, and a launcher that serves fewer
// than 9 requests makes no other (in a fan-out with a few launchers per core, most serve fewer): two processes
// fewer per launcher. Before `exit` of the last request of a batch, the next batch is waited for: when the engine
// sends request n, its FIFOs exist.
const LAUNCHER_SCRIPT = `set -m
pid=
trap '[ -n "$pid" ] && { kill -TERM -- "-$pid"; sleep 1; kill -KILL -- "-$pid"; } 2>/dev/null; exit 0' HUP
fifos() { local made=() i; for ((i = $1; i <= $2; i++)); do made+=("$prefix-$i.out" "$prefix-$i.err"); done; mkfifo -m 600 -- "\${made[@]}"; }
prefix=$1
n=1
printf 'ready\\n'
while IFS= read -r line; do
  if ! mapfile -d '' -t f < "$prefix-$n.req"; then
    printf 'failed\\n'
    continue
  fi
  argc=\${f[2]}
  (
    exec </dev/null >"$prefix-$n.out" 2>"$prefix-$n.err" || exit 126
    cd -- "\${f[0]}" || exit 126
    unset PATH PWD OLDPWD SHLVL
    [ "\${#f[@]}" -eq $((3 + argc)) ] || export "\${f[@]:3+argc}" || exit 126
    exec -a "\${f[3]}" -- "\${f[1]}" "\${f[@]:4:argc-1}"
  ) &
  pid=$!
  printf 'started %s\\n' "$pid"
  if [ $((n % 16)) -eq 9 ]; then fifos $((n + 8)) $((n + 23)) & batch=$!; fi
  wait "$pid"
  status=$?
  # Still guarded while anything of its group lives on (the engine ends what is left); then nothing to end.
  kill -0 -- "-$pid" 2>/dev/null || pid=
  if [ $((n % 16)) -eq 0 ]; then wait "$batch" || exit 1; fi
  n=$((n + 1))
  printf 'exit %s\\n' "$status"
done`

// The launchers' parent. For each prefix it reads, it makes <prefix>.in and <prefix>.out (and the FIFOs of the
// launcher's first 16 requests) and starts a launcher reading the one and writing the other ($1 is LAUNCHER_SCRIPT),
// then answers `born`. The launcher's opens wait for the engine's (see Launcher), never the root's loop.
//
// It is also the dead-man switch of every process a launcher runs: the root is always reading its stdin, whose only
// writer is the engine, so it reads EOF the moment the engine ends, for any reason, SIGKILL included. It then sends
// SIGHUP to every launcher, and a launcher waiting for a process ends that process's group (SIGTERM, SIGKILL a
// second later) and exits; an idle one just exits. So the watchdog (process-groups.ts) need not be told of these
// processes at all: a pipe write to it per start and per end was 2-3% of a fan-out's time here.
const ROOT_SCRIPT = `while IFS= read -r prefix; do
  if mkfifo -m 600 -- "$prefix.in" "$prefix.out" "$prefix"-{1..16}.{out,err}; then
    ( exec <"$prefix.in" >"$prefix.out" || exit 1; exec -a tako-launcher bash --noprofile --norc -c "$1" tako-launcher "$prefix" ) &
    printf 'born\\n'
  else
    printf 'failed\\n'
  fi
done
kill -HUP $(jobs -p) 2>/dev/null
exit 0`

/** Names bash cannot export from a subshell, or that would change that subshell before it execs. */
const UNEXPORTABLE =
  /^(?![A-Za-z_][A-Za-z0-9_]*$)|^(BASH.*|SHELLOPTS|POSIXLY_CORRECT|EUID|UID|PPID|GROUPS|RANDOM|SRANDOM|SECONDS|LINENO|EPOCH.*|FUNCNAME|HISTCMD)$/
/** `_` is a shell's scratch variable (the last argument, or the program a shell ran) that almost every environment
    holds; bash owns it, so it is left out rather than sending every request through spawn. */
const SHELL_SCRATCH = '_'

let disabled = process.platform !== 'linux' || process.env.TAKO_LAUNCHER === 'spawn'
const idle: Launcher[] = []
let folder: string | undefined

/** Starts a process leading its own process group: through a launcher where it can, else through spawn (see above).
    Resolves once the process runs; rejects as spawn's `error` does when it cannot start. */
export function startInGroup(req: StartRequest): Promise<StartedProcess> {
  return launch(req) ?? spawnInGroup(req)
}

/** Starts the request through a launcher; undefined when it must go through spawn (see above). */
function launch(req: StartRequest): Promise<StartedProcess> | undefined {
  if (disabled || req.fd3 !== undefined) return undefined
  if (Object.keys(req.env).some((name) => name !== SHELL_SCRATCH && UNEXPORTABLE.test(name))) return undefined
  const fields = [req.cwd, req.command, ...req.args, ...Object.values(req.env)]
  if (fields.some((field) => field.includes('\0'))) return undefined
  const dir = launchFolder()
  if (dir === undefined || /[\r\n]/.test(dir)) return undefined
  return startVia(req, dir)
}

async function startVia(req: StartRequest, dir: string): Promise<StartedProcess> {
  const program = await resolveProgram(req.command, req.env.PATH, req.cwd)
  const launcher = idle.pop() ?? new Launcher(dir)
  let base: string
  try {
    base = await launcher.nextBase()
  } catch (error) {
    launcher.retire()
    throw error
  }
  const env = Object.entries(req.env)
    .filter(([name]) => name !== SHELL_SCRATCH)
    .map(([name, value]) => `${name}=${value}`)
  const fields = [req.cwd, program, String(req.args.length + 1), req.command, ...req.args, ...env]
  // Small files on the engine's own temp folder are written, read and removed synchronously: a few microseconds
  // each, where the promise API costs a thread-pool round trip per call.
  const opened: Fifo[] = []
  let pid: number
  try {
    opened.push(readFifo(`${base}.out`, req.stdout), readFifo(`${base}.err`, req.stderr))
    // Owner-only: the environment may hold secrets. Removed as soon as the launcher has read it.
    writeFileSync(`${base}.req`, fields.join('\0') + '\0', { mode: 0o600 })
    pid = await launcher.start()
  } catch (error) {
    for (const fifo of opened) fifo.destroy()
    launcher.retire()
    throw error
  } finally {
    removeQuietly(`${base}.req`)
  }
  const [stdout, stderr] = opened
  watchSignals(pid)
  guardedByLauncher(pid)
  const exited = launcher.exited().then(
    (status): ExitStatus => {
      const sent = takeSignals(pid)
      const signal = status > 128 ? signalNamed(status - 128) : undefined
      return signal && sent?.has(signal) ? { code: null, signal } : { code: status, signal: null }
    },
    (): ExitStatus => {
      // The launcher died (something killed it): the process is out of its parent's sight; end it.
      takeSignals(pid)
      killGroup(pid, 'SIGKILL')
      return { code: null, signal: 'SIGKILL' }
    }
  )
  // A process that never opened its FIFOs (killed before it could) would leave them waiting for a writer forever:
  // once it has exited, open and close a writer of our own, so each ends as soon as no other writer holds it.
  // The launcher is then free for the next request.
  void exited.then(() => {
    stdout.nudge()
    stderr.nudge()
    launcher.release()
  })
  const closed = Promise.all([stdout.ended, stderr.ended]).then(() => {
    removeQuietly(`${base}.out`)
    removeQuietly(`${base}.err`)
  })
  return {
    pid,
    exited,
    closed,
    destroyOutput: () => {
      stdout.destroy()
      stderr.destroy()
    }
  }
}

let launchers = 0

function removeQuietly(file: string): void {
  try {
    unlinkSync(file)
  } catch {
    // Gone already.
  }
}

/** The name of signal number n, if it is one. */
function signalNamed(n: number): NodeJS.Signals | undefined {
  return Object.entries(os.constants.signals).find(([, number]) => number === n)?.[0] as NodeJS.Signals | undefined
}

/** The program as execve needs it, looked up in the process's own PATH as spawn would; cached per PATH. */
const programs = new Map<string, string>()

async function resolveProgram(command: string, searchPath: string | undefined, cwd: string): Promise<string> {
  if (command.includes('/')) return path.resolve(cwd, command)
  const key = `${searchPath ?? ''}\0${command}`
  const known = programs.get(key)
  if (known !== undefined) return known
  for (const dir of (searchPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = path.resolve(cwd, dir || '.', command)
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false
      )
    ) {
      // A PATH entry relative to the working directory is looked up again next time.
      if (path.isAbsolute(dir)) programs.set(key, candidate)
      return candidate
    }
  }
  throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' })
}

interface Fifo {
  ended: Promise<void>
  nudge(): void
  destroy(): void
}

/** Reads a FIFO without blocking a thread: opened non-blocking (so opening never waits), it sees end-of-file only
    once a writer came and went. */
function readFifo(file: string, onData: (chunk: Buffer) => void): Fifo {
  const socket = new net.Socket({ fd: openSync(file, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
  socket.on('data', onData)
  socket.on('error', () => {})
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    ended,
    nudge: () => {
      if (socket.destroyed) return
      try {
        closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // Read to its end already.
      }
    },
    destroy: () => void socket.destroy()
  }
}

/** Lines from a stream, each to the next waiter; the stream's end rejects every waiter, now and later. */
class Answers {
  private buffer = ''
  private readonly lines: string[] = []
  private readonly waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = []
  gone?: Error

  receive(text: string): void {
    this.buffer += text
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl)
      this.buffer = this.buffer.slice(nl + 1)
      const waiter = this.waiting.shift()
      if (waiter) waiter.resolve(line)
      else this.lines.push(line)
    }
  }

  next(): Promise<string> {
    const line = this.lines.shift()
    if (line !== undefined) return Promise.resolve(line)
    if (this.gone) return Promise.reject(this.gone)
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  end(error: Error): void {
    this.gone ??= error
    for (const waiter of this.waiting.splice(0)) waiter.reject(error)
  }
}

/** The one process the engine forks for launchers (ROOT_SCRIPT); a new one if it died. */
class Root {
  private readonly child: ChildProcess
  private readonly answers = new Answers()
  private pending = 0

  constructor() {
    // Only PATH: it lives as long as the engine, and a step running as the same user can read its /proc environ.
    this.child = spawn('bash', ['--noprofile', '--norc', '-c', ROOT_SCRIPT, 'tako-launcher', LAUNCHER_SCRIPT], {
      // Named so that `ps` tells what it is.
      argv0: 'tako-launcher',
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    })
    this.child.stdout?.setEncoding('latin1')
    this.child.stdout?.on('data', (text: string) => this.answers.receive(text))
    this.child.stdin?.on('error', () => {})
    this.child.on('error', (error) => {
      // No bash: everything goes through spawn from now on.
      disabled = true
      this.answers.end(new Error(`cannot start bash to launch processes: ${error.message}`))
    })
    this.child.on('exit', (code, signal) => this.answers.end(new Error(`the launchers' shell ended (${signal ?? `exit ${code}`})`)))
    holdWhileBusy(this.child, false)
  }

  get gone(): boolean {
    return this.answers.gone !== undefined
  }

  /** Starts a launcher on <prefix>.in and <prefix>.out; resolves once both FIFOs exist. The shell answers in the
      order it was asked, and answers go to waiters in that order too. */
  async birth(prefix: string): Promise<void> {
    if (this.pending++ === 0) holdWhileBusy(this.child, true)
    try {
      this.child.stdin?.write(`${prefix}\n`)
      const answer = await this.answers.next()
      if (answer !== 'born') throw new Error(`cannot start a launcher: its shell answered "${answer}"`)
    } finally {
      if (--this.pending === 0) holdWhileBusy(this.child, false)
    }
  }
}

let root: Root | undefined

class Launcher {
  private readonly prefix: string
  /** Which request is next: its files are <prefix>-<n>.*. */
  private n = 1
  private readonly ready: Promise<void>
  private input?: net.Socket
  private output?: net.Socket
  private readonly answers = new Answers()

  constructor(dir: string) {
    this.prefix = path.join(dir, String(++launchers))
    if (!root || root.gone) root = new Root()
    this.ready = root.birth(this.prefix).then(async () => {
      // Both opens return at once: a FIFO opened for reading without blocking needs no writer yet, and one opened
      // for reading and writing needs no reader. The launcher's own opens of them return once these are made.
      // The engine is then its stdin's only writer: when the engine ends, for any reason, the launcher reads EOF.
      this.output = new net.Socket({ fd: openSync(`${this.prefix}.out`, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
      this.input = new net.Socket({ fd: openSync(`${this.prefix}.in`, constants.O_RDWR), readable: false, writable: true })
      this.output.setEncoding('latin1')
      this.output.on('data', (text: string) => this.answers.receive(text))
      this.output.on('error', () => {})
      this.input.on('error', () => {})
      // Its stdout ends when it does (a step may kill it): whatever it was asked fails.
      this.output.on('close', () => this.end(new Error('the launcher ended')))
      const answer = await this.answers.next()
      if (answer !== 'ready') throw new Error(`cannot start a process: the launcher answered "${answer}"`)
    })
    this.ready.catch((error: unknown) => this.end(error instanceof Error ? error : new Error(String(error))))
  }

  /** Where the next request's files are, once its FIFOs exist. */
  async nextBase(): Promise<string> {
    this.setBusy(true)
    await this.ready
    return `${this.prefix}-${this.n}`
  }

  async start(): Promise<number> {
    this.input?.write('run\n')
    const answer = await this.answers.next()
    const pid = /^started (\d+)$/.exec(answer)?.[1]
    if (pid === undefined) throw new Error(`cannot start a process: the launcher answered "${answer}"`)
    this.n++
    return Number(pid)
  }

  async exited(): Promise<number> {
    const answer = await this.answers.next()
    const status = /^exit (\d+)$/.exec(answer)?.[1]
    if (status === undefined) throw new Error(`the launcher answered "${answer}"`)
    return Number(status)
  }

  /** Back to the idle list once its process has been waited for. */
  release(): void {
    this.setBusy(false)
    if (this.answers.gone) return
    idle.push(this)
  }

  retire(): void {
    this.input?.destroy()
    this.output?.destroy()
    this.end(new Error('retired'))
  }

  private end(error: Error): void {
    if (this.answers.gone) return
    this.answers.end(error)
    const at = idle.indexOf(this)
    if (at >= 0) idle.splice(at, 1)
  }

  /** A busy launcher keeps the engine's process alive until it answers; an idle one does not. */
  private setBusy(busy: boolean): void {
    if (busy) this.output?.ref()
    else {
      this.output?.unref()
      this.input?.unref()
    }
  }
}

/** <runtime>/tako-launch-<pid>-XXXXXX, owner-only; removed at exit, and by the next engine if this one was killed.
    The runtime folder is where FIFOs and other short-lived IPC files belong: $XDG_RUNTIME_DIR, else /dev/shm (both
    kept in memory), else the system temp folder. On a disk, every request file and FIFO made and removed was a
    journal write: about 1 ms of the engine's thread per process on this machine's ext4. */
function launchFolder(): string | undefined {
  if (folder !== undefined) return folder
  const parent = runtimeFolder()
  try {
    for (const name of readdirSync(parent)) {
      const owner = /^tako-launch-(\d+)-/.exec(name)?.[1]
      if (owner !== undefined && !processExists(Number(owner))) rmSync(path.join(parent, name), { recursive: true, force: true })
    }
    folder = mkdtempSync(path.join(parent, `tako-launch-${process.pid}-`))
  } catch {
    disabled = true
    return undefined
  }
  const made = folder
  process.once('exit', () => {
    try {
      rmSync(made, { recursive: true, force: true })
    } catch {
      // A launcher making its next FIFOs in the background as the engine exits can leave the folder not empty
      // (ENOTEMPTY); what is left is removed by the next engine, as after a kill.
    }
  })
  return folder
}

function runtimeFolder(): string {
  for (const dir of [process.env.XDG_RUNTIME_DIR, '/dev/shm']) {
    if (!dir || !path.isAbsolute(dir)) continue
    try {
      accessSync(dir, constants.W_OK | constants.X_OK)
      if (statSync(dir).isDirectory()) return dir
    } catch {
      // Not usable: the next one.
    }
  }
  return os.tmpdir()
}
