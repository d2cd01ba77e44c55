// Child mode (SPEC 7): the action run by a dispatched workflow, with the parent's event and a link back to it.

import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { TakoEvent } from '../engine/types.js'
import { inline, link } from './summary.js'

const eventSchema = z.object({
  // A parent always sends one; an event pasted by hand to re-run a child gets a fresh id.
  id: z.string().optional(),
  type: z.string().min(1),
  source: z.string().min(1),
  artifact: z.string().min(1).default('default'),
  schema_version: z.string().optional(),
  payload: z.record(z.string(), z.unknown()).default({})
})

/** The `event` input: the JSON of the TakoEvent a parent dispatched this run for; undefined when empty. Throws a message. */
export function parseEventInput(text: string): TakoEvent | undefined {
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

/** The line that leads a child run's job summary: which run dispatched it, for which event. */
export function childRunNote(parentRun: string, event: TakoEvent | undefined): string {
  if (!parentRun && !event) return ''
  const by = parentRun ? link(inline(parentRun), parentRun) : 'a parent run'
  const what = event ? ` for the event ${inline(event.type)} of ${inline(event.source)}` : ''
  return `> Dispatched by ${by}${what}.\n\n`
}
