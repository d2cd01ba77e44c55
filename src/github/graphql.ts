// A GraphQL client for discovery: @actions/github's octokit (its GHES URL handling: /api/v3 -> /api/graphql), shaped
// as the small function the remote source takes, so another client (a shared, throttled octokit) can replace it.

import { getOctokit } from '@actions/github'

export interface GraphqlAnswer {
  data?: Record<string, unknown> | null
  /** Errors about parts of the query (a repository not found, say), beside the data of the other parts. */
  errors?: Array<{ message: string; type?: string; path?: Array<string | number> }>
}

/** Sends one query; resolves with data and partial errors, throws when the server refuses the request as a whole. */
export type GraphqlQuery = (query: string, variables: Record<string, string>) => Promise<GraphqlAnswer>

export function makeGraphql(token: string, apiUrl: string): GraphqlQuery {
  const octokit = getOctokit(token, { baseUrl: apiUrl.replace(/\/+$/, '') })
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
