// `tako run -- <command>`: one command in every repository of the graph, in place, publishers first (graph-run.ts);
// output prefixed per repository, a closing table, and exit codes as SPEC 5 (0, 1 a repository failed, 2, 130).

import { stat } from 'node:fs/promises'
import { UsageError } from '../engine/errors.js'
import { buildGraph, GraphSelectionError } from '../engine/graph.js'
import { planRepositoryRun, RunSelectionError, runAcross, type RepositoryRunResult, type RepositoryTask } from '../engine/graph-run.js'
import { loadGraphRepositories } from '../engine/graph-source.js'
import { killAllGroups } from '../engine/process.js'
import { stringEnv } from '../engine/process-groups.js'
import { formatMs } from '../engine/run-scope.js'
import { listOption, parseOptions, repoMap } from './command-options.js'
import { noGraph } from './graph.js'

export const RUN_HELP = `tako run — one command in each repository of the graph, publishers before their subscribers

Usage:
  tako run [--root DIR] [--repos DIR] [--repo OWNER/NAME=PATH ...] [--from OWNER/REPO]
           [--only A,B] [--ignore C] [--max-concurrency N] [--dry-run] [--keep-going] [--json] -- <command ...>

Options:
  --root DIR              a repository checkout that is part of the graph (default: . without --repos/--repo)
  --repos DIR             folder of checkouts laid out as DIR/<owner>/<repo>
  --repo OWNER/NAME=PATH  one more checkout; repeatable
  --from OWNER/REPO       only that repository and every repository it reaches
  --only A,B              only these repositories (owner/repo or repo); repeatable
  --ignore C              leave these out; repeatable
  --max-concurrency N     independent repositories running at once (default: 4)
  --dry-run               print the order and where each command would run; run nothing
  --keep-going            run the subscribers of a repository that failed anyway
  --json                  print the results as JSON on stdout (output and table go to stderr)

The command runs in each checkout as it is (nothing is cloned), with TAKO_REPOSITORY and TAKO_WORKSPACE set. One
argument is a shell command line (sh -c); several are a program and its arguments, run as given. A repository whose
command fails skips every repository that depends on it, unless --keep-going.
Exit codes: 0 every command succeeded, 1 one failed (or was skipped for it), 2 usage or configuration error,
130 interrupted.`

interface Io {
  out: (text: string) => void
  err: (text: string) => void
}

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const o = parseOptions('run', argv, {
    values: {
      '--root': {},
      '--repos': {},
      '--repo': { repeatable: true },
      '--from': {},
      '--only': { repeatable: true },
      '--ignore': { repeatable: true },
      '--max-concurrency': {}
    },
    flags: ['--dry-run', '--keep-going', '--json', '--help', '-h']
  })
  if (o.flags.has('--help') || o.flags.has('-h')) {
    io.out(`${RUN_HELP}\n`)
    return 0
  }
  if (o.positional.length > 0) throw new UsageError(`tako run takes its command after --: tako run [options] -- ${o.positional.join(' ')}`)
  if (!o.rest || o.rest.length === 0) throw new UsageError('tako run needs a command after --, e.g. tako run -- npm test')
  const maxText = o.values.get('--max-concurrency')?.[0] ?? '4'
  const maxConcurrency = Number(maxText)
  if (!/^\d+$/.test(maxText) || maxConcurrency < 1) throw new UsageError(`--max-concurrency must be a whole number >= 1, got "${maxText}"`)
  const repos = repoMap(o.values.get('--repo'))
  const reposDir = o.values.get('--repos')?.[0]
  const root = o.values.get('--root')?.[0] ?? (reposDir === undefined && Object.keys(repos).length === 0 ? '.' : undefined)
  for (const [what, dir] of [['--root', root], ['--repos', reposDir], ...Object.entries(repos).map(([n, d]) => [`--repo ${n}=${d}`, d])] as Array<
    [string, string | undefined]
  >) {
    if (dir !== undefined) await expectDirectory(dir, what)
  }
  const json = o.flags.has('--json')
  const log = json ? io.err : io.out
  const graph = buildGraph(await loadGraphRepositories({ root, reposDir, repos }))
  if (graph.nodes.length === 0) throw new UsageError(noGraph(graph))
  let plan: ReturnType<typeof planRepositoryRun>
  try {
    plan = planRepositoryRun(graph, {
      from: o.values.get('--from')?.[0],
      only: listOption(o.values.get('--only')),
      ignore: listOption(o.values.get('--ignore'))
    })
  } catch (error) {
    if (error instanceof RunSelectionError || error instanceof GraphSelectionError) throw new UsageError(error.message)
    throw error
  }
  for (const w of [...graph.warnings, ...plan.warnings]) io.err(`tako: warning: ${w}\n`)
  const { tasks } = plan
  if (tasks.length === 0) throw new UsageError('no repository to run in: the selection is empty (see tako graph)')

  if (o.flags.has('--dry-run')) {
    if (json) io.out(`${JSON.stringify({ dry_run: true, command: o.rest, repositories: tasks }, null, 2)}\n`)
    else log(`${dryRunText(tasks, o.rest)}\n`)
    return 0
  }

  log(
    `tako run: ${tasks.length} repositor${tasks.length === 1 ? 'y' : 'ies'}, publishers first: ${tasks.map((t) => t.repository).join(', ')} (up to ${maxConcurrency} at once)\n`
  )
  const controller = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      io.err(`tako: second ${sig}, killing every command and exiting now\n`)
      killAllGroups()
      process.exit(130)
    }
    io.err(`tako: ${sig} received, stopping every running command (again to force)\n`)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const lines = new LinePrefixer(log)
  let results: RepositoryRunResult[]
  try {
    results = await runAcross({
      tasks,
      command: o.rest,
      maxConcurrency,
      keepGoing: o.flags.has('--keep-going'),
      signal: controller.signal,
      env: stringEnv(process.env),
      onStart: (t) => log(`▶ ${t.repository} (${t.path})\n`),
      onOutput: (t, chunk, stream) => lines.write(`${t.repository} ${stream}`, `[${t.repository}] `, chunk),
      onEnd: (r) => {
        lines.flush(`${r.repository} stdout`)
        lines.flush(`${r.repository} stderr`)
        if (r.status !== 'skipped' && r.status !== 'cancelled')
          log(
            `${r.status === 'success' ? '✓' : '✗'} ${r.repository} ${r.status}${r.exit_code !== null && r.exit_code !== 0 ? ` (exit code ${r.exit_code})` : ''}${r.signal ? ` (${r.signal})` : ''}${r.reason ? `: ${r.reason}` : ''} in ${formatMs(r.duration_ms)}\n`
          )
      }
    })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  log(`\n${resultTable(results)}\n`)
  const status = controller.signal.aborted ? 'cancelled' : results.every((r) => r.status === 'success') ? 'success' : 'failure'
  if (json) io.out(`${JSON.stringify({ status, command: o.rest, repositories: results }, null, 2)}\n`)
  return status === 'success' ? 0 : status === 'cancelled' ? 130 : 1
}

function dryRunText(tasks: RepositoryTask[], command: string[]): string {
  const out = [
    `tako run --dry-run: would run ${JSON.stringify(command)} in ${tasks.length} repositor${tasks.length === 1 ? 'y' : 'ies'}, in this order (nothing runs):`
  ]
  tasks.forEach((t, i) => out.push(`  ${i + 1}. ${t.repository}  ${t.path}${t.publishers.length > 0 ? `  (after ${t.publishers.join(', ')})` : ''}`))
  return out.join('\n')
}

function resultTable(results: RepositoryRunResult[]): string {
  const rows = [
    ['repository', 'status', 'exit', 'duration', 'note'],
    ...results.map((r) => [
      r.repository,
      r.status,
      r.exit_code === null ? '-' : String(r.exit_code),
      r.status === 'skipped' || (r.status === 'cancelled' && r.duration_ms === 0) ? '-' : formatMs(r.duration_ms),
      r.reason ?? (r.signal ? `killed by ${r.signal}` : '')
    ])
  ]
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd()
    )
    .join('\n')
}

/** Whole lines only, each with its repository's prefix: parallel commands never interleave within a line. */
class LinePrefixer {
  private readonly partial = new Map<string, { prefix: string; text: string }>()

  constructor(private readonly emit: (text: string) => void) {}

  write(key: string, prefix: string, chunk: string): void {
    const text = (this.partial.get(key)?.text ?? '') + chunk
    const end = text.lastIndexOf('\n')
    this.partial.set(key, { prefix, text: end < 0 ? text : text.slice(end + 1) })
    if (end >= 0)
      this.emit(
        `${text
          .slice(0, end)
          .split('\n')
          .map((l) => `${prefix}${l}`)
          .join('\n')}\n`
      )
  }

  /** The last line of a command that did not end it with a newline. */
  flush(key: string): void {
    const rest = this.partial.get(key)
    if (rest?.text) this.emit(`${rest.prefix}${rest.text}\n`)
    this.partial.delete(key)
  }
}

async function expectDirectory(dir: string, what: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (!info) throw new UsageError(`${what}: ${dir} does not exist`)
  if (!info.isDirectory()) throw new UsageError(`${what}: ${dir} is not a directory`)
}
