// The pull-request side of tako/pull-request@v1 over the GitHub REST API (Octokit), and the two ways the engine is
// told how to deliver: the action's (token, github-actions[bot]) and the CLI's (the user's own git setup).

import type { Octokit } from './octokit.js'
import { statusOf } from './status.js'
import { gitAuth } from '../engine/git.js'
import { PullRequestApiError, type Delivery, type NewPullRequest, type PullRequestApi, type PullRequestInfo } from '../engine/builtins/pull-request-api.js'

export const BOT_IDENTITY = { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' }

interface PullJson {
  number: number
  html_url: string
  title: string
  body?: string | null
}

/** One repository's pull requests through Octokit; API errors become PullRequestApiError with GitHub's words. The
    CLI hands it an Octokit still being loaded (see cliDelivery). */
export class GitHubPullRequests implements PullRequestApi {
  constructor(
    private readonly octokit: Octokit | Promise<Octokit>,
    private readonly owner: string,
    private readonly repo: string
  ) {}

  async findOpen(head: string, base: string): Promise<PullRequestInfo | undefined> {
    const { owner, repo } = this
    const { data } = await this.call((octokit) => octokit.rest.pulls.list({ owner, repo, state: 'open', head: `${owner}:${head}`, base, per_page: 10 }))
    return data.length ? info(data[0]) : undefined
  }

  async create(pr: NewPullRequest): Promise<PullRequestInfo> {
    const { owner, repo } = this
    const { data } = await this.call((octokit) =>
      octokit.rest.pulls.create({ owner, repo, title: pr.title, body: pr.body, head: pr.head, base: pr.base, draft: pr.draft })
    )
    return info(data)
  }

  async update(number: number, fields: { title: string; body: string }): Promise<PullRequestInfo> {
    const { owner, repo } = this
    const { data } = await this.call((octokit) => octokit.rest.pulls.update({ owner, repo, pull_number: number, title: fields.title, body: fields.body }))
    return info(data)
  }

  async addLabels(number: number, labels: string[]): Promise<void> {
    const { owner, repo } = this
    await this.call((octokit) => octokit.rest.issues.addLabels({ owner, repo, issue_number: number, labels }))
  }

  async requestReviewers(number: number, reviewers: string[], teamReviewers: string[]): Promise<void> {
    const { owner, repo } = this
    await this.call((octokit) => octokit.rest.pulls.requestReviewers({ owner, repo, pull_number: number, reviewers, team_reviewers: teamReviewers }))
  }

  async addAssignees(number: number, assignees: string[]): Promise<void> {
    const { owner, repo } = this
    await this.call((octokit) => octokit.rest.issues.addAssignees({ owner, repo, issue_number: number, assignees }))
  }

  private async call<T>(fn: (octokit: Octokit) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.octokit)
    } catch (error) {
      throw new PullRequestApiError(apiWords(error), statusOf(error))
    }
  }
}

function info(pr: PullJson): PullRequestInfo {
  return { number: pr.number, url: pr.html_url, title: pr.title, body: pr.body ?? '' }
}

/** GitHub's message and, for a 422, each of its `errors` (what it found invalid). */
function apiWords(error: unknown): string {
  const data = (error as { response?: { data?: { message?: string; errors?: Array<{ message?: string; field?: string; code?: string }> } } }).response?.data
  const details = (data?.errors ?? []).map((e) => e.message ?? [e.field, e.code].filter(Boolean).join(' ')).filter(Boolean)
  const message = data?.message ?? (error instanceof Error ? error.message : String(error))
  return details.length ? `${message}: ${details.join('; ')}` : message
}

export interface ActionDeliveryOptions {
  serverUrl: string
  token: string
  /** The action's one Octokit, shared with dispatch mode and `owner/*` listing. */
  octokit: Octokit
  /** This attempt's page, linked from the default body. */
  runUrl: string
}

/** The action: every run pushes to its repository on GITHUB_SERVER_URL with the token (git.ts hands it to that one
    git command through a credential helper), commits as github-actions[bot] and proposes through the API. */
export function actionDelivery(opts: ActionDeliveryOptions): Delivery {
  const server = opts.serverUrl.replace(/\/+$/, '')
  return {
    remoteUrl: (repository) => `${server}/${repository}`,
    gitAuth: () => gitAuth(server, opts.token),
    api: (repository) => {
      const [owner, repo] = repository.split('/')
      return new GitHubPullRequests(opts.octokit, owner, repo)
    },
    identity: BOT_IDENTITY,
    runUrl: opts.runUrl
  }
}

export interface CliDeliveryOptions {
  /** GITHUB_TOKEN or GH_TOKEN; without one the branch is only pushed. */
  token?: string
  /** REST root of a GitHub Enterprise Server (https://HOST/api/v3), for origins on that host. */
  apiUrl?: string
  log?: (message: string) => void
}

/** The CLI: push to the workspace's origin with the user's own git credentials and identity; the API only for an
    origin on github.com (or the --api-url host) and with a token. Octokit (and undici under it) is evaluated on the
    first pull request, not when the CLI starts: a third of the bundle that most runs never use. It stays in the one
    bundle file ("eager"): a separate chunk would get its own licences file, and ncc writes only one. */
export function cliDelivery(opts: CliDeliveryOptions): Delivery {
  const octokits = new Map<string, Promise<Octokit>>()
  return {
    remoteUrl: (_repository, origin) => origin,
    gitAuth: () => undefined,
    api: (_repository, url) => {
      const where = githubRepository(url)
      if (!opts.token || !where) return undefined
      const baseUrl = where.host === 'github.com' ? 'https://api.github.com' : opts.apiUrl && new URL(opts.apiUrl).host === where.host ? opts.apiUrl : undefined
      if (!baseUrl) return undefined
      let octokit = octokits.get(baseUrl)
      if (!octokit) {
        const token = opts.token
        octokit = import(/* webpackMode: "eager" */ './octokit.js').then(({ createOctokit }) => createOctokit({ token, baseUrl, log: opts.log }))
        octokits.set(baseUrl, octokit)
      }
      return new GitHubPullRequests(octokit, where.owner, where.repo)
    }
  }
}

/** Host, owner and name of an https, ssh or scp-like (git@host:owner/repo) remote URL. */
export function githubRepository(url: string): { host: string; owner: string; repo: string } | undefined {
  let host: string
  let pathname: string
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(url)
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    host = scp[1]
    pathname = scp[2]
  } else {
    try {
      const u = new URL(url)
      host = u.host
      pathname = u.pathname
    } catch {
      return undefined
    }
  }
  const m = /^\/?([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(pathname)
  return m ? { host: host.toLowerCase(), owner: m[1], repo: m[2] } : undefined
}
