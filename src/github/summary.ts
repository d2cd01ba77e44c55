// The job summary (SPEC 6 "Reporting"): GitHub-flavoured markdown built from the run report alone, kept under a
// byte budget by shortening log tails first, then dropping table rows, and saying what was cut.

import type { FanOutPlan } from '../engine/engine.js'
import type { PlannedChild } from '../engine/builtins/fan-out.js'
import type { PullRequestPreview } from '../engine/builtins/pull-request.js'
import { formatMs } from '../engine/run-scope.js'
import { escapedHttpUrl, plannedDiagram, runDiagram, type Diagram } from '../engine/run-diagram.js'
import type { ChildReport, PullRequestRecord, RunReport, StepReport } from '../engine/types.js'
import { countChildren, ENDED, isFailedChild } from './outputs.js'

/** GitHub rejects a step summary of 1 MiB or more. */
export const SUMMARY_MAX_BYTES = 1024 * 1024
/** Below this, a log tail stops being useful: rows are dropped before tails get shorter. */
const MIN_TAIL_BYTES = 2048

const RUN_MARK: Record<string, string> = { success: '✅', failure: '❌', cancelled: '🚫' }
const RUN_VERB: Record<string, string> = { success: 'succeeded', failure: 'failed', cancelled: 'cancelled' }
const MARK: Record<string, string> = {
  success: '✅',
  reused: '♻️',
  failure: '❌',
  timed_out: '⏱️',
  cancelled: '🚫',
  skipped: '⏭️'
}

interface Limits {
  /** Bytes kept of each log tail (its end). */
  tailBytes: number
  /** Rows kept of each table or list. */
  rows: number
  /** The Mermaid picture of the tree, dropped (with a sentence) before any row is. */
  diagram: boolean
}

interface Failure {
  child: ChildReport
  tail: Buffer
}

/** A child a dry run would start (or would not, and why). */
interface PlannedRow {
  step: string
  repository: string
  workflow: string
  event: string
  verdict: string
}

interface Cuts {
  tailsShortened: number
  tailBytesCut: number
  rowsDropped: number
}

/**
 * The whole job summary; always under `maxBytes` UTF-8 bytes (default 1 MiB). `title` leads the heading. A dry run
 * gives its fan-outs' `plan`: the children it would start take the place of the child runs.
 */
export function summaryMarkdown(
  report: RunReport,
  opts: { maxBytes?: number; title?: string; plan?: FanOutPlan[]; pullRequests?: PullRequestPreview[] } = {}
): string {
  const maxBytes = opts.maxBytes ?? SUMMARY_MAX_BYTES
  const title = opts.title ?? 'tako'
  const failures: Failure[] = report.children
    .filter(isFailedChild)
    .map((child) => ({ child, tail: Buffer.from(cleanLog(child.error?.log_tail ?? ''), 'utf8') }))
  const planned = opts.plan?.flatMap((f) => f.children.map((c) => plannedRow(f, c)))
  const diagram = treeDiagram(report, opts.plan)
  const render = (limits: Limits): string => renderSummary(report, title, failures, planned, diagram, limits, maxBytes, opts.pullRequests)
  const fits = (limits: Limits): boolean => Buffer.byteLength(render(limits), 'utf8') < maxBytes

  const all = Infinity
  if (fits({ tailBytes: all, rows: all, diagram: true })) return render({ tailBytes: all, rows: all, diagram: true })
  const longest = failures.reduce((max, f) => Math.max(max, f.tail.length), 0)
  const floor = Math.min(MIN_TAIL_BYTES, longest)
  for (const withDiagram of [true, false]) {
    const tailBytes = largest(floor, longest, (t) => fits({ tailBytes: t, rows: all, diagram: withDiagram }))
    if (tailBytes !== undefined) return render({ tailBytes, rows: all, diagram: withDiagram })
  }
  const totalRows = Math.max(report.steps.length, report.children.length, planned?.length ?? 0, report.discovery.length, report.warnings.length)
  const rows = largest(0, totalRows, (r) => fits({ tailBytes: floor, rows: r, diagram: false }))
  if (rows !== undefined) {
    const wider = largest(floor, longest, (t) => fits({ tailBytes: t, rows, diagram: false })) ?? floor
    return render({ tailBytes: wider, rows, diagram: false })
  }
  return hardCut(render({ tailBytes: 0, rows: 0, diagram: false }), maxBytes)
}

/** The tree as a picture: the actual one after a run, the planned one for a dry run; none when there are no children. */
function treeDiagram(report: RunReport, plan: FanOutPlan[] | undefined): Diagram | undefined {
  if (plan) return plan.some((f) => f.children.length > 0) ? plannedDiagram(report, plan) : undefined
  return report.children.length > 0 ? runDiagram(report) : undefined
}

/** The largest n in [lo, hi] with ok(n), assuming ok is monotone; undefined when even lo fails. */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number | undefined {
  if (!ok(lo)) return undefined
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (ok(mid)) lo = mid
    else hi = mid - 1
  }
  return lo
}

function renderSummary(
  report: RunReport,
  title: string,
  failures: Failure[],
  planned: PlannedRow[] | undefined,
  diagram: Diagram | undefined,
  limits: Limits,
  maxBytes: number,
  proposals: PullRequestPreview[] = []
): string {
  const cuts: Cuts = { tailsShortened: 0, tailBytesCut: 0, rowsDropped: 0 }
  const take: Take = <T>(list: T[]): { shown: T[]; note: string[] } => {
    if (list.length <= limits.rows) return { shown: list, note: [] }
    const dropped = list.length - limits.rows
    cuts.rowsDropped += dropped
    return {
      shown: list.slice(0, limits.rows),
      note: ['', `_… and ${groupDigits(dropped)} more not shown (summary size limit): the run report has them all._`]
    }
  }
  const out: string[] = []
  const verb = RUN_VERB[report.status] ?? report.status
  out.push(`## ${RUN_MARK[report.status] ?? '❔'} ${inline(title)}: ${inline(report.source)} › ${inline(report.workflow)} ${verb}`, '')
  out.push(`Run ${inline(report.run_id)} · started ${inline(report.started_at)} · ${formatMs(report.duration_ms)}`, '')
  if (report.error) out.push(`> **Error:** ${inline(report.error)}`, '')

  const counts = countChildren(report.children)
  out.push(
    '| triggered | succeeded | reused | failed | skipped | duration |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${counts.triggered} | ${counts.succeeded} | ${counts.reused} | ${counts.failed} | ${counts.skipped} | ${formatMs(report.duration_ms)} |`,
    ''
  )

  if (diagram) {
    // Mermaid text never holds a backtick (mermaidText encodes it), so a plain fence cannot be closed early.
    if ('omitted' in diagram) out.push(`_${inline(diagram.omitted)}_`, '')
    else if (!limits.diagram) out.push('_The diagram of the tree is left out to keep this summary under its size limit; the tables list every run._', '')
    else out.push('```mermaid', diagram.mermaid, '```', '')
  }

  if (report.steps.length > 0) {
    const steps = take(flattenSteps(report.steps))
    out.push(`### Steps of ${inline(report.workflow)}`, '', '| step | status | duration |', '| --- | --- | ---: |')
    for (const { step, handler } of steps.shown) {
      const exit = step.exit_code != null && step.status !== 'success' ? ` (exit code ${step.exit_code})` : ''
      out.push(row([`${handler ? '↳ on_failure: ' : ''}${inline(step.id)}`, `${MARK[step.status] ?? ''} ${step.status}${exit}`, formatMs(step.duration_ms)]))
    }
    out.push(...steps.note, '')
  }

  if (report.pull_requests?.length) out.push(`Pull requests of ${inline(report.workflow)}: ${pullRequestCell(report.pull_requests)}`, '')

  // Sections append to `out`: spreading a section of many thousand rows into push() would copy it (and can
  // exceed the argument limit).
  if (planned) {
    plannedSection(out, planned, take)
    proposalSection(out, proposals, take)
  } else childrenSection(out, report.children, take)

  if (failures.length > 0) {
    const shown = take(failures)
    out.push('### Failures', '')
    for (const f of shown.shown) out.push(...failureSection(f, limits.tailBytes, cuts))
    if (shown.note.length > 0) out.push(...shown.note.slice(1), '')
  }

  if (report.discovery.length > 0) {
    const discovery = take(report.discovery)
    out.push('### Discovery', '', '| repository | ref | result | reason |', '| --- | --- | --- | --- |')
    // A fan-out's own row counts its candidates (those merely not subscribed have no row of their own).
    for (const d of discovery.shown) {
      const who = d.fan_out ? `fan-out of ${d.event_type ?? 'an event'} from ${d.repository}` : d.repository
      out.push(row([inline(who), inline(d.ref), inline(d.result), inline(d.reason)]))
    }
    out.push(...discovery.note, '')
  }

  if (report.warnings.length > 0) {
    const warnings = take(report.warnings)
    out.push('### Warnings', '')
    for (const w of warnings.shown) out.push(`- ${inline(w)}`)
    out.push(...warnings.note, '')
  }

  if (cuts.tailsShortened > 0 || cuts.rowsDropped > 0) {
    const what: string[] = []
    if (cuts.tailsShortened > 0)
      what.push(`${cuts.tailsShortened} log ${cuts.tailsShortened === 1 ? 'tail' : 'tails'} shortened (${groupDigits(cuts.tailBytesCut)} bytes cut)`)
    if (cuts.rowsDropped > 0) what.push(`${groupDigits(cuts.rowsDropped)} rows not shown`)
    out.push(`_This summary was shortened to stay under ${groupDigits(maxBytes)} bytes: ${what.join(', ')}. The run report has everything._`, '')
  }
  return out.join('\n')
}

function plannedRow(fanOut: FanOutPlan, c: PlannedChild): PlannedRow {
  return {
    step: fanOut.step,
    repository: c.candidate.ref ? `${c.candidate.repository}@${c.candidate.ref}` : c.candidate.repository,
    workflow: c.match.subscription.workflow,
    event: fanOut.event?.type ?? '',
    verdict: c.blocked ? `would not run: ${c.blocked.error.message}` : `would run (subscription ${c.match.index})`
  }
}

type Take = <T>(list: T[]) => { shown: T[]; note: string[] }

/** Dry run: the branch and base each tako/pull-request@v1 step of the plan would propose. */
function proposalSection(out: string[], proposals: PullRequestPreview[], take: Take): void {
  if (proposals.length === 0) return
  const rows = take(proposals)
  out.push(
    '### Pull requests that would be proposed',
    '',
    '_When there are changes to commit._',
    '',
    '| repository | workflow | step | branch | base | title |',
    '| --- | --- | --- | --- | --- | --- |'
  )
  for (const p of rows.shown)
    out.push(
      row([
        inline(p.repository),
        inline(p.workflow),
        inline(p.step),
        inline(p.branch),
        inline(p.base),
        `${inline(p.title)}${p.push_only ? ' (push only)' : ''}`
      ])
    )
  out.push(...rows.note, '')
}

function plannedSection(out: string[], planned: PlannedRow[], take: Take): void {
  out.push('### Planned child runs', '')
  if (planned.length === 0) {
    out.push('_No child would run._', '')
    return
  }
  const rows = take(planned)
  out.push('| fan-out step | repository | workflow | event | verdict |', '| --- | --- | --- | --- | --- |')
  for (const p of rows.shown) out.push(row([inline(p.step), inline(p.repository), inline(p.workflow), inline(p.event), inline(p.verdict)]))
  out.push(...rows.note, '')
}

function childrenSection(out: string[], all: ChildReport[], take: Take): void {
  out.push('### Child runs', '')
  if (all.length === 0) {
    out.push('_No child runs._', '')
    return
  }
  const children = take(all)
  out.push(
    '| id | repository | workflow | event | status | duration | failing step | triggered by | pull request |',
    '| --- | --- | --- | --- | --- | ---: | --- | --- | --- |'
  )
  for (const c of children.shown) {
    out.push(
      row([
        inline(c.id),
        inline(c.ref ? `${c.repository}@${c.ref}` : c.repository),
        link(inline(c.workflow), c.url),
        inline(c.event.type),
        `${MARK[c.status] ?? ''} ${c.status}`,
        formatMs(c.duration_ms),
        failingStep(c),
        c.parent_id ? inline(c.parent_id) : '—',
        pullRequestCell(c.pull_requests)
      ])
    )
  }
  out.push(...children.note, '')
}

/** Each pull request as a link with its operation; a branch pushed without one is named. */
function pullRequestCell(prs: PullRequestRecord[] | undefined): string {
  if (!prs?.length) return '—'
  return prs.map((p) => (p.url ? `${link(inline(`#${p.number}`), p.url)} ${inline(p.operation)}` : `${inline(p.branch)} ${inline(p.operation)}`)).join('<br>')
}

function failureSection({ child, tail }: Failure, tailBytes: number, cuts: Cuts): string[] {
  const { error } = child
  const at = error?.step
    ? `: step ${error.step} ${ENDED[child.status] ?? child.status}${error.exit_code != null ? ` (exit code ${error.exit_code})` : ''}`
    : `: ${ENDED[child.status] ?? child.status}`
  const out = [`<details><summary>${MARK[child.status] ?? ''} ${html(`${child.repository} › ${child.workflow} [${child.id}]${at}`)}</summary>`, '']
  out.push(error ? `**${inline(error.kind)}**: ${inline(error.message)}` : `Ended with status ${child.status}.`, '')
  if (child.url) out.push(`Run: ${link(inline(child.url), child.url)}`, '')
  if (child.workspace) out.push(`Workspace kept: ${inline(child.workspace)}`, '')
  if (tail.length > 0) {
    const { text, cut } = keepEnd(tail, tailBytes)
    if (cut > 0) {
      cuts.tailsShortened++
      cuts.tailBytesCut += cut
      out.push(text ? `_(log tail shortened: ${groupDigits(cut)} bytes cut)_` : `_(log tail omitted: ${groupDigits(cut)} bytes cut)_`, '')
    }
    if (text) out.push(...fenced(text), '')
  }
  out.push('</details>', '')
  return out
}

/** The failing step of a failed child; for one that was skipped, why. */
function failingStep(c: ChildReport): string {
  if (!c.error) return ''
  if (c.status === 'skipped') return inline(c.error.message)
  if (c.error.step) return `${inline(c.error.step)}${c.error.exit_code != null ? ` (exit code ${c.error.exit_code})` : ''}`
  return inline(c.error.kind)
}

function flattenSteps(steps: StepReport[]): { step: StepReport; handler: boolean }[] {
  return steps.flatMap((step) => [{ step, handler: false }, ...(step.on_failure ?? []).map((h) => ({ step: h, handler: true }))])
}

/** The last `max` bytes of a log, starting on a whole character and on a whole line unless that costs too much. */
function keepEnd(tail: Buffer, max: number): { text: string; cut: number } {
  if (tail.length <= max) return { text: tail.toString('utf8'), cut: 0 }
  let start = tail.length - max
  while (start < tail.length && (tail[start] & 0xc0) === 0x80) start++
  const newline = tail.indexOf(0x0a, start)
  if (newline !== -1 && newline + 1 < tail.length && newline - start < (tail.length - start) / 2) start = newline + 1
  return { text: tail.subarray(start).toString('utf8'), cut: start }
}

/** A fenced block that no line of the text can close: the fence is longer than any backtick run inside. */
function fenced(text: string): string[] {
  const longestRun = (text.match(/`+/g) ?? []).reduce((max, run) => Math.max(max, run.length), 0)
  const fence = '`'.repeat(Math.max(3, longestRun + 1))
  return [`${fence}text`, text.replace(/\n$/, ''), fence]
}

/** Terminal colour codes and carriage-return redraws make noise in a web page: keep what a terminal would show. */
function cleanLog(text: string): string {
  return text
    .replace(/\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g, '')
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => line.slice(line.lastIndexOf('\r') + 1))
    .join('\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Text that stays literal in a paragraph or table cell: no markup, no HTML, no cell break, no line break. */
export function inline(text: string): string {
  return html(text.replace(/[\\`*_[\]~|]/g, '\\$&')).replace(/\r?\n/g, '<br>')
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** A markdown link for http(s) URLs only; anything else stays text. */
export function link(text: string, url: string | undefined): string {
  const href = escapedHttpUrl(url, /[()|<> ]/g)
  return href === undefined ? text : `[${text}](${href})`
}

function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
}

/**
 * The summary of a step that ran nothing: its inputs or its tako file were refused, or it was cancelled before the run
 * started. Each line of the error is a list item.
 */
export function noRunMarkdown(opts: { workflow: string; error: string; status: 'failure' | 'cancelled'; maxBytes?: number }): string {
  const heading = `## ${RUN_MARK[opts.status]} tako: ${inline(opts.workflow || 'no workflow')} ${RUN_VERB[opts.status]}: no run`
  const problems = opts.error
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => `- ${inline(l)}`)
  const markdown = [heading, '', 'Nothing ran:', '', ...problems, ''].join('\n')
  const maxBytes = opts.maxBytes ?? SUMMARY_MAX_BYTES
  return Buffer.byteLength(markdown, 'utf8') < maxBytes ? markdown : hardCut(markdown, maxBytes)
}

/** Last resort when even the bare tables are too big: cut at a line, then say so. */
function hardCut(markdown: string, maxBytes: number): string {
  const note = '\n\n_(summary truncated at the size limit: the run report has everything)_\n'
  const budget = maxBytes - Buffer.byteLength(note, 'utf8') - 1
  const bytes = Buffer.from(markdown, 'utf8')
  let end = Math.max(0, budget)
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  const head = bytes.subarray(0, end).toString('utf8')
  const lastLine = head.lastIndexOf('\n')
  return (lastLine > 0 ? head.slice(0, lastLine) : head) + note
}
