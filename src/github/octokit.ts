// The one Octokit of the project: REST methods, pagination, retries of transient failures and GitHub's rate-limit
// rules (primary and secondary limits, spaced writes), for github.com and GHES alike, through https_proxy when set.
// Built from @octokit/core, not the action toolkit, so the CLI bundle can use it too. The action makes one instance
// and hands it to every API user (dispatch mode, `owner/*` listing, pull requests).

import { Octokit as Core } from '@octokit/core'
import { paginateRest } from '@octokit/plugin-paginate-rest'
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici'

export { statusOf } from './status.js'

const TakoOctokit = Core.plugin(restEndpointMethods, paginateRest, retry, throttling)
export type Octokit = InstanceType<typeof TakoOctokit>

export interface OctokitOptions {
  token: string
  /** REST root: https://api.github.com, or https://<host>/api/v3 for GHES. */
  baseUrl?: string
  /** Told when a rate limit makes a request wait, so a long pause has a reason in the log. */
  log?: (message: string) => void
  /** Rate-limit retries before a request gives up (default 2). */
  rateLimitRetries?: number
  /** Milliseconds per second of every wait the plugins choose (default 1000); tests shrink it instead of waiting. */
  retryAfterBaseValue?: number
}

/** Options of one request (`request: {...}`): no retry of a failure (the retry plugin's own option), and no wait for
    a rate limit either, for a call that must go out now or not at all (a cancellation at a deadline). */
export const URGENT = { retries: 0, urgent: true } as const

export function createOctokit(opts: OctokitOptions): Octokit {
  const limit = opts.rateLimitRetries ?? 2
  const onLimit =
    (kind: string) =>
    (retryAfter: number, options: { method: string; url: string; request?: object }, _octokit: unknown, retryCount: number): boolean => {
      const retrying = !(options.request as { urgent?: boolean } | undefined)?.urgent && retryCount < limit
      opts.log?.(`GitHub ${kind} rate limit on ${options.method} ${options.url}: ${retrying ? `retrying in ${retryAfter}s` : 'giving up'}`)
      return retrying
    }
  const base = opts.retryAfterBaseValue
  return new TakoOctokit({
    auth: opts.token || undefined,
    baseUrl: (opts.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'tako-action',
    throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary'), ...(base === undefined ? {} : { retryAfterBaseValue: base }) },
    ...(base === undefined ? {} : { retry: { retryAfterBaseValue: base } }),
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

/** Whether an answer says "too many requests" rather than "not allowed": 429, or a 403 with the budget spent, a
    retry-after, or GitHub's words for a (secondary) rate limit. Such a 403 is no permission problem. */
export function isRateLimited(status: number, headers: Record<string, unknown> | undefined, message: string): boolean {
  if (status === 429) return true
  if (status !== 403) return false
  const header = (name: string): unknown => headers?.[name]
  return String(header('x-ratelimit-remaining')) === '0' || header('retry-after') !== undefined || /\brate limit\b/i.test(message)
}

/** isRateLimited for a thrown Octokit error. */
export function isRateLimitError(error: unknown): boolean {
  const e = error as { status?: unknown; message?: unknown; response?: { headers?: Record<string, unknown> } } | null
  return typeof e?.status === 'number' && isRateLimited(e.status, e.response?.headers, String(e.message ?? ''))
}
