// The action bundle under a job re-run and a job cancellation, as a runner drives them.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runAction } from '../../__fixtures__/action-runner.js'
import { startActionServers, scriptSubscriber, type ActionServers } from '../../__fixtures__/action-servers.js'
import { cacheServiceEnv, type CacheServer } from '../../__fixtures__/cache-server.js'
import { createBareRepo } from '../../__fixtures__/git-server.js'
import { alive, cleanupTempDirs, gitSync, tempDir } from '../../__fixtures__/repos.js'

const TOKEN = 'ghs_takoRerunE2eToken7'
const CACHE_TOKEN = 'cache-runtime-token'

const PUBLISHER = `version: 1
workflows:
  release:
    inputs:
      channel: { type: string, default: stable }
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { tag: v1 } }
`

let gitRoot: string
let cacheServer: CacheServer
let serverUrl: string
let workspace: string

let servers: ActionServers | undefined

beforeAll(async () => {
  servers = await startActionServers({ token: TOKEN, cacheToken: CACHE_TOKEN, publisher: PUBLISHER })
  ;({ gitRoot, cacheServer, serverUrl, workspace } = servers)
})

afterAll(async () => {
  await servers?.close()
  cleanupTempDirs()
})

describe('re-running failed jobs', () => {
  it('runs only the child that failed before and reports the other as reused, linking the attempt that ran it', async () => {
    const counter = path.join(tempDir(), 'runs')
    await createBareRepo(gitRoot, 'acme/steady', { 'tako.yml': scriptSubscriber(`echo steady >> ${counter}`) })
    const flaky = await createBareRepo(gitRoot, 'acme/flaky', { 'tako.yml': scriptSubscriber(`echo flaky >> ${counter}\ntest -f fixed`) })
    // A re-run lands on a runner like the first one: the same RUNNER_TEMP path, emptied in between.
    const runnerTemp = tempDir('tako-e2e-runner-temp-')
    const attempt = (n: number, opts: { job?: string; inputs?: string } = {}) => {
      rmSync(runnerTemp, { recursive: true, force: true })
      mkdirSync(runnerTemp)
      return runAction({
        workspace,
        runnerTemp,
        inputs: { workflow: 'release', repositories: 'acme/steady, acme/flaky', ...(opts.inputs ? { inputs: opts.inputs } : {}) },
        token: TOKEN,
        serverUrl,
        cacheEnv: cacheServiceEnv(cacheServer.url, CACHE_TOKEN),
        runId: '4242',
        runAttempt: n,
        job: opts.job
      })
    }
    const statuses = (res: { outputs: Record<string, string> }): Record<string, string> =>
      Object.fromEntries((JSON.parse(res.outputs.children) as Array<{ repository: string; status: string }>).map((c) => [c.repository, c.status]))
    const first = await attempt(1)
    expect(first.outputs.status).toBe('failure')
    expect(readFileSync(counter, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['flaky', 'steady'])

    // The flaky repository is fixed between the attempts.
    const fix = path.join(tempDir(), 'fix')
    gitSync(path.dirname(fix), 'clone', '-q', flaky, fix)
    writeFileSync(path.join(fix, 'fixed'), '')
    gitSync(fix, 'add', 'fixed')
    gitSync(fix, 'commit', '-qm', 'fix')
    gitSync(fix, 'push', '-q', 'origin', 'HEAD:main')

    const second = await attempt(2)
    expect(second.code).toBe(0)
    expect(second.outputs.status).toBe('success')
    expect(readFileSync(counter, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['flaky', 'flaky', 'steady'])
    const children = JSON.parse(second.outputs.children) as Array<{ repository: string; status: string }>
    expect(Object.fromEntries(children.map((c) => [c.repository, c.status]))).toEqual({ 'acme/steady': 'reused', 'acme/flaky': 'success' })
    expect(second.outputs.succeeded).toBe('2')
    expect(second.summary).toContain(`${serverUrl}/acme/api/actions/runs/4242/attempts/1`)

    // What another job of the run, or the same job with other inputs, kept is not reused: each ran different work.
    const otherJob = await attempt(3, { job: 'publish' })
    expect(statuses(otherJob)).toEqual({ 'acme/steady': 'success', 'acme/flaky': 'success' })
    const otherInputs = await attempt(3, { inputs: 'channel=beta' })
    expect(statuses(otherInputs)).toEqual({ 'acme/steady': 'success', 'acme/flaky': 'success' })
    expect(readFileSync(counter, 'utf8').split('\n').filter(Boolean)).toHaveLength(7)
    // The same job with the same inputs still reuses both.
    expect(statuses(await attempt(4))).toEqual({ 'acme/steady': 'reused', 'acme/flaky': 'reused' })
  })
})

describe('cancelling the job', () => {
  it('stops the children, writes the summary and outputs with status cancelled, and exits non-zero', async () => {
    const pids = path.join(tempDir(), 'pids')
    await createBareRepo(gitRoot, 'acme/sleeper', { 'tako.yml': scriptSubscriber(`sleep 120 &\necho $! >> ${pids}\necho $$ >> ${pids}\nwait`) })
    const res = await runAction({
      workspace,
      inputs: { workflow: 'release', repositories: 'acme/sleeper', cache: 'false' },
      token: TOKEN,
      serverUrl,
      interrupt: { when: () => existsSync(pids) && readFileSync(pids, 'utf8').trim().split('\n').length >= 2, signal: 'SIGTERM' },
      timeoutMs: 180_000
    })
    expect(res.timedOut).toBe(false)
    expect(res.code).not.toBe(0)
    expect(res.outputs.status).toBe('cancelled')
    const children = JSON.parse(res.outputs.children) as Array<{ repository: string; status: string }>
    expect(children).toEqual([expect.objectContaining({ repository: 'acme/sleeper', status: 'cancelled' })])
    expect(res.summary).toContain('acme/sleeper')
    for (const pid of readFileSync(pids, 'utf8').trim().split('\n').map(Number)) expect(alive(pid)).toBe(false)
  })

  it('still writes outputs and summary when the runner sends SIGINT then SIGTERM to steps that ignore SIGTERM', async () => {
    const pids = path.join(tempDir(), 'pids')
    await createBareRepo(gitRoot, 'acme/stubborn', {
      'tako.yml': scriptSubscriber(`trap '' TERM\nsleep 120 &\necho $! >> ${pids}\necho $$ >> ${pids}\necho "holding on"\nwait`)
    })
    const res = await runAction({
      workspace,
      inputs: { workflow: 'release', repositories: 'acme/stubborn', cache: 'false' },
      token: TOKEN,
      serverUrl,
      // As a runner cancelling the job does (SIGTERM ~7.5 s after SIGINT), but well within the engine's 10 s grace.
      interrupt: { when: () => existsSync(pids) && readFileSync(pids, 'utf8').trim().split('\n').length >= 2, signal: 'SIGINT', then: 'SIGTERM', gapMs: 300 },
      timeoutMs: 180_000
    })
    expect(res.timedOut).toBe(false)
    expect(res.code).toBe(1)
    expect(res.outputs).toMatchObject({ status: 'cancelled', failed: '1', succeeded: '0', 'cache-hit': 'false' })
    expect(JSON.parse(res.outputs.children)).toEqual([
      {
        id: expect.stringMatching(/^stubborn-build-/),
        parent_id: '',
        repository: 'acme/stubborn',
        workflow: 'build',
        status: 'cancelled',
        duration_ms: expect.any(Number),
        error: 'cancelled by SIGINT, then SIGTERM: killed while running',
        url: null
      }
    ])
    const report = JSON.parse(readFileSync(res.outputs['report-path'], 'utf8')) as { run_id: string; status: string }
    expect(report).toMatchObject({ run_id: res.outputs['run-id'], status: 'cancelled' })
    expect(res.summary).toMatch(/^## 🚫 tako: acme\/api › release cancelled/)
    expect(res.summary).toContain('every step still running was killed')
    expect(res.summary).toContain('acme/stubborn')
    // The child's output so far is in the log, and the failed step is said once.
    expect(res.stdout).toMatch(/::group::acme\/stubborn › build \[[^\]]+\]: cancelled/)
    expect(res.stdout).toContain('holding on')
    expect(res.annotations.filter((a) => a.level === 'error').map((a) => a.title ?? '')).toEqual(['tako: acme/stubborn › build cancelled', ''])
    for (const pid of readFileSync(pids, 'utf8').trim().split('\n').map(Number)) expect(alive(pid)).toBe(false)
  })
})

describe('the post step after a job killed before it kept its outcomes', () => {
  it('keeps them from the report, so the re-run reuses the child that had succeeded', async () => {
    const marks = tempDir()
    const quick = path.join(marks, 'quick')
    const pids = path.join(marks, 'pids')
    await createBareRepo(gitRoot, 'acme/quick', { 'tako.yml': scriptSubscriber(`echo ran >> ${quick}`) })
    await createBareRepo(gitRoot, 'acme/stubborn-too', {
      'tako.yml': scriptSubscriber(`trap '' TERM\nsleep 600 &\necho $! >> ${pids}\necho $$ >> ${pids}\nwait`)
    })
    const runnerTemp = tempDir('tako-e2e-runner-temp-')
    const common = { workspace, runnerTemp, token: TOKEN, serverUrl, cacheEnv: cacheServiceEnv(cacheServer.url, CACHE_TOKEN), runId: '5151', job: 'killed' }
    // The quick child finished, the stubborn one ignores SIGTERM: the second signal ends the step before it kept anything.
    const killed = await runAction({
      ...common,
      runAttempt: 1,
      inputs: { workflow: 'release', repositories: 'acme/quick, acme/stubborn-too' },
      interrupt: {
        when: () => existsSync(quick) && existsSync(pids) && readFileSync(pids, 'utf8').trim().split('\n').length >= 2,
        signal: 'SIGINT',
        then: 'SIGINT',
        gapMs: 300
      }
    })
    expect(killed.timedOut).toBe(false)
    expect(killed.outputs.status).toBe('cancelled')
    expect(killed.state.tako_outcomes).toMatch(/"reportPath"/)
    expect([...cacheServer.entries.values()].filter((e) => e.key.startsWith('tako-outcomes-5151-'))).toEqual([])

    const post = await runAction({ ...common, runAttempt: 1, inputs: { workflow: 'release' }, state: killed.state })
    expect(post.code).toBe(0)
    expect(post.stdout).toContain("tako: kept this attempt's outcomes for a re-run")
    expect([...cacheServer.entries.values()].filter((e) => e.key.startsWith('tako-outcomes-5151-killed-')).map((e) => e.key)).toEqual([
      expect.stringMatching(/-1$/)
    ])

    rmSync(runnerTemp, { recursive: true, force: true })
    mkdirSync(runnerTemp)
    const rerun = await runAction({ ...common, runAttempt: 2, inputs: { workflow: 'release', repositories: 'acme/quick' } })
    expect(rerun.outputs.status).toBe('success')
    expect(JSON.parse(rerun.outputs.children)).toEqual([expect.objectContaining({ repository: 'acme/quick', status: 'reused' })])
    expect(readFileSync(quick, 'utf8')).toBe('ran\n')
    for (const pid of readFileSync(pids, 'utf8').trim().split('\n').map(Number)) expect(alive(pid)).toBe(false)
  })
})
