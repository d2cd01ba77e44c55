// Child mode (SPEC 7): the action run by a dispatched workflow, with the parent's event and a link back to it.

import type { TakoEvent } from '../engine/types.js'
import { parseEventJson } from '../engine/event-input.js'
import { inline, link } from './summary.js'

/** The `event` input: the JSON of the TakoEvent a parent dispatched this run for; undefined when empty. Throws a message. */
export const parseEventInput = parseEventJson

/** The line that leads a child run's job summary: which run dispatched it, for which event. */
export function childRunNote(parentRun: string, event: TakoEvent | undefined): string {
  if (!parentRun && !event) return ''
  const by = parentRun ? link(inline(parentRun), parentRun) : 'a parent run'
  const what = event ? ` for the event ${inline(event.type)} of ${inline(event.source)}` : ''
  return `> Dispatched by ${by}${what}.\n\n`
}
