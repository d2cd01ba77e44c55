// Text the CLI prints, built from engine data only: live lines, the closing summary, the dry-run plan.

import type { FanOutPlan, RunPlan } from '../engine/engine.js'
import { formatMs, type RunLabel, type RunObserver } from '../engine/run-scope.js'
import type { ChildReport, DiscoveryEntry, RunReport, StepReport } from '../engine/types.js'
import type { Colors } from './status.js'

const MARK: Record<string, string> = {
  success: '✓',
  reused: '✓',
  failure: '✗',
  timed_out: '✗',
  cancelled: '✗',
  skipped: '-'
}

/** Colours the leading status mark of a line (✓ green, ✗ red, - dim); without colours, the line as is. */
function paint(line: string, colors?: Colors): string {
  if (!colors) return line
  return line.replace(
    /^(\s*)([✓✗-])(?= )/,
    (_, space: string, mark: string) => space + (mark === '✓' ? colors.green(mark) : mark === '✗' ? colors.red(mark) : colors.dim(mark))
  )
}

export function stepLine(step: StepReport, indent = ''): string {
  const extra =
    step.status === 'success' || step.status === 'skipped'
      ? step.status === 'skipped'
        ? ' skipped'
        : ''
      : ` ${step.status}${step.exit_code != null ? ` (exit ${step.exit_code})` : ''}`
  return `${indent}${MARK[step.status] ?? '?'} ${step.id} ${formatMs(step.duration_ms)}${extra}`
}

export function childLine(child: ChildReport): string {
  const parts = [`${MARK[child.status] ?? '?'} ${child.repository} › ${child.workflow}`, `[${child.id}]`, child.status, formatMs(child.duration_ms)]
  if (child.error?.step) parts.push(`failed at step ${child.error.step}${child.error.exit_code != null ? ` (exit ${child.error.exit_code})` : ''}`)
  // A message that already starts with its kind ("cycle: a → b → a") is not prefixed a second time.
  else if (child.error && child.status !== 'success')
    parts.push(child.error.message.startsWith(`${child.error.kind}:`) ? child.error.message : `${child.error.kind}: ${child.error.message}`)
  if (child.status !== 'success' && child.status !== 'skipped' && child.workspace) parts.push(`workspace kept: ${child.workspace}`)
  if (child.parent_id) parts.push(`(from ${child.parent_id})`)
  return parts.join('  ')
}

/** The closing lines: one per root step, one per child, the failures' log tails, the verdict. */
export function summaryText(report: RunReport, fileWarnings = 0, colors?: Colors): string {
  const lines: string[] = ['', `Steps of ${report.source} › ${report.workflow}:`]
  for (const step of report.steps) {
    lines.push(stepLine(step, '  '))
    for (const handler of step.on_failure ?? []) lines.push(stepLine(handler, '      on_failure '))
  }
  if (report.children.length > 0) {
    lines.push('', `Children (${report.children.length}):`)
    for (const { child, depth } of treeOrder(report.children)) lines.push(`  ${'  '.repeat(depth)}${childLine(child)}`)
  }
  // Candidates that do not listen to an event are only counted in its fan-out's row; fan-outs that reached nobody
  // are many and alike in a wide tree (every service announcing its own deploy): one line per event type says it.
  // Candidates in error were each a warning, printed when it came: said once, counted in the closing line.
  const notRun = report.discovery.filter((d) => !d.fan_out && d.result !== 'matched' && d.result !== 'error')
  const unheard = new Map<string, DiscoveryEntry[]>()
  for (const d of report.discovery) {
    if (!d.fan_out || d.fan_out.matched > 0) continue
    const key = d.event_type ?? ''
    const same = unheard.get(key)
    if (same) same.push(d)
    else unheard.set(key, [d])
  }
  if (notRun.length > 0 || unheard.size > 0) {
    lines.push('', 'Not triggered:')
    for (const d of notRun) lines.push(`  - ${d.repository}${d.ref ? `@${d.ref}` : ''}${d.event_type ? ` (${d.event_type})` : ''}: ${d.result}: ${d.reason}`)
    for (const [event, rows] of unheard) lines.push(`  - ${event || 'the event'}: ${unheardText(rows)}`)
  }
  for (const child of report.children.filter((c) => c.error?.log_tail)) {
    lines.push('', `Log tail of ${child.repository} › ${child.workflow} [${child.id}] step ${child.error?.step}:`)
    for (const l of (child.error?.log_tail ?? '').split('\n')) lines.push(`  | ${l}`)
  }
  const proposed = [...(report.pull_requests ?? []), ...report.children.flatMap((c) => c.pull_requests ?? [])]
  if (proposed.length > 0) {
    lines.push('', 'Pull requests:')
    for (const p of proposed) lines.push(`  ${p.operation.padEnd(9)} ${p.repository} ${p.branch} → ${p.base}${p.url ? `  ${p.url}` : ''}`)
  }
  // Warnings were printed as they came; the closing line counts them rather than printing each a second time.
  if (report.error) lines.push('', `error: ${report.error}`)
  lines.push(
    '',
    `${MARK[report.status === 'success' ? 'success' : 'failure']} run ${report.run_id} ${report.status} in ${formatMs(report.duration_ms)}${warningCount(report, fileWarnings)}`
  )
  return lines.map((l) => paint(l, colors)).join('\n')
}

/** `, 3 warnings` for the closing line: the tree's and the tako file's own. */
function warningCount(report: RunReport, fileWarnings: number): string {
  const n = report.warnings.length + fileWarnings
  return n === 0 ? '' : `, ${n} warning${n === 1 ? '' : 's'}`
}

/** Fan-outs of one event type that started nothing: from where, and how many candidates they looked at. */
function unheardText(rows: DiscoveryEntry[]): string {
  const sources = rows.slice(0, 3).map((d) => d.repository)
  const more = rows.length > 3 ? ` and ${rows.length - 3} more` : ''
  const looked = [...new Set(rows.map((d) => d.fan_out?.candidates ?? 0))]
  const candidates =
    looked.length === 1 ? `${looked[0]} ${looked[0] === 1 ? 'candidate' : 'candidates'}` : `${Math.min(...looked)}–${Math.max(...looked)} candidates`
  const fanOuts = rows.length === 1 ? 'the fan-out' : `${rows.length} fan-outs`
  return rows.length === 1 && rows[0].fan_out
    ? `nothing triggered from ${sources[0]}: ${rows[0].reason}`
    : `nothing triggered by ${fanOuts} (from ${sources.join(', ')}${more}), each looking at ${candidates}`
}

/** Children with their descendants right after them, depth from the root run. */
function treeOrder(children: ChildReport[]): Array<{ child: ChildReport; depth: number }> {
  const byParent = new Map<string, ChildReport[]>()
  for (const c of children) {
    const siblings = byParent.get(c.parent_id)
    if (siblings) siblings.push(c)
    else byParent.set(c.parent_id, [c])
  }
  const out: Array<{ child: ChildReport; depth: number }> = []
  const visit = (parent: string, depth: number): void => {
    for (const child of byParent.get(parent) ?? []) {
      out.push({ child, depth })
      visit(child.id, depth + 1)
    }
  }
  visit('', 0)
  const shown = new Set(out.map((o) => o.child))
  for (const child of children) if (!shown.has(child)) out.push({ child, depth: 0 })
  return out
}

export function planText(plan: RunPlan, fileWarnings = 0): string {
  const lines = [`Plan (dry run, nothing runs): ${plan.source} › ${plan.workflow}`, 'Inputs:']
  const inputs = Object.entries(plan.inputs)
  if (inputs.length === 0) lines.push('  (none)')
  for (const [k, v] of inputs) lines.push(`  ${k} = ${JSON.stringify(v)}`)
  lines.push('Steps:')
  plan.steps.forEach((s, i) => lines.push(`  ${i + 1}. ${s.id} (${s.kind})${s.if ? ` if ${s.if}` : ''}`))
  lines.push(...fanOutLines(plan.fanOuts, ''))
  if (plan.pullRequests.length > 0) {
    lines.push('', 'Pull requests that would be proposed (when there are changes):')
    for (const p of plan.pullRequests) {
      lines.push(
        `  ${p.repository} › ${p.workflow} step ${p.step}: branch ${p.branch} → ${p.base}${p.push_only ? ' (push only)' : ''}${p.title ? `: ${JSON.stringify(p.title)}` : ''}`
      )
    }
  }
  const { report } = plan
  if (report.error) lines.push('', `error: ${report.error}`)
  const verdict = report.status === 'success' ? '✓ plan: the run would start as shown' : '✗ plan: the run would fail'
  lines.push('', `${verdict}${warningCount(report, fileWarnings)}`)
  return lines.join('\n')
}

/** Each fan-out with its candidates' verdicts; a child that would run shows its inputs and its own fan-outs below it. */
function fanOutLines(fanOuts: FanOutPlan[], indent: string): string[] {
  const lines: string[] = []
  for (const f of fanOuts) {
    lines.push('', `${indent}Fan-out at step ${f.step}${f.event ? `: event ${f.event.type} from ${f.event.source}:${f.event.artifact}` : ''}`)
    if (f.error) lines.push(`${indent}  ✗ cannot plan: ${f.error}`)
    if (f.runtime) lines.push(`${indent}  ? decided at run time: ${f.runtime}`)
    if (f.event) lines.push(`${indent}  payload: ${JSON.stringify(f.event.payload)}`)
    if (f.unresolved.length) lines.push(`${indent}  ? payload keys known only at run time (filters on them cannot be decided now): ${f.unresolved.join(', ')}`)
    const byRepository = new Map<string, typeof f.children>()
    for (const c of f.children) {
      const runs = byRepository.get(c.candidate.repository)
      if (runs) runs.push(c)
      else byRepository.set(c.candidate.repository, [c])
    }
    for (const d of f.discovery ?? []) {
      if (d.result !== 'matched') {
        lines.push(`${indent}  - ${d.repository}: ${d.result}: ${d.reason}`)
        continue
      }
      for (const c of byRepository.get(d.repository) ?? []) {
        const name = `${d.repository} › ${c.match.subscription.workflow}`
        if (c.blocked) {
          lines.push(`${indent}  ✗ ${name}: would not run: ${c.blocked.error.message}`)
          continue
        }
        if (c.inputsProblem?.kind === 'error') {
          lines.push(`${indent}  ✗ ${name}: would fail (subscription ${c.match.index}): ${c.inputsProblem.message}`)
          continue
        }
        lines.push(`${indent}  ✓ ${name}: would run (subscription ${c.match.index})`)
        if (c.inputsProblem) lines.push(`${indent}      ? ${c.inputsProblem.message}`)
        for (const [k, v] of Object.entries(c.inputs ?? {})) lines.push(`${indent}      ${k} = ${JSON.stringify(v)}`)
        lines.push(...fanOutLines(c.fanOuts ?? [], `${indent}    `))
      }
    }
  }
  return lines
}

const LIVE_LINE_CHARS = 64 * 1024

/** Streams live output: the root's as is, each child's lines prefixed with its id so parallel runs stay readable. */
export class LiveOutput implements RunObserver {
  /** Pieces of each run's unfinished last line, joined once when the line ends (not on every chunk). */
  private readonly partial = new Map<string, string>()

  constructor(
    private readonly write: (text: string) => void,
    private readonly colors?: Colors
  ) {}

  stepStarted(run: RunLabel, step: { id: string; name: string }): void {
    this.write(`${this.prefix(run)}▶ ${step.id}${step.name && step.name !== step.id ? `: ${step.name}` : ''}\n`)
  }

  output(run: RunLabel, chunk: string): void {
    // Only the new chunk is searched and a long line is written on in pieces: output without newlines stays linear.
    const cut = chunk.lastIndexOf('\n')
    const held = this.partial.get(run.id) ?? ''
    if (cut < 0 && held.length + chunk.length <= LIVE_LINE_CHARS) {
      this.partial.set(run.id, held + chunk)
      return
    }
    const text = cut < 0 ? held + chunk : held + chunk.slice(0, cut)
    this.partial.set(run.id, cut < 0 ? '' : chunk.slice(cut + 1))
    const prefix = this.prefix(run)
    this.write(
      text
        .split('\n')
        .map((l) => `${prefix}${l}\n`)
        .join('')
    )
  }

  stepFinished(run: RunLabel, step: StepReport): void {
    const rest = this.partial.get(run.id)
    if (rest) this.write(`${this.prefix(run)}${rest}\n`)
    this.partial.delete(run.id)
    this.write(`${this.prefix(run)}${paint(stepLine(step), this.colors)}${step.error ? `: ${step.error}` : ''}\n`)
  }

  childFinished(child: ChildReport): void {
    this.write(`[${child.id}] ${paint(childLine(child), this.colors)}\n`)
  }

  warning(message: string): void {
    this.write(`${this.colors ? this.colors.yellow('warning:') : 'warning:'} ${message}\n`)
  }

  private prefix(run: RunLabel): string {
    return run.id ? `[${run.id}] ` : ''
  }
}
