// Dispatch mode (SPEC 7): each child runs as a `workflow_dispatch` run in its own repository. WorkflowDispatcher
// starts that run, polls it (conditional requests, backoff, sharing the rate-limit budget), cancels it on the deadline
// and reports it. HTTP, retries and GitHub's rate-limit answers are the shared Octokit's (src/github/octokit.ts).

import { setTimeout as delay } from 'node:timers/promises'
import { createOctokit, isRateLimited, URGENT, type Octokit } from './octokit.js'
import type { ChildDispatcher, DispatchOutcome, DispatchRequest } from '../engine/child-dispatcher.js'
import { abortStatus } from '../engine/run-scope.js'
import type { ChildError } from '../engine/types.js'

/** Time as the dispatcher sees it; injected so tests can play minutes of polling in milliseconds. */
export interface Clock {
  now(): number
  /** Resolves after `ms`, or early when `signal` fires; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined)
}

export interface PollSettings {
  /** Wait after the first look at a run; grows by half each time. */
  initialMs: number
  maxMs: number
  /** How long to look for a run by its name when the server does not return it (older GitHub Enterprise Server). */
  findForMs: number
}

export const DEFAULT_POLL: PollSettings = { initialMs: 5_000, maxMs: 30_000, findForMs: 120_000 }

export interface WorkflowDispatcherOptions {
  /** The action's one Octokit (GITHUB_API_URL, the token, retry and throttling). */
  octokit: Octokit
  /** File name of the child workflow in each subscriber, under .github/workflows/. */
  workflowFile: string
  /** This run's page, handed to each child as its `parent-run` input. */
  parentRunUrl: string
  /** Run id of this tree: with the child id it makes the `tako-id` that names the remote run. */
  runId: string
  warn(message: string): void
  /** A run was created in a subscriber (the action records it, so its post step can cancel it if this step dies). */
  onRunStarted?(run: DispatchedRun): void
  /** That run completed, or was cancelled: nothing is left to cancel. */
  onRunEnded?(run: DispatchedRun): void
  clock?: Clock
  poll?: Partial<PollSettings>
}

/** The workflow_dispatch inputs the child workflow must declare (see docs/dispatch.md). */
export const CHILD_WORKFLOW_INPUTS = ['workflow', 'inputs', 'event', 'parent-run', 'tako-id'] as const

const LOG_TAIL_LINES = 30
const LOG_WINDOW_BYTES = 256 * 1024
const REQUEST_TIMEOUT_MS = 30_000
/** A cancellation goes out at once and gives up after this: the run is being stopped, nothing waits for it. Well
    under the 7.5 s between a runner's SIGINT and SIGTERM when a job is cancelled; all go out in parallel. */
export const CANCEL_TIMEOUT_MS = 4_000
/** Consecutive failed looks at a run (network errors, 5xx) before giving up on it. */
const MAX_POLL_FAILURES = 5
/** Below this many requests left, polling slows down to spread what is left until the reset. */
const LOW_BUDGET = 100

interface WorkflowRun {
  id: number
  name?: string | null
  display_title?: string
  status: string | null
  conclusion: string | null
  html_url: string
}

interface Job {
  id: number
  name: string
  conclusion: string | null
  steps?: Array<{ name: string; conclusion: string | null; number: number }>
}

interface ApiResponse {
  status: number
  headers: Record<string, string | number | undefined>
  body: unknown
}

/** An answer of the API that ends what was being tried, with GitHub's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    apiMessage: string,
    /** "Too many requests" that outlasted the Octokit's waits: not a permission problem. */
    readonly rateLimited = false
  ) {
    super(`HTTP ${status}${apiMessage ? `: ${apiMessage}` : ''}`)
  }
}

/** A request given up while it waited for the rate limit, before it was sent. */
class NotSent extends Error {}

interface StartedRun {
  id: number
  url: string
}

/** A run started in a subscriber repository, as recorded for the post step. */
export interface DispatchedRun {
  repository: string
  id: number
  url: string
}

/** Sends the cancellation of every run at once, each bounded by CANCEL_TIMEOUT_MS; says how each went. */
export async function cancelRuns(
  opts: { apiUrl: string; token: string },
  runs: DispatchedRun[]
): Promise<Array<{ run: DispatchedRun; stopped: boolean; note: string }>> {
  const api = new GitHubApi(createOctokit({ token: opts.token, baseUrl: opts.apiUrl }), systemClock)
  return Promise.all(runs.map(async (run) => ({ run, ...(await cancelRun(api, run)) })))
}

async function cancelRun(api: GitHubApi, run: DispatchedRun): Promise<{ stopped: boolean; note: string }> {
  try {
    const res = await api.request('POST', `/repos/${run.repository}/actions/runs/${run.id}/cancel`, {
      signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
      urgent: true
    })
    if (res.status === 202 || res.status === 200) return { stopped: true, note: 'the run was cancelled on GitHub' }
    if (res.status === 409) return { stopped: true, note: 'the run had already completed on GitHub' }
    return { stopped: false, note: `could not cancel the run on GitHub (${apiError(res).message}); it may still be running` }
  } catch (error) {
    return { stopped: false, note: `could not cancel the run on GitHub (${errorText(error)}); it may still be running` }
  }
}

export class WorkflowDispatcher implements ChildDispatcher {
  private readonly api: GitHubApi
  private readonly clock: Clock
  private readonly poll: PollSettings
  private readonly defaultBranches = new Map<string, Promise<string>>()
  private warnedFallback = false
  /** Runs being polled right now: they share the rate-limit budget. */
  private active = 0

  constructor(private readonly opts: WorkflowDispatcherOptions) {
    this.clock = opts.clock ?? systemClock
    this.poll = { ...DEFAULT_POLL, ...opts.poll }
    this.api = new GitHubApi(opts.octokit, this.clock)
  }

  async dispatch(req: DispatchRequest): Promise<DispatchOutcome> {
    let run: StartedRun | undefined
    try {
      run = await this.start(req)
    } catch (error) {
      if (error instanceof NotSent && req.signal.aborted) return aborted(req.signal, 'the run was not dispatched')
      return { status: 'failure', error: { kind: 'dispatch_failed', message: this.dispatchFailure(req, error) } }
    }
    if (!run) {
      if (req.signal.aborted) return aborted(req.signal, 'the dispatched run was not found yet, so it could not be cancelled')
      return {
        status: 'failure',
        error: {
          kind: 'dispatch_failed',
          message: `${req.candidate.repository}: dispatched ${this.opts.workflowFile} but found no run named with tako-id ${this.takoId(req)} within ${Math.round(this.poll.findForMs / 1000)}s: the workflow must set \`run-name\` to include \${{ inputs.tako-id }} (see docs/dispatch.md)`
        }
      }
    }
    const recorded = { repository: req.candidate.repository, id: run.id, url: run.url }
    this.opts.onRunStarted?.(recorded)
    this.active++
    try {
      return await this.await(req, run, () => this.opts.onRunEnded?.(recorded))
    } finally {
      this.active--
    }
  }

  private takoId(req: DispatchRequest): string {
    return `${this.opts.runId}.${req.childId}`
  }

  private workflowPath(repository: string): string {
    return `/repos/${repository}/actions/workflows/${encodeURIComponent(this.opts.workflowFile)}`
  }

  /** Starts the run; undefined when it was started but could not be found (older servers only). */
  private async start(req: DispatchRequest): Promise<StartedRun | undefined> {
    const repository = req.candidate.repository
    const ref = req.candidate.ref || (await unlessAborted(this.defaultBranch(repository), req.signal))
    const inputs: Record<string, string> = {
      workflow: req.workflow,
      inputs: JSON.stringify(req.inputs),
      event: JSON.stringify(req.event),
      'parent-run': this.opts.parentRunUrl,
      'tako-id': this.takoId(req)
    }
    const url = `${this.workflowPath(repository)}/dispatches`
    // The dispatch itself is not aborted midway (a run the server created must be known so it can be cancelled);
    // only the wait for the rate limit before it is.
    const since = this.clock.now()
    const res = await this.api.request('POST', url, { body: { ref, inputs, return_run_details: true }, waitSignal: req.signal })
    if (res.status === 200) {
      const details = res.body as { workflow_run_id?: number; html_url?: string }
      if (typeof details.workflow_run_id === 'number') {
        return { id: details.workflow_run_id, url: details.html_url ?? '' }
      }
    }
    if (res.status === 204) {
      this.warnFallback(repository, 'did not return the dispatched run')
      return this.findRun(req, since)
    }
    if (res.status === 422 && /return_run_details/.test(messageOf(res.body))) {
      this.warnFallback(repository, 'refused return_run_details')
      const again = await this.api.request('POST', url, { body: { ref, inputs }, waitSignal: req.signal })
      if (again.status !== 204 && again.status !== 200) throw apiError(again)
      return this.findRun(req, since)
    }
    throw apiError(res)
  }

  private warnFallback(repository: string, what: string): void {
    if (this.warnedFallback) return
    this.warnedFallback = true
    this.opts.warn(
      `dispatch mode: the GitHub API ${what} (older GitHub Enterprise Server?) when dispatching in ${repository}; each dispatched run is found instead by the tako-id in its run name, which the child workflow must show with \`run-name: ... \${{ inputs.tako-id }}\``
    )
  }

  /** Asked once per repository for all its children; a failed lookup is forgotten, so the next child asks again. */
  private defaultBranch(repository: string): Promise<string> {
    let branch = this.defaultBranches.get(repository)
    if (!branch) {
      const lookup = this.api.request('GET', `/repos/${repository}`).then((res) => {
        const name = (res.body as { default_branch?: string } | undefined)?.default_branch
        if (res.status !== 200 || !name) throw apiError(res)
        return name
      })
      lookup.catch(() => {
        if (this.defaultBranches.get(repository) === lookup) this.defaultBranches.delete(repository)
      })
      this.defaultBranches.set(repository, lookup)
      branch = lookup
    }
    return branch
  }

  /** Lists recent dispatched runs of the workflow until one's name has our tako-id as a word of its own
      (`<run>.web-1` must not find the run of `<run>.web-10`). */
  private async findRun(req: DispatchRequest, since: number): Promise<StartedRun | undefined> {
    const takoId = this.takoId(req)
    // A minute of slack for clock skew between this runner and the server.
    const created = new Date(since - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const query = `?event=workflow_dispatch&created=${encodeURIComponent(`>=${created}`)}&per_page=100`
    const until = this.clock.now() + this.poll.findForMs
    for (;;) {
      const res = await this.api.request('GET', `${this.workflowPath(req.candidate.repository)}/runs${query}`)
      if (res.status !== 200) throw apiError(res)
      const runs = (res.body as { workflow_runs?: WorkflowRun[] }).workflow_runs ?? []
      const named = (text: string | null | undefined): boolean => (text ?? '').split(/\s+/).includes(takoId)
      const run = runs.find((r) => named(r.display_title) || named(r.name))
      // One more look after an abort, so a run that exists can still be cancelled.
      if (run) return { id: run.id, url: run.html_url }
      if (req.signal.aborted || this.clock.now() >= until) return undefined
      await this.clock.sleep(this.poll.initialMs, req.signal)
    }
  }

  private async await(req: DispatchRequest, run: StartedRun, ended: () => void): Promise<DispatchOutcome> {
    const path = `/repos/${req.candidate.repository}/actions/runs/${run.id}`
    let etag: string | undefined
    let last: WorkflowRun | undefined
    let wait = this.poll.initialMs
    let failures = 0
    for (;;) {
      if (req.signal.aborted) return this.cancel(req, run, ended)
      try {
        const res = await this.api.request('GET', path, { etag, signal: req.signal })
        if (res.status === 200) {
          last = res.body as WorkflowRun
          etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined
          if (last.html_url) run.url = last.html_url
        } else if (res.status !== 304) {
          throw apiError(res)
        }
        failures = 0
        if (last?.status === 'completed') {
          ended()
          return this.conclude(req, run, last)
        }
      } catch (error) {
        if (req.signal.aborted) continue
        if (!isTransient(error) || ++failures >= MAX_POLL_FAILURES) {
          return {
            status: 'failure',
            url: run.url,
            error: {
              kind: 'dispatch_failed',
              message: `lost track of the dispatched run in ${req.candidate.repository} (${errorText(error)}); it may still be running`
            }
          }
        }
      }
      await this.clock.sleep(this.api.spread(wait, this.active), req.signal)
      wait = Math.min(this.poll.maxMs, Math.round(wait * 1.5))
    }
  }

  /** Stops the remote run before reporting, so nothing keeps running past a deadline or a cancellation. */
  private async cancel(req: DispatchRequest, run: StartedRun, ended: () => void): Promise<DispatchOutcome> {
    const { stopped, note } = await cancelRun(this.api, { repository: req.candidate.repository, id: run.id, url: run.url })
    if (stopped) ended()
    return { ...aborted(req.signal, note), url: run.url }
  }

  private async conclude(req: DispatchRequest, run: StartedRun, final: WorkflowRun): Promise<DispatchOutcome> {
    const url = run.url
    const conclusion = final.conclusion ?? 'unknown'
    switch (conclusion) {
      case 'success':
      case 'neutral':
        return { status: 'success', url }
      case 'failure':
        return { status: 'failure', url, error: await this.failedJob(req, run, 'step_failed', 'failed') }
      case 'timed_out':
        return { status: 'timed_out', url, error: await this.failedJob(req, run, 'timed_out', 'timed out') }
      case 'cancelled':
        return { status: 'cancelled', url, error: { kind: 'cancelled', message: 'the run was cancelled on GitHub' } }
      case 'stale':
        return { status: 'cancelled', url, error: { kind: 'cancelled', message: 'GitHub marked the run stale before it finished' } }
      case 'action_required':
        return {
          status: 'failure',
          url,
          error: { kind: 'dispatch_failed', message: 'the run needs someone to approve it on GitHub (conclusion action_required)' }
        }
      case 'startup_failure':
        return {
          status: 'failure',
          url,
          error: {
            kind: 'dispatch_failed',
            message: `the run failed to start (startup_failure): check .github/workflows/${this.opts.workflowFile} in ${req.candidate.repository}`
          }
        }
      case 'skipped':
        return { status: 'failure', url, error: { kind: 'dispatch_failed', message: 'every job of the run was skipped: the child workflow did not run' } }
      default:
        return { status: 'failure', url, error: { kind: 'dispatch_failed', message: `the run ended with conclusion "${conclusion}"` } }
    }
  }

  /** Names the first failed job and step, with the tail of that job's log when it can be read. */
  private async failedJob(req: DispatchRequest, run: StartedRun, kind: ChildError['kind'], verb: string): Promise<ChildError> {
    const repository = req.candidate.repository
    let jobs: Job[] = []
    try {
      const res = await this.api.request('GET', `/repos/${repository}/actions/runs/${run.id}/jobs?filter=latest&per_page=100`)
      if (res.status === 200) jobs = (res.body as { jobs?: Job[] }).jobs ?? []
    } catch {
      // Naming the job is a courtesy: the run's own page has it.
    }
    const bad = (c: string | null): boolean => c === 'failure' || c === 'timed_out' || c === 'cancelled'
    const job = jobs.find((j) => bad(j.conclusion))
    if (!job) return { kind, message: `the run ${verb}` }
    const step = job.steps?.find((s) => bad(s.conclusion))
    const error: ChildError = { kind, message: step ? `job "${job.name}" ${verb} at step "${step.name}"` : `job "${job.name}" ${verb}`, exit_code: null }
    if (step) error.step = step.name
    const tail = await this.logTail(repository, job.id)
    if (tail) error.log_tail = tail
    return error
  }

  private async logTail(repository: string, jobId: number): Promise<string | undefined> {
    try {
      const text = await this.api.text(`/repos/${repository}/actions/jobs/${jobId}/logs`, LOG_WINDOW_BYTES)
      return text === undefined ? undefined : jobLogTail(text)
    } catch {
      return undefined
    }
  }

  private dispatchFailure(req: DispatchRequest, error: unknown): string {
    const repository = req.candidate.repository
    const file = this.opts.workflowFile
    const said = error instanceof ApiError ? `GitHub said: ${error.message}` : errorText(error)
    const permission = `the token needs \`actions: write\` on ${repository} (a workflow's GITHUB_TOKEN cannot dispatch workflows in other repositories: use a GitHub App or fine-grained token)`
    if (error instanceof ApiError) {
      if (error.rateLimited) {
        return `cannot dispatch ${file} in ${repository}: GitHub's rate limit still refused the dispatch after waiting (${said}); re-run later, or dispatch fewer children at once (max-concurrency)`
      }
      if (error.status === 401) return `cannot dispatch ${file} in ${repository}: the token was rejected (${said})`
      if (error.status === 403) return `cannot dispatch ${file} in ${repository}: ${permission} (${said})`
      if (error.status === 404) {
        return `cannot dispatch ${file} in ${repository}: the repository or .github/workflows/${file} on ${req.candidate.ref || 'its default branch'} was not found, or ${permission} (${said})`
      }
      if (error.status === 422) {
        return `cannot dispatch ${file} in ${repository} (${said}): the workflow needs \`on: workflow_dispatch\` with the inputs ${CHILD_WORKFLOW_INPUTS.join(', ')} on the ref ${req.candidate.ref || '(default branch)'} (see docs/dispatch.md)`
      }
    }
    return `cannot dispatch ${file} in ${repository}: ${said}`
  }
}

/** Settles as `promise` does, or rejects with NotSent once `signal` fires; a lookup shared with other children goes on. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new NotSent())
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(new NotSent())
    signal.addEventListener('abort', stop, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop))
  })
}

function aborted(signal: AbortSignal, note: string): DispatchOutcome {
  const status = abortStatus(signal)
  const reason = (signal.reason as { message?: string } | undefined)?.message ?? status
  return { status, error: { kind: status, message: `${reason}; ${note}` } }
}

/** The end of a job log without runner timestamps and without the post-job cleanup that follows the failure. */
export function jobLogTail(text: string, lines = LOG_TAIL_LINES): string {
  const all = text
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.replace(/^\uFEFF?\d{4}-\d\d-\d\dT[\d:.]+Z ?/, ''))
  const cleanup = all.findIndex((l) => l === 'Post job cleanup.' || l.startsWith('Cleaning up orphan processes'))
  const kept = (cleanup >= 0 ? all.slice(0, cleanup) : all).filter((l, i, list) => l !== '' || i < list.length - 1)
  return kept.slice(-lines).join('\n')
}

function messageOf(body: unknown): string {
  return typeof body === 'object' && body && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : ''
}

function apiError(res: ApiResponse): ApiError {
  const message = messageOf(res.body) || (typeof res.body === 'string' ? res.body.slice(0, 200) : '')
  return new ApiError(res.status, message, isRateLimited(res.status, res.headers, message))
}

function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 500 || error.rateLimited
  return true
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message
  const cause = (error as { cause?: { message?: string } }).cause?.message
  const message = error instanceof Error ? error.message : String(error)
  return cause ? `${message}: ${cause}` : message
}

/** The REST calls of dispatch mode over the shared Octokit, which retries transient failures and waits out GitHub's
    "too many requests" answers (retry-after, secondary limits). What stays here is what no plugin does: keeping
    this run's pollers within the budget the headers announce, and making every wait abortable by the child's signal. */
class GitHubApi {
  private remaining: number | undefined
  private resetAt = 0

  constructor(
    private readonly octokit: Octokit,
    private readonly clock: Clock
  ) {}

  /**
   * One call, answered whatever its status (an error status comes back as a response, not thrown). Waits out an
   * exhausted budget (x-ratelimit-remaining 0 until x-ratelimit-reset) on the dispatcher's clock before sending.
   * `signal` aborts the call and its waits; `waitSignal` only the waits before it is sent, throwing NotSent when one is
   * cut short (once sent, the call is awaited). An `urgent` call neither waits nor retries.
   */
  async request(
    method: string,
    path: string,
    opts: { body?: unknown; etag?: string; signal?: AbortSignal; waitSignal?: AbortSignal; urgent?: boolean } = {}
  ): Promise<ApiResponse> {
    const waitSignal = opts.signal ?? opts.waitSignal
    if (!opts.urgent) await this.waitForBudget(waitSignal)
    if (waitSignal?.aborted) throw new NotSent()
    let sent = false
    let refused = false
    /** Set while the caller waits: gives up on the call when the child was stopped and nothing is in flight. */
    let recheck = (): void => undefined
    const base = (this.octokit.request.endpoint.DEFAULTS.request?.fetch as typeof fetch | undefined) ?? fetch
    // The Octokit may hold a request back (spaced writes, a rate-limit wait) before it reaches fetch: past an abort,
    // what was not sent yet never is.
    const gatedFetch = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (waitSignal?.aborted) {
        refused = true
        // An AbortError is one the retry plugin does not retry.
        return Promise.reject(new DOMException('not sent: the child was stopped first', 'AbortError'))
      }
      sent = true
      // A 4xx (a rate limit among them) was not acted on: the wait before the plugin's retry is abortable again.
      return base(url, init).then((res) => {
        if (res.status >= 400 && res.status < 500) {
          sent = false
          recheck()
        }
        return res
      })
    }
    const call = this.octokit
      .request(`${method} ${path}`, {
        ...(opts.body as Record<string, unknown> | undefined),
        headers: opts.etag ? { 'if-none-match': opts.etag } : {},
        // A dispatch is no idempotent write (a retry after a 502 could start a second run): only rate limits, which the
        // server did not act on, are retried. A cancellation goes out now or not at all.
        request: { fetch: gatedFetch, signal: timeoutSignal(opts.signal), ...(opts.urgent ? URGENT : method === 'GET' ? {} : { retries: 0 }) }
      })
      .then(
        (res) => ({ status: res.status, headers: res.headers as ApiResponse['headers'], body: res.data as unknown }),
        (error: unknown) => {
          const answer = (error as { status?: number; response?: { headers: ApiResponse['headers']; data: unknown } }).response
          if (answer && typeof (error as { status?: unknown }).status === 'number')
            return { status: (error as { status: number }).status, headers: answer.headers, body: answer.data }
          throw refused ? new NotSent() : error
        }
      )
    const res = waitSignal
      ? await new Promise<ApiResponse>((resolve, reject) => {
          // Checked when the child is stopped, and again when an answer says the server did nothing (a stop that came
          // while the request was in flight).
          recheck = () => {
            if (waitSignal.aborted && (opts.signal !== undefined || !sent)) reject(new NotSent())
          }
          recheck()
          waitSignal.addEventListener('abort', recheck, { once: true })
          call.then(resolve, reject).finally(() => waitSignal.removeEventListener('abort', recheck))
        })
      : await call
    this.track(res.headers)
    return res
  }

  /** The end of a plain-text download (the API answers with a redirect, which fetch follows), at most `maxBytes`. */
  async text(path: string, maxBytes: number): Promise<string | undefined> {
    const res = await this.octokit.request(`GET ${path}`, { request: { signal: timeoutSignal(), parseSuccessResponseBody: false } }).catch(() => undefined)
    const body = res?.data as ReadableStream<Uint8Array> | undefined
    if (res?.status !== 200 || !body) {
      await body?.cancel?.()
      return undefined
    }
    let window = Buffer.alloc(0)
    for await (const chunk of body) {
      window = Buffer.concat([window, chunk])
      if (window.length > 2 * maxBytes) window = window.subarray(window.length - maxBytes)
    }
    return window.subarray(Math.max(0, window.length - maxBytes)).toString('utf8')
  }

  /** A poll interval stretched so `active` pollers together stay within what is left of the budget until its reset. */
  spread(waitMs: number, active: number): number {
    if (this.remaining === undefined || this.remaining >= LOW_BUDGET) return waitMs
    const untilReset = Math.max(0, this.resetAt - this.clock.now())
    return Math.max(waitMs, Math.ceil((untilReset / Math.max(1, this.remaining)) * Math.max(1, active)))
  }

  private track(headers: ApiResponse['headers']): void {
    const remaining = String(headers['x-ratelimit-remaining'] ?? '')
    const reset = String(headers['x-ratelimit-reset'] ?? '')
    if (/^\d+$/.test(remaining)) this.remaining = Number(remaining)
    if (/^\d+$/.test(reset)) this.resetAt = Number(reset) * 1000
  }

  private async waitForBudget(signal?: AbortSignal): Promise<void> {
    if (this.remaining !== 0 || this.resetAt <= this.clock.now()) return
    await this.clock.sleep(this.resetAt - this.clock.now() + 1000, signal)
    this.remaining = undefined
  }
}

function timeoutSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  return signal ? AbortSignal.any([signal, timeout]) : timeout
}
