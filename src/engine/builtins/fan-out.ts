// FanOutExecutor: the `tako/fan-out@v1` step (SPEC 2): emit an event, run every matching subscriber as a child.

import { randomUUID } from 'node:crypto'
import pLimit from 'p-limit'
import { setMaxListeners } from 'node:events'
import { parseDuration } from '../../config/duration.js'
import { renderDeep } from '../template.js'
import { checkPayloadSize } from '../payload.js'
import { z } from 'zod'
import { EVENT_TYPE_PATTERN } from '../../config/schema.js'
import { expect, parseWith, type WithSchema } from './with.js'
import type { WithCheck } from './index.js'
import { messageOf } from '../workflow-runner.js'
import { CancelReason, withDeadline, type RunScope } from '../run-scope.js'
import type { StepExecutor, StepInvocation, StepOutcome } from '../step-executor.js'
import type { ChildWorkflowExecutor, ChildRequest } from '../child-workflow-executor.js'
import type { DiscoveredCandidate, Discovery } from '../discovery.js'
import { childFailed, childSucceeded, type ChildError, type ChildReport, type DiscoveryEntry, type FanOutCounts, type TakoEvent } from '../types.js'
import type { SubscriptionMatch } from '../subscriptions.js'
import type { Candidate } from '../repository-source.js'
import type { TakoConfig } from '../../config/types.js'

export interface FanOutSettings {
  event_type: string
  artifact: string
  schema_version?: string
  payload: Record<string, unknown>
  wait_for_children: boolean
  timeoutMs?: number
  concurrency_limit?: number
  fail_fast: boolean
}

export interface FanOutResult {
  event: TakoEvent
  /** Direct children of this fan-out, in the order they ended. */
  children: ChildReport[]
  triggered: number
  succeeded: number
  failed: number
  skipped: number
}

export interface PlannedChild {
  candidate: Candidate
  match: SubscriptionMatch
  config: TakoConfig
  /** Why it will not run (cycle, depth, duplicate), when it will not. */
  blocked?: { status: 'failure' | 'skipped'; error: ChildError }
}

/** The one rule for a fan-out's rendered `event_type` (SPEC 1.1: snake_case), for the run and the dry run alike. */
function checkEventType(value: unknown): string | undefined {
  if (typeof value === 'string' && EVENT_TYPE_PATTERN.test(value)) return undefined
  return `fan-out: event_type must be snake_case (like api_published), got ${JSON.stringify(value ?? '')}`
}

/** Reads `with` after templating; values may arrive as strings from templates. */
export function parseFanOutWith(raw: Record<string, unknown>): FanOutSettings {
  const typeProblem = checkEventType(raw.event_type)
  if (typeProblem) throw new Error(typeProblem)
  const w = parseWith('tako/fan-out@v1', withSchema, raw)
  return {
    event_type: w.event_type,
    artifact: w.artifact ?? 'default',
    schema_version: w.schema_version === undefined ? undefined : String(w.schema_version),
    payload: w.payload ?? {},
    wait_for_children: w.wait_for_children ?? true,
    timeoutMs: w.timeout === undefined ? undefined : parseDuration(w.timeout),
    concurrency_limit: w.concurrency_limit,
    fail_fast: w.fail_fast ?? false
  }
}

export interface FanOutDeps {
  discovery: Discovery
  children: ChildWorkflowExecutor
}

export class FanOutExecutor implements StepExecutor {
  constructor(private readonly deps: FanOutDeps) {}

  async execute(inv: StepInvocation): Promise<StepOutcome> {
    const settings = parseFanOutWith(renderDeep(inv.step.with ?? {}, inv.context, `step "${inv.step.id}" with`) as Record<string, unknown>)
    checkPayloadSize(settings.payload, `fan-out "${inv.step.id}"`)
    const event = makeEvent(settings, inv.scope)
    const { started, running } = await this.runChildren(event, settings, inv)
    if (!settings.wait_for_children) {
      inv.scope.background.push(
        running.then(
          (result) => ({
            stepId: inv.step.id,
            failed: result.failed > 0,
            continueOnError: inv.step.continue_on_error,
            message: failureMessage(result, settings)
          }),
          (error: unknown) => ({ stepId: inv.step.id, failed: true, continueOnError: inv.step.continue_on_error, message: messageOf(error) })
        )
      )
      return { status: 'success', exitCode: null, outputs: { triggered: String(started), event_id: event.id } }
    }
    const result = await running
    const outputs = resultOutputs(result)
    if (result.failed > 0) return { status: 'failure', exitCode: null, outputs, error: failureMessage(result, settings) }
    return { status: 'success', exitCode: 0, outputs }
  }

  /**
   * Discovery plus the checks that keep a child from running; records discovery in the tree. Each planned child is
   * handed to `onPlanned` as soon as its candidate's verdict is known. `every` returns every candidate's verdict
   * (for a dry run's plan); the report gets only what is worth a row either way.
   */
  async plan(
    event: TakoEvent,
    scope: RunScope,
    signal: AbortSignal,
    opts: { onPlanned?: (item: PlannedChild) => void; every?: boolean } = {}
  ): Promise<FanOutPlanResult> {
    const planned: PlannedChild[] = []
    const seen = new Set<string>()
    const { tree } = scope
    const planOne = (found: DiscoveredCandidate): void => {
      tree.observer.considered?.({ ...found.entry, fan_out_of: scope.label.id })
      for (const match of found.matches) {
        const item: PlannedChild = { candidate: found.candidate, match, config: found.config! }
        item.blocked = this.blocked(found.candidate, match, scope, seen)
        planned.push(item)
        opts.onPlanned?.(item)
      }
    }
    const { candidates, counts, warnings, listed } = await this.deps.discovery.discover(event, scope.config.repos, signal, {
      onVerdict: planOne,
      every: opts.every
    })
    // Folders that could not be candidates were said already; what is left to say is that none could.
    if (listed === 0) warnings.push(this.deps.discovery.nothingFound(event))
    for (const w of warnings) warn(tree, w)
    const record = (entry: DiscoveryEntry): void => {
      tree.discovery.push(entry)
      tree.observer.discovered?.(entry)
    }
    record({
      repository: event.source,
      ref: '',
      result: overall(counts),
      reason: countsText(event, counts),
      fan_out_of: scope.label.id,
      event_type: event.type,
      fan_out: counts
    })
    for (const found of candidates) if (found.record) record({ ...found.entry, fan_out_of: scope.label.id })
    return { children: planned, verdicts: candidates.map((c) => ({ ...c.entry, fan_out_of: scope.label.id })) }
  }

  /** Why a match must not run (a duplicate, a cycle, the depth limit), if it must not. */
  private blocked(candidate: Candidate, match: SubscriptionMatch, scope: RunScope, seen: Set<string>): PlannedChild['blocked'] {
    const workflow = match.subscription.workflow
    const repo = candidate.repository.toLowerCase()
    const key = `${repo}#${workflow}`
    const first = !seen.has(key)
    seen.add(key)
    if (!first) {
      return {
        status: 'skipped',
        error: {
          kind: 'duplicate',
          message: `duplicate: ${candidate.repository} › ${workflow} already runs for this event (subscription ${match.index} matched too)`
        }
      }
    }
    if (scope.ancestors.some((a) => a.repository.toLowerCase() === repo && a.workflow === workflow)) {
      const chain = [...scope.ancestors, { repository: candidate.repository, workflow }].map((a) => `${a.repository}:${a.workflow}`)
      return { status: 'failure', error: { kind: 'cycle', message: `cycle: ${chain.join(' → ')}` } }
    }
    if (scope.depth + 1 > scope.tree.maxDepth) {
      return { status: 'failure', error: { kind: 'cycle', message: `depth limit ${scope.tree.maxDepth} reached at ${candidate.repository}:${workflow}` } }
    }
    return undefined
  }

  /**
   * Starts each match as soon as discovery knows it (issue #14: clones need not wait for the last candidate), within
   * this fan-out's limit and the tree's. Resolves once discovery is over, with how many started and the children's
   * ending.
   */
  private async runChildren(event: TakoEvent, settings: FanOutSettings, inv: StepInvocation): Promise<{ started: number; running: Promise<FanOutResult> }> {
    const deadline = withDeadline(inv.signal, settings.timeoutMs, `fan-out "${inv.step.id}"`)
    const failFast = new AbortController()
    const signal = AbortSignal.any([deadline.signal, failFast.signal])
    // Every child of this fan-out listens to the one signal: that is by design, not a leak.
    setMaxListeners(0, signal)
    const limit = pLimit(settings.concurrency_limit ?? Number.POSITIVE_INFINITY)
    const result: FanOutResult = { event, children: [], triggered: 0, succeeded: 0, failed: 0, skipped: 0 }
    const launched: Array<Promise<void>> = []
    let started = 0
    const start = (item: PlannedChild): void => {
      // The id is reserved when the verdict arrives, so ids follow the order candidates were found.
      const req: ChildRequest = {
        candidate: item.candidate,
        subscription: item.match.subscription,
        event,
        parent: inv.scope,
        signal,
        config: item.config,
        id: this.deps.children.reserveId(item.candidate.repository, item.match.subscription.workflow)
      }
      if (!item.blocked) started++
      const blocked = item.blocked
      launched.push(
        (async () => {
          const report = blocked ? this.deps.children.notRun(req, blocked.status, blocked.error) : await limit(() => this.deps.children.run(req))
          result.children.push(report)
          if (!blocked) result.triggered++
          if (childSucceeded(report.status)) result.succeeded++
          else if (report.status === 'skipped') result.skipped++
          else {
            result.failed++
            if (settings.fail_fast && !failFast.signal.aborted) {
              failFast.abort(new CancelReason(`fail_fast: ${report.repository} › ${report.workflow} failed`))
            }
          }
        })()
      )
    }
    try {
      await this.plan(event, inv.scope, inv.signal, { onPlanned: start })
    } catch (error) {
      // Children already started are stopped and awaited: nothing outlives the step.
      failFast.abort(new CancelReason(`fan-out "${inv.step.id}": discovery failed: ${messageOf(error)}`))
      await Promise.allSettled(launched)
      deadline.dispose()
      throw error
    }
    const running = Promise.all(launched)
      .then(() => result)
      .finally(() => deadline.dispose())
    return { started, running }
  }
}

/** Records a warning of the tree once: nested fan-outs meet the same unreadable candidates again. */
export function warn(tree: RunScope['tree'], message: string): void {
  if (tree.warnings.includes(message)) return
  tree.warnings.push(message)
  tree.observer.warning?.(message)
}

export interface FanOutPlanResult {
  children: PlannedChild[]
  /** Verdicts returned by discovery: what the report records, or every candidate's with `every`. */
  verdicts: DiscoveryEntry[]
}

/** A fan-out's row says what happened to the event as a whole. */
function overall(counts: FanOutCounts): DiscoveryEntry['result'] {
  if (counts.matched > 0) return 'matched'
  if (counts.no_match > 0) return 'no_match'
  if (counts.error > 0 && counts.error === counts.candidates) return 'error'
  return 'no_subscription'
}

function countsText(event: TakoEvent, counts: FanOutCounts): string {
  const parts: string[] = []
  if (counts.matched) parts.push(`${counts.matched} matched`)
  if (counts.no_match) parts.push(`${counts.no_match} subscribed but filtered out`)
  if (counts.no_subscription) parts.push(`${counts.no_subscription} not subscribed`)
  if (counts.error) parts.push(`${counts.error} unreadable`)
  const what = `fan-out of ${event.type} from ${event.source}:${event.artifact} looked at ${counts.candidates} ${counts.candidates === 1 ? 'candidate' : 'candidates'}`
  return parts.length ? `${what}: ${parts.join(', ')}` : what
}

function makeEvent(settings: FanOutSettings, scope: RunScope): TakoEvent {
  return {
    id: randomUUID(),
    type: settings.event_type,
    source: scope.label.repository,
    artifact: settings.artifact,
    schema_version: settings.schema_version,
    payload: settings.payload
  }
}

function resultOutputs(result: FanOutResult): Record<string, string> {
  return {
    triggered: String(result.triggered),
    succeeded: String(result.succeeded),
    failed: String(result.failed),
    skipped: String(result.skipped),
    event_id: result.event.id,
    children: JSON.stringify(
      result.children.map((c) => ({ id: c.id, repository: c.repository, workflow: c.workflow, status: c.status, duration_ms: c.duration_ms }))
    )
  }
}

function failureMessage(result: FanOutResult, settings: FanOutSettings): string {
  const failed = result.children.filter((c) => childFailed(c.status))
  const parts = failed.map((c) => {
    const where = c.error?.step ? `step ${c.error.step}${c.error.exit_code != null ? `, exit ${c.error.exit_code}` : ''}` : (c.error?.kind ?? c.status)
    return `${c.repository} › ${c.workflow} ${c.status} (${where})`
  })
  const total = result.children.length - result.skipped
  const head = `${failed.length} of ${total} children of ${settings.event_type} did not succeed`
  return parts.length ? `${head}: ${parts.join('; ')}` : head
}

/** The `with` of tako/fan-out@v1 (SPEC 2), for `validate`, the run and the JSON schema. */
export const withSchema = z.strictObject({
  event_type: z
    .string()
    .regex(EVENT_TYPE_PATTERN, { error: 'a snake_case event type (lower-case letters, digits and "_", starting with a letter)' })
    .describe('Type of the event, snake_case'),
  artifact: expect.string().optional().describe("Which of this repository's artifacts the event is about (default: default)"),
  schema_version: z
    .union([z.string(), z.number()], { error: 'a version like 1.2.0' })
    .optional()
    .describe("Version of the payload's schema, matched against subscriptions' ranges"),
  payload: expect.map().optional().describe('Data of the event, templated'),
  wait_for_children: expect.boolean().optional().describe('End the step when the whole subtree has ended (default true)'),
  timeout: z
    .string({ error: 'a duration like 90s, 10m or 2h' })
    .refine((v) => validDuration(v), { error: 'a duration like 90s, 10m or 2h' })
    .optional()
    .describe('Deadline for the whole subtree, as 90s, 10m or 2h'),
  concurrency_limit: z
    .number({ error: 'an integer of at least 1' })
    .int({ error: 'an integer of at least 1' })
    .min(1, { error: 'an integer of at least 1' })
    .optional()
    .describe('Children of this fan-out running at once'),
  fail_fast: expect.boolean().optional().describe('Cancel the other children on the first failure (default false)')
}) satisfies WithSchema

function validDuration(text: string): boolean {
  try {
    parseDuration(text)
    return true
  } catch {
    return false
  }
}

/** What the schema cannot know: the declared artifacts and events of the file. */
export const checkWith: WithCheck = (args, ctx) => {
  const type = args.event_type
  if (ctx.known('event_type') && typeof type === 'string' && EVENT_TYPE_PATTERN.test(type) && ctx.produced.length > 0 && !ctx.produced.includes(type)) {
    ctx.warn('event_type', `event type "${type}" is not declared in events.produces (declared: ${ctx.list(ctx.produced)})`)
  }
  const artifact = args.artifact
  if (ctx.known('artifact') && typeof artifact === 'string' && artifact !== 'default' && !ctx.artifacts.has(artifact)) {
    ctx.error(
      'artifact',
      `artifact "${artifact}" is not declared in "artifacts"${ctx.didYouMean(artifact, ctx.artifacts)} (available: ${ctx.list(new Set(['default', ...ctx.artifacts]))})`
    )
  }
  if (ctx.known('schema_version')) ctx.version('schema_version')
}
