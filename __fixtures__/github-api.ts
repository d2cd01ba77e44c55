// Stateful loopback fake of the GitHub REST endpoints dispatch mode uses: repository, workflow dispatch, runs (with
// ETag/304 and rate-limit headers), jobs, job logs, cancel, and the run list of older servers; plus a simulated clock.
// Also the pull-request endpoints tako/pull-request@v1 uses: pulls (list by head/base, create, update), labels,
// requested reviewers and assignees, with a per-repository refusal.

import { createHash } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Clock } from '../src/github/dispatch.js'
import { answerGraphql, type FakeGraphqlOptions } from './github-graphql.js'

export interface FakeRunScript {
  /** Final conclusion: success, failure, timed_out, cancelled, startup_failure, action_required, ... */
  conclusion: string
  /** Time (on the fake's clock) the run stays queued, then in progress; Infinity keeps it running. Default 0. */
  queuedForMs?: number
  runsForMs?: number
  /** Job and step that fail (default job "tako", step "Run tako"). */
  failedJob?: string
  failedStep?: string
  /** Output of the failing step, written into the job log. */
  log?: string
}

export interface FakeRepo {
  defaultBranch?: string
  /** How runs of this repository go; one script per run in order, the last one repeats. */
  runs?: FakeRunScript[]
  /** Answered to every request about this repository (no access / not visible to the token). */
  deny?: 403 | 404
  /** Workflow files that exist (default tako.yml). */
  workflows?: string[]
  /** workflow_dispatch inputs the workflow declares (default the five tako inputs). */
  inputs?: string[]
  /** Answered to every pull-request write of this repository (a token without `pull-requests: write`). */
  denyPullRequests?: 403
}

export interface FakePull {
  number: number
  repository: string
  title: string
  body: string
  head: string
  base: string
  draft: boolean
  state: 'open' | 'closed'
  labels: string[]
  reviewers: string[]
  team_reviewers: string[]
  assignees: string[]
}

export interface FakeGitHubOptions {
  repos: Record<string, FakeRepo>
  /** When set, every API call needs `Authorization: Bearer <token>`. */
  token?: string
  /** The fake's clock (default Date.now); share a SimulatedClock with the dispatcher to run minutes in milliseconds. */
  now?: () => number
  /** Older GitHub Enterprise Server: refuses return_run_details and lists new runs only after listDelayMs. */
  legacy?: boolean
  listDelayMs?: number
  /** Path of the API under the origin, as on GHES (`/api/v3`); default none. */
  prefix?: string
  /** Requests outside the API prefix are proxied here (a git server), so one origin serves both like GHES. */
  upstream?: string
  /** The next this many writes (POST, PATCH, PUT, DELETE) are refused as GitHub refuses content created too fast: a
      403 naming the secondary rate limit, without retry-after, the primary budget untouched. */
  secondaryLimitedWrites?: number
  /** Core rate limit per window (default 5000 per hour). */
  rateLimit?: { limit: number; remaining?: number; windowMs?: number }
  /** Serve GraphQL (`POST /graphql`, `/api/graphql` on GHES) from these bare repositories; without it, 404. */
  graphql?: FakeGraphqlOptions
}

export interface ApiRequest {
  method: string
  /** Path below the API prefix, without the query. */
  path: string
  query: string
  status: number
  body?: unknown
}

export interface FakeRun {
  id: number
  repository: string
  workflow: string
  ref: string
  inputs: Record<string, string>
  createdAt: number
  cancelledAt?: number
  script: FakeRunScript
}

export interface FakeGitHub {
  /** Base URL of the API (GITHUB_API_URL). */
  url: string
  /** The origin (GITHUB_SERVER_URL when it fronts a git server). */
  origin: string
  requests: ApiRequest[]
  runs: FakeRun[]
  /** Every pull request created, in order. */
  pulls: FakePull[]
  /** Requests answered 304 Not Modified. */
  notModified(): number
  close(): Promise<void>
}

export const TAKO_INPUTS = ['workflow', 'inputs', 'event', 'parent-run', 'tako-id']

/** A clock whose sleeps return at once and move time forward; `at` runs something when time passes a moment. */
export class SimulatedClock implements Clock {
  readonly sleeps: number[] = []
  private readonly timers: Array<{ at: number; fn: () => void }> = []

  constructor(public time = Date.parse('2026-03-01T12:00:00Z')) {}

  now = (): number => this.time

  at(elapsedMs: number, fn: () => void, from = this.time): void {
    this.timers.push({ at: from + elapsedMs, fn })
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return
    // A real turn of the event loop, so concurrent pollers interleave as they would.
    await new Promise((resolve) => setImmediate(resolve))
    this.sleeps.push(ms)
    const until = this.time + ms
    for (const timer of this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)) {
      this.timers.splice(this.timers.indexOf(timer), 1)
      this.time = Math.max(this.time, timer.at)
      timer.fn()
      if (signal?.aborted) return
    }
    this.time = until
  }
}

export async function startFakeGitHub(opts: FakeGitHubOptions): Promise<FakeGitHub> {
  const now = opts.now ?? Date.now
  const prefix = (opts.prefix ?? '').replace(/\/$/, '')
  const requests: ApiRequest[] = []
  const runs: FakeRun[] = []
  const pulls: FakePull[] = []
  const limit = opts.rateLimit?.limit ?? 5000
  const windowMs = opts.rateLimit?.windowMs ?? 3_600_000
  let remaining = opts.rateLimit?.remaining ?? limit
  let resetAt = Math.ceil((now() + windowMs) / 1000) * 1000
  let origin = ''
  let secondaryLeft = opts.secondaryLimitedWrites ?? 0
  const scripts = new Map<string, number>()

  const runState = (run: FakeRun): { status: string; conclusion: string | null } => {
    if (run.cancelledAt !== undefined) return { status: 'completed', conclusion: 'cancelled' }
    const elapsed = now() - run.createdAt
    const queued = run.script.queuedForMs ?? 0
    if (elapsed < queued) return { status: 'queued', conclusion: null }
    if (elapsed < queued + (run.script.runsForMs ?? 0)) return { status: 'in_progress', conclusion: null }
    return { status: 'completed', conclusion: run.script.conclusion }
  }
  const runJson = (run: FakeRun): Record<string, unknown> => ({
    id: run.id,
    name: 'tako',
    display_title: `tako ${run.inputs.workflow ?? ''} ${run.inputs['tako-id'] ?? ''}`.trim(),
    event: 'workflow_dispatch',
    head_branch: run.ref,
    path: `.github/workflows/${run.workflow}`,
    ...runState(run),
    html_url: `${origin}/${run.repository}/actions/runs/${run.id}`,
    url: `${origin}${prefix}/repos/${run.repository}/actions/runs/${run.id}`,
    created_at: new Date(run.createdAt).toISOString()
  })
  const jobId = (run: FakeRun): number => run.id * 10 + 1
  const jobsJson = (run: FakeRun): Record<string, unknown> => {
    const { conclusion } = runState(run)
    const failing = conclusion === 'failure' || conclusion === 'timed_out' || conclusion === 'cancelled'
    const failedStep = run.script.failedStep ?? 'Run tako'
    const names = ['Set up job', 'Run actions/checkout@v4', failedStep, 'Post Run actions/checkout@v4', 'Complete job']
    return {
      total_count: 1,
      jobs: [
        {
          id: jobId(run),
          run_id: run.id,
          name: run.script.failedJob ?? 'tako',
          status: 'completed',
          conclusion,
          steps: names.map((name, i) => ({
            name,
            number: i + 1,
            status: 'completed',
            conclusion: !failing ? conclusion : i < 2 || i === 4 ? 'success' : i === 2 ? conclusion : 'skipped'
          }))
        }
      ]
    }
  }
  const jobLog = (run: FakeRun): string => {
    const stamp = (i: number): string => new Date(run.createdAt + i * 1000).toISOString().replace('Z', '0000Z')
    const lines = [
      'Current runner version: 2.330.0',
      `##[group]Run ${run.script.failedStep ?? 'tako'}`,
      ...(run.script.log ?? '').split('\n').filter(Boolean),
      '##[error]Process completed with exit code 1.',
      'Post job cleanup.',
      '[command]/usr/bin/git version',
      'Cleaning up orphan processes'
    ]
    return `\uFEFF${lines.map((l, i) => `${stamp(i)} ${l}`).join('\n')}\n`
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname.startsWith('/_logs/')) {
      const run = runs.find((r) => jobId(r) === Number(url.pathname.slice('/_logs/'.length)))
      res.writeHead(run ? 200 : 404, { 'content-type': 'text/plain' }).end(run ? jobLog(run) : 'not found')
      return
    }
    if (graphqlPath(url.pathname, prefix)) return serveGraphql(req, res, url.pathname)
    if (!url.pathname.startsWith(`${prefix}/`)) {
      if (opts.upstream) return proxy(req, res, opts.upstream)
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = url.pathname.slice(prefix.length)
      let body: unknown
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
      } catch {
        body = undefined
      }
      const entry: ApiRequest = { method: req.method ?? 'GET', path, query: url.search, status: 0, ...(body === undefined ? {} : { body }) }
      requests.push(entry)
      const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
        entry.status = status
        if (status !== 304) remaining = Math.max(0, remaining - 1)
        res.writeHead(status, {
          'x-ratelimit-limit': String(limit),
          'x-ratelimit-remaining': String(remaining),
          'x-ratelimit-used': String(limit - remaining),
          'x-ratelimit-reset': String(resetAt / 1000),
          'x-ratelimit-resource': 'core',
          ...(payload === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
          ...headers
        })
        res.end(payload === undefined ? undefined : JSON.stringify(payload))
      }
      if (now() >= resetAt) {
        remaining = limit
        resetAt = Math.ceil((now() + windowMs) / 1000) * 1000
      }
      // GitHub takes both schemes; Octokit sends `token <t>` for such tokens.
      if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}` && req.headers.authorization !== `token ${opts.token}`) {
        return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' })
      }
      if (remaining === 0) {
        entry.status = 403
        res.writeHead(403, {
          'content-type': 'application/json',
          'x-ratelimit-limit': String(limit),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetAt / 1000)
        })
        res.end(JSON.stringify({ message: 'API rate limit exceeded for installation ID 1.' }))
        return
      }
      if (secondaryLeft > 0 && req.method !== 'GET' && req.method !== 'HEAD') {
        secondaryLeft--
        return send(403, {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222.',
          documentation_url: 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          status: '403'
        })
      }
      route(req.method ?? 'GET', path, url.searchParams, body, send, req.headers['if-none-match'])
    })
  })

  // GraphQL, in its own block: recorded in `requests` as path /graphql; answers with HTTP 200 and errors, as GitHub.
  const serveGraphql = (req: IncomingMessage, res: ServerResponse, pathname: string): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        body = undefined
      }
      const entry: ApiRequest = { method: req.method ?? 'GET', path: '/graphql', query: '', status: 0, body }
      requests.push(entry)
      const reply = (status: number, payload: unknown): void => {
        entry.status = status
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(payload))
      }
      const auth = req.headers.authorization ?? ''
      if (opts.token !== undefined && auth !== `Bearer ${opts.token}` && auth !== `token ${opts.token}`) {
        return reply(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' })
      }
      if (!opts.graphql || req.method !== 'POST') return reply(404, { message: 'Not Found', path: pathname })
      answerGraphql(opts.graphql, body).then(
        ({ status, payload }) => reply(status, payload),
        (error: unknown) => reply(502, { message: String(error) })
      )
    })
  }

  type Send = (status: number, payload?: unknown, headers?: Record<string, string>) => void
  const route = (method: string, path: string, query: URLSearchParams, body: unknown, send: Send, ifNoneMatch: string | undefined): void => {
    const m = /^\/repos\/([^/]+\/[^/]+)(\/.*)?$/.exec(path)
    const repo = m ? opts.repos[m[1]] : undefined
    if (!m || !repo) return send(404, { message: 'Not Found' })
    if (repo.deny === 403)
      return send(403, {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event'
      })
    if (repo.deny === 404) return send(404, { message: 'Not Found' })
    const repository = m[1]
    const rest = m[2] ?? ''
    let p: RegExpExecArray | null
    if (method === 'GET' && rest === '') return send(200, { full_name: repository, default_branch: repo.defaultBranch ?? 'main' })
    if (/^\/(pulls|issues)(\/|$)/.test(rest)) return routePulls(repository, repo, method, rest, query, body, send)
    if ((p = /^\/actions\/workflows\/([^/]+)\/dispatches$/.exec(rest)) && method === 'POST') {
      const file = decodeURIComponent(p[1])
      if (!(repo.workflows ?? ['tako.yml']).includes(file)) return send(404, { message: 'Not Found' })
      const b = (body ?? {}) as { ref?: string; inputs?: Record<string, unknown>; return_run_details?: boolean }
      if (opts.legacy && 'return_run_details' in b) return send(422, { message: 'Invalid request.\n\n"return_run_details" is not a permitted key.' })
      if (!b.ref) return send(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.' })
      const declared = repo.inputs ?? TAKO_INPUTS
      const unexpected = Object.keys(b.inputs ?? {}).filter((k) => !declared.includes(k))
      if (unexpected.length) return send(422, { message: `Unexpected inputs provided: ${JSON.stringify(unexpected)}` })
      const index = scripts.get(repository) ?? 0
      scripts.set(repository, index + 1)
      const list = repo.runs ?? [{ conclusion: 'success' }]
      const run: FakeRun = {
        id: 9000 + runs.length + 1,
        repository,
        workflow: file,
        ref: b.ref,
        inputs: Object.fromEntries(Object.entries(b.inputs ?? {}).map(([k, v]) => [k, String(v)])),
        createdAt: now(),
        script: list[Math.min(index, list.length - 1)]
      }
      runs.push(run)
      if (!b.return_run_details) return send(204)
      const json = runJson(run)
      return send(200, { workflow_run_id: run.id, run_url: json.url, html_url: json.html_url })
    }
    if ((p = /^\/actions\/workflows\/([^/]+)\/runs$/.exec(rest)) && method === 'GET') {
      const file = decodeURIComponent(p[1])
      const created = /^>=(.+)$/.exec(query.get('created') ?? '')
      const since = created ? Date.parse(created[1]) : 0
      const listed = runs
        .filter((r) => r.repository === repository && r.workflow === file && r.createdAt >= since)
        .filter((r) => !opts.legacy || now() - r.createdAt >= (opts.listDelayMs ?? 0))
        .reverse()
      return send(200, { total_count: listed.length, workflow_runs: listed.map(runJson) })
    }
    const runMatch = /^\/actions\/runs\/(\d+)/.exec(rest)
    const run = runMatch ? runs.find((r) => r.id === Number(runMatch[1]) && r.repository === repository) : undefined
    if (/^\/actions\/runs\/\d+$/.test(rest) && method === 'GET' && run) {
      const json = runJson(run)
      const etag = `W/"${createHash('sha1').update(`${json.status}/${json.conclusion}`).digest('hex')}"`
      if (ifNoneMatch === etag) return send(304, undefined, { etag })
      return send(200, json, { etag })
    }
    if (/^\/actions\/runs\/\d+\/jobs$/.test(rest) && method === 'GET' && run) return send(200, jobsJson(run))
    if (/^\/actions\/runs\/\d+\/cancel$/.test(rest) && method === 'POST' && run) {
      if (runState(run).status === 'completed') return send(409, { message: 'Cannot cancel a workflow run that is completed.' })
      run.cancelledAt = now()
      return send(202, {})
    }
    if ((p = /^\/actions\/jobs\/(\d+)\/logs$/.exec(rest)) && method === 'GET') {
      const job = Number(p[1])
      if (!runs.some((r) => jobId(r) === job && r.repository === repository)) return send(404, { message: 'Not Found' })
      return send(302, undefined, { location: `${origin}/_logs/${job}` })
    }
    return send(404, { message: 'Not Found' })
  }

  const pullJson = (pr: FakePull): Record<string, unknown> => ({
    number: pr.number,
    html_url: `${origin}/${pr.repository}/pull/${pr.number}`,
    title: pr.title,
    body: pr.body,
    state: pr.state,
    draft: pr.draft,
    head: { ref: pr.head, label: `${pr.repository.split('/')[0]}:${pr.head}` },
    base: { ref: pr.base },
    labels: pr.labels.map((name) => ({ name }))
  })
  const routePulls = (repository: string, repo: FakeRepo, method: string, rest: string, query: URLSearchParams, body: unknown, send: Send): void => {
    const b = (body ?? {}) as Record<string, unknown>
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])
    if (method !== 'GET' && repo.denyPullRequests === 403) {
      return send(403, {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
        status: '403'
      })
    }
    const mine = pulls.filter((p) => p.repository === repository)
    if (rest === '/pulls' && method === 'GET') {
      const head = query.get('head')
      const base = query.get('base')
      const state = query.get('state') ?? 'open'
      const owner = repository.split('/')[0]
      const listed = mine.filter((p) => (state === 'all' || p.state === state) && (!head || head === `${owner}:${p.head}`) && (!base || base === p.base))
      return send(200, listed.map(pullJson))
    }
    if (rest === '/pulls' && method === 'POST') {
      const missing = ['title', 'head', 'base'].filter((k) => typeof b[k] !== 'string' || b[k] === '')
      if (missing.length)
        return send(422, { message: 'Validation Failed', errors: missing.map((field) => ({ resource: 'PullRequest', field, code: 'missing_field' })) })
      if (mine.some((p) => p.state === 'open' && p.head === b.head && p.base === b.base)) {
        return send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${repository.split('/')[0]}:${String(b.head)}.` }]
        })
      }
      const pr: FakePull = {
        number: pulls.length + 1,
        repository,
        title: String(b.title),
        body: typeof b.body === 'string' ? b.body : '',
        head: String(b.head),
        base: String(b.base),
        draft: b.draft === true,
        state: 'open',
        labels: [],
        reviewers: [],
        team_reviewers: [],
        assignees: []
      }
      pulls.push(pr)
      return send(201, pullJson(pr))
    }
    const p = /^\/(pulls|issues)\/(\d+)(\/.*)?$/.exec(rest)
    const pr = p ? mine.find((x) => x.number === Number(p[2])) : undefined
    if (!p || !pr) return send(404, { message: 'Not Found' })
    const sub = p[3] ?? ''
    if (p[1] === 'pulls' && sub === '' && method === 'PATCH') {
      if (typeof b.title === 'string') pr.title = b.title
      if (typeof b.body === 'string') pr.body = b.body
      return send(200, pullJson(pr))
    }
    if (p[1] === 'pulls' && sub === '' && method === 'GET') return send(200, pullJson(pr))
    if (p[1] === 'issues' && sub === '/labels' && method === 'POST') {
      pr.labels.push(...strings(b.labels).filter((l) => !pr.labels.includes(l)))
      return send(
        200,
        pr.labels.map((name) => ({ name }))
      )
    }
    if (p[1] === 'pulls' && sub === '/requested_reviewers' && method === 'POST') {
      pr.reviewers.push(...strings(b.reviewers))
      pr.team_reviewers.push(...strings(b.team_reviewers))
      return send(201, pullJson(pr))
    }
    if (p[1] === 'issues' && sub === '/assignees' && method === 'POST') {
      pr.assignees.push(...strings(b.assignees))
      return send(201, pullJson(pr))
    }
    return send(404, { message: 'Not Found' })
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: `${origin}${prefix}`,
    origin,
    requests,
    runs,
    pulls,
    notModified: () => requests.filter((r) => r.status === 304).length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
  }
}

/** Where GraphQL lives: /graphql on api.github.com (or below a test prefix), /api/graphql beside GHES's /api/v3. */
function graphqlPath(pathname: string, prefix: string): boolean {
  return pathname === `${prefix}/graphql` || (prefix.endsWith('/v3') && pathname === `${prefix.slice(0, -3)}/graphql`)
}

function proxy(req: IncomingMessage, res: ServerResponse, upstream: string): void {
  const target = new URL(req.url ?? '/', upstream)
  const forward = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  forward.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502).end(err.message)
    else res.destroy()
  })
  req.pipe(forward)
}
