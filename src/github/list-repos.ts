// Expands `owner/*` in the repositories input: every non-archived repository of an organization or user.

import { getOctokit } from '@actions/github'
import { withRetry } from './retry.js'

interface RepoItem {
  full_name: string
  archived?: boolean
  disabled?: boolean
}

/** Lists every non-archived repository of an owner (org, else user) with @actions/github's octokit, paginated. */
export function makeOwnerLister(token: string, apiUrl: string): (owner: string) => Promise<string[]> {
  const octokit = getOctokit(token, { baseUrl: apiUrl.replace(/\/+$/, '') })
  return async (owner) => {
    const list = async (): Promise<RepoItem[]> => {
      try {
        return await octokit.paginate(octokit.rest.repos.listForOrg, { org: owner, type: 'all', per_page: 100 })
      } catch (error) {
        if (statusOf(error) !== 404) throw error
        return listUserRepos(octokit, owner)
      }
    }
    let repos: RepoItem[]
    try {
      repos = await withRetry(list, { isTransient: (e) => statusOf(e) === undefined || statusOf(e)! >= 500 || statusOf(e) === 429 })
    } catch (error) {
      const status = statusOf(error)
      if (status === 401 || status === 403) {
        throw new Error(`cannot list the repositories of ${owner} (HTTP ${status}): the token needs Metadata: read on ${owner}'s repositories (GITHUB_TOKEN cannot list other repositories; use a PAT or a GitHub App token)`)
      }
      throw error
    }
    return repos.filter((r) => !r.archived && !r.disabled).map((r) => r.full_name)
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}

// /users/{name}/repos shows only public repositories; when the token belongs to that user, its private ones
// come from /user/repos. Installation tokens cannot call /user, which simply means "not that user".
async function listUserRepos(octokit: ReturnType<typeof getOctokit>, owner: string): Promise<RepoItem[]> {
  const self = await octokit.rest.users.getAuthenticated().then((r) => r.data.login, () => '')
  if (self.toLowerCase() === owner.toLowerCase()) {
    return octokit.paginate(octokit.rest.repos.listForAuthenticatedUser, { affiliation: 'owner', per_page: 100 })
  }
  return octokit.paginate(octokit.rest.repos.listForUser, { username: owner, type: 'owner', per_page: 100 })
}
