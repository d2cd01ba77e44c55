// Identity and shared machinery of one run in the tree (the root run or a child), handed to step executors.

import { randomBytes } from 'node:crypto'
import type { LimitFunction } from 'p-limit'
import { setLongTimeout } from './timers.js'
import type { TakoConfig } from '../config/types.js'
import type { ChildDispatcher, ChildMode } from './child-dispatcher.js'
import type { WorkspaceReaper } from './reaper.js'
import type { StepReport, ChildReport, DiscoveryEntry, PullRequestRecord } from './types.js'

/** Why an AbortSignal fired: a deadline (-> timed_out) or a cancellation (-> cancelled). */
export class DeadlineReason {
  constructor(readonly message: string) {}
}
export class CancelReason {
  constructor(readonly message: string) {}
}

export function abortStatus(signal: AbortSignal): 'timed_out' | 'cancelled' {
  return signal.reason instanceof DeadlineReason ? 'timed_out' : 'cancelled'
}

/** What a fired signal says about why. */
export function abortReason(signal: AbortSignal): string {
  return (signal.reason as { message?: string } | undefined)?.message ?? 'cancelled'
}

/** A signal that fires with a DeadlineReason after `ms`, or when `parent` fires. */
export function withDeadline(parent: AbortSignal, ms: number | undefined, what: string): { signal: AbortSignal; dispose(): void } {
  if (ms === undefined) return { signal: parent, dispose: () => {} }
  const controller = new AbortController()
  const timer = setLongTimeout(() => controller.abort(new DeadlineReason(`${what} timed out after ${formatMs(ms)}`)), ms)
  const onAbort = (): void => controller.abort(parent.reason)
  if (parent.aborted) onAbort()
  else parent.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    dispose: () => {
      timer.clear()
      parent.removeEventListener('abort', onAbort)
    }
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const s = ms / 1000
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  const rest = Math.round(s - m * 60)
  return rest ? `${m}m${rest}s` : `${m}m`
}

/** Run ids look like exec-20261124-143022-a7b3c1d2 (UTC time and 8 hex). */
export function newRunId(now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
  return `exec-${date}-${time}-${randomBytes(4).toString('hex')}`
}

/** Receives what happens in every run of the tree; the CLI and the action render it. */
export interface RunObserver {
  stepStarted?(run: RunLabel, step: { id: string; name: string }): void
  output?(run: RunLabel, chunk: string, stream: 'stdout' | 'stderr'): void
  stepFinished?(run: RunLabel, step: StepReport): void
  childFinished?(child: ChildReport): void
  /** A row of the report's discovery: a fan-out's summary, a match, or a verdict or problem seen first here. */
  discovered?(entry: DiscoveryEntry): void
  /** Every verdict of a fan-out as soon as it is known, recorded or not (not kept: there are fan-outs × candidates). */
  considered?(entry: DiscoveryEntry): void
  warning?(message: string): void
}

export interface RunLabel {
  /** '' for the root run, else the child id. */
  id: string
  repository: string
  workflow: string
  /** For a child: the id of the run that fanned out to it ('' for the root run). */
  parentId?: string
  /** For a child: the event it runs for, as its report shows it. */
  event?: ChildReport['event']
}

/** Everything of the tree that outlives one run: the run root, limits, the collected report parts. */
export interface TreeState {
  runId: string
  runRoot: string
  /** This engine run's own scratch folder (see scratch.ts); each run of the tree has a folder in it. */
  scratchDir: string
  cacheDir: string
  /** Global limit of runs executing steps at once (SPEC 2.5). */
  stepSlots: LimitFunction
  /** Checkouts running at once across the tree (each spawns git and, remotely, fetches). */
  checkoutSlots: LimitFunction
  observer: RunObserver
  children: ChildReport[]
  discovery: DiscoveryEntry[]
  warnings: string[]
  maxDepth: number
  /** Hands out readable, unique child ids. */
  childIds: Map<string, number>
  keepWorkspaces: 'all' | 'failed' | 'none'
  /** Outcomes of an earlier attempt, keyed by child fingerprint, to reuse instead of re-running. */
  reuse?: Map<string, ChildReport>
  /** Environment every step starts from (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv
  /** Removes the workspaces and scratch folders of finished children. */
  reaper: WorkspaceReaper
  /** Where children run unless their subscription says `runs_on`. */
  defaultMode: ChildMode
  dispatcher?: ChildDispatcher
  /** What each run's tako/pull-request@v1 steps proposed, by run id ('' for the root run). */
  pullRequests?: Map<string, PullRequestRecord[]>
}

export interface Ancestor {
  repository: string
  workflow: string
}

/** One run in the tree, as step executors see it. */
export interface RunScope {
  tree: TreeState
  /** The tako.yml of the repository this run executes. */
  config: TakoConfig
  label: RunLabel
  /** Checkout the run's steps execute in. */
  workspace: string
  /** Private scratch folder of this run (script files, TAKO_OUTPUT files). */
  tempDir: string
  /** Chain from the root run down to this run, this run included. */
  ancestors: Ancestor[]
  depth: number
  /** Promises of fan-outs that did not wait; the run awaits them before it ends. */
  background: Array<Promise<BackgroundOutcome>>
}

export interface BackgroundOutcome {
  stepId: string
  failed: boolean
  continueOnError: boolean
  message: string
}
