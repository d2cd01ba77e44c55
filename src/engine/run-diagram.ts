// The Mermaid flowchart of a run's actual tree (root, every child and grandchild, coloured by status, linked to its pull
// request or dispatched run), or of a dry run's planned tree. Pure: built from the run report (and plan) alone, for the
// job summary and `tako graph --report`. Past GitHub's Mermaid limits it gives the reason instead of a picture.

import type { PlannedChild } from './builtins/fan-out.js'
import { mermaidText } from './graph-render.js'
import type { ChildReport, RunReport } from './types.js'

/** GitHub renders at most 50,000 characters and 500 edges of Mermaid; stay well under both. */
export const MERMAID_MAX_CHARS = 40_000
export const MERMAID_MAX_EDGES = 200

export interface PlannedFanOut {
  event?: { type: string }
  children: PlannedChild[]
}

const STATUS_CLASSES = [
  'classDef success fill:#dafbe1,stroke:#1a7f37,color:#1f2328',
  'classDef failure fill:#ffebe9,stroke:#cf222e,color:#1f2328',
  'classDef timed_out fill:#fff8c5,stroke:#9a6700,color:#1f2328',
  'classDef cancelled fill:#eaeef2,stroke:#57606a,color:#1f2328',
  'classDef skipped fill:#f6f8fa,stroke:#8c959f,color:#57606a,stroke-dasharray:4 4',
  'classDef reused fill:#ddf4ff,stroke:#0969da,color:#1f2328',
  'classDef planned fill:#ffffff,stroke:#0969da,color:#1f2328,stroke-dasharray:4 4'
]

interface DiagramNode {
  id: string
  label: string
  status: string
  url?: string
}

export type Diagram = { mermaid: string } | { omitted: string }

/** The tree of a finished run: one node per child, edges from the run that fanned out, labelled with the event. */
export function runDiagram(report: RunReport): Diagram {
  const children = flatten(report.children)
  if (children.length > MERMAID_MAX_EDGES)
    return tooBig(`the tree has ${children.length} child runs, more than the ${MERMAID_MAX_EDGES} a diagram shows legibly`)
  const ids = new Map(children.map((c, i) => [c.id, `c${i}`]))
  const nodes: DiagramNode[] = [{ id: 'root', label: `${mermaidText(report.source)}<br/>${mermaidText(report.workflow)}`, status: report.status }]
  const edges: string[] = []
  for (const c of children) {
    const prs = c.pull_requests ?? []
    const pr = prs.find((p) => safeUrl(p.url))
    const extra = pr?.number != null ? `<br/>${mermaidText(`PR #${pr.number}`)}` : ''
    const id = ids.get(c.id) as string
    nodes.push({
      id,
      label: `${mermaidText(c.repository)}<br/>${mermaidText(c.workflow)}<br/>${mermaidText(c.status)}${extra}`,
      status: c.status,
      url: safeUrl(pr?.url) ?? safeUrl(c.url)
    })
    const parent = c.parent_id ? ids.get(c.parent_id) : 'root'
    edges.push(`  ${parent ?? 'root'} -->|"${mermaidText(c.event.type)}"| ${id}`)
  }
  return assemble(nodes, edges)
}

/** The tree a dry run would start: the root and each planned child; those that would not run are drawn skipped. */
export function plannedDiagram(report: RunReport, plan: PlannedFanOut[]): Diagram {
  const planned = plan.flatMap((f) => f.children.map((c) => ({ c, event: f.event?.type ?? '' })))
  if (planned.length > MERMAID_MAX_EDGES) return tooBig(`the plan has ${planned.length} child runs, more than the ${MERMAID_MAX_EDGES} a diagram shows legibly`)
  const nodes: DiagramNode[] = [{ id: 'root', label: `${mermaidText(report.source)}<br/>${mermaidText(report.workflow)}`, status: 'planned' }]
  const edges: string[] = []
  planned.forEach(({ c, event }, i) => {
    const verdict = c.blocked ? 'would not run' : 'would run'
    nodes.push({
      id: `p${i}`,
      label: `${mermaidText(c.candidate.repository)}<br/>${mermaidText(c.match.subscription.workflow)}<br/>${mermaidText(verdict)}`,
      status: c.blocked ? 'skipped' : 'planned'
    })
    edges.push(`  root -->|"${mermaidText(event)}"| p${i}`)
  })
  return assemble(nodes, edges)
}

function assemble(nodes: DiagramNode[], edges: string[]): Diagram {
  const out = ['flowchart TD']
  for (const n of nodes) out.push(`  ${n.id}["${n.label}"]`)
  out.push(...edges)
  const byStatus = new Map<string, string[]>()
  for (const n of nodes) byStatus.set(n.status, [...(byStatus.get(n.status) ?? []), n.id])
  for (const [status, ids] of byStatus) if (STATUS_CLASSES.some((c) => c.startsWith(`classDef ${status} `))) out.push(`  class ${ids.join(',')} ${status}`)
  for (const n of nodes) if (n.url) out.push(`  click ${n.id} href "${n.url}" _blank`)
  out.push(...STATUS_CLASSES.map((c) => `  ${c}`))
  const text = out.join('\n')
  if (text.length > MERMAID_MAX_CHARS)
    return tooBig(`its text would be ${text.length} characters, past the ${MERMAID_MAX_CHARS} kept under GitHub's Mermaid limit`)
  return { mermaid: text }
}

function tooBig(why: string): Diagram {
  return { omitted: `The diagram of the tree is left out: ${why}; the tables below list every run.` }
}

/** http(s) only, with every character that could leave the quoted string or the URL percent-encoded. */
function safeUrl(url: string | null | undefined): string | undefined {
  return escapedHttpUrl(url, /["'<>`\\|{} ;]/g)
}

/** An http(s) URL with each character `unsafe` matches percent-encoded; undefined for anything else. */
export function escapedHttpUrl(url: string | null | undefined, unsafe: RegExp): string | undefined {
  if (!url) return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined
  return parsed.href.replace(unsafe, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** A report's children, flat, whether the report nests them (`children` of a child) or not. */
function flatten(children: ChildReport[]): ChildReport[] {
  return children.flatMap((c) => {
    const nested = (c as ChildReport & { children?: ChildReport[] }).children
    return [c, ...(Array.isArray(nested) ? flatten(nested.map((n) => ({ ...n, parent_id: n.parent_id || c.id }))) : [])]
  })
}
