// Discovery: reads every candidate's tako.yml once per tree and evaluates its subscriptions against an event.
// Bookkeeping stays linear in children plus candidates (issue #14): the list of candidates is asked for once per
// `repos:` list, a candidate's problem (no tako.yml, invalid file) is warned and recorded once per tree, a verdict
// for an event once per distinct event, and once every candidate of a list has been read, a fan-out looks only at
// the candidates that subscribe to its event (an index), counting the rest instead of visiting them.

import pLimit from 'p-limit'
import type { TakoConfig } from '../config/types.js'
import { parseConfig } from '../config/load.js'
import { formatIssue } from '../config/errors.js'
import { matchSubscriptions, type MatchResult, type SubscriptionMatch } from './subscriptions.js'
import type { Candidate, RepositorySource, TakoFileRead } from './repository-source.js'
import type { DiscoveryEntry, FanOutCounts, TakoEvent } from './types.js'
import { messageOf } from './workflow-runner.js'

type ConfigRead = { kind: 'ok'; config: TakoConfig; note?: string } | { kind: 'none' } | { kind: 'error'; reason: string }
type Problem = { repository: string; ref: string; reason: string }

export interface DiscoveredCandidate {
  candidate: Candidate
  entry: DiscoveryEntry
  matches: SubscriptionMatch[]
  /** The candidate's parsed tako.yml, when it has a valid one. */
  config?: TakoConfig
  /** The entry belongs in the report: a match, or a verdict or problem the tree has not recorded yet. */
  record: boolean
}

export interface DiscoverOptions {
  /** Called with each verdict as soon as it is known, so a match can start before the rest are read. */
  onVerdict?: (found: DiscoveredCandidate) => void
  /** Evaluate and return every candidate, even those not subscribed (a dry run's plan shows them all). */
  every?: boolean
}

export interface DiscoveryOutcome {
  /** Verdicts to record (or every verdict, with `every`), in candidate order. */
  candidates: DiscoveredCandidate[]
  counts: FanOutCounts
  warnings: string[]
  /** Candidates listed (those that could not even be listed are in `counts.error` only). */
  listed: number
}

/** Everything known about one list of candidates (the source's plus one `repos:` list). */
interface Listing {
  candidates: Candidate[]
  problems: Problem[]
  /** Once every candidate was read: candidate indexes by subscription key, and the unreadable ones. */
  index?: { subscribers: Map<string, number[]>; unreadable: number[] }
  /** Settles once the first fan-out over this list has read every candidate and built the index. */
  indexed?: Promise<void>
}

const READ_CONCURRENCY = 8

export class Discovery {
  private readonly configs = new Map<string, Promise<ConfigRead>>()
  private readonly reads = pLimit(READ_CONCURRENCY)
  private readonly listings = new Map<string, Promise<Listing>>()
  /** Verdicts of candidates that subscribe to an event, by event and candidate (the others are only counted). */
  private readonly matched = new Map<string, MatchResult>()
  /** Keys of what the tree has recorded (and warned about) already. */
  private readonly recorded = new Set<string>()

  constructor(private readonly source: RepositorySource) {}

  /** Every verdict worth recording; filter errors and unreadable candidates come back (once) as warnings too. */
  async discover(event: TakoEvent, declared: string[], signal: AbortSignal, opts: DiscoverOptions = {}): Promise<DiscoveryOutcome> {
    const warnings: string[] = []
    const listing = await this.listing(declared)
    const counts: FanOutCounts = { candidates: listing.candidates.length + listing.problems.length, matched: 0, no_match: 0, no_subscription: 0, error: 0 }
    // Kept with their position, sorted at the end: a nested fan-out keeps a few of many, and a sparse array would
    // still be walked in full.
    const kept: Array<{ i: number; found: DiscoveredCandidate }> = []
    const emit = (i: number, found: DiscoveredCandidate): void => {
      counts[found.entry.result]++
      if (found.record || opts.every) kept.push({ i, found })
      opts.onVerdict?.(found)
    }
    listing.problems.forEach((p, i) => {
      const record = this.firstTime(`problem|${p.repository}|${p.reason}`)
      if (record) warnings.push(`${p.repository}: ${p.reason}`)
      emit(i, {
        candidate: { repository: p.repository, ref: p.ref },
        entry: { repository: p.repository, ref: p.ref, result: 'error', reason: p.reason, event_type: event.type },
        matches: [],
        record
      })
    })
    const offset = listing.problems.length
    const key = eventKey(event)
    const judge = (i: number, read: ConfigRead): void => emit(offset + i, this.verdict(listing.candidates[i], read, event, key, warnings))

    // A fan-out that comes while the first one is still reading (its matches start as soon as their verdicts are
    // known, and may fan out again) waits for the index rather than judge every candidate a second time.
    if (!listing.index && listing.indexed && !opts.every) await listing.indexed
    if (listing.index && !opts.every) {
      // Everything was read before: visit the subscribers of this event and the unreadable, count the others.
      const visit = [...(listing.index.subscribers.get(subscriptionKey(event.source, event.artifact, event.type)) ?? []), ...listing.index.unreadable]
      for (const i of visit) judge(i, await this.read(listing.candidates[i], signal))
      counts.no_subscription += listing.candidates.length - visit.length
    } else {
      this.readAhead(listing.candidates, signal)
      const reads = listing.candidates.map((candidate, i) =>
        this.read(candidate, signal).then((read) => {
          judge(i, read)
          return read
        })
      )
      const all = Promise.all(reads)
      listing.indexed ??= all.then((read) => {
        listing.index ??= indexOf(read)
      })
      await all
      await listing.indexed
    }
    return { candidates: kept.sort((a, b) => a.i - b.i).map((k) => k.found), counts, warnings, listed: listing.candidates.length }
  }

  /** The warning of a fan-out that found no candidate at all: where it looked and the layout it expects. */
  nothingFound(event: TakoEvent): string {
    const where = this.source.describe?.() ?? 'the repositories given to the run and the repos: key'
    return `fan-out ${event.type} found no candidate repositories (looked in ${where})`
  }

  /** The listing for one `repos:` list, asked of the source once per tree. */
  private listing(declared: string[]): Promise<Listing> {
    const key = JSON.stringify(declared)
    let pending = this.listings.get(key)
    if (!pending) {
      pending = this.source.list(declared).then((l) => ({ candidates: l.candidates, problems: l.problems }))
      this.listings.set(key, pending)
      pending.catch(() => this.listings.delete(key))
    }
    return pending
  }

  private verdict(candidate: Candidate, read: ConfigRead, event: TakoEvent, eventKey: string, warnings: string[]): DiscoveredCandidate {
    const base = { repository: candidate.repository, ref: candidate.ref, event_type: event.type }
    const problem = (result: 'no_subscription' | 'error', reason: string, warning: string): DiscoveredCandidate => {
      // A candidate that cannot be read is the same problem for every event: said once per tree.
      const record = this.firstTime(`candidate|${keyOf(candidate)}`)
      if (record) warnings.push(warning)
      return { candidate, matches: [], record, entry: { ...base, result, reason } }
    }
    if (read.kind === 'none')
      return problem('no_subscription', 'has no tako.yml', `${candidate.repository} skipped: it has no tako.yml${candidate.ref ? ` at ${candidate.ref}` : ''}`)
    if (read.kind === 'error') return problem('error', read.reason, `${candidate.repository} skipped: ${read.reason}`)
    if (read.note && this.firstTime(`note|${keyOf(candidate)}`)) warnings.push(`${candidate.repository}: ${read.note}`)
    // The same event emitted again (two runs of one publisher workflow) reuses the verdict: evaluated once per tree.
    const verdictKey = `${eventKey}\n${keyOf(candidate)}`
    let match = this.matched.get(verdictKey)
    if (!match) {
      match = matchSubscriptions(read.config, event)
      if (match.subscribed) this.matched.set(verdictKey, match)
    }
    if (match.matches.length > 0) {
      const reason = match.matches.map((m) => `subscription ${m.index} → workflow ${m.subscription.workflow}`).join('; ')
      for (const e of match.filterErrors) warnings.push(`${candidate.repository}: ${e}`)
      return { candidate, matches: match.matches, config: read.config, record: true, entry: { ...base, result: 'matched', reason } }
    }
    if (!match.subscribed) {
      const reason = read.config.subscriptions.length === 0 ? 'has no subscriptions' : `not subscribed to ${event.type} from ${event.source}:${event.artifact}`
      const meant = guessedSource(read.config, event)
      if (meant && this.firstTime(`meant|${keyOf(candidate)}|${meant}`)) {
        warnings.push(`${candidate.repository} subscribes to ${meant}, not ${event.source}: did you mean \`--source ${meant}\`?`)
      }
      return { candidate, matches: [], record: false, entry: { ...base, result: 'no_subscription', reason } }
    }
    // ... and, when it rules the candidate out, recorded once.
    const record = this.firstTime(`verdict\n${verdictKey}`)
    if (record) for (const e of match.filterErrors) warnings.push(`${candidate.repository}: ${e}`)
    return { candidate, matches: [], record, entry: { ...base, result: 'no_match', reason: match.misses.join('; ') } }
  }

  private firstTime(key: string): boolean {
    if (this.recorded.has(key)) return false
    this.recorded.add(key)
    return true
  }

  /** A source that reads many candidates in one go (local checkouts, GraphQL) gets every unread one at once. */
  private readAhead(candidates: Candidate[], signal: AbortSignal): void {
    if (!this.source.readConfigs) return
    const unread = candidates.filter((c) => !this.configs.has(keyOf(c)))
    if (unread.length === 0) return
    const { readConfigs } = this.source
    const settle = (candidate: Candidate, file: TakoFileRead | null | Error | undefined): ConfigRead =>
      file === undefined ? { kind: 'error', reason: `${candidate.repository}: the source gave no answer` } : interpret(candidate, file)
    // Each candidate's read settles as soon as its own answer is in: a source may answer in parts (see readConfigs).
    const waiting = new Map<number, (read: ConfigRead) => void>()
    unread.forEach((candidate, i) => this.configs.set(keyOf(candidate), new Promise<ConfigRead>((resolve) => waiting.set(i, resolve))))
    const deliver = (i: number, file: TakoFileRead | null | Error): void => {
      waiting.get(i)?.(settle(unread[i], file))
      waiting.delete(i)
    }
    readConfigs.call(this.source, unread, signal, deliver).then(
      (files) => files.forEach((file, i) => deliver(i, file)),
      (error: unknown) => {
        for (const i of [...waiting.keys()]) deliver(i, new Error(messageOf(error)))
      }
    )
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

/** Which candidates subscribe to which (source, artifact, event type), from every candidate's read. */
function indexOf(reads: ConfigRead[]): NonNullable<Listing['index']> {
  const subscribers = new Map<string, number[]>()
  const unreadable: number[] = []
  reads.forEach((read, i) => {
    if (read.kind !== 'ok') {
      unreadable.push(i)
      return
    }
    const keys = new Set<string>()
    for (const sub of read.config.subscriptions) for (const type of sub.events) keys.add(subscriptionKey(sub.repository, sub.artifact, type))
    for (const key of keys) {
      const list = subscribers.get(key)
      if (list) list.push(i)
      else subscribers.set(key, [i])
    }
  })
  return { subscribers, unreadable }
}

function subscriptionKey(source: string, artifact: string, type: string): string {
  return `${source.toLowerCase()}\n${artifact}\n${type}`
}

function eventKey(event: TakoEvent): string {
  return JSON.stringify([event.type, event.source.toLowerCase(), event.artifact, event.schema_version ?? null, event.payload])
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
