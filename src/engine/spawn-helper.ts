// A small python3 process that starts the engine's processes for it and relays their output and exit.
//
// Why: Node starts every process by forking itself (libuv uses fork on Linux), and a fork costs in proportion
// to the memory of the process that forks: at the engine's ~85 MB, 2.5-4 ms of its one thread per start,
// two starts per child of a fan-out. CPython starts processes with vfork, at a small fixed cost, so the
// helper takes that work off the engine (scripts/bench.mjs: 200 starts in 270 ms instead of 850 ms, with 40
// ms of the engine's CPU instead of 500). Each process is started as Node would start it: its own session
// and process group, stdin from /dev/null, stdout and stderr on two pipes, exactly the given environment.
// The engine still signals process groups itself. Where python3 is missing, older than 3.8 or stops,
// processes are started from Node; TAKO_SPAWN_HELPER=off does that always.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import os from 'node:os'
import type { Socket } from 'node:net'
import type { ExitStatus, StartRequest, StartedProcess } from './process-groups.js'

// Requests are JSON lines: {op: 'start', id, command, args, cwd, env} and {op: 'close', id}. Events are a line,
// some followed by bytes: `R` ready; `S id pid` started; `F id code message` not started; `O|E id n` and n
// bytes of stdout|stderr; `X id status` exited (a negative status is the signal); `C id` both pipes closed.
const HELPER_SOURCE = String.raw`
import errno, json, os, selectors, signal, subprocess, sys
if sys.version_info < (3, 8):
    sys.exit(3)
out = sys.stdout.buffer
sel = selectors.DefaultSelector()
jobs = {}
def emit(data):
    out.write(data)
    out.flush()
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
sel.register(wake_r, selectors.EVENT_READ, None)
stdin = sys.stdin.buffer.raw.fileno()
sel.register(stdin, selectors.EVENT_READ, None)
def settle(jid):
    job = jobs[jid]
    if job['open'] == 0 and job['status'] is not None:
        emit(b'C %d\n' % jid)
        del jobs[jid]
def reap():
    for jid in list(jobs):
        job = jobs[jid]
        if job['status'] is not None:
            continue
        try:
            pid, status = os.waitpid(job['proc'].pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = job['proc'].pid, 255 << 8
        if pid == 0:
            continue
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        job['status'] = code
        job['proc'].returncode = code
        emit(b'X %d %d\n' % (jid, code))
        settle(jid)
def close_pipes(jid):
    job = jobs.get(jid)
    if not job:
        return
    for f in job['pipes']:
        if not f.closed:
            sel.unregister(f.fileno())
            f.close()
            job['open'] -= 1
    settle(jid)
def start(m):
    jid = m['id']
    try:
        proc = subprocess.Popen([m['command']] + m['args'], cwd=m['cwd'], env=m['env'], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        code = errno.errorcode.get(e.errno, 'EIO')
        emit(b'F %d %s %s\n' % (jid, code.encode(), (e.strerror or '').encode('utf-8', 'replace')))
        return
    except Exception as e:
        emit(b'F %d EHELPER %s\n' % (jid, str(e).replace('\n', ' ').encode('utf-8', 'replace')))
        return
    jobs[jid] = {'proc': proc, 'pipes': (proc.stdout, proc.stderr), 'open': 2, 'status': None}
    for f, kind in ((proc.stdout, b'O'), (proc.stderr, b'E')):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ, (jid, kind, f))
    emit(b'S %d %d\n' % (jid, proc.pid))
pending = b''
emit(b'R\n')
while True:
    for key, _ in sel.select():
        if key.fd == wake_r:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
            reap()
        elif key.fd == stdin:
            chunk = os.read(stdin, 1 << 16)
            if not chunk:
                sys.exit(0)
            pending += chunk
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                m = json.loads(line)
                if m['op'] == 'start':
                    start(m)
                elif m['op'] == 'close':
                    close_pipes(m['id'])
            reap()
        else:
            jid, kind, f = key.data
            try:
                data = os.read(f.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            if data:
                emit(b'%s %d %d\n' % (kind, jid, len(data)) + data)
            else:
                sel.unregister(f.fileno())
                f.close()
                jobs[jid]['open'] -= 1
                settle(jid)
`

const READY_TIMEOUT_MS = 5_000

interface Job {
  req: StartRequest
  resolve: (p: StartedProcess) => void
  reject: (e: Error) => void
  exited: (s: ExitStatus) => void
  closed: () => void
  pid?: number
  done: boolean
}

/** The helper could not take a process it was given; it can be started directly instead. */
export class HelperUnavailable extends Error {}

export class SpawnHelper {
  private readonly jobs = new Map<number, Job>()
  private next = 0
  private buffer: Buffer = Buffer.alloc(0)
  private gone?: Error

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => this.receive(chunk))
    child.stdin.on('error', (error) => this.lost(new Error(`the spawn helper stopped reading: ${error.message}`)))
    child.once('exit', (code, signal) => this.lost(new Error(`the spawn helper ended (${signal ?? `exit ${code}`})`)))
    this.setBusy(false)
  }

  /** Starts python3 with the helper; rejects when this machine has none that can serve. */
  static async open(python = 'python3'): Promise<SpawnHelper> {
    // -I: no PYTHON* variables, no user site packages; its own session, so a Ctrl-C for the engine stays the engine's.
    const child = spawn(python, ['-I', '-c', HELPER_SOURCE], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    await new Promise<void>((resolve, reject) => {
      let stderr = ''
      const timer = setTimeout(() => fail(new Error('python3 did not start in time')), READY_TIMEOUT_MS)
      const onData = (chunk: Buffer): void => {
        if (chunk.subarray(0, 2).toString() === 'R\n') finish()
      }
      const onStderr = (chunk: Buffer): void => {
        if (stderr.length < 4096) stderr += chunk.toString()
      }
      const onExit = (code: number | null): void => fail(new Error(`python3 exited (${code === 3 ? 'older than 3.8' : `exit ${code}`}): ${stderr.trim()}`))
      const cleanup = (): void => {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        child.stderr.off('data', onStderr)
        child.off('exit', onExit)
        child.off('error', fail)
      }
      const finish = (): void => {
        cleanup()
        resolve()
      }
      function fail(error: Error): void {
        cleanup()
        child.kill('SIGKILL')
        reject(error)
      }
      child.stdout.once('data', onData)
      child.stderr.on('data', onStderr)
      child.once('exit', onExit)
      child.once('error', fail)
    })
    child.stderr.resume()
    return new SpawnHelper(child)
  }

  /** False once the helper has ended; processes are then started some other way. */
  get usable(): boolean {
    return !this.gone
  }

  /** The helper's own process id. */
  get pid(): number {
    return this.child.pid as number
  }

  start(req: StartRequest): Promise<StartedProcess> {
    if (this.gone) return Promise.reject(new HelperUnavailable(this.gone.message))
    const id = this.next++
    let exited!: (s: ExitStatus) => void
    let closed!: () => void
    const exitedP = new Promise<ExitStatus>((resolve) => (exited = resolve))
    const closedP = new Promise<void>((resolve) => (closed = resolve))
    return new Promise((resolve, reject) => {
      const job: Job = {
        req,
        resolve: (p) => resolve({ ...p, exited: exitedP, closed: closedP }),
        reject,
        exited,
        closed,
        done: false
      }
      this.jobs.set(id, job)
      this.setBusy(true)
      this.child.stdin.write(`${JSON.stringify({ op: 'start', id, command: req.command, args: req.args, cwd: req.cwd, env: req.env })}\n`)
    })
  }

  /** Ends the helper; processes it started run on. */
  close(): void {
    this.lost(new Error('the spawn helper was closed'))
    this.child.stdin.end()
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      const nl = this.buffer.indexOf(10)
      if (nl < 0) return
      const [tag, idText, a, ...rest] = this.buffer.subarray(0, nl).toString('utf8').split(' ')
      const job = this.jobs.get(Number(idText))
      if (tag === 'O' || tag === 'E') {
        const end = nl + 1 + Number(a)
        if (this.buffer.length < end) return
        const data = this.buffer.subarray(nl + 1, end)
        this.buffer = this.buffer.subarray(end)
        if (job) (tag === 'O' ? job.req.stdout : job.req.stderr)(data)
        continue
      }
      this.buffer = this.buffer.subarray(nl + 1)
      if (!job) continue
      const id = Number(idText)
      if (tag === 'S') {
        job.pid = Number(a)
        job.resolve({ pid: job.pid, exited: undefined as never, closed: undefined as never, destroyOutput: () => this.send({ op: 'close', id }) })
      } else if (tag === 'F') {
        const message = rest.join(' ')
        const error: NodeJS.ErrnoException =
          a === 'EHELPER' ? new HelperUnavailable(message) : new Error(a === 'ENOENT' ? `spawn ${job.req.command} ENOENT` : `spawn ${job.req.command} ${a}: ${message}`)
        error.code = a
        this.finish(id)
        job.reject(error)
      } else if (tag === 'X') {
        job.exited(exitStatus(Number(a)))
      } else if (tag === 'C') {
        job.closed()
        this.finish(id)
      }
    }
  }

  private send(message: object): void {
    if (!this.gone) this.child.stdin.write(`${JSON.stringify(message)}\n`)
  }

  private finish(id: number): void {
    this.jobs.delete(id)
    if (this.jobs.size === 0) this.setBusy(false)
  }

  /** A busy helper keeps the engine's process alive until it has answered; an idle one does not. */
  private setBusy(busy: boolean): void {
    const stdout = this.child.stdout as unknown as Socket
    if (busy) {
      this.child.ref()
      stdout.ref()
      return
    }
    this.child.unref()
    stdout.unref()
    ;(this.child.stdin as unknown as Socket).unref()
    ;(this.child.stderr as unknown as Socket).unref()
  }

  private lost(error: Error): void {
    if (this.gone) return
    this.gone = error
    // Processes it started run on out of sight: their waits end rather than hang (callers then signal the group).
    for (const job of this.jobs.values()) {
      if (job.pid === undefined) job.reject(error)
      job.exited({ code: null, signal: 'SIGKILL' })
      job.closed()
    }
    this.jobs.clear()
  }
}

function exitStatus(status: number): ExitStatus {
  if (status >= 0) return { code: status, signal: null }
  const name = Object.entries(os.constants.signals).find(([, n]) => n === -status)?.[0]
  return { code: null, signal: (name ?? 'SIGKILL') as NodeJS.Signals }
}
