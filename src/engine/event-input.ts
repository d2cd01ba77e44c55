// A run started for a given event (the action's `event` input, `tako exec --event`): the event's shape, and the
// inputs a subscription maps from it, rendered exactly as a fan-out renders them for a child.

import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { InputValue, SubscriptionSpec, TakoConfig } from '../config/types.js'
import { UsageError } from './errors.js'
import { matchSubscriptions } from './subscriptions.js'
import { renderTemplate } from './template.js'
import type { RunContext, TakoEvent } from './types.js'

const eventSchema = z.object({
  // A parent always sends one; an event pasted by hand to re-run a child gets a fresh id.
  id: z.string().optional(),
  type: z.string().min(1),
  source: z.string().min(1),
  artifact: z.string().min(1).default('default'),
  schema_version: z.string().optional(),
  payload: z.record(z.string(), z.unknown()).default({})
})

/** The JSON of a TakoEvent; undefined when empty. Throws an Error whose message says what is wrong. */
export function parseEventJson(text: string): TakoEvent | undefined {
  if (!text.trim()) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`)
  }
  const parsed = eventSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue.path.length ? `"${issue.path.join('.')}": ` : ''
    throw new Error(`expected {"type", "source", "artifact", "payload"} of a tako event: ${where}${issue.message}`)
  }
  const { id, schema_version, ...rest } = parsed.data
  return { id: id || `manual-${randomUUID()}`, ...rest, ...(schema_version ? { schema_version } : {}) }
}

/** Subscription inputs are templates over the event (SPEC 1.5): one rendering for fan-out children and `--event`. */
export function renderSubscriptionInputs(
  subscription: SubscriptionSpec,
  event: TakoEvent,
  run: { env: Record<string, string | undefined>; runId: string; repository: string }
): Record<string, InputValue> {
  const context: RunContext = { inputs: {}, steps: {}, event, env: run.env, run_id: run.runId, repository: run.repository }
  const out: Record<string, InputValue> = {}
  for (const [name, template] of Object.entries(subscription.inputs)) {
    out[name] = renderTemplate(template, context, `subscription input "${name}" of ${run.repository}`)
  }
  return out
}

/**
 * The subscription of `config` that maps `event` to `workflow`: the one given (1-based), else the only one that
 * matches. None matching is not an error (the inputs then come from the command line) but is said in `note`.
 */
export function subscriptionFor(
  config: TakoConfig,
  workflow: string,
  event: TakoEvent,
  index?: number
): { subscription?: SubscriptionSpec; index?: number; note: string } {
  if (index !== undefined) {
    const subscription = config.subscriptions[index - 1]
    if (!subscription)
      throw new UsageError(`--subscription ${index}: the file has ${config.subscriptions.length} subscription${config.subscriptions.length === 1 ? '' : 's'}`)
    if (subscription.workflow !== workflow) throw new UsageError(`--subscription ${index} runs workflow "${subscription.workflow}", not "${workflow}"`)
    return { subscription, index, note: `inputs mapped by subscription ${index}` }
  }
  const result = matchSubscriptions(config, event)
  const mine = result.matches.filter((m) => m.subscription.workflow === workflow)
  if (mine.length > 1) {
    throw new UsageError(`subscriptions ${mine.map((m) => m.index).join(', ')} all map ${event.type} to "${workflow}": choose one with --subscription N`)
  }
  if (mine.length === 1) return { subscription: mine[0].subscription, index: mine[0].index, note: `inputs mapped by subscription ${mine[0].index}` }
  const why = result.misses.length ? `: ${result.misses.join('; ')}` : ''
  return { note: `no subscription maps ${event.type} from ${event.source}:${event.artifact} to "${workflow}" (inputs come from --input only)${why}` }
}
