import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { SourceError, type Candidate } from '../../src/engine/repository-source.js'
import { makeOwnerLister } from '../../src/github/list-repos.js'
import { git, gitAuth } from '../../src/engine/git.js'
import { createOctokit } from '../../src/github/octokit.js'
import { parseRepositoriesInput, RemoteRepositorySource, type RemoteSourceOptions } from '../../src/github/remote-source.js'

const TOKEN = 'ghs_remoteSourceToken42'
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
const signal = new AbortController().signal
let tmp: string
let root: string
let server: GitServer | undefined
let savedEnv: NodeJS.ProcessEnv

// Async on purpose: a synchronous git child would block the server living in this process.
function sh(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout: stdout.trim(), stderr })
    )
  })
}

async function serve(opts: { token?: string; failFirst?: number; deny?: Record<string, 403 | 404>; delayMs?: number } = {}): Promise<GitServer> {
  server = await startGitServer({ root, token: TOKEN, ...opts })
  return server
}

/** Git asks its credential helper when challenged: every request but the challenged ones carried the token, and some did. */
function servedAuthorizedOnly(srv: GitServer): boolean {
  const answered = srv.requests.filter((r) => r.status !== 401)
  return answered.length > 0 && answered.every((r) => r.authorized && r.status === 200)
}

function source(
  srv: GitServer,
  opts: Partial<RemoteSourceOptions> = {}
): { src: RemoteRepositorySource; warnings: string[]; sleeps: number[]; cacheRoot: string } {
  const warnings: string[] = []
  const sleeps: number[] = []
  const cacheRoot = path.join(tmp, `cache-${Math.random().toString(36).slice(2)}`)
  const src = new RemoteRepositorySource({
    serverUrl: srv.url,
    token: TOKEN,
    repositories: '',
    cacheRoot,
    warn: (m) => warnings.push(m),
    retry: { sleep: async (ms) => void sleeps.push(ms) },
    ...opts
  })
  return { src, warnings, sleeps, cacheRoot }
}

async function caught(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p
  } catch (error) {
    expect(error).toBeInstanceOf(SourceError)
    return error as SourceError
  }
  throw new Error('expected a SourceError')
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name))
  }
  return out
}

async function expectNoSecretsUnder(dir: string): Promise<void> {
  const files = await filesUnder(dir)
  expect(files.length).toBeGreaterThan(0)
  for (const file of files) {
    const text = (await readFile(file)).toString('latin1')
    for (const secret of [TOKEN, BASIC, Buffer.from(TOKEN).toString('base64')]) {
      if (text.includes(secret)) throw new Error(`${file} contains a secret`)
    }
  }
}

beforeAll(async () => {
  savedEnv = { ...process.env }
  tmp = await mkdtemp(path.join(tmpdir(), 'tako-remote-source-'))
  root = path.join(tmp, 'server')
  // Keep the developer's git config (credential helpers, identity) out of the product's git commands.
  Object.assign(process.env, {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'test',
    GIT_AUTHOR_EMAIL: 'test@tako.test',
    GIT_COMMITTER_NAME: 'test',
    GIT_COMMITTER_EMAIL: 'test@tako.test'
  })
  const api = await createBareRepo(root, 'acme/api', { 'tako.yml': 'version: 1\nname: api\n', 'src/main.txt': 'main\n' })
  await createBareRepo(root, 'acme/yaml-only', { 'tako.yaml': 'version: 1\nname: yaml\n' })
  await createBareRepo(root, 'acme/plain', { 'README.md': 'no tako here\n' })
  // A second commit on `dev`, a tag on main and a nested branch name.
  const work = path.join(tmp, 'api-work')
  await sh(['clone', '--quiet', api, work], tmp)
  await sh(['checkout', '--quiet', '-b', 'dev'], work)
  await writeFile(path.join(work, 'tako.yml'), 'version: 1\nname: api-dev\n')
  await sh(['commit', '--quiet', '-am', 'dev change'], work)
  await sh(['push', '--quiet', 'origin', 'dev', 'dev:feature/x'], work)
  await sh(['tag', '-a', '-m', 'release', 'v1.0.0', 'origin/main'], work)
  await sh(['push', '--quiet', 'origin', 'v1.0.0'], work)
})

afterEach(async () => {
  await server?.close()
  server = undefined
})

afterAll(async () => {
  process.env = savedEnv
  await rm(tmp, { recursive: true, force: true })
})

describe('parseRepositoriesInput', () => {
  it('takes lines and commas, trims spaces and ignores blanks', () => {
    const { entries, errors } = parseRepositoriesInput(' acme/api , acme/web@v1.2.0\n\n  other/lib@feature/x  \r\n,acme/*,\n')
    expect(errors).toEqual([])
    expect(entries).toEqual([
      { repository: 'acme/api', ref: '' },
      { repository: 'acme/web', ref: 'v1.2.0' },
      { repository: 'other/lib', ref: 'feature/x' },
      { owner: 'acme', wildcard: true }
    ])
  })

  it('is empty for an empty input', () => {
    expect(parseRepositoriesInput('  \n , \n')).toEqual({ entries: [], errors: [] })
  })

  it('names each invalid entry and says what is wrong, keeping the valid ones', () => {
    const { entries, errors } = parseRepositoriesInput(
      '../evil, acme/my repo\nacme/api@--upload-pack=x\nacme/*@main\n*/api\nacme\nacme/ok@a..b\n../*\nacme/good'
    )
    expect(entries).toEqual([{ repository: 'acme/good', ref: '' }])
    expect(errors).toEqual([
      '"../evil" is not a repository name of the form owner/repo[@ref]',
      '"acme/my repo" is not a repository name of the form owner/repo[@ref]',
      '"acme/api@--upload-pack=x": "--upload-pack=x" is not a valid ref',
      '"acme/*@main": a wildcard must be a whole owner, as in owner/* (without @ref)',
      '"*/api": a wildcard must be a whole owner, as in owner/* (without @ref)',
      '"acme" is not a repository name of the form owner/repo[@ref]',
      '"acme/ok@a..b": "a..b" is not a valid ref',
      '"../*": ".." is not an owner name'
    ])
  })
})

describe('RemoteRepositorySource.list', () => {
  it('merges the input with repos:, expands owner/*, lets an explicit @ref win and reports bad entries', async () => {
    const srv = await serve()
    const listed: string[] = []
    const { src, warnings } = source(srv, {
      repositories: 'acme/api\nacme/*, bad entry\nacme/web@v2',
      listOwnerRepos: async (owner) => {
        listed.push(owner)
        return [`${owner}/api`, `${owner}/web`, `${owner}/tools`]
      }
    })
    const { candidates, problems } = await src.list(['ACME/API@dev', 'acme/web@v3', 'other/lib', 'nope'])
    expect(listed).toEqual(['acme'])
    expect(candidates).toEqual([
      { repository: 'ACME/API', ref: 'dev' },
      { repository: 'acme/web', ref: 'v2' },
      { repository: 'acme/tools', ref: '' },
      { repository: 'other/lib', ref: '' }
    ])
    expect(problems).toEqual([
      { repository: 'bad entry', ref: '', reason: '"bad entry" is not a repository name of the form owner/repo[@ref] (in the repositories input)' },
      { repository: 'nope', ref: '', reason: '"nope" is not a repository name of the form owner/repo[@ref] (in repos: in tako.yml)' }
    ])
    expect(warnings).toEqual(['acme/web is listed at @v2 and @v3; using @v2'])
  })

  it('reports an owner that cannot be listed as a problem instead of failing', async () => {
    const srv = await serve()
    const failing = source(srv, { repositories: 'acme/*', listOwnerRepos: async () => Promise.reject(new Error('HTTP 403 rate limited')) })
    expect(await failing.src.list([])).toEqual({
      candidates: [],
      problems: [{ repository: 'acme/*', ref: '', reason: 'cannot list the repositories of acme: HTTP 403 rate limited' }]
    })
    const noApi = source(srv, { repositories: 'acme/*' })
    expect((await noApi.src.list([])).problems[0].reason).toMatch(/needs the GitHub API/)
  })
})

describe('RemoteRepositorySource.readConfig', () => {
  it('reads tako.yml at the default branch with authorized requests only, keeping the mirror in cacheRoot', async () => {
    const srv = await serve()
    const { src, warnings, cacheRoot } = source(srv)
    expect(await src.readConfig({ repository: 'acme/api', ref: '' }, signal)).toEqual({ text: 'version: 1\nname: api\n', file: 'tako.yml' })
    expect(servedAuthorizedOnly(srv)).toBe(true)
    expect(warnings).toEqual([])
    expect(existsSync(path.join(cacheRoot, 'acme', 'api.git', 'HEAD'))).toBe(true)
    // Shallow and blob-filtered: only the one commit, its trees and the tako.yml blob came down.
    const objects = await sh(['cat-file', '--batch-all-objects', '--batch-check=%(objecttype)'], path.join(cacheRoot, 'acme', 'api.git'))
    expect(objects.stdout.split('\n').sort()).toEqual(['blob', 'commit', 'tree', 'tree'])
    await expectNoSecretsUnder(cacheRoot)
  })

  it('reads at a branch, a nested branch, an annotated tag and a commit; concurrently in one mirror', async () => {
    const srv = await serve()
    const { src } = source(srv)
    const sha = (await sh(['rev-parse', 'main'], path.join(root, 'acme/api.git'))).stdout
    const read = (ref: string) => src.readConfig({ repository: 'acme/api', ref }, signal).then((f) => f?.text)
    expect(await Promise.all([read('dev'), read('feature/x'), read('v1.0.0'), read(sha), read('main')])).toEqual([
      'version: 1\nname: api-dev\n',
      'version: 1\nname: api-dev\n',
      'version: 1\nname: api\n',
      'version: 1\nname: api\n',
      'version: 1\nname: api\n'
    ])
  })

  it('falls back to tako.yaml and returns null when there is no tako file', async () => {
    const srv = await serve()
    const { src } = source(srv)
    expect(await src.readConfig({ repository: 'acme/yaml-only', ref: '' }, signal)).toEqual({ text: 'version: 1\nname: yaml\n', file: 'tako.yaml' })
    expect(await src.readConfig({ repository: 'acme/plain', ref: '' }, signal)).toBeNull()
  })

  it('explains a refused token (HTTP 401) and does not retry it', async () => {
    const srv = await serve()
    const { src, warnings, sleeps } = source(srv, { token: 'ghs_wrong' })
    const error = await caught(src.readConfig({ repository: 'acme/api', ref: '' }, signal))
    expect(error.kind).toBe('auth')
    expect(error.message).toBe(
      'cannot read acme/api: the token was refused (HTTP 401: authentication required). GITHUB_TOKEN can only read its own repository; ' +
        'give a PAT or a GitHub App token with contents:read on acme/api through the token input'
    )
    // Git's credential helper answers the server's challenge, once: the wrong token is not retried.
    expect(srv.requests.map((r) => [r.authorized, r.status])).toEqual([
      [false, 401],
      [false, 401]
    ])
    expect(warnings).toEqual([])
    expect(sleeps).toEqual([])
  })

  it('explains HTTP 403 with what the server said, without retrying', async () => {
    const srv = await serve({ deny: { 'acme/api': 403 } })
    const { src, sleeps } = source(srv)
    const error = await caught(src.readConfig({ repository: 'acme/api', ref: '' }, signal))
    expect(error.kind).toBe('auth')
    expect(error.message).toMatch(/^cannot read acme\/api: the token was refused \(HTTP 403: permission denied\)\. GITHUB_TOKEN can only read/)
    expect(srv.requests.map((r) => [r.authorized, r.status])).toEqual([
      [false, 401],
      [true, 403]
    ])
    expect(sleeps).toEqual([])
  })

  it('reports a repository the server denies (404) or does not have as not_found', async () => {
    const srv = await serve({ deny: { 'acme/api': 404 } })
    const { src, sleeps } = source(srv)
    for (const repository of ['acme/api', 'acme/missing']) {
      const error = await caught(src.readConfig({ repository, ref: '' }, signal))
      expect(error.kind).toBe('not_found')
      expect(error.message).toMatch(new RegExp(`^${repository} does not exist or the token cannot see it`))
    }
    expect(sleeps).toEqual([])
  })

  it('reports a ref that does not exist', async () => {
    const srv = await serve()
    const { src } = source(srv)
    const error = await caught(src.readConfig({ repository: 'acme/api', ref: 'no-such-branch' }, signal))
    expect(error).toMatchObject({ kind: 'not_found', message: 'acme/api has no branch, tag or commit "no-such-branch"' })
  })

  it('retries transient server errors with backoff and then succeeds', async () => {
    const srv = await serve({ failFirst: 2 })
    const { src, warnings, sleeps } = source(srv)
    expect(await src.readConfig({ repository: 'acme/api', ref: '' }, signal)).toEqual({ text: 'version: 1\nname: api\n', file: 'tako.yml' })
    expect(srv.requests.slice(0, 2).map((r) => r.status)).toEqual([503, 503])
    expect(sleeps).toHaveLength(2)
    expect(sleeps[1]).toBeGreaterThanOrEqual(sleeps[0])
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(/^cannot read acme\/api: .*503.*; retrying in \d\.\d s \(attempt 2 of 3\)$/)
  })

  it('gives up on a server that keeps failing after three attempts', async () => {
    const srv = await serve({ failFirst: 100 })
    const { src, sleeps } = source(srv)
    const error = await caught(src.readConfig({ repository: 'acme/api', ref: '' }, signal))
    expect(error.kind).toBe('transient')
    expect(error.message).toMatch(/503.*\(gave up after 3 attempts\)$/)
    expect(srv.requests).toHaveLength(3)
    expect(sleeps).toHaveLength(2)
  })

  it('refuses a candidate whose name would leave cacheRoot', async () => {
    const srv = await serve()
    const { src, cacheRoot } = source(srv)
    for (const repository of ['../evil', 'acme/..', '../../etc']) {
      const error = await caught(src.readConfig({ repository, ref: '' }, signal))
      expect(error.message).toMatch(/is not a repository name/)
    }
    expect(existsSync(cacheRoot)).toBe(false)
    expect(srv.requests).toEqual([])
  })
})

describe('RemoteRepositorySource.checkout', () => {
  async function checkout(src: RemoteRepositorySource, candidate: Candidate): Promise<string> {
    const dir = path.join(tmp, 'children', `${candidate.repository.replace('/', '-')}-${Math.random().toString(36).slice(2)}`)
    await mkdir(dir, { recursive: true })
    await src.checkout(candidate, dir, signal)
    return dir
  }

  it('makes a working checkout on the default branch, from the mirror, with no secret on disk', async () => {
    const srv = await serve()
    const { src, cacheRoot } = source(srv)
    const candidate = { repository: 'acme/api', ref: '' }
    await src.readConfig(candidate, signal)
    const dir = await checkout(src, candidate)
    expect(await readFile(path.join(dir, 'src/main.txt'), 'utf8')).toBe('main\n')
    expect(await readFile(path.join(dir, 'tako.yml'), 'utf8')).toBe('version: 1\nname: api\n')
    expect((await sh(['log', '--format=%s'], dir)).stdout).toBe('initial commit')
    expect((await sh(['status', '--short', '--branch'], dir)).stdout).toBe('## main...origin/main')
    expect((await sh(['remote', 'get-url', 'origin'], dir)).stdout).toBe(`${srv.url}/acme/api`)
    expect(servedAuthorizedOnly(srv)).toBe(true)
    await expectNoSecretsUnder(dir)
    await expectNoSecretsUnder(cacheRoot)
    expect(await readFile(path.join(dir, '.git', 'config'), 'utf8')).not.toMatch(/extraheader|AUTHORIZATION/i)
  })

  it('checks out a branch ref on that branch, and a tag or a commit detached at it', async () => {
    const srv = await serve()
    const { src } = source(srv)
    const mainSha = (await sh(['rev-parse', 'main'], path.join(root, 'acme/api.git'))).stdout
    const devSha = (await sh(['rev-parse', 'dev'], path.join(root, 'acme/api.git'))).stdout

    const feature = await checkout(src, { repository: 'acme/api', ref: 'feature/x' })
    expect((await sh(['status', '--short', '--branch'], feature)).stdout).toBe('## feature/x...origin/feature/x')
    expect(await readFile(path.join(feature, 'tako.yml'), 'utf8')).toBe('version: 1\nname: api-dev\n')

    const tag = await checkout(src, { repository: 'acme/api', ref: 'v1.0.0' })
    expect((await sh(['rev-parse', 'HEAD'], tag)).stdout).toBe(mainSha)
    expect((await sh(['describe', '--tags'], tag)).stdout).toBe('v1.0.0')
    expect((await sh(['symbolic-ref', '-q', 'HEAD'], tag)).code).not.toBe(0)

    const commit = await checkout(src, { repository: 'acme/api', ref: devSha })
    expect((await sh(['rev-parse', 'HEAD'], commit)).stdout).toBe(devSha)
    expect(await readFile(path.join(commit, 'tako.yml'), 'utf8')).toBe('version: 1\nname: api-dev\n')
  })

  it('gives a child a remote the engine can push to with the same auth', async () => {
    const srv = await serve()
    await createBareRepo(root, 'acme/pushable', { 'tako.yml': 'version: 1\n' })
    const { src } = source(srv)
    const dir = await checkout(src, { repository: 'acme/pushable', ref: '' })
    await writeFile(path.join(dir, 'new.txt'), 'from a child\n')
    await sh(['add', 'new.txt'], dir)
    expect((await sh(['commit', '--quiet', '-m', 'child change'], dir)).code).toBe(0)
    await sh(['tag', 'v0.0.1'], dir)
    const push = await git(['push', '--quiet', 'origin', 'HEAD', 'v0.0.1'], { cwd: dir, auth: gitAuth(srv.url, TOKEN) })
    expect(push.stderr).toBe('')
    expect(push.code).toBe(0)
    expect((await git(['push', '--quiet', 'origin', 'HEAD:refs/heads/other'], { cwd: dir, auth: gitAuth(srv.url, 'ghs_wrong') })).code).not.toBe(0)
    expect((await sh(['log', '--format=%s', 'main'], path.join(root, 'acme/pushable.git'))).stdout).toBe('child change\ninitial commit')
    expect((await sh(['tag'], path.join(root, 'acme/pushable.git'))).stdout).toBe('v0.0.1')
  })

  it('authenticates git without the token in any git process environment or command line', async () => {
    // Served slowly, so git and git-remote-http stay alive while every process of this user is read, as a step could.
    const srv = await serve({ delayMs: 150 })
    const { src } = source(srv)
    const seen = new Set<string>()
    const leaks: string[] = []
    let done = false
    const spy = (async () => {
      while (!done) {
        for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
          try {
            const [environ, cmdline] = await Promise.all([readFile(`/proc/${pid}/environ`, 'latin1'), readFile(`/proc/${pid}/cmdline`, 'latin1')])
            // The fixture's server side (git http-backend and the git it runs) is handed the request's Authorization
            // header as a CGI variable, as any HTTP server would: it is the server, not a process of the job.
            if (environ.includes('\0GIT_PROJECT_ROOT=') || environ.startsWith('GIT_PROJECT_ROOT=')) continue
            if (/git/.test(cmdline)) seen.add(cmdline.split('\0').slice(0, 2).join(' '))
            for (const form of [TOKEN, BASIC, Buffer.from(TOKEN).toString('base64')])
              if (environ.includes(form) || cmdline.includes(form)) leaks.push(`${pid}: ${cmdline}`)
          } catch {
            // Gone, or not ours.
          }
        }
      }
    })()
    const dir = await checkout(src, { repository: 'acme/api', ref: '' })
    done = true
    await spy
    expect(await readFile(path.join(dir, 'tako.yml'), 'utf8')).toBe('version: 1\nname: api\n')
    expect(srv.requests.some((r) => r.authorized && r.status === 200)).toBe(true)
    expect([...seen].some((c) => /remote-http/.test(c))).toBe(true)
    expect(leaks).toEqual([])
  })

  it('fails with an auth SourceError when the token is refused', async () => {
    const srv = await serve()
    const { src } = source(srv, { token: 'ghs_wrong' })
    const error = await caught(checkout(src, { repository: 'acme/api', ref: '' }))
    expect(error.kind).toBe('auth')
  })
})

describe('makeOwnerLister', () => {
  let api: Server
  let apiUrl: string
  const seen: string[] = []

  beforeAll(async () => {
    const repo = (full_name: string, archived = false) => ({ full_name, archived })
    api = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      seen.push(`${url.pathname}${url.search} ${req.headers.authorization ?? ''}`)
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
      if (url.pathname === '/orgs/acme/repos' && url.searchParams.get('page') !== '2') {
        return send(200, [repo('acme/api'), repo('acme/old', true)], { link: `<${apiUrl}/orgs/acme/repos?per_page=100&page=2>; rel="next"` })
      }
      if (url.pathname === '/orgs/acme/repos') return send(200, [repo('acme/web')])
      if (url.pathname === '/orgs/solo/repos') return send(404, { message: 'Not Found' })
      if (url.pathname === '/orgs/busy/repos')
        return send(403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' })
      if (url.pathname === '/orgs/locked/repos') return send(403, { message: 'Resource not accessible by integration' })
      if (url.pathname === '/user') return send(403, { message: 'Resource not accessible by integration' })
      if (url.pathname === '/users/solo/repos') return send(200, [repo('solo/dotfiles')])
      send(404, { message: 'Not Found' })
    })
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((resolve) => api.close(resolve))
  })

  it('lists an organization across pages without archived repositories, else a user', async () => {
    const list = makeOwnerLister(createOctokit({ token: TOKEN, baseUrl: apiUrl }))
    expect(await list('acme')).toEqual(['acme/api', 'acme/web'])
    expect(await list('solo')).toEqual(['solo/dotfiles'])
    expect(seen.every((s) => s.endsWith(`token ${TOKEN}`))).toBe(true)
  })

  it('waits out a secondary rate limit through the Octokit and, when it persists, says so rather than blame the token', async () => {
    const log: string[] = []
    const list = makeOwnerLister(createOctokit({ token: TOKEN, baseUrl: apiUrl, retryAfterBaseValue: 1, log: (m) => log.push(m) }))
    await expect(list('busy')).rejects.toThrow(
      /^cannot list the repositories of busy: GitHub's rate limit still refused the request after waiting \(HTTP 403\)/
    )
    expect(seen.filter((s) => s.startsWith('/orgs/busy/repos'))).toHaveLength(3)
    expect(log.map((l) => l.replace(/^.*: /, ''))).toEqual(['retrying in 60s', 'retrying in 60s', 'giving up'])
    await expect(list('locked')).rejects.toThrow(/^cannot list the repositories of locked \(HTTP 403\): the token needs Metadata: read/)
  })
})
