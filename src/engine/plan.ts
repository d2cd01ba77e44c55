// The dry-run plan of the whole tree: every fan-out of a workflow, followed into each matched child's own fan-outs
// as far as values are known before anything runs. What only the run can decide is marked, never guessed.

import type { InputValue, TakoConfig, WorkflowSpec } from '../config/types.js'
import { renderSubscriptionInputs } from './event-input.js'
import { applyWorkflowEnv, messageOf } from './workflow-runner.js'
import { builtinFor } from './builtins/index.js'
import { parseFanOutWith, type FanOutExecutor, type PlannedChild } from './builtins/fan-out.js'
import { resolveInputs } from './inputs.js'
import { renderDeep } from './template.js'
import { stringEnv } from './process-groups.js'
import type { RunScope } from './run-scope.js'
import type { DiscoveryEntry, RunContext, TakoEvent } from './types.js'

export interface FanOutPlan {
  step: string
  event?: TakoEvent
  /** Payload keys that depend on earlier steps' outputs and cannot be known before the run. */
  unresolved: string[]
  /** Set when the event itself (its type, artifact...) depends on what only the run knows: not planned further. */
  runtime?: string
  /** The fan-out's `with` is invalid: the run would fail at this step. */
  error?: string
  /** Verdict of every candidate of this fan-out. */
  discovery?: DiscoveryEntry[]
  children: ChildPlan[]
}

export interface ChildPlan extends PlannedChild {
  /** The inputs the subscription maps, checked against the child workflow's input types. */
  inputs?: Record<string, InputValue>
  /** Why the inputs cannot be known now (`runtime`) or would be rejected (`error`). */
  inputsProblem?: { kind: 'runtime' | 'error'; message: string }
  /** The child's own fan-outs, planned in turn. */
  fanOuts?: FanOutPlan[]
}

/** References that only a run can resolve: earlier steps' outputs. */
const RUNTIME_REFERENCE = /\{\{[^}]*\.(steps|Steps)\./

function dependsOnRun(value: unknown): boolean {
  return RUNTIME_REFERENCE.test(JSON.stringify(value) ?? '')
}

/** Plans each fan-out step of `workflow` run with `context` in `scope`; recurses into matched children. */
export async function planFanOuts(
  fanOut: FanOutExecutor,
  workflow: WorkflowSpec,
  context: RunContext,
  scope: RunScope,
  signal: AbortSignal
): Promise<FanOutPlan[]> {
  const plans: FanOutPlan[] = []
  applyWorkflowEnv(workflow, context)
  for (const step of workflow.steps.filter((s) => builtinFor(s.uses)?.name === 'tako/fan-out')) {
    const raw = { ...(step.with ?? {}) }
    const payload: Record<string, unknown> = {}
    const unresolved: string[] = []
    const plan: FanOutPlan = { step: step.id, unresolved, discovery: [], children: [] }
    plans.push(plan)
    for (const [key, value] of Object.entries((raw.payload ?? {}) as Record<string, unknown>)) {
      try {
        payload[key] = renderDeep(value, context, `step "${step.id}" payload ${key}`)
      } catch (error) {
        if (!dependsOnRun(value)) {
          plan.error = messageOf(error)
          break
        }
        unresolved.push(key)
      }
    }
    if (plan.error) continue
    const { payload: _, ...rest } = raw
    let rendered: Record<string, unknown>
    try {
      rendered = renderDeep(rest, context, `step "${step.id}" with`) as Record<string, unknown>
    } catch (error) {
      if (dependsOnRun(rest)) plan.runtime = `its with depends on earlier steps' outputs: ${messageOf(error)}`
      else plan.error = messageOf(error)
      continue
    }
    try {
      // The run's own reading of `with`, its one rule for event types included.
      const settings = parseFanOutWith({ ...rendered, payload })
      plan.event = {
        id: 'dry-run',
        type: settings.event_type,
        source: scope.label.repository,
        artifact: settings.artifact,
        schema_version: settings.schema_version,
        payload
      }
    } catch (error) {
      plan.error = messageOf(error)
      continue
    }
    // Every candidate's verdict, for the plan to show; the report keeps only the rows worth keeping.
    const { children, verdicts } = await fanOut.plan(plan.event, scope, signal, { every: true })
    plan.discovery = verdicts
    for (const item of children) plan.children.push(await planChild(fanOut, item, plan, scope, signal))
  }
  return plans
}

async function planChild(fanOut: FanOutExecutor, item: PlannedChild, parent: FanOutPlan, scope: RunScope, signal: AbortSignal): Promise<ChildPlan> {
  const child: ChildPlan = { ...item, fanOuts: [] }
  if (item.blocked) return child
  const event = parent.event!
  const name = item.match.subscription.workflow
  const workflow = item.config.workflows[name]
  if (!workflow) return child
  const repository = item.candidate.repository
  const mapped = item.match.subscription.inputs
  const unknownKeys = parent.unresolved.filter((key) => Object.values(mapped).some((t) => t.includes(`.payload.${key}`)))
  if (unknownKeys.length > 0) {
    child.inputsProblem = { kind: 'runtime', message: `inputs use payload ${unknownKeys.join(', ')}, known only at run time` }
    return child
  }
  try {
    child.inputs = resolveInputs(
      name,
      workflow.inputs,
      renderSubscriptionInputs(item.match.subscription, event, { env: stringEnv(scope.tree.baseEnv ?? process.env), runId: scope.tree.runId, repository })
    )
  } catch (error) {
    child.inputsProblem = { kind: 'error', message: messageOf(error) }
    return child
  }
  const childScope: RunScope = {
    ...scope,
    config: item.config as TakoConfig,
    label: { id: `${scope.label.id ? `${scope.label.id}/` : ''}${repository}:${name}`, repository, workflow: name },
    ancestors: [...scope.ancestors, { repository, workflow: name }],
    depth: scope.depth + 1,
    background: []
  }
  const context: RunContext = {
    inputs: child.inputs,
    steps: {},
    env: stringEnv(scope.tree.baseEnv ?? process.env),
    run_id: scope.tree.runId,
    repository,
    event
  }
  try {
    child.fanOuts = await planFanOuts(fanOut, workflow, context, childScope, signal)
  } catch (error) {
    child.inputsProblem = { kind: 'error', message: messageOf(error) }
  }
  return child
}

/** Every problem that makes the real run fail at a known place, as `where: what` lines. */
export function planErrors(plans: FanOutPlan[], where = ''): string[] {
  const out: string[] = []
  for (const f of plans) {
    if (f.error) out.push(`${where}fan-out step "${f.step}" cannot be planned: ${f.error}`)
    for (const c of f.children) {
      const at = `${where}${c.candidate.repository} › ${c.match.subscription.workflow}: `
      if (c.inputsProblem?.kind === 'error') out.push(`${at}${c.inputsProblem.message}`)
      out.push(...planErrors(c.fanOuts ?? [], at))
    }
  }
  return out
}

/** The plan as plain JSON for the report (`plan` of a dry run's report). */
export function planJson(plans: FanOutPlan[]): unknown[] {
  return plans.map((f) => ({
    step: f.step,
    ...(f.event
      ? { event: { type: f.event.type, source: f.event.source, artifact: f.event.artifact, schema_version: f.event.schema_version, payload: f.event.payload } }
      : {}),
    unresolved_payload: f.unresolved,
    ...(f.runtime ? { decided_at_run_time: f.runtime } : {}),
    ...(f.error ? { error: f.error } : {}),
    children: f.children.map((c) => ({
      repository: c.candidate.repository,
      ref: c.candidate.ref,
      workflow: c.match.subscription.workflow,
      subscription: c.match.index,
      would_run: !c.blocked && c.inputsProblem?.kind !== 'error',
      ...(c.blocked ? { blocked: c.blocked.error } : {}),
      ...(c.inputs ? { inputs: c.inputs } : {}),
      ...(c.inputsProblem ? { inputs_problem: c.inputsProblem } : {}),
      fan_outs: planJson(c.fanOuts ?? [])
    }))
  }))
}
