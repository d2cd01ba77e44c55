// Starts the processes the engine runs (step shells, git), each leading its own process group, and keeps the
// registry of live groups a forced exit kills.
//
// Why a launcher: Node starts a process by forking itself, and a fork costs in proportion to the engine's
// memory (about 3 ms at 90 MB, more under load) while blocking the engine's one thread; a fan-out starts two
// processes per child. The launcher is one small bash process started once: it forks for the engine at a
// tenth of the cost. Each process's stdout and stderr reach the engine over loopback TCP (bash's /dev/tcp),
// so the engine still reads them as two streams that end when every holder has closed them, exactly as
// pipes. Where bash cannot do that (no /dev/tcp, bash < 4.4), or TAKO_LAUNCHER=off, processes are started
// directly; both ways give the same results (__tests__/engine/process.test.ts runs its cases under both).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { truncate, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface StartRequest {
  command: string
  args: string[]
  cwd: string
  /** The complete environment of the process. */
  env: Record<string, string>
  stdout: (chunk: Buffer) => void
  stderr: (chunk: Buffer) => void
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

export interface ProcessStarter {
  /** Resolves once the process runs; rejects (as spawn's `error` would) when it cannot start. */
  start(req: StartRequest): Promise<StartedProcess>
}

/** An environment without the unset entries process.env may have. */
export function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

/** Process groups the engine started and has not seen end, for a forced exit; whoever starts one tracks it. */
const liveGroups = new Set<number>()

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid)
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid)
}

/** A forced exit (second signal) must not leave processes behind: SIGKILL every live group, synchronously. */
export function killAllGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  liveGroups.clear()
}

/** child_process.spawn, detached so the process leads its own group. */
export const directStarter: ProcessStarter = {
  start(req) {
    return new Promise((resolve, reject) => {
      const child = spawn(req.command, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = new Promise<ExitStatus>((done) => child.once('exit', (code, signal) => done({ code, signal })))
      const closed = new Promise<void>((done) => child.once('close', () => done()))
      child.stdout.on('data', req.stdout)
      child.stderr.on('data', req.stderr)
      child.once('error', reject)
      child.once('spawn', () =>
        resolve({
          pid: child.pid as number,
          exited,
          closed,
          destroyOutput: () => {
            child.stdout.destroy()
            child.stderr.destroy()
          }
        })
      )
    })
  }
}

// The launcher reads one request per line: a token and the file holding the request's fields, NUL-separated
// (working directory, PATH, env count, NAME=value..., command, args...). A job subshell per request connects
// three times to the engine (control, stdout, stderr, each announced by `<token> c|o|e`), starts the command
// with exactly the given environment in its own process group (`set -m`), and reports on the control stream:
// `P <pid>` once started, the `jobs -l` line of its end (Done / Exit N / the signal's name), `X <status>`.
// Messages without a control stream (`F <token> <reason>`) and `ready` go to the launcher's stdout.
const LAUNCHER_SCRIPT = `
port=$1
(( BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 4) )) || { echo "bash $BASH_VERSION is older than 4.4" >&2; exit 2; }
envcmd=$(type -P env) || { echo "no env command" >&2; exit 2; }
exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "bash cannot open /dev/tcp connections" >&2; exit 2; }
printf 'probe c\\n' >&3
exec 3>&-
tako_job() {
  local token=$1 file=$2 fields n command pid
  exec 2>/dev/null
  mapfile -d '' -t fields < "$file"
  exec 7<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port" || { printf 'F %s cannot connect to the engine\\n' "$token"; return; }
  printf '%s c\\n' "$token" >&7
  printf '%s o\\n' "$token" >&5
  printf '%s e\\n' "$token" >&6
  cd -- "\${fields[0]}" || { printf 'F cannot enter the working directory %s\\n' "\${fields[0]}" >&7; return; }
  n=\${fields[2]}
  command=\${fields[3 + n]}
  PATH=\${fields[1]}
  if [[ $command != */* ]] && ! hash -- "$command"; then
    printf 'F ENOENT\\n' >&7
    return
  fi
  set -m
  trap 'jobs -l >&7' CHLD
  "$envcmd" -i -- "\${fields[@]:3}" </dev/null >&5 2>&6 5>&- 6>&- 7>&- &
  pid=$!
  exec 5>&- 6>&-
  printf 'P %s\\n' "$pid" >&7
  wait "$pid"
  printf 'X %s\\n' "$?" >&7
}
printf 'ready\\n'
while IFS=' ' read -r token file; do
  tako_job "$token" "$file" &
done
`

/** The launcher has stopped: later starts go direct. A job it had in hand fails with a plain Error instead,
    since it may have started after all. */
class LauncherError extends Error {}

const OPEN_TIMEOUT_MS = 5_000
/** Where the command is looked up when the environment has no PATH, as execvp does. */
const DEFAULT_PATH = '/usr/bin:/bin'

export class Launcher implements ProcessStarter {
  private readonly jobs = new Map<string, LaunchedJob>()
  private readonly freeFiles: string[] = []
  private fileCount = 0
  private broken?: LauncherError

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly server: Server,
    private readonly dir: string
  ) {
    server.on('connection', (socket) => this.accept(socket))
    child.stdin.on('error', (error) => this.fail(new Error(`the launcher stopped reading: ${error.message}`)))
    child.once('exit', (code, signal) => this.fail(new Error(`the launcher ended (${signal ?? `exit ${code}`})`)))
    readLines(child.stdout, (line) => {
      const failed = /^F (\S+) (.*)$/.exec(line)
      if (failed) this.jobs.get(failed[1])?.fail(failed[2])
    })
    this.idle()
  }

  /** Starts the launcher, its request files under tempRoot; rejects when this machine's bash cannot serve as one. */
  static async open(tempRoot = os.tmpdir()): Promise<Launcher> {
    const dir = mkdtempSync(path.join(tempRoot, 'tako-launch-'))
    const server = createServer()
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve())
      })
      const port = (server.address() as AddressInfo).port
      // Its own session: a Ctrl-C meant for the engine must not end the launcher or what it started.
      const child = spawn('bash', ['--noprofile', '--norc', '-c', LAUNCHER_SCRIPT, 'tako-launcher', String(port)], {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' }
      })
      await ready(child)
      return new Launcher(child, server, dir)
    } catch (error) {
      server.close()
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }

  async start(req: StartRequest): Promise<StartedProcess> {
    if (this.broken) throw this.broken
    const fields = [req.cwd, req.env.PATH ?? DEFAULT_PATH, String(Object.keys(req.env).length)]
    for (const [name, value] of Object.entries(req.env)) fields.push(`${name}=${value}`)
    fields.push(req.command, ...req.args)
    if (fields.some((field) => field.includes('\0'))) throw new TypeError(`the command, its arguments and environment must not contain NUL bytes`)
    const token = randomBytes(16).toString('hex')
    const file = this.freeFiles.pop() ?? path.join(this.dir, `request-${this.fileCount++}`)
    // Owner-only: the environment may hold secrets. Files are reused rather than made anew for each job: on a
    // busy file system creating an inode costs more than the rest of a start.
    await writeFile(file, `${fields.join('\0')}\0`, { mode: 0o600 })
    const job = new LaunchedJob(
      req,
      // Emptied once read, so no environment lingers on disk; then free for the next job.
      () => void truncate(file).then(() => this.freeFiles.push(file), () => {}),
      () => {
        this.jobs.delete(token)
        if (this.jobs.size === 0) this.idle()
      }
    )
    this.jobs.set(token, job)
    this.server.ref()
    this.child.stdin.write(`${token} ${file}\n`)
    return job.started
  }

  /** The launcher's own process. */
  get pid(): number {
    return this.child.pid as number
  }

  /** Stops the launcher; processes it started run on. */
  close(): void {
    this.fail(new Error('the launcher was closed'))
    this.child.stdin.end()
  }

  private idle(): void {
    // Between jobs the launcher must not keep the engine's process alive.
    this.server.unref()
    this.child.unref()
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as Socket).unref?.()
  }

  private fail(error: Error): void {
    if (this.broken) return
    this.broken = new LauncherError(error.message)
    this.server.close()
    rmSync(this.dir, { recursive: true, force: true })
    // Jobs with a control stream live on their own; the others never will.
    for (const job of this.jobs.values()) job.launcherLost(error)
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {})
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const nl = head.indexOf(10)
      if (nl < 0) {
        if (head.length > 64) socket.destroy()
        return
      }
      socket.off('data', onData)
      socket.pause()
      const [token, kind] = head.subarray(0, nl).toString('latin1').split(' ')
      const job = this.jobs.get(token)
      if (!job || !job.attach(kind, socket, head.subarray(nl + 1))) socket.destroy()
    }
    socket.on('data', onData)
  }
}

/** One process started through the launcher, seen through its three connections. */
class LaunchedJob {
  readonly started: Promise<StartedProcess>
  private resolveStarted!: (p: StartedProcess) => void
  private rejectStarted!: (e: Error) => void
  private resolveExited!: (s: ExitStatus) => void
  private resolveClosed!: () => void
  private readonly exited = new Promise<ExitStatus>((resolve) => (this.resolveExited = resolve))
  private readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve))
  private readonly sockets: Partial<Record<'c' | 'o' | 'e', Socket>> = {}
  private openStreams = 2
  private pid?: number
  private endState?: string
  private done = { exit: false, streams: false }
  private requestFree = false

  constructor(
    private readonly req: StartRequest,
    /** The job has read its request file (or never will). */
    private readonly requestRead: () => void,
    private readonly finished: () => void
  ) {
    this.started = new Promise((resolve, reject) => {
      this.resolveStarted = resolve
      this.rejectStarted = reject
    })
    this.started.catch(() => {})
  }

  attach(kind: string, socket: Socket, rest: Buffer): boolean {
    if ((kind !== 'c' && kind !== 'o' && kind !== 'e') || this.sockets[kind]) return false
    this.sockets[kind] = socket
    if (kind === 'c') {
      this.releaseRequest()
      readLines(socket, (line) => this.control(line), rest)
      socket.once('close', () => this.controlClosed())
    } else {
      const sink = kind === 'o' ? this.req.stdout : this.req.stderr
      if (rest.length > 0) sink(rest)
      socket.on('data', sink)
      socket.once('close', () => {
        if (--this.openStreams === 0) this.streamsClosed()
      })
    }
    socket.resume()
    return true
  }

  /** `ENOENT` (the command is not on PATH) fails as spawn would; anything else with the launcher's words. */
  fail(reason: string): void {
    this.releaseRequest()
    this.rejectStarted(reason === 'ENOENT' ? spawnError(this.req.command, 'ENOENT') : new Error(reason))
    this.destroyOutput()
    this.markExited({ code: null, signal: null })
    this.streamsClosed()
  }

  launcherLost(error: Error): void {
    if (!this.sockets.c) this.fail(error.message)
  }

  private control(line: string): void {
    const word = /^\[\d+\]\S*\s+\d+\s+(\S+)/.exec(line)
    if (word) {
      this.endState = word[1]
      return
    }
    const [tag, value] = [line.slice(0, 1), line.slice(2)]
    if (tag === 'P') {
      this.pid = Number(value)
      this.resolveStarted({ pid: this.pid, exited: this.exited, closed: this.closed, destroyOutput: () => this.destroyOutput() })
    } else if (tag === 'X') {
      this.markExited(exitStatus(Number(value), this.endState))
    } else if (tag === 'F') {
      this.fail(value)
    }
  }

  private releaseRequest(): void {
    if (this.requestFree) return
    this.requestFree = true
    this.requestRead()
  }

  private controlClosed(): void {
    // The job subshell is gone without a word: it was killed, and the process with it, as far as anyone can tell.
    if (this.pid === undefined) this.fail('the launcher lost the process')
    else this.markExited({ code: null, signal: 'SIGKILL' })
  }

  private markExited(status: ExitStatus): void {
    if (this.done.exit) return
    this.done.exit = true
    this.resolveExited(status)
    this.settle()
  }

  private streamsClosed(): void {
    if (this.done.streams) return
    this.done.streams = true
    this.resolveClosed()
    this.settle()
  }

  private settle(): void {
    if (this.done.exit && this.done.streams) this.finished()
  }

  private destroyOutput(): void {
    for (const kind of ['o', 'e'] as const) this.sockets[kind]?.destroy()
    if (!this.sockets.o || !this.sockets.e) this.streamsClosed()
  }
}

/** What `wait` gave (128 + n after signal n) read with the `jobs -l` word that says how the process ended. */
function exitStatus(status: number, endState: string | undefined): ExitStatus {
  if (status > 128 && endState !== undefined && endState !== 'Done' && endState !== 'Exit') {
    const name = Object.entries(os.constants.signals).find(([, n]) => n === status - 128)?.[0]
    if (name) return { code: null, signal: name as NodeJS.Signals }
  }
  return { code: status, signal: null }
}

function spawnError(command: string, code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`spawn ${command} ${code}`)
  error.code = code
  return error
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void, first?: Buffer): void {
  let buf = ''
  const take = (chunk: Buffer | string): void => {
    buf += chunk.toString()
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      onLine(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
  }
  if (first && first.length > 0) take(first)
  stream.on('data', take)
}

function ready(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = ''
    let stdout = ''
    const timer = setTimeout(() => finish(new Error('the launcher did not start in time')), OPEN_TIMEOUT_MS)
    const finish = (error?: Error): void => {
      clearTimeout(timer)
      child.stdout.off('data', onStdout)
      child.stderr.off('data', onStderr)
      child.off('exit', onExit)
      child.off('error', finish)
      if (!error) return resolve()
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {
        // Already gone.
      }
      reject(error)
    }
    const onStdout = (d: Buffer): void => {
      stdout += d.toString()
      if (stdout.startsWith('ready\n')) finish()
    }
    const onStderr = (d: Buffer): void => {
      if (stderr.length < 4096) stderr += d.toString()
    }
    const onExit = (code: number | null): void => finish(new Error(`the launcher exited (${code}): ${stderr.trim()}`))
    child.stdout.on('data', onStdout)
    child.stderr.on('data', onStderr)
    child.once('exit', onExit)
    child.once('error', finish)
  })
}

let shared: Promise<ProcessStarter> | undefined

/** The launcher, opened on first use, or direct starts where it cannot run (or TAKO_LAUNCHER=off). */
export function defaultStarter(): Promise<ProcessStarter> {
  return (shared ??= openShared())
}

async function openShared(): Promise<ProcessStarter> {
  if (process.platform === 'win32' || process.env.TAKO_LAUNCHER === 'off') return directStarter
  try {
    const launcher = await Launcher.open()
    process.once('exit', () => launcher.close())
    return withFallback(launcher)
  } catch {
    return directStarter
  }
}

/** The launcher while it works; direct starts once it has stopped (it was killed, say). */
export function withFallback(launcher: Launcher): ProcessStarter {
  let alive = true
  return {
    async start(req) {
      if (alive) {
        try {
          return await launcher.start(req)
        } catch (error) {
          if (!(error instanceof LauncherError)) throw error
          alive = false
        }
      }
      return directStarter.start(req)
    }
  }
}

