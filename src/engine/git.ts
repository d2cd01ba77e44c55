// Runs git as a child process (async, bounded output) for checkouts and config reads.

import { spawn } from 'node:child_process'

export interface GitResult {
  code: number
  stdout: Buffer
  stderr: string
}

export interface GitOptions {
  cwd?: string
  env?: Record<string, string>
  signal?: AbortSignal
  input?: string
  /** Extra settings for this command only, given through GIT_CONFIG_* variables so they never show in a process list. */
  config?: Record<string, string>
}

const MAX_STDERR = 64 * 1024

export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const settings = Object.entries(opts.config ?? {})
  const configEnv: Record<string, string> = settings.length ? { GIT_CONFIG_COUNT: String(settings.length) } : {}
  settings.forEach(([key, value], i) => {
    configEnv[`GIT_CONFIG_KEY_${i}`] = key
    configEnv[`GIT_CONFIG_VALUE_${i}`] = value
  })
  return collect('git', args, { ...opts, env: { ...opts.env, ...configEnv } })
}

/** Runs a command with git's quiet environment, collecting stdout whole and stderr bounded. */
function collect(command: string, args: string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: opts.signal
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < MAX_STDERR) err += d.toString('utf8')
    })
    child.on('error', reject)
    // The command may exit before reading stdin (git outside a repository); the exit code tells what happened.
    child.stdin.on('error', () => {})
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }))
    child.stdin.end(opts.input ?? '')
  })
}

/** One shell runs `git cat-file` in each repository in turn: one process for the engine to start, not one per
    repository (each start blocks the engine's thread for a fork of the whole Node process). */
const BATCH_SCRIPT = `while [ $# -gt 0 ]; do
  printf '%s\\n%s\\n' "$2:tako.yml" "$2:tako.yaml" | git -C "$1" cat-file --batch
  printf 'end %s\\n' "$?"
  shift 2
done`

/** readTakoFile for many repositories at once, in order; an Error for a repository git could not read. */
export async function readTakoFiles(items: Array<{ dir: string; rev: string }>, opts: GitOptions = {}): Promise<Array<{ text: string; file: string } | null | Error>> {
  if (items.length === 0) return []
  const res = await collect('sh', ['-c', BATCH_SCRIPT, 'sh', ...items.flatMap((i) => [i.dir, i.rev])], opts)
  let buf = res.stdout
  const line = (): string => {
    const nl = buf.indexOf(10)
    const text = buf.subarray(0, nl < 0 ? buf.length : nl).toString('utf8')
    buf = buf.subarray(nl < 0 ? buf.length : nl + 1)
    return text
  }
  return items.map(({ dir }) => {
    let found: { text: string; file: string } | null = null
    for (let answer = 0; ; answer++) {
      if (buf.length === 0) return new Error(`git cat-file gave no answer for ${dir}: ${res.stderr.trim()}`)
      const header = line()
      const end = /^end (\d+)$/.exec(header)
      if (end) return end[1] === '0' ? found : new Error(`git cat-file failed in ${dir} (exit ${end[1]})`)
      const blob = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header)
      if (!blob) continue
      const body = buf.subarray(0, Number(blob[2]))
      buf = buf.subarray(Number(blob[2]) + 1)
      if (blob[1] === 'blob' && !found) found = { text: body.toString('utf8'), file: answer === 0 ? 'tako.yml' : 'tako.yaml' }
    }
  })
}

/** Reads `<rev>:tako.yml`, else `<rev>:tako.yaml`, from a repository in one git process. */
export async function readTakoFile(repoDir: string, rev: string, opts: GitOptions = {}): Promise<{ text: string; file: string } | null> {
  const names = ['tako.yml', 'tako.yaml']
  const res = await git(['cat-file', '--batch'], { ...opts, cwd: repoDir, input: names.map((n) => `${rev}:${n}\n`).join('') })
  if (res.code !== 0) throw new Error(`git cat-file failed in ${repoDir}: ${res.stderr.trim()}`)
  let buf = res.stdout
  for (const name of names) {
    const nl = buf.indexOf(10)
    const header = buf.subarray(0, nl).toString('utf8')
    buf = buf.subarray(nl + 1)
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header)
    if (!m) continue
    const size = Number(m[2])
    const body = buf.subarray(0, size)
    buf = buf.subarray(size + 1)
    if (m[1] === 'blob') return { text: body.toString('utf8'), file: name }
  }
  return null
}
