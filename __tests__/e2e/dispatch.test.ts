// The action bundle in dispatch mode: children become workflow_dispatch runs on a fake GitHub API that also fronts a
// real git server (as GHES does, API under /api/v3), and the bundle as a dispatched child with an event.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { runAction, type ActionResult } from '../../__fixtures__/action-runner.js'
import { startFakeGitHub, type FakeGitHub } from '../../__fixtures__/github-api.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'
import type { RunReport } from '../../src/engine/types.js'

const TOKEN = 'ghs_takoDispatchE2eToken0123456789'

const PUBLISHER = `version: 1
events:
  produces:
    - { type: api_published }
workflows:
  release:
    inputs:
      version: { type: string, default: v2.0.0 }
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: api_published
          timeout: 10m
          payload: { git_tag: "{{ .inputs.version }}" }
  hurry:
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: api_published
          timeout: 2s
          payload: { git_tag: v2.0.1 }
`

function subscriber(runsOn?: 'local' | 'dispatch'): string {
  return `version: 1
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: update
    inputs: { api_version: "{{ .event.payload.git_tag }}" }
${runsOn ? `    runs_on: ${runsOn}\n` : ''}workflows:
  update:
    inputs:
      api_version: { type: string, required: true }
    steps:
      - id: main
        run: echo "ran here with $TAKO_INPUT_API_VERSION"
`
}

let git: GitServer
let api: FakeGitHub
let workspace: string

async function action(inputs: Record<string, string>, ws = workspace): Promise<ActionResult> {
  const res = await runAction({ workspace: ws, inputs: { workflow: 'release', cache: 'false', ...inputs }, token: TOKEN, serverUrl: api.origin, runId: '4242' })
  expect(res.timedOut).toBe(false)
  return res
}

function report(res: ActionResult): RunReport {
  return JSON.parse(readFileSync(res.outputs['report-path'], 'utf8')) as RunReport
}

const runUrl = (repository: string): string => {
  const run = api.runs.filter((r) => r.repository === repository).at(-1)
  if (!run) throw new Error(`no run dispatched in ${repository}`)
  return `${api.origin}/${repository}/actions/runs/${run.id}`
}

beforeAll(async () => {
  const root = tempDir('tako-e2e-dispatch-git-')
  git = await startGitServer({ root, token: TOKEN })
  api = await startFakeGitHub({
    token: TOKEN,
    prefix: '/api/v3',
    upstream: git.url,
    repos: {
      'acme/web': { runs: [{ conclusion: 'success' }] },
      'acme/billing': {
        defaultBranch: 'main',
        runs: [{ conclusion: 'failure', failedStep: 'Run tako', log: 'tako: step "main" failed\nerror: client for api v2.0.0 does not compile' }]
      },
      'acme/stuck': { runs: [{ conclusion: 'success', runsForMs: Infinity }] },
      'acme/locked': { deny: 403 },
      'acme/remote-only': { runs: [{ conclusion: 'success' }] }
    }
  })
  for (const name of ['acme/web', 'acme/billing', 'acme/stuck', 'acme/locked']) await createBareRepo(root, name, { 'tako.yml': subscriber() })
  await createBareRepo(root, 'acme/remote-only', { 'tako.yml': subscriber('dispatch') })
  await createBareRepo(root, 'acme/local', { 'tako.yml': subscriber() })
  workspace = makeRepo(path.join(tempDir('tako-e2e-dispatch-ws-'), 'api'), { 'tako.yml': PUBLISHER }, `${api.origin}/acme/api`)
})

afterAll(async () => {
  await api?.close()
  await git?.close()
  cleanupTempDirs()
})

describe('the action bundle in dispatch mode', () => {
  it('dispatches two children, links both runs and fails on the one that failed, annotated with its run URL', async () => {
    const res = await action({ mode: 'dispatch', repositories: 'acme/web\nacme/billing' })
    expect(res.stderr).toBe('')
    expect(res.code).toBe(1)
    expect(res.outputs.status).toBe('failure')
    expect(res.outputs.succeeded).toBe('1')
    expect(res.outputs.failed).toBe('1')

    const web = runUrl('acme/web')
    const billing = runUrl('acme/billing')
    expect(res.summary).toContain(`](${web})`)
    expect(res.summary).toContain(`](${billing})`)
    expect(res.summary).toContain('error: client for api v2.0.0 does not compile')
    const failed = res.annotations.filter((a) => a.level === 'error' && a.title?.startsWith('tako: '))
    expect(failed).toEqual([
      {
        level: 'error',
        title: 'tako: acme/billing › update failed',
        message: `job "tako" failed at step "Run tako"\nchild billing-update-1, step Run tako\n${billing}`
      }
    ])

    // Each child got the documented inputs, on its default branch, pointing back at this run.
    const dispatched = api.requests.filter((r) => r.path === '/repos/acme/billing/actions/workflows/tako.yml/dispatches')
    expect(dispatched).toHaveLength(1)
    const body = dispatched[0].body as { ref: string; inputs: Record<string, string> }
    expect(body.ref).toBe('main')
    expect(body.inputs.workflow).toBe('update')
    expect(JSON.parse(body.inputs.inputs)).toEqual({ api_version: 'v2.0.0' })
    expect(JSON.parse(body.inputs.event)).toMatchObject({ type: 'api_published', source: 'acme/api', payload: { git_tag: 'v2.0.0' } })
    expect(body.inputs['parent-run']).toBe(`${api.origin}/acme/api/actions/runs/4242/attempts/1`)
    expect(body.inputs['tako-id']).toBe(`${res.outputs['run-id']}.billing-update-1`)

    const children = report(res).children
    expect(children.map((c) => [c.repository, c.status, c.url, c.workspace]).sort()).toEqual([
      ['acme/billing', 'failure', billing, ''],
      ['acme/web', 'success', web, '']
    ])
  })

  it('cancels a child still running at the fan-out deadline through the API and reports it timed out', async () => {
    const res = await action({ workflow: 'hurry', mode: 'dispatch', repositories: 'acme/stuck' })
    expect(res.code).toBe(1)
    expect(res.outputs.status).toBe('failure')
    const [child] = report(res).children
    expect(child).toMatchObject({ repository: 'acme/stuck', status: 'timed_out', url: runUrl('acme/stuck') })
    expect(child.error).toEqual({ kind: 'timed_out', message: 'fan-out "fan-out" timed out after 2s; the run was cancelled on GitHub' })
    const run = api.runs.find((r) => r.repository === 'acme/stuck')
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === `/repos/acme/stuck/actions/runs/${run?.id}/cancel`).map((r) => r.status)).toEqual([202])
    expect(res.annotations.find((a) => a.title === 'tako: acme/stuck › update timed out')?.message).toContain(runUrl('acme/stuck'))
  })

  it('says which repository and permission a refused dispatch needs', async () => {
    const res = await action({ mode: 'dispatch', repositories: 'acme/locked' })
    expect(res.code).toBe(1)
    const [child] = report(res).children
    expect(child.status).toBe('failure')
    expect(child.error?.kind).toBe('dispatch_failed')
    const annotation = res.annotations.find((a) => a.title === 'tako: acme/locked › update failed')
    expect(annotation?.message).toContain('cannot dispatch tako.yml in acme/locked: the token needs `actions: write` on acme/locked')
    expect(annotation?.message).toContain('HTTP 403: Resource not accessible by integration')
    expect(res.summary).toContain('actions: write')
  })

  it('dispatches a subscription that says runs_on: dispatch while the others run here', async () => {
    const res = await action({ repositories: 'acme/local\nacme/remote-only' })
    expect(res.code).toBe(0)
    const children = report(res).children
    const local = children.find((c) => c.repository === 'acme/local')
    const remote = children.find((c) => c.repository === 'acme/remote-only')
    expect(local?.url).toBeUndefined()
    expect(local?.workspace).not.toBe('')
    expect(remote).toMatchObject({ status: 'success', url: runUrl('acme/remote-only'), workspace: '' })
    // The step output links the dispatched run, and says null for the child that ran here.
    const output = JSON.parse(res.outputs.children) as Array<{ id: string; parent_id: string; repository: string; url: string | null }>
    expect(output.map((c) => [c.repository, c.id, c.parent_id, c.url]).sort()).toEqual([
      ['acme/local', local!.id, '', null],
      ['acme/remote-only', remote!.id, '', runUrl('acme/remote-only')]
    ])
    expect(api.runs.map((r) => r.repository)).not.toContain('acme/local')
    expect(res.stdout).toContain('ran here with v2.0.0')
  })

  it('runs as a dispatched child: the event reaches templates and TAKO_EVENT_*, the summary links the parent', async () => {
    const child = makeRepo(path.join(tempDir('tako-e2e-child-'), 'billing'), {
      'tako.yml': `version: 1
workflows:
  update:
    inputs:
      api_version: { type: string, required: true }
    steps:
      - id: show
        run: echo tag={{ .event.payload.git_tag | shell_quote }} "type=$TAKO_EVENT_TYPE source=$TAKO_EVENT_SOURCE input=$TAKO_INPUT_API_VERSION"
`
    })
    const event = { id: 'ev-7', type: 'api_published', source: 'acme/api', artifact: 'default', payload: { git_tag: 'v2.0.0' } }
    const parent = `${api.origin}/acme/api/actions/runs/4242/attempts/1`
    const res = await action({ workflow: 'update', inputs: '{"api_version":"v2.0.0"}', event: JSON.stringify(event), 'parent-run': parent }, child)
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.outputs.status).toBe('success')
    expect(res.stdout).toContain('tag=v2.0.0 type=api_published source=acme/api input=v2.0.0')
    expect(res.summary.startsWith(`> Dispatched by [${parent}](${parent}) for the event api\\_published of acme/api.\n\n## `)).toBe(true)
  })

  it('refuses an event input that is not an event, without a stack trace', async () => {
    const res = await action({ workflow: 'update', event: '{"type": "api_published"}' })
    expect(res.code).toBe(1)
    expect(res.annotations).toEqual([
      {
        level: 'error',
        message:
          'input "event": expected {"type", "source", "artifact", "payload"} of a tako event: "source": Invalid input: expected string, received undefined'
      }
    ])
  })
})
