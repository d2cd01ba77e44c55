// tako/pull-request@v1 through the action bundle, as a runner runs it: subscribers served by a real git server that
// demands the token, pull requests through a fake GitHub REST API on the same origin (as GHES fronts both).

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { runAction, withoutMaskCommands, type ActionResult } from '../../__fixtures__/action-runner.js'
import { startFakeGitHub, type FakeGitHub } from '../../__fixtures__/github-api.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'
import type { RunReport } from '../../src/engine/types.js'
import { secretForms } from '../../src/github/outputs.js'

const execFileAsync = promisify(execFile)
const TOKEN = 'ghs_takoPullRequestE2eToken0123456789'
const BRANCH = 'tako/api_published-api'
const BOT = 'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>'

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: api_published
          payload: { git_tag: v2.0.0 }
`

/** A subscriber that writes the API version (unless `change` is false), shows what a step can see of credentials
    before and after the engine pushed, and proposes the change. */
function subscriber(name: string, change = true): string {
  const dump = (when: string): string => `{ echo "== ${when}"; env; git config --list --show-origin; cat .git/config; } >> "$TAKO_CACHE_DIR/${name}-seen.txt"`
  return `version: 1
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: update
    inputs: { api_version: "{{ .event.payload.git_tag }}" }
workflows:
  update:
    inputs:
      api_version: { type: string, required: true }
    steps:
      - id: look
        run: |
          ${dump('before')}
          env
          git config --list --show-origin
      - id: edit
        run: ${change ? 'echo "$TAKO_INPUT_API_VERSION" > API_VERSION' : 'echo nothing to change'}
      - id: propose
        uses: tako/pull-request@v1
        with:
          title: "Update the API to {{ .event.payload.git_tag }}"
          labels: [dependencies]
          reviewers: [octocat]
      - id: after
        run: |
          ${dump('after')}
          echo "operation={{ .steps.propose.outputs.operation }} url={{ .steps.propose.outputs.url | default "" }}"
`
}

let git: GitServer
let api: FakeGitHub
let root: string
let workspace: string

async function action(repositories: string): Promise<ActionResult> {
  const res = await runAction({ workspace, inputs: { workflow: 'release', cache: 'false', repositories }, token: TOKEN, serverUrl: api.origin })
  expect(res.timedOut).toBe(false)
  return res
}

const report = (res: ActionResult): RunReport => JSON.parse(readFileSync(res.outputs['report-path'], 'utf8')) as RunReport
const child = (r: RunReport, repository: string) => r.children.find((c) => c.repository === repository)!
const inBare = async (repository: string, ...args: string[]): Promise<string> =>
  (await execFileAsync('git', ['--git-dir', path.join(root, `${repository}.git`), ...args])).stdout.trim()
const branches = async (repository: string): Promise<string[]> =>
  (await inBare(repository, 'for-each-ref', '--format=%(refname:short)', 'refs/heads')).split('\n').filter(Boolean).sort()

beforeAll(async () => {
  root = tempDir('tako-e2e-pr-git-')
  git = await startGitServer({ root, token: TOKEN })
  api = await startFakeGitHub({
    token: TOKEN,
    prefix: '/api/v3',
    upstream: git.url,
    repos: { 'acme/web': {}, 'acme/billing': {}, 'acme/docs': {}, 'acme/locked': { denyPullRequests: 403 }, 'acme/shop': {}, 'acme/sly': {} }
  })
  // A subscriber whose step installs a clean filter in its checkout: git runs it when the engine stages the changes.
  await createBareRepo(root, 'acme/sly', {
    'tako.yml': subscriber('sly').replace(
      'echo "$TAKO_INPUT_API_VERSION" > API_VERSION',
      `echo "$TAKO_INPUT_API_VERSION" > API_VERSION && echo '* filter=spy' > .gitattributes && git config filter.spy.clean "env >> $TAKO_CACHE_DIR/spy-env.txt; cat"`
    ),
    API_VERSION: 'v1.0.0\n'
  })
  for (const name of ['web', 'billing', 'locked', 'shop']) await createBareRepo(root, `acme/${name}`, { 'tako.yml': subscriber(name), API_VERSION: 'v1.0.0\n' })
  await createBareRepo(root, 'acme/docs', { 'tako.yml': subscriber('docs', false), API_VERSION: 'v1.0.0\n' })
  workspace = makeRepo(path.join(tempDir('tako-e2e-pr-ws-'), 'api'), { 'tako.yml': PUBLISHER }, `${api.origin}/acme/api`)
})

afterAll(async () => {
  await api?.close()
  await git?.close()
  cleanupTempDirs()
})

describe('tako/pull-request@v1 in the action', () => {
  let first: ActionResult

  it('pushes one commit by github-actions[bot] per subscriber and opens one labelled pull request with a review request each', async () => {
    first = await action('acme/web\nacme/billing\nacme/docs')
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.outputs.status).toBe('success')

    for (const repository of ['acme/web', 'acme/billing']) {
      expect(await branches(repository)).toEqual(['main', BRANCH])
      expect(await inBare(repository, 'rev-list', '--count', `main..${BRANCH}`)).toBe('1')
      expect(await inBare(repository, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', BRANCH)).toBe(`${BOT}|${BOT}|Update the API to v2.0.0`)
      expect(await inBare(repository, 'diff', '--name-only', 'main', BRANCH)).toBe('API_VERSION')
      expect(await inBare(repository, 'show', `${BRANCH}:API_VERSION`)).toBe('v2.0.0')
    }
    // Pushed with the token, as an extra header.
    expect(git.requests.filter((q) => q.path.endsWith('/git-receive-pack')).map((q) => [q.path, q.authorized])).toEqual(
      expect.arrayContaining([
        ['/acme/web/git-receive-pack', true],
        ['/acme/billing/git-receive-pack', true]
      ])
    )

    const creations = api.requests.filter((q) => q.method === 'POST' && /\/pulls$/.test(q.path))
    expect(creations.map((q) => q.path).sort()).toEqual(['/repos/acme/billing/pulls', '/repos/acme/web/pulls'])
    for (const q of creations) expect(q.body).toMatchObject({ title: 'Update the API to v2.0.0', head: BRANCH, base: 'main', draft: false })
    expect(
      api.pulls.map((p) => ({ repository: p.repository, labels: p.labels, reviewers: p.reviewers })).sort((a, b) => a.repository.localeCompare(b.repository))
    ).toEqual([
      { repository: 'acme/billing', labels: ['dependencies'], reviewers: ['octocat'] },
      { repository: 'acme/web', labels: ['dependencies'], reviewers: ['octocat'] }
    ])
    const web = api.pulls.find((p) => p.repository === 'acme/web')!
    expect(web.body).toContain('`api_published` from acme/api')
    expect(web.body).toContain('/acme/api/actions/runs/')

    const url = (repository: string): string => `${api.origin}/${repository}/pull/${api.pulls.find((p) => p.repository === repository)!.number}`
    const outputs = JSON.parse(first.outputs['pull-requests']) as Array<Record<string, unknown>>
    expect(outputs.sort((a, b) => String(a.repository).localeCompare(String(b.repository)))).toEqual([
      {
        repository: 'acme/billing',
        number: api.pulls.find((p) => p.repository === 'acme/billing')!.number,
        url: url('acme/billing'),
        branch: BRANCH,
        operation: 'created'
      },
      { repository: 'acme/web', number: web.number, url: url('acme/web'), branch: BRANCH, operation: 'created' }
    ])
    expect(first.summary).toContain(`[#${web.number}](${url('acme/web')}) created`)
    expect(first.summary).toContain(`(${url('acme/billing')}) created`)

    const r = report(first)
    expect(child(r, 'acme/web').pull_requests).toEqual([
      { repository: 'acme/web', number: web.number, url: url('acme/web'), branch: BRANCH, base: 'main', operation: 'created' }
    ])
    expect(child(r, 'acme/web').steps.find((s) => s.id === 'propose')!.outputs).toMatchObject({
      operation: 'created',
      url: url('acme/web'),
      branch: BRANCH,
      number: String(web.number)
    })
    expect(first.stdout).toContain(`operation=created url=${url('acme/web')}`)

    // Nothing to change: no_changes, no branch, no pull request.
    expect(child(r, 'acme/docs').status).toBe('success')
    expect(child(r, 'acme/docs').steps.find((s) => s.id === 'propose')!.outputs.operation).toBe('no_changes')
    expect(child(r, 'acme/docs').pull_requests).toBeUndefined()
    expect(await branches('acme/docs')).toEqual(['main'])
    expect(api.requests.filter((q) => q.path.startsWith('/repos/acme/docs/'))).toEqual([])
  })

  it('shows no step the token, in no form, before or after the engine pushed; nor any log, summary, output or report', async () => {
    const forms = [...new Set(secretForms(TOKEN).map((f) => f.replace(/=+$/, '')))]
    for (const name of ['web', 'billing', 'docs']) {
      const seen = readFileSync(path.join(first.runnerTemp, 'tako-cache', `${name}-seen.txt`), 'utf8')
      // The dump did run, before and after, with the environment and git's view of its config.
      expect(seen).toContain('== before')
      expect(seen).toContain('== after')
      expect(seen).toMatch(/^TAKO_STEP_ID=after$/m)
      expect(seen).toMatch(/remote\.origin\.url=/)
      for (const form of forms) expect({ name, leaks: seen.includes(form) }).toEqual({ name, leaks: false })
      expect(seen).not.toMatch(/extraheader/i)
    }
    const places: Record<string, string> = {
      stdout: withoutMaskCommands(first.stdout),
      stderr: first.stderr,
      summary: first.summary,
      outputs: first.outputsFile,
      report: readFileSync(first.outputs['report-path'], 'utf8')
    }
    for (const form of forms) {
      for (const [where, text] of Object.entries(places)) expect({ where, form, leaks: text.includes(form) }).toEqual({ where, form, leaks: false })
    }
  })

  it('creates no second pull request on the same run again: the branch stays, the pull requests are updated or unchanged', async () => {
    const before = { pulls: api.pulls.length, web: await inBare('acme/web', 'rev-parse', BRANCH), billing: await inBare('acme/billing', 'rev-parse', BRANCH) }
    const creationsBefore = api.requests.filter((q) => q.method === 'POST' && /\/pulls$/.test(q.path)).length
    const reviewRequests = (): number => api.requests.filter((q) => q.path.endsWith('/requested_reviewers')).length
    const reviewsBefore = reviewRequests()

    const again = await action('acme/web\nacme/billing\nacme/docs')

    expect(again.code).toBe(0)
    expect(api.pulls.length).toBe(before.pulls)
    expect(api.requests.filter((q) => q.method === 'POST' && /\/pulls$/.test(q.path)).length).toBe(creationsBefore)
    expect(await inBare('acme/web', 'rev-parse', BRANCH)).toBe(before.web)
    expect(await inBare('acme/billing', 'rev-parse', BRANCH)).toBe(before.billing)
    const operations = (JSON.parse(again.outputs['pull-requests']) as Array<{ operation: string }>).map((p) => p.operation)
    expect(operations).toHaveLength(2)
    for (const operation of operations) expect(['updated', 'unchanged']).toContain(operation)
    // Reviews are not requested again; the label is still there, once.
    expect(reviewRequests()).toBe(reviewsBefore)
    for (const pr of api.pulls) expect(pr.labels).toEqual(['dependencies'])
  })

  it('says in a dry run which pull requests would be proposed, with branch and base, and pushes nothing', async () => {
    const pushes = git.requests.filter((q) => q.path.endsWith('/git-receive-pack')).length
    const res = await runAction({
      workspace,
      inputs: { workflow: 'release', cache: 'false', repositories: 'acme/shop', 'dry-run': 'true' },
      token: TOKEN,
      serverUrl: api.origin
    })
    expect(res.code).toBe(0)
    expect(res.summary).toContain('### Pull requests that would be proposed')
    expect(res.summary).toContain('| acme/shop | update | propose | tako/api\\_published-api | (its default branch) | Update the API to v2.0.0 |')
    expect(git.requests.filter((q) => q.path.endsWith('/git-receive-pack')).length).toBe(pushes)
    expect(await branches('acme/shop')).toEqual(['main'])
  })

  it('fails the child whose pull request GitHub refuses (403) with pull_request_failed naming the permissions; its sibling still proposes', async () => {
    const res = await action('acme/locked\nacme/shop\nacme/sly')

    expect(res.code).toBe(1)
    const r = report(res)
    const locked = child(r, 'acme/locked')
    expect(locked.status).toBe('failure')
    expect(locked.error?.kind).toBe('pull_request_failed')
    expect(locked.error?.step).toBe('propose')
    expect(locked.error?.message).toContain('acme/locked')
    expect(locked.error?.message).toContain('pull-requests: write')
    expect(locked.error?.message).toContain('HTTP 403')
    expect(res.annotations.some((a) => a.level === 'error' && a.message.includes('pull-requests: write'))).toBe(true)

    const shop = child(r, 'acme/shop')
    expect(shop.status).toBe('success')
    expect(shop.pull_requests?.map((p) => p.operation)).toEqual(['created'])
    expect(api.pulls.filter((p) => p.repository === 'acme/shop')).toHaveLength(1)
    expect(api.pulls.filter((p) => p.repository === 'acme/locked')).toHaveLength(0)
    expect(existsSync(res.outputs['report-path'])).toBe(true)

    // The filter a step installed ran under the engine's `git add`, with no more than a step's environment.
    expect(child(r, 'acme/sly').pull_requests?.map((p) => p.operation)).toEqual(['created'])
    const spied = readFileSync(path.join(res.runnerTemp, 'tako-cache', 'spy-env.txt'), 'utf8')
    expect(spied).toMatch(/^GIT_INDEX_FILE=/m)
    for (const form of new Set(secretForms(TOKEN).map((f) => f.replace(/=+$/, '')))) expect(spied.includes(form)).toBe(false)
    expect(spied.split('\n').filter((l) => /^INPUT_\S*=./.test(l))).toEqual([])
  })
})
