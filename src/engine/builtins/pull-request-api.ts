// What tako/pull-request@v1 needs from outside the engine: where to push with which credentials, who commits, and a
// pull-request API. The engine defines it; the action and the CLI implement it (src/github/pull-requests.ts).

import type { GitAuth } from '../git.js'

export interface Identity {
  name: string
  email: string
}

export interface PullRequestInfo {
  number: number
  url: string
  title: string
  body: string
}

export interface NewPullRequest {
  title: string
  body: string
  /** Branch name in the same repository. */
  head: string
  base: string
  draft: boolean
}

/** One repository's pull requests. Methods throw PullRequestApiError on an API error. */
export interface PullRequestApi {
  /** The open pull request from `head` (a branch of this repository) into `base`, if there is one. */
  findOpen(head: string, base: string): Promise<PullRequestInfo | undefined>
  create(pr: NewPullRequest): Promise<PullRequestInfo>
  update(number: number, fields: { title: string; body: string }): Promise<PullRequestInfo>
  addLabels(number: number, labels: string[]): Promise<void>
  requestReviewers(number: number, reviewers: string[], teamReviewers: string[]): Promise<void>
  addAssignees(number: number, assignees: string[]): Promise<void>
}

export class PullRequestApiError extends Error {
  constructor(
    message: string,
    readonly status?: number
  ) {
    super(message)
  }
}

export interface Delivery {
  /** Where a run of `repository` pushes, given its workspace's `origin` URL (undefined when it has none). */
  remoteUrl(repository: string, origin: string | undefined): string | undefined
  /** The credential of the engine's own fetch and push to `url` (git.ts hands it to that command only); undefined:
      the user's own git credentials. */
  gitAuth(url: string): GitAuth | undefined
  /** The pull-request API of the repository behind `url`, when one can be used; without it the branch is only pushed. */
  api(repository: string, url: string): PullRequestApi | undefined
  /** Author and committer of tako's commits; undefined: the user's own git identity. */
  identity?: Identity
  /** The page of this run, linked from the default body. */
  runUrl?: string
}

/** The CLI's default without a token: push with the user's own git credentials, open no pull request. */
export const pushOnlyDelivery: Delivery = {
  remoteUrl: (_repository, origin) => origin,
  gitAuth: () => undefined,
  api: () => undefined
}
