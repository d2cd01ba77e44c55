// `tako graph`: who triggers whom, read from the tako files without running anything; or, with `--report FILE`, the
// Mermaid diagram of a run's actual tree (the same picture as the job summary).

import { readFile, stat } from 'node:fs/promises'
import { UsageError } from '../engine/errors.js'
import { buildGraph, GraphSelectionError, reachableFrom, startNodes, type Graph } from '../engine/graph.js'
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../engine/graph-render.js'
import { loadGraphRepositories } from '../engine/graph-source.js'
import { runDiagram } from '../engine/run-diagram.js'
import type { RunReport } from '../engine/types.js'
import { parseOptions, repoMap } from './command-options.js'

export const GRAPH_HELP = `tako graph — who triggers whom, from the tako.yml files, without running anything

Usage:
  tako graph [--root DIR] [--repos DIR] [--repo OWNER/NAME=PATH ...]
             [--from OWNER/REPO[:WORKFLOW]] [--format tree|mermaid|dot|json]
  tako graph --report FILE

Options:
  --root DIR              a repository checkout whose tako file is part of the graph
                          (default: . when neither --repos nor --repo is given)
  --repos DIR             folder of checkouts laid out as DIR/<owner>/<repo>
  --repo OWNER/NAME=PATH  one more checkout; repeatable
  --from OWNER/REPO[:WF]  only what a release of that repository (or workflow) reaches, transitively
  --format FORMAT         tree (default), mermaid (README, job summary), dot (Graphviz), json (nodes, edges, warnings)
  --report FILE           draw a run report's actual tree as Mermaid instead (the job summary's diagram)

Edges run from a workflow's tako/fan-out@v1 step to every subscription that would receive that event, labelled
with the event type, the schema range and the filters; dashed when a filter, a condition or a template decides at
run time. A cycle is a warning (filters may break it at run time). Exit codes: 0 drawn, 2 usage or configuration error.`

interface Io {
  out: (text: string) => void
  err: (text: string) => void
}

export async function graphCommand(argv: string[], io: Io): Promise<number> {
  const o = parseOptions('graph', argv, {
    values: { '--root': {}, '--repos': {}, '--repo': { repeatable: true }, '--from': {}, '--format': {}, '--report': {} },
    flags: ['--help', '-h']
  })
  if (o.flags.has('--help') || o.flags.has('-h')) {
    io.out(`${GRAPH_HELP}\n`)
    return 0
  }
  if (o.positional.length > 0 || o.rest) throw new UsageError(`tako graph takes no arguments (got "${[...o.positional, ...(o.rest ?? [])][0] ?? '--'}")`)
  const format = o.values.get('--format')?.[0]
  if (format !== undefined && !GRAPH_FORMATS.includes(format as GraphFormat))
    throw new UsageError(`--format must be one of ${GRAPH_FORMATS.join(', ')}, got "${format}"`)
  const report = o.values.get('--report')?.[0]
  if (report !== undefined) {
    const others = ['--root', '--repos', '--repo', '--from'].filter((n) => o.values.has(n))
    if (others.length > 0) throw new UsageError(`--report draws a finished run: it takes no ${others.join(', ')}`)
    if (format !== undefined && format !== 'mermaid') throw new UsageError('--report draws Mermaid only (--format mermaid)')
    return drawReport(report, io)
  }
  const repos = repoMap(o.values.get('--repo'))
  const reposDir = o.values.get('--repos')?.[0]
  const rootGiven = o.values.get('--root')?.[0]
  const root = rootGiven ?? (reposDir === undefined && Object.keys(repos).length === 0 ? '.' : undefined)
  for (const [what, dir] of [['--root', root], ['--repos', reposDir], ...Object.entries(repos).map(([n, d]) => [`--repo ${n}=${d}`, d])] as Array<
    [string, string | undefined]
  >) {
    if (dir !== undefined) await expectDirectory(dir, what)
  }
  const graph = buildGraph(await loadGraphRepositories({ root, reposDir, repos }))
  if (graph.nodes.length === 0) throw new UsageError(noGraph(graph))
  const from = o.values.get('--from')?.[0]
  let shown: Graph = graph
  let starts: string[] | undefined
  try {
    if (from !== undefined) {
      starts = startNodes(graph, from)
      shown = reachableFrom(graph, from)
    }
  } catch (error) {
    if (error instanceof GraphSelectionError) throw new UsageError(error.message)
    throw error
  }
  const chosen = (format ?? 'tree') as GraphFormat
  io.out(`${renderGraph(shown, chosen, { from, starts })}\n`)
  // The tree lists its warnings itself; the other formats are for tools, so people read them on stderr.
  if (chosen === 'mermaid' || chosen === 'dot') for (const w of shown.warnings) io.err(`tako: warning: ${w}\n`)
  return 0
}

/** Nothing to draw is a mistake in where tako was pointed, not an empty picture. */
export function noGraph(graph: Graph): string {
  const why = graph.repositories.map((r) => `\n  ${r.repository}: ${r.problem ?? 'no workflows'}`).join('')
  return `no workflow found to draw: give --root DIR (a checkout with a tako.yml) or --repos DIR (DIR/<owner>/<repo> checkouts)${why}`
}

async function drawReport(file: string, io: Io): Promise<number> {
  let report: RunReport
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as RunReport
  } catch (error) {
    throw new UsageError(`--report ${file}: cannot read a run report: ${(error as Error).message}`)
  }
  if (typeof report !== 'object' || report === null || !Array.isArray(report.children) || typeof report.source !== 'string') {
    throw new UsageError(`--report ${file}: not a tako run report (no source or children)`)
  }
  const diagram = runDiagram(report)
  if ('omitted' in diagram) {
    io.err(`tako: ${diagram.omitted}\n`)
    return 0
  }
  io.out(`${diagram.mermaid}\n`)
  return 0
}

async function expectDirectory(dir: string, what: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (!info) throw new UsageError(`${what}: ${dir} does not exist`)
  if (!info.isDirectory()) throw new UsageError(`${what}: ${dir} is not a directory`)
}
