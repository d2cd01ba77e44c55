import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { SimulatedClock, startFakeGitHub, type FakeGitHub, type FakeGitHubOptions } from '../../__fixtures__/github-api.js'
import { CancelReason, DeadlineReason } from '../../src/engine/run-scope.js'
import type { DispatchRequest } from '../../src/engine/child-dispatcher.js'
import type { TakoEvent } from '../../src/engine/types.js'
import { jobLogTail, WorkflowDispatcher } from '../../src/github/dispatch.js'
import { createOctokit } from '../../src/github/octokit.js'

const TOKEN = 'ghs_dispatchTestToken'
const EVENT: TakoEvent = { id: 'ev-1', type: 'api_published', source: 'acme/api', artifact: 'default', schema_version: '1.2.0', payload: { git_tag: 'v1.2.0' } }

let api: FakeGitHub | undefined

afterEach(async () => {
  await api?.close()
  api = undefined
})

async function setup(
  opts: Omit<FakeGitHubOptions, 'now' | 'token'>,
  retryAfterBaseValue = 1
): Promise<{ api: FakeGitHub; clock: SimulatedClock; dispatcher: WorkflowDispatcher; warnings: string[]; octokitLog: string[] }> {
  const clock = new SimulatedClock()
  api = await startFakeGitHub({ ...opts, token: TOKEN, now: clock.now })
  const warnings: string[] = []
  const octokitLog: string[] = []
  const dispatcher = new WorkflowDispatcher({
    // Waits the Octokit chooses (retry-after, GitHub's 60 s for a secondary limit) pass in milliseconds here.
    octokit: createOctokit({ token: TOKEN, baseUrl: api.url, retryAfterBaseValue, log: (m) => octokitLog.push(m) }),
    workflowFile: 'tako.yml',
    parentRunUrl: 'https://github.com/acme/api/actions/runs/77/attempts/1',
    runId: 'exec-20260301-120000-0badcafe',
    warn: (m) => warnings.push(m),
    clock
  })
  return { api, clock, dispatcher, warnings, octokitLog }
}

function request(repository: string, signal = new AbortController().signal, ref = ''): DispatchRequest {
  return {
    childId: `${repository.split('/')[1]}-update-1`,
    candidate: { repository, ref },
    workflow: 'update',
    inputs: { api_version: 'v1.2.0', dry: false },
    event: EVENT,
    signal
  }
}

const runGets = (f: FakeGitHub): number => f.requests.filter((r) => r.method === 'GET' && /^\/repos\/[^/]+\/[^/]+\/actions\/runs\/\d+$/.test(r.path)).length

describe('WorkflowDispatcher', () => {
  it('dispatches on the default branch with the child inputs and reports the run that succeeded', async () => {
    const { api, dispatcher, warnings } = await setup({ repos: { 'acme/web': { defaultBranch: 'trunk' } } })
    const outcome = await dispatcher.dispatch(request('acme/web'))

    expect(outcome).toEqual({ status: 'success', url: `${api.origin}/acme/web/actions/runs/9001` })
    expect(warnings).toEqual([])
    const dispatch = api.requests.find((r) => r.path.endsWith('/dispatches'))
    expect(dispatch).toMatchObject({ method: 'POST', path: '/repos/acme/web/actions/workflows/tako.yml/dispatches', status: 200 })
    expect(dispatch?.body).toEqual({
      ref: 'trunk',
      return_run_details: true,
      inputs: {
        workflow: 'update',
        inputs: '{"api_version":"v1.2.0","dry":false}',
        event: JSON.stringify(EVENT),
        'parent-run': 'https://github.com/acme/api/actions/runs/77/attempts/1',
        'tako-id': 'exec-20260301-120000-0badcafe.web-update-1'
      }
    })
    expect(JSON.parse((dispatch?.body as { inputs: { event: string } }).inputs.event)).toEqual(EVENT)
  })

  it('uses the candidate ref without asking for the default branch', async () => {
    const { api, dispatcher } = await setup({ repos: { 'acme/web': {} } })
    await dispatcher.dispatch(request('acme/web', undefined, 'release/2.x'))
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).not.toContain('GET /repos/acme/web')
    expect(api.runs[0].ref).toBe('release/2.x')
  })

  it('names the failing job and step of a failed run, with the end of its log', async () => {
    const log = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n') + '\nerror: api@v1.2.0 not found'
    const { api, dispatcher } = await setup({
      repos: { 'acme/billing': { runs: [{ conclusion: 'failure', runsForMs: 12_000, failedJob: 'update', failedStep: 'Run tako', log }] } }
    })
    const outcome = await dispatcher.dispatch(request('acme/billing'))

    expect(outcome.status).toBe('failure')
    expect(outcome.url).toBe(`${api.origin}/acme/billing/actions/runs/9001`)
    expect(outcome.error).toMatchObject({ kind: 'step_failed', step: 'Run tako', message: 'job "update" failed at step "Run tako"' })
    const tail = outcome.error?.log_tail?.split('\n') ?? []
    expect(tail).toHaveLength(30)
    expect(tail.slice(-2)).toEqual(['error: api@v1.2.0 not found', '##[error]Process completed with exit code 1.'])
    expect(outcome.error?.log_tail).not.toMatch(/Post job cleanup|orphan|\d{4}-\d\d-\d\dT/)
  })

  it('polls a run in progress for 60 simulated seconds with backoff and conditional requests', async () => {
    const { api, clock, dispatcher } = await setup({ repos: { 'acme/slow': { runs: [{ conclusion: 'success', queuedForMs: 4_000, runsForMs: 56_000 }] } } })
    const started = clock.now()
    const outcome = await dispatcher.dispatch(request('acme/slow'))

    expect(outcome.status).toBe('success')
    expect(clock.now() - started).toBeGreaterThanOrEqual(60_000)
    // 5 s growing by half up to 30 s: 0, 5, 12.5, 23.75, 40.6, 65.9 s -> six looks at the run, not one per second.
    expect(runGets(api)).toBeLessThanOrEqual(7)
    expect(clock.sleeps.slice(0, 5)).toEqual([5000, 7500, 11250, 16875, 25313])
    // Only the looks that saw a change (queued -> in_progress -> completed) were full answers.
    expect(api.notModified()).toBeGreaterThanOrEqual(3)
    const full = api.requests.filter((r) => /\/actions\/runs\/\d+$/.test(r.path) && r.status === 200)
    expect(full).toHaveLength(3)
  })

  it('cancels a run still in progress at the deadline and reports it timed out', async () => {
    const { api, clock, dispatcher } = await setup({ repos: { 'acme/stuck': { runs: [{ conclusion: 'success', runsForMs: Infinity }] } } })
    const controller = new AbortController()
    clock.at(20_000, () => controller.abort(new DeadlineReason('fan-out "fan-out" timed out after 20s')))
    const outcome = await dispatcher.dispatch(request('acme/stuck', controller.signal))

    expect(outcome).toEqual({
      status: 'timed_out',
      url: `${api.origin}/acme/stuck/actions/runs/9001`,
      error: { kind: 'timed_out', message: 'fan-out "fan-out" timed out after 20s; the run was cancelled on GitHub' }
    })
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/stuck/actions/runs/9001/cancel').map((r) => r.status)).toEqual([202])
    expect(api.runs[0].cancelledAt).toBeDefined()
  })

  it('reports a cancellation as cancelled, and a run that completed meanwhile as such', async () => {
    const { api, clock, dispatcher } = await setup({ repos: { 'acme/stuck': { runs: [{ conclusion: 'success', runsForMs: 6_000 }] } } })
    const controller = new AbortController()
    clock.at(7_000, () => controller.abort(new CancelReason('cancelled by SIGTERM')))
    const outcome = await dispatcher.dispatch(request('acme/stuck', controller.signal))
    expect(outcome.status).toBe('cancelled')
    expect(outcome.error).toEqual({ kind: 'cancelled', message: 'cancelled by SIGTERM; the run had already completed on GitHub' })
    expect(api.requests.find((r) => r.path.endsWith('/cancel'))?.status).toBe(409)
  })

  it('explains a dispatch refused for lack of permission, naming the repository and the permission', async () => {
    const { api, dispatcher } = await setup({ repos: { 'acme/locked': { deny: 403 } } })
    const outcome = await dispatcher.dispatch(request('acme/locked', undefined, 'main'))
    expect(outcome.status).toBe('failure')
    expect(outcome.url).toBeUndefined()
    expect(outcome.error?.kind).toBe('dispatch_failed')
    expect(outcome.error?.message).toBe(
      "cannot dispatch tako.yml in acme/locked: the token needs `actions: write` on acme/locked (a workflow's GITHUB_TOKEN cannot dispatch workflows in other repositories: use a GitHub App or fine-grained token) (GitHub said: HTTP 403: Resource not accessible by integration)"
    )
    expect(api.runs).toHaveLength(0)
  })

  it('retries a dispatch refused by the secondary rate limit after waiting, and dispatches once', async () => {
    const { api, dispatcher, octokitLog } = await setup({ secondaryLimitedWrites: 1, repos: { 'acme/web': {} } })
    const outcome = await dispatcher.dispatch(request('acme/web', undefined, 'main'))

    expect(outcome).toEqual({ status: 'success', url: `${api.origin}/acme/web/actions/runs/9001` })
    expect(api.requests.filter((r) => r.path.endsWith('/dispatches')).map((r) => r.status)).toEqual([403, 200])
    expect(api.runs).toHaveLength(1)
    // No retry-after in the answer: the throttling plugin waits GitHub's documented minute before the retry.
    expect(octokitLog).toEqual([`GitHub secondary rate limit on POST /repos/acme/web/actions/workflows/tako.yml/dispatches: retrying in 60s`])
  })

  it('reports a secondary rate limit that outlasts the retries as a rate limit, not as a permission problem', async () => {
    const { api, dispatcher, octokitLog } = await setup({ secondaryLimitedWrites: 10, repos: { 'acme/web': {} } })
    const outcome = await dispatcher.dispatch(request('acme/web', undefined, 'main'))

    expect(outcome.status).toBe('failure')
    expect(outcome.error?.kind).toBe('dispatch_failed')
    expect(outcome.error?.message).toMatch(
      /^cannot dispatch tako\.yml in acme\/web: GitHub's rate limit still refused the dispatch after waiting \(GitHub said: HTTP 403: You have exceeded a secondary rate limit\. .*\); re-run later, or dispatch fewer children at once \(max-concurrency\)$/
    )
    expect(outcome.error?.message).not.toContain('actions: write')
    // The first try and two retries, each after the wait; then the plugin gives up.
    expect(api.requests.filter((r) => r.path.endsWith('/dispatches')).map((r) => r.status)).toEqual([403, 403, 403])
    expect(octokitLog.map((l) => l.replace(/^.*: /, ''))).toEqual(['retrying in 60s', 'retrying in 60s', 'giving up'])
    expect(api.runs).toHaveLength(0)
  })

  it('stops waiting out a secondary rate limit when the child is cancelled, and dispatches nothing', async () => {
    // Real waits of 18 s before each retry: only the cancellation can end this test within its ceiling.
    const { api, dispatcher } = await setup({ secondaryLimitedWrites: 10, repos: { 'acme/web': {} } }, 300)
    const controller = new AbortController()
    const watch = setInterval(() => {
      if (api.requests.some((r) => r.path.endsWith('/dispatches'))) controller.abort(new CancelReason('cancelled by SIGTERM'))
    }, 5)
    const outcome = await dispatcher.dispatch(request('acme/web', controller.signal, 'main')).finally(() => clearInterval(watch))

    expect(outcome).toEqual({ status: 'cancelled', error: { kind: 'cancelled', message: 'cancelled by SIGTERM; the run was not dispatched' } })
    expect(api.requests.filter((r) => r.path.endsWith('/dispatches')).map((r) => r.status)).toEqual([403])
    expect(api.runs).toHaveLength(0)
  }, 15_000)

  it('sends every call through http_proxy when one is set, the dispatch included', async () => {
    // A CONNECT proxy, as undici's EnvHttpProxyAgent speaks to one, that records where each tunnel went.
    const tunnels: string[] = []
    const proxy = createServer()
    proxy.on('connect', (req, client, head) => {
      tunnels.push(req.url ?? '')
      const [host, port] = (req.url ?? '').split(':')
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(client).pipe(upstream)
      })
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const saved = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy, NO_PROXY: process.env.NO_PROXY }
    try {
      process.env.http_proxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      delete process.env.no_proxy
      delete process.env.NO_PROXY
      const clock = new SimulatedClock()
      api = await startFakeGitHub({ repos: { 'acme/web': {} }, token: TOKEN, now: clock.now })
      const octokit = createOctokit({ token: TOKEN, baseUrl: api.url })
      const dispatcher = new WorkflowDispatcher({
        octokit,
        workflowFile: 'tako.yml',
        parentRunUrl: 'https://github.com/acme/api/actions/runs/77',
        runId: 'exec-1',
        warn: () => undefined,
        clock
      })
      expect(await dispatcher.dispatch(request('acme/web'))).toEqual({ status: 'success', url: `${api.origin}/acme/web/actions/runs/9001` })
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
      proxy.closeAllConnections()
      await new Promise((resolve) => proxy.close(resolve))
    }
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/acme/web',
      'POST /repos/acme/web/actions/workflows/tako.yml/dispatches',
      'GET /repos/acme/web/actions/runs/9001'
    ])
    expect(tunnels.length).toBeGreaterThan(0)
    expect(new Set(tunnels)).toEqual(new Set([new URL(api.url).host]))
  })

  it('explains a missing workflow file and a workflow without the tako inputs', async () => {
    const { dispatcher } = await setup({ repos: { 'acme/nofile': { workflows: ['ci.yml'] }, 'acme/old': { inputs: ['workflow'] } } })
    const missing = await dispatcher.dispatch(request('acme/nofile'))
    expect(missing.error?.message).toMatch(
      /^cannot dispatch tako\.yml in acme\/nofile: the repository or \.github\/workflows\/tako\.yml on its default branch was not found, or the token needs `actions: write` on acme\/nofile/
    )
    const old = await dispatcher.dispatch(request('acme/old'))
    expect(old.error?.message).toContain('Unexpected inputs provided: ["inputs","event","parent-run","tako-id"]')
    expect(old.error?.message).toContain('the workflow needs `on: workflow_dispatch` with the inputs workflow, inputs, event, parent-run, tako-id')
  })

  it('falls back to finding the run by its tako-id where return_run_details is refused, and says so once', async () => {
    const { api, dispatcher, warnings } = await setup({
      legacy: true,
      listDelayMs: 8_000,
      repos: { 'acme/a': { runs: [{ conclusion: 'success' }] }, 'acme/b': { runs: [{ conclusion: 'failure', runsForMs: 10_000 }] } }
    })
    const [a, b] = await Promise.all([dispatcher.dispatch(request('acme/a')), dispatcher.dispatch(request('acme/b'))])

    expect(a).toEqual({ status: 'success', url: `${api.origin}/acme/a/actions/runs/${api.runs.find((r) => r.repository === 'acme/a')?.id}` })
    expect(b.status).toBe('failure')
    expect(b.error?.kind).toBe('step_failed')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('refused return_run_details')
    expect(warnings[0]).toContain('${{ inputs.tako-id }}')
    const dispatches = api.requests.filter((r) => r.path === '/repos/acme/a/actions/workflows/tako.yml/dispatches')
    expect(dispatches.map((r) => r.status)).toEqual([422, 204])
    expect(api.runs).toHaveLength(2)
    const list = api.requests.find((r) => r.path === '/repos/acme/a/actions/workflows/tako.yml/runs')
    expect(decodeURIComponent(list?.query ?? '')).toMatch(/^\?event=workflow_dispatch&created=>=2026-03-01T11:59:00Z&per_page=100$/)
  })

  it('reports a run it cannot find by name when the workflow does not show the tako-id', async () => {
    const { dispatcher } = await setup({ legacy: true, listDelayMs: Infinity, repos: { 'acme/a': {} } })
    const outcome = await dispatcher.dispatch(request('acme/a'))
    expect(outcome.error).toEqual({
      kind: 'dispatch_failed',
      message:
        'acme/a: dispatched tako.yml but found no run named with tako-id exec-20260301-120000-0badcafe.a-update-1 within 120s: the workflow must set `run-name` to include ${{ inputs.tako-id }} (see docs/dispatch.md)'
    })
  })

  it('waits for the rate limit to reset instead of failing', async () => {
    const { api, clock, dispatcher } = await setup({
      rateLimit: { limit: 100, remaining: 3, windowMs: 600_000 },
      repos: { 'acme/web': { runs: [{ conclusion: 'success', runsForMs: 20_000 }] } }
    })
    const started = clock.now()
    const outcome = await dispatcher.dispatch(request('acme/web'))
    expect(outcome.status).toBe('success')
    // Budget gone after three calls: the dispatcher slept until the window reset rather than hammer a 403.
    expect(api.requests.filter((r) => r.status === 403)).toHaveLength(0)
    expect(clock.now() - started).toBeGreaterThanOrEqual(600_000)
  })

  it('cancels at once with the rate limit spent, instead of waiting an hour for the reset', async () => {
    // Three requests: the default branch, the dispatch, one look at the run; then the budget is gone until the reset.
    const { api, clock, dispatcher } = await setup({
      rateLimit: { limit: 100, remaining: 3, windowMs: 3_600_000 },
      repos: { 'acme/stuck': { runs: [{ conclusion: 'success', runsForMs: Infinity }] } }
    })
    const controller = new AbortController()
    clock.at(20_000, () => controller.abort(new DeadlineReason('fan-out "fan-out" timed out after 20s')))
    const started = clock.now()
    const outcome = await dispatcher.dispatch(request('acme/stuck', controller.signal))

    expect(clock.now() - started).toBeLessThan(60_000)
    expect(api.requests.filter((r) => r.path === '/repos/acme/stuck/actions/runs/9001/cancel')).toHaveLength(1)
    expect(outcome.status).toBe('timed_out')
    expect(outcome.error?.message).toBe(
      'fan-out "fan-out" timed out after 20s; could not cancel the run on GitHub (HTTP 403: API rate limit exceeded for installation ID 1.); it may still be running'
    )
  })

  it('does not dispatch a child cancelled while it waits for the rate limit to reset', async () => {
    // One request left: the default branch takes it, the dispatch waits for the reset an hour away.
    const { api, clock, dispatcher } = await setup({ rateLimit: { limit: 100, remaining: 1, windowMs: 3_600_000 }, repos: { 'acme/web': {} } })
    const controller = new AbortController()
    clock.at(10_000, () => controller.abort(new CancelReason('cancelled by SIGTERM')))
    const started = clock.now()
    const outcome = await dispatcher.dispatch(request('acme/web', controller.signal))

    expect(clock.now() - started).toBeLessThan(60_000)
    expect(outcome).toEqual({ status: 'cancelled', error: { kind: 'cancelled', message: 'cancelled by SIGTERM; the run was not dispatched' } })
    expect(api.runs).toHaveLength(0)
    expect(api.requests.filter((r) => r.path.endsWith('/dispatches'))).toHaveLength(0)
  })

  it('asks for the default branch again after a failed lookup', async () => {
    const repos: FakeGitHubOptions['repos'] = { 'acme/web': { deny: 404 } }
    const { api, dispatcher } = await setup({ repos })
    expect((await dispatcher.dispatch(request('acme/web'))).error?.kind).toBe('dispatch_failed')
    delete repos['acme/web'].deny
    expect(await dispatcher.dispatch(request('acme/web'))).toEqual({ status: 'success', url: `${api.origin}/acme/web/actions/runs/9001` })
    expect(api.requests.filter((r) => r.method === 'GET' && r.path === '/repos/acme/web').map((r) => r.status)).toEqual([404, 200])
  })

  it("finds a run by its whole tako-id, never by one that only starts with it (…-1 in …-10's name)", async () => {
    const { api, clock, dispatcher } = await setup({ legacy: true, listDelayMs: 8_000, repos: { 'acme/a': { runs: [{ conclusion: 'success' }] } } })
    // Another child's run, already listed while ours is not yet.
    api.runs.push({
      id: 8999,
      repository: 'acme/a',
      workflow: 'tako.yml',
      ref: 'main',
      inputs: { workflow: 'update', 'tako-id': 'exec-20260301-120000-0badcafe.a-update-10' },
      createdAt: clock.now() - 30_000,
      script: { conclusion: 'failure' }
    })
    const outcome = await dispatcher.dispatch(request('acme/a'))
    const own = api.runs.find((r) => r.inputs['tako-id'] === 'exec-20260301-120000-0badcafe.a-update-1')
    expect(own).toBeDefined()
    expect(outcome).toEqual({ status: 'success', url: `${api.origin}/acme/a/actions/runs/${own?.id}` })
  })

  it.each([
    ['timed_out', 'timed_out', 'timed_out', 'job "tako" timed out at step "Run tako"'],
    ['cancelled', 'cancelled', 'cancelled', 'the run was cancelled on GitHub'],
    ['startup_failure', 'failure', 'dispatch_failed', 'the run failed to start (startup_failure): check .github/workflows/tako.yml in acme/web'],
    ['action_required', 'failure', 'dispatch_failed', 'the run needs someone to approve it on GitHub (conclusion action_required)'],
    ['stale', 'cancelled', 'cancelled', 'GitHub marked the run stale before it finished']
  ])('maps the conclusion %s to %s', async (conclusion, status, kind, message) => {
    const { dispatcher } = await setup({ repos: { 'acme/web': { runs: [{ conclusion }] } } })
    const outcome = await dispatcher.dispatch(request('acme/web'))
    expect(outcome.status).toBe(status)
    expect(outcome.error).toMatchObject({ kind, message })
  })
})

describe('jobLogTail', () => {
  it('drops runner timestamps and what follows the post-job cleanup', () => {
    const log =
      '\uFEFF2026-03-01T12:00:00.1234567Z start\r\n2026-03-01T12:00:01.0000000Z boom\n2026-03-01T12:00:02.0000000Z Post job cleanup.\n2026-03-01T12:00:03.0000000Z git version\n'
    expect(jobLogTail(log)).toBe('start\nboom')
  })
})
