// Decides which subscriptions of one candidate an event triggers, and why the others do not (SPEC 1.5).

import type { SubscriptionSpec, TakoConfig } from '../config/types.js'
import { compileExpression, filterVariables } from './expressions.js'
import { satisfiesRange } from './semver.js'
import type { TakoEvent } from './types.js'

export interface SubscriptionMatch {
  subscription: SubscriptionSpec
  /** 1-based index of the subscription in the candidate's file. */
  index: number
}

export interface MatchResult {
  matches: SubscriptionMatch[]
  /** One reason per subscription that did not match, in file order. */
  misses: string[]
  /** Filter evaluation errors: reported as warnings, never silently. */
  filterErrors: string[]
  /** True when no subscription even names this event's source, artifact and type. */
  subscribed: boolean
}

export function matchSubscriptions(config: TakoConfig, event: TakoEvent): MatchResult {
  const result: MatchResult = { matches: [], misses: [], filterErrors: [], subscribed: false }
  config.subscriptions.forEach((sub, i) => {
    const index = i + 1
    const label = `subscription ${index} (${sub.repository}:${sub.artifact} → ${sub.workflow})`
    if (sub.repository.toLowerCase() !== event.source.toLowerCase() || sub.artifact !== event.artifact) {
      result.misses.push(`${label}: subscribes to ${sub.repository}:${sub.artifact}, not ${event.source}:${event.artifact}`)
      return
    }
    if (!sub.events.includes(event.type)) {
      result.misses.push(`${label}: not subscribed to ${event.type} (listens to ${sub.events.join(', ')})`)
      return
    }
    result.subscribed = true
    if (sub.schema_version !== undefined && event.schema_version !== undefined) {
      let inRange: boolean
      try {
        inRange = satisfiesRange(event.schema_version, sub.schema_version)
      } catch (error) {
        inRange = false
        result.filterErrors.push(`${label}: schema_version ${event.schema_version}: ${(error as Error).message}`)
      }
      if (!inRange) {
        result.misses.push(`${label}: schema_version ${event.schema_version} is outside ${sub.schema_version}`)
        return
      }
    }
    const vars = filterVariables(event)
    for (const [f, filter] of sub.filters.entries()) {
      let passed: boolean
      try {
        passed = compileExpression(filter, 'filter').evaluate(vars)
      } catch (error) {
        const message = `${label}: filter ${f + 1} error: ${(error as Error).message}`
        result.filterErrors.push(message)
        result.misses.push(message)
        return
      }
      if (!passed) {
        result.misses.push(`${label}: filter ${f + 1} is false: ${filter}`)
        return
      }
    }
    result.matches.push({ subscription: sub, index })
  })
  return result
}
