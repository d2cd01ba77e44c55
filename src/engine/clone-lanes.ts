// Long-lived shells that make local checkouts one after another: `git clone`, then the origin and ref fix-ups.
//
// Why: a fan-out clones once per child, and starting git from Node forks the whole engine process, which at
// ~90 MB blocks the engine's one thread for 2-3 ms per start (more under load) and copies its page tables.
// A lane is a small `sh` started once; it forks itself for each git, at a fraction of that. Lanes are made
// as requests come in (callers bound how many run at once) and reused; an idle lane keeps nothing alive.
// Why lanes and not the launchers (launcher.ts) that start every other process: a clone is one request and one
// answer here, where a launched process takes a request file, two FIFOs and three answers. Measured 2026-12-02,
// 200 local children on tmpfs: with every clone through launchers the run used 2-4 s more CPU (of about 20 s),
// and both cores are full in a fan-out, so that is wall time.
//
// Why a plain `git clone` (issue #14 asked for the cheapest real checkout): measured here on 2026-12-02, 100 clones
// of a small subscriber one after another on tmpfs, 28 ms per `git clone`, 28 ms with `--shared` (a local clone
// hardlinks the objects already, so borrowing them saves nothing and ties the workspace to the source's object
// store), and 23-24 ms for copying `.git` and `git reset --hard`. The copy also takes the source's hooks, config,
// stash, reflogs and every local branch along, and its origin and remote-tracking refs would need the fix-ups a
// clone makes (more git processes, which is what the time is spent on). The 15 % is not worth a workspace that
// is not what `git clone` gives.

import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { holdWhileBusy, inheritedEnv, killGroup, trackGroup, untrackGroup } from './process-groups.js'

export interface CloneRequest {
  /** The checkout to clone. */
  src: string
  /** The folder to clone into (empty or missing). */
  dst: string
  /** When set, the clone's origin URL. */
  upstream?: string
  /** When set, checked out after the clone. */
  ref?: string
}

export interface CloneResult {
  /** Where it stopped; null when everything succeeded. */
  failed: null | 'clone' | 'remote' | 'checkout'
  /** What git said on stderr (and stdout), for the error message. */
  output: string
}

// One request is four lines (src, dst, upstream, ref). git writes what it has to say straight into the lane's one
// output pipe (stderr joined to stdout), and the answer follows it: a NUL byte (git's messages never hold one),
// the status and a line break. No command substitution to capture the output: that was a fork per clone.
const LANE_SCRIPT = `exec 2>&1
while IFS= read -r src && IFS= read -r dst && IFS= read -r upstream && IFS= read -r ref; do
  if ! git clone --quiet -- "$src" "$dst" </dev/null; then status=1
  elif [ -n "$upstream" ] && ! git -C "$dst" remote set-url origin "$upstream" </dev/null; then status=2
  elif [ -n "$ref" ] && ! git -C "$dst" checkout --quiet "$ref" -- </dev/null; then status=3
  else status=0
  fi
  printf '\\000%s\\n' "$status"
done`

const FAILED_AT = { 0: null, 1: 'clone', 2: 'remote', 3: 'checkout' } as const

export class CloneLanes {
  private readonly idle: Lane[] = []
  private readonly all = new Set<Lane>()

  /** Paths with a line break cannot travel as lines: callers clone those themselves. */
  static accepts(req: CloneRequest): boolean {
    return ![req.src, req.dst, req.upstream ?? '', req.ref ?? ''].some((field) => /[\r\n]/.test(field))
  }

  async clone(req: CloneRequest, signal: AbortSignal): Promise<CloneResult> {
    signal.throwIfAborted()
    const lane = this.idle.pop() ?? this.open()
    try {
      const result = await lane.run(req, signal)
      this.idle.push(lane)
      return result
    } catch (error) {
      // A lane that was stopped or died mid-request is not reused.
      lane.stop()
      this.all.delete(lane)
      throw error
    }
  }

  /** Ends every lane; the source's owner calls it once the run is over and no clone is running. */
  close(): void {
    for (const lane of this.all) lane.stop()
    this.all.clear()
    this.idle.length = 0
  }

  private open(): Lane {
    const lane = new Lane()
    this.all.add(lane)
    return lane
  }
}

class Lane {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>
  private buffer: Buffer = Buffer.alloc(0)
  private pending?: { resolve: (r: CloneResult) => void; reject: (e: Error) => void }
  private ended?: Error

  constructor() {
    // Its own process group, so a cancelled clone is stopped with everything git started for it.
    this.child = spawn('sh', ['-c', LANE_SCRIPT], {
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...inheritedEnv(), GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '' }
    })
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk))
    this.child.stdin.on('error', () => {})
    this.child.on('error', (error) => this.end(new Error(`cannot start sh for git clone: ${error.message}`)))
    this.child.on('exit', (code, signal) => this.end(new Error(`the shell running git clone ended (${signal ?? `exit ${code}`})`)))
    // A forced exit kills the lane and the clone it is making.
    if (this.child.pid !== undefined) trackGroup(this.child.pid)
    this.setBusy(false)
  }

  run(req: CloneRequest, signal: AbortSignal): Promise<CloneResult> {
    if (this.ended) return Promise.reject(this.ended)
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        signal.removeEventListener('abort', onAbort)
        this.pending = undefined
        this.setBusy(false)
      }
      const onAbort = (): void => {
        settle()
        this.stop()
        reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)))
      }
      this.pending = {
        resolve: (result) => {
          settle()
          resolve(result)
        },
        reject: (error) => {
          settle()
          reject(error)
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.setBusy(true)
      this.child.stdin.write(`${req.src}\n${req.dst}\n${req.upstream ?? ''}\n${req.ref ?? ''}\n`)
    })
  }

  stop(): void {
    if (this.child.pid !== undefined) killGroup(this.child.pid, 'SIGKILL')
    this.end(new Error('the clone was stopped'))
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    const nul = this.buffer.indexOf(0)
    const nl = nul < 0 ? -1 : this.buffer.indexOf(10, nul)
    if (nl < 0) return
    const output = this.buffer.subarray(0, nul).toString('utf8')
    const status = Number(this.buffer.subarray(nul + 1, nl).toString('latin1'))
    this.buffer = this.buffer.subarray(nl + 1)
    const failed = FAILED_AT[status as keyof typeof FAILED_AT]
    this.pending?.resolve({ failed: failed === undefined ? 'clone' : failed, output })
  }

  private end(error: Error): void {
    if (this.ended) return
    this.ended = error
    if (this.child.pid !== undefined) untrackGroup(this.child.pid)
    this.child.stdin.end()
    this.pending?.reject(error)
  }

  /** A busy lane keeps the engine's process alive until it answers; an idle one does not. */
  private setBusy(busy: boolean): void {
    holdWhileBusy(this.child, busy)
  }
}
