// tako/pull-request@v1 in-process over real repositories with bare origins, as the CLI runs it: the engine commits
// and pushes with the user's own git identity and credentials; no API, so the operation is `pushed`.

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import { reusableChildren } from '../../src/engine/resume.js'
import type { RunReport } from '../../src/engine/types.js'
import { cleanupTempDirs, gitSync, makeRepo, tempDir } from '../../__fixtures__/repos.js'

const identityFile = (): string => {
  const file = path.join(tempDir('tako-pr-home-'), 'gitconfig')
  writeFileSync(file, '[user]\n\tname = Jane Doe\n\temail = jane@example.com\n')
  return file
}
// GIT_AUTHOR_*/GIT_COMMITTER_* (which CI sets) would override the identity this test gives the user.
const IDENTITY_VARIABLES = ['GIT_CONFIG_GLOBAL', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL']
const saved = Object.fromEntries(IDENTITY_VARIABLES.map((name) => [name, process.env[name]]))
beforeAll(() => {
  for (const name of IDENTITY_VARIABLES) delete process.env[name]
  // The user's own git identity, as `git config --global` would give it.
  process.env.GIT_CONFIG_GLOBAL = identityFile()
})
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  cleanupTempDirs()
})

const sources: LocalRepositorySource[] = []
afterEach(() => sources.splice(0).forEach((s) => s.close()))

function bare(dir: string): string {
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir])
  return dir
}

/** A checkout under repos/<name> whose origin is a bare repository holding its main. */
function subscriberRepo(base: string, name: string, steps: string): { checkout: string; origin: string } {
  const origin = bare(path.join(base, 'origins', `${name}.git`))
  const checkout = makeRepo(
    path.join(base, 'repos', name),
    {
      VERSION: '1.0.0\n',
      'README.md': 'app\n',
      'tako.yml': `version: 1
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: update
workflows:
  update:
    steps:
${steps.replace(/^/gm, '      ')}
`
    },
    origin
  )
  gitSync(checkout, 'push', '-q', 'origin', 'main')
  return { checkout, origin }
}

const PROPOSE = `- run: echo "$TAKO_EVENT_PAYLOAD" > /dev/null && printf '2.0.0\\n' > VERSION
- id: propose
  uses: tako/pull-request@v1
  with:
    title: "Update the API to {{ .event.payload.version }}"
    labels: [dependencies]
`

async function release(base: string, resume?: RunReport): Promise<RunReport> {
  const root = path.join(base, 'api')
  const source = new LocalRepositorySource({ reposDir: path.join(base, 'repos') })
  sources.push(source)
  const prepared = await prepareRun({ root, workflow: 'release', inputs: {}, source: 'acme/api' })
  const reuse = resume ? reusableChildren([resume]) : undefined
  return executeRun(prepared, { root, workflow: 'release', inputs: {}, source: 'acme/api', repositorySource: source, runRoot: tempDir('tako-pr-run-'), reuse })
}

function setUp(): { base: string; app: { checkout: string; origin: string }; docs: { checkout: string; origin: string } } {
  const base = tempDir('tako-pr-')
  makeRepo(path.join(base, 'api'), {
    'tako.yml': `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { version: "2.0.0" } }
`
  })
  const app = subscriberRepo(base, 'acme/app', PROPOSE)
  const docs = subscriberRepo(
    base,
    'acme/docs',
    `- run: "true"
- id: propose
  uses: tako/pull-request@v1
  with: { title: nothing to do }
`
  )
  return { base, app, docs }
}

const git = (dir: string, ...args: string[]): string => gitSync(dir, ...args).trim()
const heads = (origin: string): string[] => git(origin, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter(Boolean).sort()

describe('tako/pull-request@v1 in the CLI (no API)', () => {
  it("pushes each child's branch to its origin with one commit by the user, reports pushed, leaves checkouts untouched", async () => {
    const { base, app, docs } = setUp()
    const before = { head: git(app.checkout, 'rev-parse', 'HEAD'), branches: git(app.checkout, 'branch', '--list') }

    const report = await release(base)

    expect(report.status).toBe('success')
    const child = (repo: string) => report.children.find((c) => c.repository === repo)!
    expect(child('acme/app').pull_requests).toEqual([
      { repository: 'acme/app', number: null, url: null, branch: 'tako/api_published-api', base: 'main', operation: 'pushed' }
    ])
    const propose = child('acme/app').steps.find((s) => s.id === 'propose')!
    expect(propose.outputs).toMatchObject({ operation: 'pushed', branch: 'tako/api_published-api', number: '', url: '' })

    expect(heads(app.origin)).toEqual(['main', 'tako/api_published-api'])
    const branch = 'tako/api_published-api'
    expect(propose.outputs.head_sha).toBe(git(app.origin, 'rev-parse', branch))
    expect(git(app.origin, 'rev-list', '--count', `main..${branch}`)).toBe('1')
    expect(git(app.origin, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', branch)).toBe(
      'Jane Doe <jane@example.com>|Jane Doe <jane@example.com>|Update the API to 2.0.0'
    )
    expect(git(app.origin, 'diff', '--name-only', 'main', branch)).toBe('VERSION')
    expect(git(app.origin, 'show', `${branch}:VERSION`)).toBe('2.0.0')

    // The subscriber's own checkout: same commit, same branches, clean.
    expect(git(app.checkout, 'rev-parse', 'HEAD')).toBe(before.head)
    expect(git(app.checkout, 'branch', '--list')).toBe(before.branches)
    expect(git(app.checkout, 'status', '--porcelain')).toBe('')

    // Nothing to commit: no_changes, no branch, nothing recorded.
    expect(child('acme/docs').steps.find((s) => s.id === 'propose')!.outputs.operation).toBe('no_changes')
    expect(child('acme/docs').pull_requests).toBeUndefined()
    expect(heads(docs.origin)).toEqual(['main'])
  })

  it('pushes nothing on a second run of the same change (unchanged), and force-pushes a different one', async () => {
    const { base, app } = setUp()
    await release(base)
    const first = git(app.origin, 'rev-parse', 'tako/api_published-api')

    const again = await release(base)
    const child = again.children.find((c) => c.repository === 'acme/app')!
    expect(child.pull_requests?.map((p) => p.operation)).toEqual(['unchanged'])
    expect(git(app.origin, 'rev-parse', 'tako/api_published-api')).toBe(first)

    // The subscriber now writes another version: the branch tako owns is replaced, still one commit on main.
    writeFileSync(path.join(app.checkout, 'tako.yml'), gitSync(app.checkout, 'show', 'HEAD:tako.yml').replace("'2.0.0", "'2.0.1"))
    gitSync(app.checkout, 'commit', '-qam', 'another version')
    const third = await release(base)
    expect(third.children.find((c) => c.repository === 'acme/app')!.pull_requests?.map((p) => p.operation)).toEqual(['pushed'])
    const branch = 'tako/api_published-api'
    expect(git(app.origin, 'show', `${branch}:VERSION`)).toBe('2.0.1')
    expect(git(app.origin, 'rev-list', '--count', `${git(app.checkout, 'rev-parse', 'HEAD')}..${branch}`)).toBe('1')
  })

  it('commits only add_paths, with the given author, branch and commit message', async () => {
    const base = tempDir('tako-pr-')
    makeRepo(path.join(base, 'api'), {
      'tako.yml': `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { version: "3.0.0" } }
`
    })
    const app = subscriberRepo(
      base,
      'acme/app',
      `- run: printf '3.0.0\\n' > VERSION && echo scratch > notes.txt && echo changed >> README.md
- id: propose
  uses: tako/pull-request@v1
  with:
    title: "Bump to {{ .event.payload.version }}"
    branch: "bump/{{ .event.payload.version }}"
    commit_message: "chore: bump VERSION"
    add_paths: VERSION
    author: "Release Bot <bot@example.com>"
`
    )
    const report = await release(base)

    expect(report.status).toBe('success')
    expect(heads(app.origin)).toEqual(['bump/3.0.0', 'main'])
    expect(git(app.origin, 'diff', '--name-only', 'main', 'bump/3.0.0')).toBe('VERSION')
    expect(git(app.origin, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', 'bump/3.0.0')).toBe(
      'Release Bot <bot@example.com>|Jane Doe <jane@example.com>|chore: bump VERSION'
    )
  })

  it('does not deliver again for a child reused by --resume, and keeps its pull requests in the report', async () => {
    const { base, app } = setUp()
    const first = await release(base)
    // Anything pushed again would move the branch: it is set back to main to tell.
    const main = git(app.origin, 'rev-parse', 'main')
    gitSync(app.origin, 'update-ref', 'refs/heads/tako/api_published-api', main)

    const resumed = await release(base, first)

    const child = resumed.children.find((c) => c.repository === 'acme/app')!
    expect(child.status).toBe('reused')
    expect(child.pull_requests).toEqual(first.children.find((c) => c.repository === 'acme/app')!.pull_requests)
    expect(git(app.origin, 'rev-parse', 'tako/api_published-api')).toBe(main)
  })

  it("fails the child with push_failed and git's words when the origin refuses the push", async () => {
    const { base, app } = setUp()
    const hook = path.join(app.origin, 'hooks', 'pre-receive')
    writeFileSync(hook, '#!/bin/sh\necho "branch tako/* is protected here" >&2\nexit 1\n', { mode: 0o755 })

    const report = await release(base)

    expect(report.status).toBe('failure')
    const child = report.children.find((c) => c.repository === 'acme/app')!
    expect(child.status).toBe('failure')
    expect(child.error).toMatchObject({ kind: 'push_failed', step: 'propose' })
    expect(child.error?.message).toContain('branch tako/* is protected here')
    expect(child.error?.message).toContain('push of tako/api_published-api to')
    expect(heads(app.origin)).toEqual(['main'])
  })
})
