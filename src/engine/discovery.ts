// Discovery: reads every candidate's tako.yml once per tree and evaluates its subscriptions against an event.

import pLimit from 'p-limit'
import type { TakoConfig } from '../config/types.js'
import { parseConfig } from '../config/load.js'
import { formatIssue } from '../config/errors.js'
import { matchSubscriptions, type SubscriptionMatch } from './subscriptions.js'
import type { Candidate, RepositorySource, TakoFileRead } from './repository-source.js'
import type { DiscoveryEntry, TakoEvent } from './types.js'
import { messageOf } from './workflow-runner.js'

type ConfigRead = { kind: 'ok'; config: TakoConfig; note?: string } | { kind: 'none' } | { kind: 'error'; reason: string }

export interface DiscoveredCandidate {
  candidate: Candidate
  entry: DiscoveryEntry
  matches: SubscriptionMatch[]
  /** The candidate's parsed tako.yml, when it has a valid one. */
  config?: TakoConfig
}

const READ_CONCURRENCY = 8

export class Discovery {
  private readonly configs = new Map<string, Promise<ConfigRead>>()
  private readonly reads = pLimit(READ_CONCURRENCY)

  constructor(private readonly source: RepositorySource) {}

  /** Every candidate with its verdict; filter errors and unreadable candidates also come back as warnings. */
  async discover(
    event: TakoEvent,
    declared: string[],
    signal: AbortSignal
  ): Promise<{ candidates: DiscoveredCandidate[]; warnings: string[]; listed: number }> {
    const warnings: string[] = []
    const listed = await this.source.list(declared)
    const results: DiscoveredCandidate[] = listed.problems.map((p) => ({
      candidate: { repository: p.repository, ref: p.ref },
      entry: { repository: p.repository, ref: p.ref, result: 'error' as const, reason: p.reason, event_type: event.type },
      matches: []
    }))
    for (const p of listed.problems) warnings.push(`${p.repository}: ${p.reason}`)
    this.readAhead(listed.candidates, signal)
    const verdicts = await Promise.all(
      listed.candidates.map(async (candidate) => {
        const read = await this.read(candidate, signal)
        const base = { repository: candidate.repository, ref: candidate.ref, event_type: event.type }
        if (read.kind === 'none') {
          warnings.push(`${candidate.repository} skipped: it has no tako.yml${candidate.ref ? ` at ${candidate.ref}` : ''}`)
          return { candidate, matches: [], entry: { ...base, result: 'no_subscription' as const, reason: 'has no tako.yml' } }
        }
        if (read.kind === 'error') {
          warnings.push(`${candidate.repository} skipped: ${read.reason}`)
          return { candidate, matches: [], entry: { ...base, result: 'error' as const, reason: read.reason } }
        }
        if (read.note) warnings.push(`${candidate.repository}: ${read.note}`)
        const match = matchSubscriptions(read.config, event)
        for (const e of match.filterErrors) warnings.push(`${candidate.repository}: ${e}`)
        if (match.matches.length > 0) {
          const reason = match.matches.map((m) => `subscription ${m.index} → workflow ${m.subscription.workflow}`).join('; ')
          return { candidate, matches: match.matches, config: read.config, entry: { ...base, result: 'matched' as const, reason } }
        }
        if (!match.subscribed) {
          const reason = read.config.subscriptions.length === 0
            ? 'has no subscriptions'
            : `not subscribed to ${event.type} from ${event.source}:${event.artifact}`
          const meant = guessedSource(read.config, event)
          if (meant) warnings.push(`${candidate.repository} subscribes to ${meant}, not ${event.source}: did you mean \`--source ${meant}\`?`)
          return { candidate, matches: [], entry: { ...base, result: 'no_subscription' as const, reason } }
        }
        return { candidate, matches: [], entry: { ...base, result: 'no_match' as const, reason: match.misses.join('; ') } }
      })
    )
    return { candidates: [...results, ...verdicts], warnings, listed: listed.candidates.length }
  }

  /** The warning of a fan-out that found no candidate at all: where it looked and the layout it expects. */
  nothingFound(event: TakoEvent): string {
    const where = this.source.describe?.() ?? 'the repositories given to the run and the repos: key'
    return `fan-out ${event.type} found no candidate repositories (looked in ${where})`
  }

  /** A source that reads many candidates in one go (local checkouts) gets every unread one at once. */
  private readAhead(candidates: Candidate[], signal: AbortSignal): void {
    if (!this.source.readConfigs) return
    const unread = candidates.filter((c) => !this.configs.has(keyOf(c)))
    if (unread.length === 0) return
    const batch = this.source.readConfigs(unread, signal)
    unread.forEach((candidate, i) => {
      this.configs.set(
        keyOf(candidate),
        batch.then(
          (files) => interpret(candidate, files[i]),
          (error: unknown) => ({ kind: 'error', reason: messageOf(error) })
        )
      )
    })
  }

  private read(candidate: Candidate, signal: AbortSignal): Promise<ConfigRead> {
    const key = keyOf(candidate)
    let pending = this.configs.get(key)
    if (!pending) {
      pending = this.reads(async (): Promise<ConfigRead> => {
        try {
          return interpret(candidate, await this.source.readConfig(candidate, signal))
        } catch (error) {
          return { kind: 'error', reason: messageOf(error) }
        }
      })
      this.configs.set(key, pending)
    }
    return pending
  }
}

/**
 * Without --source or an origin remote the publisher is `local/<folder>`, which nobody subscribes to; a subscription
 * to `<owner>/<folder>` says what the user meant.
 */
function guessedSource(config: TakoConfig, event: TakoEvent): string | undefined {
  if (!event.source.startsWith('local/')) return undefined
  const folder = event.source.slice('local/'.length).toLowerCase()
  return config.subscriptions.find((s) => s.repository.split('/')[1]?.toLowerCase() === folder && s.events.includes(event.type))?.repository
}

function keyOf(candidate: Candidate): string {
  return `${candidate.repository.toLowerCase()}@${candidate.ref}`
}

function interpret(candidate: Candidate, file: TakoFileRead | null | Error): ConfigRead {
  if (file instanceof Error) return { kind: 'error', reason: file.message }
  if (!file) return { kind: 'none' }
  const parsed = parseConfig(file.text, `${candidate.repository}/${file.file}`)
  if (!parsed.config) {
    const first = parsed.issues.filter((i) => i.severity === 'error').map(formatIssue)
    return { kind: 'error', reason: `invalid tako.yml: ${first.slice(0, 3).join('; ')}${first.length > 3 ? ` (+${first.length - 3} more)` : ''}` }
  }
  return { kind: 'ok', config: parsed.config, note: file.note }
}
