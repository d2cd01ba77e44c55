// Renders the static graph (graph.ts) for people and tools: a text tree for a terminal, Mermaid for a README or a job
// summary, DOT for Graphviz, JSON for scripts. Pure functions; names and labels are escaped for each language, since
// repository names, workflow names and filters are other people's text.

import type { Graph, GraphEdge, GraphNode } from './graph.js'

export type GraphFormat = 'tree' | 'mermaid' | 'dot' | 'json'
export const GRAPH_FORMATS: GraphFormat[] = ['tree', 'mermaid', 'dot', 'json']

const FILTER_CHARS = 48

/** `…` past `max` characters, on one line. */
export function shorten(text: string, max = FILTER_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

/** What an edge carries: the event type (or its template), the artifact when not `default`, the range, the filters. */
export function edgeLabel(e: GraphEdge): string {
  const parts = [
    e.templated
      ? `${e.event_type}${e.artifact !== 'default' ? ` (${e.artifact})` : ''} (known at run time)`
      : e.artifact === 'default'
        ? e.event_type
        : `${e.event_type} (${e.artifact})`
  ]
  if (e.range !== undefined) parts.push(`schema ${e.range}`)
  for (const f of e.filters) parts.push(`filter: ${shorten(f)}`)
  if (e.if !== undefined) parts.push(`if: ${shorten(e.if)}`)
  return parts.join(' · ')
}

/** True when the edge may not be taken at run time (a filter, a step condition, a template). */
export function conditional(e: GraphEdge): boolean {
  return e.templated || e.filters.length > 0 || e.if !== undefined
}

/** One owner for every node: the text forms drop it and say so once. */
function commonOwner(graph: Graph): string | undefined {
  const owners = new Set(graph.nodes.map((n) => n.repository.split('/')[0]))
  return owners.size === 1 ? [...owners][0] : undefined
}

/** Roots of the drawing: `starts` when given, else nodes nobody triggers; then any node left (cycles) in order. */
function roots(graph: Graph, starts?: string[]): string[] {
  if (starts) return starts
  const targets = new Set(graph.edges.map((e) => e.to))
  const active = new Set([...graph.edges.map((e) => e.from), ...graph.fan_outs.map((f) => f.from)])
  return graph.nodes.filter((n) => active.has(n.id) && !targets.has(n.id)).map((n) => n.id)
}

export function renderTree(graph: Graph, opts: { from?: string; starts?: string[] } = {}): string {
  const owner = commonOwner(graph)
  const name = (id: string): string => (owner && id.startsWith(`${owner}/`) ? id.slice(owner.length + 1) : id)
  const out: string[] = []
  const repos = graph.repositories.length
  const scope = opts.from ? `What ${opts.from} reaches` : 'Graph'
  out.push(
    `${scope}: ${graph.nodes.length} workflow${graph.nodes.length === 1 ? '' : 's'} in ${repos} repositor${repos === 1 ? 'y' : 'ies'}, ${graph.edges.length} edge${graph.edges.length === 1 ? '' : 's'}${owner ? ` (names under ${owner}/)` : ''}`,
    ''
  )
  const byFrom = new Map<string, GraphEdge[]>()
  for (const e of graph.edges) byFrom.set(e.from, [...(byFrom.get(e.from) ?? []), e])
  const unmatched = new Map<string, string[]>()
  for (const f of graph.fan_outs.filter((f) => f.edges === 0))
    unmatched.set(f.from, [...(unmatched.get(f.from) ?? []), `${f.event_type}${f.templated ? ' (known at run time)' : ''}: no subscriber found`])
  const expanded = new Set<string>()
  const walk = (id: string, prefix: string, path: string[]): void => {
    expanded.add(id)
    if (path.length > MAX_DEPTH && (byFrom.has(id) || unmatched.has(id))) {
      out.push(`${prefix}└── … deeper levels left out (see --format json)`)
      return
    }
    const lines: Array<{ text: string; child?: string }> = [
      ...(byFrom.get(id) ?? []).map((e) => ({ text: `${name(e.to)}   [${edgeLabel(e)}]`, child: e.to })),
      ...(unmatched.get(id) ?? []).map((text) => ({ text: `(${text})` }))
    ]
    lines.forEach((line, i) => {
      const last = i === lines.length - 1
      const child = line.child
      const note =
        child === undefined
          ? ''
          : path.includes(child)
            ? '   ↻ cycle'
            : expanded.has(child) && ((byFrom.get(child)?.length ?? 0) > 0 || unmatched.has(child))
              ? '   (see above)'
              : ''
      out.push(`${prefix}${last ? '└── ' : '├── '}${line.text}${note}`)
      if (child !== undefined && note === '') walk(child, `${prefix}${last ? '    ' : '│   '}`, [...path, child])
    })
  }
  const starts = roots(graph, opts.starts)
  // Everything a printed root reaches counts as shown, also below the depth cut: a node is a root only when nothing
  // printed reaches it (a cycle nobody outside it triggers).
  const covered = new Set<string>()
  const cover = (id: string): void => {
    const queue = [id]
    covered.add(id)
    while (queue.length > 0) {
      for (const e of byFrom.get(queue.pop() as string) ?? []) {
        if (!covered.has(e.to)) {
          covered.add(e.to)
          queue.push(e.to)
        }
      }
    }
  }
  for (const id of [...starts, ...graph.nodes.map((n) => n.id)]) {
    if (covered.has(id)) continue
    if (!starts.includes(id) && !byFrom.has(id) && !unmatched.has(id)) continue
    cover(id)
    out.push(name(id))
    walk(id, '', [id])
  }
  const paths = allPaths(graph, starts)
  if (paths.length > 0) {
    out.push('', 'Paths:')
    for (const p of paths)
      out.push(`  ${p.nodes.map(name).join(' → ')}${p.cycle ? '   (cycle)' : ''}${p.conditional ? '   (through a filter or condition)' : ''}`)
  }
  const idle = graph.nodes.filter((n) => !covered.has(n.id))
  if (idle.length > 0 && !opts.from) out.push('', `Not connected: ${idle.map((n) => name(n.id)).join(', ')}`)
  const problems = graph.repositories.filter((r) => r.problem)
  if (problems.length > 0) {
    out.push('', 'Not in the graph:')
    for (const r of problems) out.push(`  ${r.repository}: ${r.problem}`)
  }
  const cycles = graph.cycles
  if (cycles.length > 0) {
    out.push('', 'Warnings:')
    for (const c of cycles) out.push(`  cycle: ${c.map(name).join(' → ')} (filters may break it at run time)`)
  }
  return out.join('\n')
}

const MAX_PATHS = 100
/** Levels a text tree or path shows: deeper chains are real but unreadable, and JSON has them all. */
const MAX_DEPTH = 50

/** Every path from a root to a leaf (or back into a cycle). */
function allPaths(graph: Graph, starts: string[]): Array<{ nodes: string[]; conditional: boolean; cycle: boolean }> {
  const byFrom = new Map<string, GraphEdge[]>()
  for (const e of graph.edges) byFrom.set(e.from, [...(byFrom.get(e.from) ?? []), e])
  const paths: Array<{ nodes: string[]; conditional: boolean; cycle: boolean }> = []
  const walk = (nodes: string[], cond: boolean): void => {
    if (paths.length >= MAX_PATHS) return
    const next = byFrom.get(nodes[nodes.length - 1]) ?? []
    if (next.length === 0 || nodes.length > MAX_DEPTH) {
      if (nodes.length > 1) paths.push({ nodes: next.length === 0 ? nodes : [...nodes, '…'], conditional: cond, cycle: false })
      return
    }
    for (const e of next) {
      if (nodes.includes(e.to)) paths.push({ nodes: [...nodes, e.to], conditional: cond || conditional(e), cycle: true })
      else walk([...nodes, e.to], cond || conditional(e))
    }
  }
  for (const s of starts) walk([s], false)
  return paths
}

/**
 * Text inside a quoted Mermaid label: every character that could end the string, open markup or be read as an entity
 * becomes Mermaid's own entity code (`#35;`), which Mermaid turns back into that literal character.
 */
export function mermaidText(text: string): string {
  return text.replace(/[^\p{L}\p{N} ._,:/@^~=+\-()?!'…·→›]/gu, (c) => `#${c.codePointAt(0)};`)
}

/** A flowchart of the static graph. */
export function renderMermaid(graph: Graph): string {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]))
  const out = ['flowchart LR']
  for (const n of graph.nodes) out.push(`  ${ids.get(n.id)}["${mermaidText(n.repository)}<br/>${mermaidText(n.workflow)}"]`)
  graph.fan_outs
    .filter((f) => f.edges === 0)
    .forEach((f, i) => {
      out.push(`  u${i}["${mermaidText(`no subscriber`)}"]:::none`)
      out.push(`  ${ids.get(f.from)} -.->|"${mermaidText(`${f.event_type}${f.templated ? ' (known at run time)' : ''}`)}"| u${i}`)
    })
  for (const e of graph.edges) out.push(`  ${ids.get(e.from)} ${conditional(e) ? '-.->' : '-->'}|"${mermaidText(edgeLabel(e))}"| ${ids.get(e.to)}`)
  const inCycle = new Set(graph.cycles.flat())
  if (inCycle.size > 0) out.push(`  class ${[...inCycle].map((id) => ids.get(id)).join(',')} cycle`)
  out.push('  classDef none stroke-dasharray:4 4,color:#57606a', '  classDef cycle stroke:#cf222e,stroke-width:2px')
  return out.join('\n')
}

/** A DOT string literal: only `"` and `\` need escaping; a newline becomes Graphviz's centred line break. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`
}

export function renderDot(graph: Graph): string {
  const out = ['digraph tako {', '  rankdir=LR;', '  node [shape=box, style=rounded];']
  const node = (n: GraphNode): string => `  ${dotString(n.id)} [label=${dotString(`${n.repository}\n${n.workflow}`)}];`
  for (const n of graph.nodes) out.push(node(n))
  graph.fan_outs
    .filter((f) => f.edges === 0)
    .forEach((f, i) => {
      out.push(`  ${dotString(`unmatched ${i}`)} [label="no subscriber", style=dashed];`)
      out.push(`  ${dotString(f.from)} -> ${dotString(`unmatched ${i}`)} [label=${dotString(f.event_type)}, style=dashed];`)
    })
  for (const e of graph.edges)
    out.push(`  ${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(edgeLabel(e))}${conditional(e) ? ', style=dashed' : ''}];`)
  out.push('}')
  return out.join('\n')
}

export function renderJson(graph: Graph): string {
  return JSON.stringify(graph, null, 2)
}

export function renderGraph(graph: Graph, format: GraphFormat, opts: { from?: string; starts?: string[] } = {}): string {
  switch (format) {
    case 'tree':
      return renderTree(graph, opts)
    case 'mermaid':
      return renderMermaid(graph)
    case 'dot':
      return renderDot(graph)
    case 'json':
      return renderJson(graph)
  }
}
