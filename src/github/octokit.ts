// The one Octokit of the project: REST methods, retries of transient failures and GitHub's rate-limit rules, for
// github.com and GHES alike. Built from @octokit/core, not the action toolkit, so the CLI bundle can use it too.

import { Octokit as Core } from '@octokit/core'
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici'

const TakoOctokit = Core.plugin(restEndpointMethods, retry, throttling)
export type Octokit = InstanceType<typeof TakoOctokit>

export interface OctokitOptions {
  token: string
  /** REST root: https://api.github.com, or https://<host>/api/v3 for GHES. */
  baseUrl?: string
  /** Told when a rate limit makes a request wait, so a long pause has a reason in the log. */
  log?: (message: string) => void
  /** Rate-limit retries before a request gives up (default 2). */
  rateLimitRetries?: number
}

export function createOctokit(opts: OctokitOptions): Octokit {
  const limit = opts.rateLimitRetries ?? 2
  const onLimit = (kind: string) => (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
    const retrying = retryCount < limit
    opts.log?.(`GitHub ${kind} rate limit on ${options.method} ${options.url}: ${retrying ? `retrying in ${retryAfter}s` : 'giving up'}`)
    return retrying
  }
  return new TakoOctokit({
    auth: opts.token || undefined,
    baseUrl: (opts.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'tako-action',
    throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
    request: proxyFetch()
  })
}

/** Node's fetch ignores https_proxy/no_proxy; undici's EnvHttpProxyAgent honours them as curl and git do. */
function proxyFetch(): { fetch: typeof fetch } | undefined {
  const env = process.env
  if (!(env.https_proxy || env.HTTPS_PROXY || env.http_proxy || env.HTTP_PROXY)) return undefined
  const dispatcher = new EnvHttpProxyAgent()
  return { fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch }
}

/** The HTTP status of an Octokit error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}
