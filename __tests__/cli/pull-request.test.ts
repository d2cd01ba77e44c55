// tako/pull-request@v1 through the CLI bundle: subscribers whose checkouts have local bare origins get their branch
// pushed with the user's own git identity; the closing lines and the dry-run plan name the branches.

import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { startFakeGitHub } from '../../__fixtures__/github-api.js'
import { startGitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, gitSync, makeRepo, tempDir } from '../../__fixtures__/repos.js'
import type { RunReport } from '../../src/engine/types.js'

afterAll(cleanupTempDirs)

function layout(): { base: string; env: Record<string, string | undefined>; origin: string; checkout: string } {
  const base = tempDir('tako-cli-pr-')
  const gitconfig = path.join(base, 'gitconfig')
  writeFileSync(gitconfig, '[user]\n\tname = Jane Doe\n\temail = jane@example.com\n')
  makeRepo(path.join(base, 'api'), {
    'tako.yml': `version: 1
workflows:
  release:
    inputs: { version: { type: string, default: v2.0.0 } }
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { git_tag: "{{ .inputs.version }}" } }
`
  })
  const origin = path.join(base, 'origins', 'acme', 'app.git')
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin])
  const checkout = makeRepo(
    path.join(base, 'repos', 'acme', 'app'),
    {
      API_VERSION: 'v1.0.0\n',
      'tako.yml': `version: 1
subscriptions:
  - { artifact: acme/api, events: [api_published], workflow: update, inputs: { v: "{{ .event.payload.git_tag }}" } }
workflows:
  update:
    inputs: { v: { type: string, required: true } }
    steps:
      - run: echo "$TAKO_INPUT_V" > API_VERSION
      - id: propose
        uses: tako/pull-request@v1
        with:
          title: "Update the API to {{ .inputs.v }}"
          branch: "tako/api-{{ .inputs.v }}"
          add_paths: [API_VERSION]
`
    },
    origin
  )
  gitSync(checkout, 'push', '-q', 'origin', 'main')
  // The user's own identity; no token, so no pull request is opened even if one is set in the test's environment.
  // GIT_AUTHOR_*/GIT_COMMITTER_* (which CI sets) would override the identity the user has in gitconfig.
  const identity = { GIT_AUTHOR_NAME: undefined, GIT_AUTHOR_EMAIL: undefined, GIT_COMMITTER_NAME: undefined, GIT_COMMITTER_EMAIL: undefined }
  return { base, env: { GIT_CONFIG_GLOBAL: gitconfig, GITHUB_TOKEN: '', GH_TOKEN: '', ...identity }, origin, checkout }
}

describe('tako exec with tako/pull-request@v1', () => {
  it("pushes the branch to the checkout's origin, prints it in the closing lines and leaves the checkout as it was", async () => {
    const { base, env, origin, checkout } = layout()
    const head = gitSync(checkout, 'rev-parse', 'HEAD').trim()
    const report = path.join(base, 'report.json')
    const res = await runTako(
      ['exec', 'release', '--root', path.join(base, 'api'), '--source', 'acme/api', '--repos', path.join(base, 'repos'), '--report', report],
      { env }
    )

    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^Pull requests:\n {2}pushed {4}acme\/app tako\/api-v2\.0\.0 → main$/m)
    const r = JSON.parse(readFileSync(report, 'utf8')) as RunReport
    expect(r.children[0].pull_requests).toEqual([
      { repository: 'acme/app', number: null, url: null, branch: 'tako/api-v2.0.0', base: 'main', operation: 'pushed' }
    ])
    expect(gitSync(origin, 'log', '-1', '--format=%an|%s', 'tako/api-v2.0.0').trim()).toBe('Jane Doe|Update the API to v2.0.0')
    expect(gitSync(origin, 'show', 'tako/api-v2.0.0:API_VERSION').trim()).toBe('v2.0.0')
    expect(gitSync(checkout, 'rev-parse', 'HEAD').trim()).toBe(head)
    expect(gitSync(checkout, 'status', '--porcelain')).toBe('')
    expect(gitSync(checkout, 'for-each-ref', '--format=%(refname)', 'refs/heads').trim()).toBe('refs/heads/main')
  })

  it('opens the pull request through the API of a GHES host given with --api-url, with a token', async () => {
    // One origin for git and the API, as GHES has: the fake API proxies everything outside /api/v3 to the git server.
    const token = 'ghp_takoCliPullRequestToken0123456789'
    const { base, env, origin, checkout } = layout()
    const gitRoot = path.join(base, 'origins')
    const git = await startGitServer({ root: gitRoot, token })
    const api = await startFakeGitHub({ token, prefix: '/api/v3', upstream: git.url, repos: { 'acme/app': {} } })
    try {
      const served = `${api.origin}/acme/app.git`
      gitSync(checkout, 'remote', 'set-url', 'origin', served)
      // The user's own git credential for that host; the API gets GITHUB_TOKEN.
      appendFileSync(path.join(base, 'gitconfig'), `[credential]\n\thelper = "!f() { echo username=jane; echo password=${token}; }; f"\n`)
      const res = await runTako(
        ['exec', 'release', '--root', path.join(base, 'api'), '--source', 'acme/api', '--repos', path.join(base, 'repos'), '--api-url', api.url],
        { env: { ...env, GITHUB_TOKEN: token } }
      )

      expect(res.stderr).toBe('')
      expect(res.code).toBe(0)
      expect(res.stdout).toContain(`Pull requests:\n  created   acme/app tako/api-v2.0.0 → main  ${api.origin}/acme/app/pull/1\n`)
      expect(api.pulls).toEqual([
        expect.objectContaining({ repository: 'acme/app', number: 1, head: 'tako/api-v2.0.0', base: 'main', title: 'Update the API to v2.0.0' })
      ])
      expect(gitSync(origin, 'show', 'tako/api-v2.0.0:API_VERSION').trim()).toBe('v2.0.0')
    } finally {
      await api.close()
      await git.close()
    }
  })

  it('says in a dry run which branch would be proposed against which base, and pushes nothing', async () => {
    const { base, env, origin } = layout()
    const res = await runTako(
      ['exec', 'release', '--root', path.join(base, 'api'), '--source', 'acme/api', '--repos', path.join(base, 'repos'), '--dry-run', '-i', 'version=v3.1.0'],
      { env }
    )

    expect(res.code).toBe(0)
    expect(res.stdout).toContain('Pull requests that would be proposed (when there are changes):')
    expect(res.stdout).toContain('acme/app › update step propose: branch tako/api-v3.1.0 → (its default branch): "Update the API to v3.1.0"')
    expect(gitSync(origin, 'for-each-ref', '--format=%(refname)', 'refs/heads').trim()).toBe('refs/heads/main')
  })
})
