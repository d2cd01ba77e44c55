// `tako run` across the graph: one command in each repository's own checkout, publishers before their subscribers,
// independent repositories side by side up to a limit; a failure skips what depends on it unless told to keep going.
// Each command is a real process leading its own process group (runScript), so cancellation leaves nothing behind.

import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { reachableFrom, repositoryDependencies, repositoryOrder, type Graph } from './graph.js'
import { runScript } from './process.js'

export class RunSelectionError extends Error {}

export interface RepositoryTask {
  repository: string
  path: string
  /** The nearest selected repositories this one waits for, directly or through left-out ones. */
  publishers: string[]
}

export interface RepositoryRunResult {
  repository: string
  path: string
  status: 'success' | 'failure' | 'skipped' | 'cancelled'
  exit_code: number | null
  signal?: string
  duration_ms: number
  /** Why it failed to start, or was skipped. */
  reason?: string
}

/** Which repositories run, in which order, each with the publishers it waits for. */
export function planRepositoryRun(graph: Graph, opts: { from?: string; only?: string[]; ignore?: string[] }): { tasks: RepositoryTask[]; warnings: string[] } {
  const warnings: string[] = []
  const paths = new Map(graph.repositories.filter((r) => r.workflows > 0 && r.path).map((r) => [r.repository, r.path as string]))
  const deps = repositoryDependencies(graph)
  const { order, broken } = repositoryOrder(deps)
  for (const repo of broken) warnings.push(`${repo} is in a cycle of publishers: it runs before the others of that cycle (by name)`)
  const position = new Map(order.map((r, i) => [r, i]))
  const known = order.filter((r) => paths.has(r))
  const matcher =
    (what: string) =>
    (name: string): string[] => {
      const hits = known.filter((r) => r.toLowerCase() === name.toLowerCase() || r.split('/')[1].toLowerCase() === name.toLowerCase())
      if (hits.length === 0) throw new RunSelectionError(`${what} ${name}: no such repository in the graph (repositories: ${known.join(', ') || 'none'})`)
      return hits
    }
  let selected = new Set(known)
  if (opts.from !== undefined) {
    const reached = new Set(reachableFrom(graph, opts.from).nodes.map((n) => n.repository))
    selected = new Set(known.filter((r) => reached.has(r)))
  }
  if (opts.only && opts.only.length > 0) {
    const only = new Set(opts.only.flatMap(matcher('--only')))
    selected = new Set([...selected].filter((r) => only.has(r)))
  }
  for (const r of (opts.ignore ?? []).flatMap(matcher('--ignore'))) selected.delete(r)
  // The nearest selected publishers, looking through left-out ones; only those ordered earlier (a broken cycle's back
  // edge is not waited on). Waiting for them is enough: they in turn waited for theirs.
  const nearest = (repo: string): string[] => {
    const found = new Set<string>()
    const seen = new Set<string>()
    const stack = [...(deps.get(repo) ?? [])]
    while (stack.length > 0) {
      const p = stack.pop() as string
      if (seen.has(p) || (position.get(p) ?? 0) >= (position.get(repo) ?? 0)) continue
      seen.add(p)
      if (selected.has(p)) found.add(p)
      else stack.push(...(deps.get(p) ?? []))
    }
    return [...found].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0))
  }
  const tasks = order.filter((r) => selected.has(r)).map((r) => ({ repository: r, path: paths.get(r) as string, publishers: nearest(r) }))
  return { tasks, warnings }
}

export interface RunAcrossOptions {
  tasks: RepositoryTask[]
  /** One argument: a shell command line (`sh -c`); several: the program and its arguments, run as given. */
  command: string[]
  maxConcurrency: number
  keepGoing: boolean
  signal: AbortSignal
  env: Record<string, string>
  killGraceMs?: number
  onStart?: (task: RepositoryTask) => void
  onOutput?: (task: RepositoryTask, chunk: string, stream: 'stdout' | 'stderr') => void
  onEnd?: (result: RepositoryRunResult) => void
}

/** Results in plan order. */
export async function runAcross(opts: RunAcrossOptions): Promise<RepositoryRunResult[]> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'tako-run-'))
  const results = new Map<string, RepositoryRunResult>()
  const running = new Map<string, Promise<void>>()
  const script = opts.command.length === 1 ? opts.command[0] : `exec ${opts.command.map(shellQuote).join(' ')}`
  const finish = (result: RepositoryRunResult): void => {
    results.set(result.repository, result)
    opts.onEnd?.(result)
  }
  try {
    while (results.size < opts.tasks.length) {
      let changed = false
      for (const task of opts.tasks) {
        if (results.has(task.repository) || running.has(task.repository)) continue
        if (!task.publishers.every((p) => results.has(p))) continue
        const base = { repository: task.repository, path: task.path, exit_code: null, duration_ms: 0 }
        if (opts.signal.aborted) {
          finish({ ...base, status: 'cancelled', reason: 'not started: the run was interrupted' })
          changed = true
          continue
        }
        const failed = task.publishers.find((p) => results.get(p)?.status !== 'success')
        if (failed !== undefined && !opts.keepGoing) {
          finish({ ...base, status: 'skipped', reason: `${failed} ${results.get(failed)?.status === 'skipped' ? 'was skipped' : 'did not succeed'}` })
          changed = true
          continue
        }
        if (running.size >= opts.maxConcurrency) continue
        opts.onStart?.(task)
        running.set(
          task.repository,
          runOne(task, script, scratch, opts).then((result) => {
            running.delete(task.repository)
            finish(result)
          })
        )
        changed = true
      }
      if (!changed) {
        if (running.size === 0) throw new Error('tako run: no repository can start (internal ordering error)')
        await Promise.race(running.values())
      }
    }
  } finally {
    await Promise.all(running.values())
    await rm(scratch, { recursive: true, force: true })
  }
  return opts.tasks.map((t) => results.get(t.repository) as RepositoryRunResult)
}

async function runOne(task: RepositoryTask, script: string, scratch: string, opts: RunAcrossOptions): Promise<RepositoryRunResult> {
  const started = performance.now()
  const base = { repository: task.repository, path: task.path }
  try {
    const result = await runScript({
      script,
      shell: 'sh',
      cwd: task.path,
      env: { ...opts.env, TAKO_REPOSITORY: task.repository, TAKO_WORKSPACE: task.path },
      signal: opts.signal,
      killGraceMs: opts.killGraceMs,
      tempDir: scratch,
      // Output is shown live; only a little is kept.
      maxCaptureBytes: 64 * 1024,
      onOutput: (chunk, stream) => opts.onOutput?.(task, chunk, stream)
    })
    const status = result.cancelled ? 'cancelled' : result.exitCode === 0 ? 'success' : 'failure'
    return { ...base, status, exit_code: result.exitCode, ...(result.signal ? { signal: result.signal } : {}), duration_ms: result.durationMs }
  } catch (error) {
    return { ...base, status: 'failure', exit_code: null, duration_ms: Math.round(performance.now() - started), reason: (error as Error).message }
  }
}

/** POSIX single quoting: the argument reaches the program exactly as given. runScript runs a script file, so argv has
    to become one line; the rule is two replacements, not worth a bundled dependency. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}
