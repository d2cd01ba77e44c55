// The action's post step, run as a runner runs it after a cancelled job: the main step's state in STATE_*
// variables. A dispatched child the main step could not cancel is cancelled there; no run is left in progress.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { runAction, type ActionResult } from '../../__fixtures__/action-runner.js'
import { startFakeGitHub, type FakeGitHub } from '../../__fixtures__/github-api.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

const TOKEN = 'ghs_takoPostE2eToken0123456789abcdef'

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published }
`

const SUBSCRIBER = `version: 1
subscriptions:
  - { artifact: acme/api, events: [api_published], workflow: update }
workflows:
  update:
    steps:
      - run: echo never here
`

let git: GitServer
let api: FakeGitHub
let workspace: string

beforeAll(async () => {
  const root = tempDir('tako-e2e-post-git-')
  git = await startGitServer({ root, token: TOKEN })
  api = await startFakeGitHub({
    token: TOKEN,
    prefix: '/api/v3',
    upstream: git.url,
    repos: {
      'acme/stuck': { runs: [{ conclusion: 'success', runsForMs: Infinity }] },
      'acme/stuck-too': { runs: [{ conclusion: 'success', runsForMs: Infinity }] }
    }
  })
  for (const name of ['acme/stuck', 'acme/stuck-too']) await createBareRepo(root, name, { 'tako.yml': SUBSCRIBER })
  workspace = makeRepo(path.join(tempDir('tako-e2e-post-ws-'), 'api'), { 'tako.yml': PUBLISHER }, `${api.origin}/acme/api`)
})

afterAll(async () => {
  await api?.close()
  await git?.close()
  cleanupTempDirs()
})

const inProgress = (): number[] => api.runs.filter((r) => r.cancelledAt === undefined).map((r) => r.id)
/** The dispatcher is polling `count` runs it started from now on: each was recorded in the state before its first look. */
const polling = (count: number): (() => boolean) => {
  const from = api.requests.length
  return () =>
    new Set(
      api.requests
        .slice(from)
        .filter((r) => r.method === 'GET' && /^\/repos\/acme\/[^/]+\/actions\/runs\/\d+$/.test(r.path))
        .map((r) => r.path)
    ).size >= count
}

function main(interrupt: NonNullable<Parameters<typeof runAction>[0]['interrupt']>): Promise<ActionResult> {
  return runAction({
    workspace,
    inputs: { workflow: 'release', mode: 'dispatch', repositories: 'acme/stuck\nacme/stuck-too', cache: 'false' },
    token: TOKEN,
    serverUrl: api.origin,
    runId: '777',
    interrupt
  })
}

function post(after: ActionResult): Promise<ActionResult> {
  return runAction({
    workspace,
    runnerTemp: after.runnerTemp,
    inputs: { workflow: 'release', mode: 'dispatch', repositories: 'acme/stuck\nacme/stuck-too', cache: 'false' },
    token: TOKEN,
    serverUrl: api.origin,
    runId: '777',
    state: after.state
  })
}

describe('the post step', () => {
  it('cancels the dispatched runs of a main step killed before it could, leaving no run in progress', async () => {
    const before = api.runs.length
    const killed = await main({ when: polling(2), signal: 'SIGKILL' })
    expect(killed.signal).toBe('SIGKILL')
    const started = api.runs.slice(before)
    expect(started.map((r) => r.repository).sort()).toEqual(['acme/stuck', 'acme/stuck-too'])
    // Killed outright, the main step cancelled nothing; what it recorded is all the post step has.
    expect(started.every((r) => r.cancelledAt === undefined)).toBe(true)
    expect(
      Object.entries(killed.state)
        .filter(([k, v]) => k.startsWith('tako_run_') && v)
        .map(([k]) => k)
        .sort()
    ).toEqual(started.map((r) => `tako_run_${r.id}`).sort())

    const cleanup = await post(killed)
    expect(cleanup.timedOut).toBe(false)
    expect(cleanup.code).toBe(0)
    expect(cleanup.stdout).toContain('cancelling 2 dispatched run(s) the main step left running')
    for (const run of started)
      expect(cleanup.stdout).toContain(
        `acme/${run.repository.split('/')[1]}: ${api.origin}/${run.repository}/actions/runs/${run.id}: the run was cancelled on GitHub`
      )
    expect(inProgress()).toEqual([])
    // The token reached the API, never the log.
    expect(cleanup.stdout.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual([])
    expect(cleanup.masks).toContain(TOKEN)
  })

  it('has nothing left to do after a main step that cancelled its runs on the first signal, all at once', async () => {
    const before = api.runs.length
    const cancelled = await main({ when: polling(2), signal: 'SIGINT' })
    expect(cancelled.timedOut).toBe(false)
    expect(cancelled.outputs.status).toBe('cancelled')
    const started = api.runs.slice(before)
    expect(started).toHaveLength(2)
    expect(inProgress()).toEqual([])
    expect(Object.entries(cancelled.state).filter(([k, v]) => k.startsWith('tako_run_') && v)).toEqual([])
    const cleanup = await post(cancelled)
    expect(cleanup.code).toBe(0)
    expect(cleanup.stdout).toContain('nothing to clean up')
  })
})
