// The static graph of who triggers whom (SPEC 5 `tako graph`): nodes are (repository, workflow); an edge runs from a
// workflow's `tako/fan-out@v1` step to each subscription that would receive that event. Pure: built from parsed
// configs, nothing runs. Also owns what is computed on it: cycles with their chains, `--from` reachability and the
// repository order `tako run` follows. Hand-written over plain maps: graph libraries (graphlib, graphology) give strongly
// connected components and a topological sort that refuses cycles, where tako needs each cycle's chain for the warning
// and an order that breaks cycles deterministically.

import type { StepSpec, TakoConfig } from '../config/types.js'
import { satisfiesRange } from './semver.js'

export const FAN_OUT_USES = 'tako/fan-out@v1'

/** One repository found: its parsed tako file, or why it has none usable. */
export interface GraphRepository {
  repository: string
  /** The checkout on disk, when local. */
  path?: string
  config?: TakoConfig
  problem?: string
}

export interface GraphNode {
  /** `owner/repo:workflow`. */
  id: string
  repository: string
  workflow: string
}

export interface GraphEdge {
  from: string
  to: string
  /** Id of the fan-out step in the publisher's workflow. */
  step: string
  /** As written: a template such as `{{ .inputs.kind }}` when only known at run time. */
  event_type: string
  artifact: string
  /** The schema version the fan-out emits, as written. */
  schema_version?: string
  /** The subscription's schema_version range. */
  range?: string
  filters: string[]
  /** 1-based index of the subscription in the subscriber's file. */
  subscription: number
  /** The event type or artifact is a template: this edge exists only if it renders to what the subscription wants. */
  templated: boolean
  /** The fan-out step's `if`, when it has one. */
  if?: string
}

/** A fan-out step and how many subscriptions it reaches: one that reaches none is still shown, never dropped. */
export interface GraphFanOut {
  from: string
  step: string
  event_type: string
  artifact: string
  templated: boolean
  edges: number
}

export interface Graph {
  nodes: GraphNode[]
  edges: GraphEdge[]
  fan_outs: GraphFanOut[]
  /** Every repository found, with the reason it has no nodes when it has none. */
  repositories: Array<{ repository: string; path?: string; workflows: number; problem?: string }>
  /** Chains such as `[a:x, b:y, a:x]`. */
  cycles: string[][]
  warnings: string[]
}

const TEMPLATE = /\{\{/

export const nodeId = (repository: string, workflow: string): string => `${repository}:${workflow}`

export function buildGraph(repositories: GraphRepository[]): Graph {
  const sorted = [...repositories].sort((a, b) => a.repository.localeCompare(b.repository))
  const nodes: GraphNode[] = []
  const edges: GraphEdge[] = []
  const fanOuts: GraphFanOut[] = []
  const warnings: string[] = []
  for (const repo of sorted) {
    if (repo.problem) warnings.push(`${repo.repository}: ${repo.problem}`)
    for (const workflow of Object.keys(repo.config?.workflows ?? {}).sort())
      nodes.push({ id: nodeId(repo.repository, workflow), repository: repo.repository, workflow })
  }
  for (const publisher of sorted) {
    if (!publisher.config) continue
    for (const workflow of Object.keys(publisher.config.workflows).sort()) {
      const from = nodeId(publisher.repository, workflow)
      for (const step of fanOutSteps(publisher.config.workflows[workflow].steps)) {
        const w = step.with ?? {}
        const eventType = String(w.event_type ?? '')
        const artifact = w.artifact === undefined ? 'default' : String(w.artifact)
        const version = w.schema_version === undefined ? undefined : String(w.schema_version)
        const templated = TEMPLATE.test(eventType) || TEMPLATE.test(artifact)
        const fanOut: GraphFanOut = { from, step: step.id, event_type: eventType, artifact, templated, edges: 0 }
        fanOuts.push(fanOut)
        const seen = new Set<string>()
        for (const subscriber of sorted) {
          subscriber.config?.subscriptions.forEach((sub, i) => {
            if (sub.repository.toLowerCase() !== publisher.repository.toLowerCase()) return
            if (!TEMPLATE.test(artifact) && sub.artifact !== artifact) return
            if (!TEMPLATE.test(eventType) && !sub.events.includes(eventType)) return
            if (version !== undefined && sub.schema_version !== undefined && !TEMPLATE.test(version) && !inRange(version, sub.schema_version)) return
            const to = nodeId(subscriber.repository, sub.workflow)
            // The engine runs each (repository, workflow) once per event: a second matching subscription adds no edge.
            if (seen.has(to)) return
            seen.add(to)
            fanOut.edges++
            edges.push({
              from,
              to,
              step: step.id,
              event_type: eventType,
              artifact,
              ...(version !== undefined ? { schema_version: version } : {}),
              ...(sub.schema_version !== undefined ? { range: sub.schema_version } : {}),
              filters: [...sub.filters],
              subscription: i + 1,
              templated,
              ...(step.if !== undefined ? { if: step.if } : {})
            })
          })
        }
      }
    }
  }
  const cycles = findCycles(nodes, edges)
  warnings.push(...cycles.map(cycleWarning))
  return {
    nodes,
    edges,
    fan_outs: fanOuts,
    repositories: sorted.map((r) => ({
      repository: r.repository,
      ...(r.path ? { path: r.path } : {}),
      workflows: Object.keys(r.config?.workflows ?? {}).length,
      ...(r.problem ? { problem: r.problem } : {})
    })),
    cycles,
    warnings
  }
}

function cycleWarning(chain: string[]): string {
  return `cycle: ${chain.join(' → ')} (filters or step conditions may break it at run time; the engine never re-enters a chain)`
}

/** Fan-out steps of a workflow, including those in on_failure handlers. */
function fanOutSteps(steps: StepSpec[]): StepSpec[] {
  return steps.flatMap((s) => [...(s.uses === FAN_OUT_USES ? [s] : []), ...fanOutSteps(s.on_failure)])
}

function inRange(version: string, range: string): boolean {
  try {
    return satisfiesRange(version, range)
  } catch {
    // Not decidable statically: keep the edge, its label shows the range.
    return true
  }
}

function outgoing(edges: GraphEdge[]): Map<string, GraphEdge[]> {
  const out = new Map<string, GraphEdge[]>()
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e])
  return out
}

/** Every cycle a depth-first search closes, as a chain that starts and ends on the same node; rotations deduplicated.
    Iterative: a chain of thousands of repositories must not exhaust the call stack. */
export function findCycles(nodes: GraphNode[], edges: GraphEdge[]): string[][] {
  const out = outgoing(edges)
  const state = new Map<string, 'open' | 'done'>()
  const found = new Map<string, string[]>()
  for (const n of nodes) {
    if (state.has(n.id)) continue
    const path: string[] = [n.id]
    const next: number[] = [0]
    state.set(n.id, 'open')
    while (path.length > 0) {
      const id = path[path.length - 1]
      const e = (out.get(id) ?? [])[next[next.length - 1]++]
      if (e === undefined) {
        state.set(id, 'done')
        path.pop()
        next.pop()
        continue
      }
      const s = state.get(e.to)
      if (s === 'open') {
        const loop = path.slice(path.indexOf(e.to))
        const start = loop.indexOf([...loop].sort()[0])
        const canonical = [...loop.slice(start), ...loop.slice(0, start)]
        found.set(canonical.join('\n'), [...canonical, canonical[0]])
      } else if (s === undefined) {
        state.set(e.to, 'open')
        path.push(e.to)
        next.push(0)
      }
    }
  }
  return [...found.values()]
}

export class GraphSelectionError extends Error {}

/** The part of the graph a release of `from` (`owner/repo` or `owner/repo:workflow`) reaches, transitively. */
export function reachableFrom(graph: Graph, from: string): Graph {
  const starts = startNodes(graph, from)
  const out = outgoing(graph.edges)
  const keep = new Set<string>(starts)
  const queue = [...starts]
  while (queue.length > 0) {
    for (const e of out.get(queue.shift() as string) ?? []) {
      if (!keep.has(e.to)) {
        keep.add(e.to)
        queue.push(e.to)
      }
    }
  }
  const repos = new Set(graph.nodes.filter((n) => keep.has(n.id)).map((n) => n.repository))
  const cycles = graph.cycles.filter((c) => c.every((id) => keep.has(id)))
  return {
    nodes: graph.nodes.filter((n) => keep.has(n.id)),
    edges: graph.edges.filter((e) => keep.has(e.from)),
    fan_outs: graph.fan_outs.filter((f) => keep.has(f.from)),
    repositories: graph.repositories.filter((r) => repos.has(r.repository)),
    cycles,
    // A repository that could not be read may be a subscriber: its warning stays whatever `from` is.
    warnings: [...graph.warnings.filter((w) => !graph.cycles.some((c) => w === cycleWarning(c))), ...cycles.map(cycleWarning)]
  }
}

/** Node ids a `--from` selects; an unknown repository or workflow is an error that lists what exists. */
export function startNodes(graph: Graph, from: string): string[] {
  const colon = from.indexOf(':')
  const repository = colon >= 0 ? from.slice(0, colon) : from
  const workflow = colon >= 0 ? from.slice(colon + 1) : undefined
  const ofRepo = graph.nodes.filter((n) => n.repository.toLowerCase() === repository.toLowerCase())
  if (ofRepo.length === 0) {
    const known = graph.repositories.filter((r) => r.workflows > 0).map((r) => r.repository)
    throw new GraphSelectionError(`--from ${from}: no repository ${repository} with workflows was found (found: ${known.join(', ') || 'none'})`)
  }
  if (workflow === undefined) return ofRepo.map((n) => n.id)
  const node = ofRepo.find((n) => n.workflow === workflow)
  if (!node)
    throw new GraphSelectionError(
      `--from ${from}: ${ofRepo[0].repository} has no workflow "${workflow}" (workflows: ${ofRepo.map((n) => n.workflow).join(', ')})`
    )
  return [node.id]
}

/** Repository-level dependencies: subscriber -> the publishers it waits for (self-edges dropped). */
export function repositoryDependencies(graph: Graph): Map<string, Set<string>> {
  const repoOf = new Map(graph.nodes.map((n) => [n.id, n.repository]))
  const deps = new Map<string, Set<string>>()
  for (const r of graph.repositories) if (r.workflows > 0) deps.set(r.repository, new Set())
  for (const e of graph.edges) {
    const from = repoOf.get(e.from) as string
    const to = repoOf.get(e.to) as string
    if (from !== to) deps.get(to)?.add(from)
  }
  return deps
}

/**
 * Publishers before subscribers: a topological order of the repositories, in waves, by name within a wave. A cycle
 * cannot be ordered: when nothing is ready, it is broken at the first repository by name of a cycle that waits for
 * nothing outside itself, and said in `broken`.
 */
export function repositoryOrder(deps: Map<string, Set<string>>): { order: string[]; broken: string[] } {
  const publishers = new Map([...deps].map(([k, v]) => [k, [...v].filter((d) => deps.has(d) && d !== k)]))
  const dependents = new Map<string, string[]>([...deps.keys()].map((k) => [k, []]))
  for (const [k, ps] of publishers) for (const p of ps) dependents.get(p)?.push(k)
  const waiting = new Map([...publishers].map(([k, ps]) => [k, ps.length]))
  const remaining = new Set(deps.keys())
  const order: string[] = []
  const broken: string[] = []
  const reach = (from: string, links: Map<string, string[]>): Set<string> => {
    const seen = new Set<string>()
    const stack = [from]
    while (stack.length > 0)
      for (const n of links.get(stack.pop() as string) ?? [])
        if (remaining.has(n) && !seen.has(n)) {
          seen.add(n)
          stack.push(n)
        }
    return seen
  }
  // Walks upstream until every remaining repository it waits for also waits for it: then it sits in a source cycle.
  const breakCycle = (): string => {
    let at = [...remaining].sort()[0]
    for (;;) {
      const down = reach(at, dependents)
      const upstream = [...reach(at, publishers)].filter((r) => !down.has(r)).sort()[0]
      if (upstream === undefined) return at
      at = upstream
    }
  }
  let wave = [...remaining].filter((r) => waiting.get(r) === 0).sort()
  while (remaining.size > 0) {
    if (wave.length === 0) {
      const at = breakCycle()
      broken.push(at)
      wave = [at]
    }
    const next: string[] = []
    for (const r of wave) {
      remaining.delete(r)
      order.push(r)
      for (const d of dependents.get(r) ?? []) {
        if (!remaining.has(d)) continue
        const left = (waiting.get(d) ?? 0) - 1
        waiting.set(d, left)
        if (left === 0 && !wave.includes(d)) next.push(d)
      }
    }
    wave = next.sort()
  }
  return { order, broken }
}
