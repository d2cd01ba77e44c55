// Action discovery through GraphQL, in process: the engine over the remote source, the loopback git server and the
// GitHub fake's /graphql answering from the same bare repositories. Counts requests and mirrors, never time.

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { cpSync, existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { startFakeGitHub, type FakeGitHub } from '../../__fixtures__/github-api.js'
import { makeRepo } from '../../__fixtures__/repos.js'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { makeGraphql } from '../../src/github/graphql.js'
import { createOctokit } from '../../src/github/octokit.js'
import { RemoteRepositorySource } from '../../src/github/remote-source.js'
import type { RunReport } from '../../src/engine/types.js'

const TOKEN = 'ghs_graphqlDiscoveryToken7'
const SUBSCRIBER = `version: 1
subscriptions:
  - { artifact: acme/api, events: [go], workflow: w }
workflows:
  w:
    steps:
      - run: git rev-parse HEAD > "$TAKO_CACHE_DIR/$(basename "$PWD").head"; git branch --show-current >> "$TAKO_CACHE_DIR/$(basename "$PWD").head"
`
const OTHER = `version: 1
subscriptions:
  - { artifact: acme/other, events: [go], workflow: w }
workflows:
  w:
    steps: ["true"]
`
const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: go }
`

let tmp: string
let git: GitServer | undefined
let api: FakeGitHub | undefined

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'tako-graphql-'))
})
afterEach(async () => {
  await git?.close()
  await api?.close()
  git = api = undefined
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

function sh(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => execFile('git', args, { cwd }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))))
}

/** Bare repositories acme/sub-NN (subscribers) and acme/pass-NNN (subscribed to something else), copied from two. */
async function layout(root: string, subscribers: number, others: number): Promise<string[]> {
  const sub = await createBareRepo(path.join(root, '.templates'), 'acme/sub', { 'tako.yml': SUBSCRIBER })
  const other = await createBareRepo(path.join(root, '.templates'), 'acme/other', { 'tako.yml': OTHER })
  const names: string[] = []
  for (let i = 0; i < subscribers; i++) names.push(`acme/sub-${String(i).padStart(2, '0')}`)
  for (let i = 0; i < others; i++) names.push(`acme/pass-${String(i).padStart(3, '0')}`)
  for (const name of names) cpSync(name.startsWith('acme/sub-') ? sub : other, path.join(root, `${name}.git`), { recursive: true })
  return names
}

async function discover(
  dir: string,
  repositories: string[],
  opts: { graphql: boolean; hidden?: string[] }
): Promise<{ report: RunReport; cacheRoot: string; cache: string; info: string[] }> {
  const root = path.join(dir, 'server')
  git = await startGitServer({ root, token: TOKEN, deny: Object.fromEntries((opts.hidden ?? []).map((r) => [r, 404 as const])) })
  api = await startFakeGitHub({ repos: {}, token: TOKEN, ...(opts.graphql ? { graphql: { root, hidden: opts.hidden } } : {}) })
  const publisher = makeRepo(path.join(dir, 'api'), { 'tako.yml': PUBLISHER })
  const cacheRoot = path.join(dir, 'mirrors')
  const cache = path.join(dir, 'cache')
  const info: string[] = []
  const source = new RemoteRepositorySource({
    serverUrl: git.url,
    token: TOKEN,
    repositories: repositories.join('\n'),
    cacheRoot,
    graphql: makeGraphql(createOctokit({ token: TOKEN, baseUrl: api.url })),
    info: (m) => info.push(m)
  })
  const prepared = await prepareRun({ root: publisher, workflow: 'release', inputs: {}, source: 'acme/api' })
  const report = await executeRun(prepared, {
    root: publisher,
    workflow: 'release',
    inputs: {},
    source: 'acme/api',
    repositorySource: source,
    runRoot: path.join(dir, 'run'),
    cacheDir: cache,
    maxConcurrency: 4
  })
  return { report, cacheRoot, cache, info }
}

/** owner/repo of every repository the git server was asked about. */
function gitTouched(server: GitServer): Set<string> {
  return new Set(server.requests.map((r) => /^\/([^/]+\/[^/]+?)(?:\.git)?\//.exec(r.path)?.[1]).filter((r): r is string => r !== undefined))
}

describe('action discovery through GraphQL', () => {
  it('reads 200 candidates in at most 3 GraphQL requests and runs git only for the 10 that match', async () => {
    const dir = await mkdtemp(path.join(tmp, 'wide-'))
    const names = await layout(path.join(dir, 'server'), 10, 190)
    const { report, cacheRoot, cache, info } = await discover(dir, names, { graphql: true })

    expect(info).toEqual([])
    expect(report.status).toBe('success')
    expect(report.children.map((c) => [c.repository, c.status]).sort()).toEqual(names.slice(0, 10).map((n) => [n, 'success']))
    expect(report.discovery.find((d) => d.fan_out)?.fan_out).toEqual({ candidates: 200, matched: 10, no_match: 0, no_subscription: 190, error: 0 })
    const graphqlRequests = api!.requests.filter((r) => r.path === '/graphql')
    expect(graphqlRequests.length).toBeGreaterThanOrEqual(1)
    expect(graphqlRequests.length).toBeLessThanOrEqual(3)
    expect(graphqlRequests.every((r) => r.status === 200)).toBe(true)
    // No git process for the 190 that do not match: the server never heard of them and they have no mirror.
    expect([...gitTouched(git!)].sort()).toEqual(names.slice(0, 10))
    expect((await readdir(path.join(cacheRoot, 'acme'))).sort()).toEqual(names.slice(0, 10).map((n) => `${n.split('/')[1]}.git`))
    // Each child is a checkout of the commit GraphQL read, on the default branch it named.
    const main = await sh(['--git-dir', path.join(dir, 'server', 'acme/sub-00.git'), 'rev-parse', 'main'], dir)
    const heads = await readdir(cache)
    expect(heads).toHaveLength(10)
    for (const file of heads) expect((await readFile(path.join(cache, file), 'utf8')).split('\n').slice(0, 2)).toEqual([main, 'main'])
  }, 300_000)

  it('reads a candidate at a tag or a branch and checks out the commit GraphQL named', async () => {
    const dir = await mkdtemp(path.join(tmp, 'refs-'))
    const server = path.join(dir, 'server')
    await layout(server, 2, 0)
    const ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    await sh([...ident, '--git-dir', path.join(server, 'acme/sub-00.git'), 'tag', '-a', '-m', 'release', 'v1', 'main'], dir)
    await sh(['--git-dir', path.join(server, 'acme/sub-01.git'), 'branch', 'feature', 'main'], dir)
    const { report, cache, info } = await discover(dir, ['acme/sub-00@v1', 'acme/sub-01@feature'], { graphql: true })
    expect(info).toEqual([])
    expect(report.children.map((c) => [c.repository, c.ref, c.status]).sort()).toEqual([
      ['acme/sub-00', 'v1', 'success'],
      ['acme/sub-01', 'feature', 'success']
    ])
    expect(api!.requests.filter((r) => r.path === '/graphql')).toHaveLength(1)
    const main = await sh(['--git-dir', path.join(server, 'acme/sub-00.git'), 'rev-parse', 'main'], dir)
    const seen = await Promise.all(
      report.children.map(async (c) => [c.repository, (await readFile(path.join(cache, `${path.basename(c.workspace)}.head`), 'utf8')).split('\n').slice(0, 2)])
    )
    // A tag is checked out detached at its commit; a branch as that branch.
    expect(Object.fromEntries(seen)).toEqual({ 'acme/sub-00': [main, ''], 'acme/sub-01': [main, 'feature'] })

    // Both were read by GraphQL itself, not by the git fallback: reading made no mirror.
    const fresh = path.join(dir, 'fresh-mirrors')
    const direct = new RemoteRepositorySource({
      serverUrl: git!.url,
      token: TOKEN,
      repositories: '',
      cacheRoot: fresh,
      graphql: makeGraphql(createOctokit({ token: TOKEN, baseUrl: api!.url }))
    })
    const files = await direct.readConfigs(
      [
        { repository: 'acme/sub-00', ref: 'v1' },
        { repository: 'acme/sub-01', ref: 'feature' }
      ],
      new AbortController().signal
    )
    expect(files).toEqual([
      { text: SUBSCRIBER, file: 'tako.yml' },
      { text: SUBSCRIBER, file: 'tako.yml' }
    ])
    expect(existsSync(fresh)).toBe(false)
  }, 300_000)

  it('falls back to git per candidate when GraphQL is refused', async () => {
    const dir = await mkdtemp(path.join(tmp, 'refused-'))
    const names = await layout(path.join(dir, 'server'), 2, 2)
    const { report, info } = await discover(dir, names, { graphql: false })
    expect(info).toEqual([expect.stringMatching(/^GraphQL was refused \(.*\): reading each candidate's tako\.yml with git instead$/)])
    expect(report.warnings).toEqual([])
    expect(report.children.map((c) => [c.repository, c.status]).sort()).toEqual([
      ['acme/sub-00', 'success'],
      ['acme/sub-01', 'success']
    ])
    expect(report.discovery.find((d) => d.fan_out)?.fan_out).toMatchObject({ candidates: 4, matched: 2, no_subscription: 2 })
    expect(api!.requests.filter((r) => r.path === '/graphql').map((r) => r.status)).toEqual([404])
    expect([...gitTouched(git!)].sort()).toEqual(names.slice().sort())
  }, 300_000)

  it('reads with git a candidate GraphQL cannot see, and reports what git says about it', async () => {
    const dir = await mkdtemp(path.join(tmp, 'hidden-'))
    const names = await layout(path.join(dir, 'server'), 1, 2)
    const { report, info } = await discover(dir, names, { graphql: true, hidden: ['acme/pass-000'] })
    expect(info).toEqual([])
    expect(report.children.map((c) => [c.repository, c.status])).toEqual([['acme/sub-00', 'success']])
    const hidden = report.discovery.find((d) => d.repository === 'acme/pass-000')
    expect(hidden).toMatchObject({ result: 'error', reason: expect.stringContaining('acme/pass-000 does not exist or the token cannot see it') })
    expect([...gitTouched(git!)].sort()).toEqual(['acme/pass-000', 'acme/sub-00'])
  }, 300_000)
})
