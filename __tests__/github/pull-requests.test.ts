// The pull-request client over Octokit against the loopback REST fake, and how the CLI decides whether it can use
// the API for an origin.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startFakeGitHub, type FakeGitHub } from '../../__fixtures__/github-api.js'
import { createOctokit } from '../../src/github/octokit.js'
import { cliDelivery, GitHubPullRequests, githubRepository } from '../../src/github/pull-requests.js'
import { PullRequestApiError } from '../../src/engine/builtins/pull-request-api.js'

const TOKEN = 'ghs_pullRequestsUnitToken'
let api: FakeGitHub

beforeAll(async () => {
  api = await startFakeGitHub({ token: TOKEN, repos: { 'acme/web': {}, 'acme/locked': { denyPullRequests: 403 } } })
})
afterAll(async () => api?.close())

const client = (repo: string, token = TOKEN): GitHubPullRequests => new GitHubPullRequests(createOctokit({ token, baseUrl: api.url }), 'acme', repo)

describe('GitHubPullRequests', () => {
  it('creates, finds by head and base, updates, labels, requests reviews and assigns', async () => {
    const web = client('web')
    expect(await web.findOpen('tako/x', 'main')).toBeUndefined()
    const created = await web.create({ title: 'T', body: 'B', head: 'tako/x', base: 'main', draft: true })
    expect(created).toEqual({ number: 1, url: `${api.origin}/acme/web/pull/1`, title: 'T', body: 'B' })
    expect(await web.findOpen('tako/x', 'main')).toEqual(created)
    expect(await web.findOpen('tako/x', 'develop')).toBeUndefined()
    expect(await web.update(1, { title: 'T2', body: 'B2' })).toMatchObject({ number: 1, title: 'T2', body: 'B2' })
    await web.addLabels(1, ['dependencies'])
    await web.requestReviewers(1, ['octocat'], ['platform'])
    await web.addAssignees(1, ['jane'])
    expect(api.pulls[0]).toMatchObject({ draft: true, labels: ['dependencies'], reviewers: ['octocat'], team_reviewers: ['platform'], assignees: ['jane'] })
  })

  it("turns a 422 into GitHub's reasons and a 403 into its status", async () => {
    const web = client('web')
    const duplicate = await web.create({ title: 'T', body: '', head: 'tako/x', base: 'main', draft: false }).catch((e: unknown) => e)
    expect(duplicate).toBeInstanceOf(PullRequestApiError)
    expect(duplicate).toMatchObject({ status: 422, message: 'Validation Failed: A pull request already exists for acme:tako/x.' })
    const denied = await client('locked')
      .create({ title: 'T', body: '', head: 'b', base: 'main', draft: false })
      .catch((e: unknown) => e)
    expect(denied).toMatchObject({ status: 403, message: 'Resource not accessible by integration' })
    const unauthorized = await client('web', 'wrong')
      .findOpen('b', 'main')
      .catch((e: unknown) => e)
    expect(unauthorized).toMatchObject({ status: 401 })
  })
})

describe('githubRepository', () => {
  it('reads host, owner and name from https, ssh and scp-like URLs', () => {
    expect(githubRepository('https://github.com/acme/web.git')).toEqual({ host: 'github.com', owner: 'acme', repo: 'web' })
    expect(githubRepository('https://user@GitHub.com/acme/web')).toEqual({ host: 'github.com', owner: 'acme', repo: 'web' })
    expect(githubRepository('git@github.com:acme/web.git')).toEqual({ host: 'github.com', owner: 'acme', repo: 'web' })
    expect(githubRepository('ssh://git@ghe.example.com/acme/web.git')).toEqual({ host: 'ghe.example.com', owner: 'acme', repo: 'web' })
    expect(githubRepository('/srv/git/acme/web.git')).toBeUndefined()
    expect(githubRepository('file:///srv/git/web.git')).toBeUndefined()
  })
})

describe('cliDelivery', () => {
  it('uses the API only with a token and for github.com or the --api-url host; else the branch is only pushed', () => {
    expect(cliDelivery({}).api('acme/web', 'https://github.com/acme/web.git')).toBeUndefined()
    expect(cliDelivery({ token: 't' }).api('acme/web', 'https://github.com/acme/web.git')).toBeInstanceOf(GitHubPullRequests)
    expect(cliDelivery({ token: 't' }).api('acme/web', 'git@github.com:acme/web.git')).toBeInstanceOf(GitHubPullRequests)
    expect(cliDelivery({ token: 't' }).api('acme/web', '/srv/git/acme/web.git')).toBeUndefined()
    expect(cliDelivery({ token: 't' }).api('acme/web', 'https://ghe.example.com/acme/web.git')).toBeUndefined()
    expect(cliDelivery({ token: 't', apiUrl: 'https://ghe.example.com/api/v3' }).api('acme/web', 'https://ghe.example.com/acme/web.git')).toBeInstanceOf(
      GitHubPullRequests
    )
    const delivery = cliDelivery({ token: 't' })
    expect(delivery.remoteUrl('acme/web', '/srv/git/acme/web.git')).toBe('/srv/git/acme/web.git')
    expect(delivery.gitAuth('https://github.com/acme/web')).toBeUndefined()
    expect(delivery.identity).toBeUndefined()
  })
})
