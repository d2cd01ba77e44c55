// A GraphQL client for discovery over the action's one Octokit (octokit.ts: retries, rate limits, proxies; its GHES
// URL handling maps /api/v3 to /api/graphql), shaped as the small function the remote source takes.

import type { Octokit } from './octokit.js'

export interface GraphqlAnswer {
  data?: Record<string, unknown> | null
  /** Errors about parts of the query (a repository not found, say), beside the data of the other parts. */
  errors?: Array<{ message: string; type?: string; path?: Array<string | number> }>
}

/** Sends one query; resolves with data and partial errors, throws when the server refuses the request as a whole. */
export type GraphqlQuery = (query: string, variables: Record<string, string>) => Promise<GraphqlAnswer>

export function makeGraphql(octokit: Octokit): GraphqlQuery {
  return async (query, variables) => {
    try {
      return { data: await octokit.graphql<Record<string, unknown>>(query, variables) }
    } catch (error) {
      // Octokit throws for an answer that has errors even when it also has data: that is a partial answer.
      const partial = error as { name?: string; data?: Record<string, unknown> | null; errors?: GraphqlAnswer['errors'] }
      if (partial.name === 'GraphqlResponseError') return { data: partial.data, errors: partial.errors }
      throw error
    }
  }
}
