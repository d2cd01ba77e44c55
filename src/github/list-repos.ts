// Expands `owner/*` in the repositories input: every non-archived repository of an organization or user.

import { isRateLimitError, statusOf, type Octokit } from './octokit.js'

interface RepoItem {
  full_name: string
  archived?: boolean
  disabled?: boolean
}

/** Lists every non-archived repository of an owner (org, else user), paginated, with the action's one Octokit: its
    retry and throttling plugins handle transient failures and rate limits. */
export function makeOwnerLister(octokit: Octokit): (owner: string) => Promise<string[]> {
  return async (owner) => {
    let repos: RepoItem[]
    try {
      try {
        repos = await octokit.paginate(octokit.rest.repos.listForOrg, { org: owner, type: 'all', per_page: 100 })
      } catch (error) {
        if (statusOf(error) !== 404) throw error
        repos = await listUserRepos(octokit, owner)
      }
    } catch (error) {
      const status = statusOf(error)
      if (isRateLimitError(error)) {
        throw new Error(
          `cannot list the repositories of ${owner}: GitHub's rate limit still refused the request after waiting (HTTP ${status}); re-run later, or list the repositories by name`
        )
      }
      if (status === 401 || status === 403) {
        throw new Error(
          `cannot list the repositories of ${owner} (HTTP ${status}): the token needs Metadata: read on ${owner}'s repositories (GITHUB_TOKEN cannot list other repositories; use a PAT or a GitHub App token)`
        )
      }
      throw error
    }
    return repos.filter((r) => !r.archived && !r.disabled).map((r) => r.full_name)
  }
}

// /users/{name}/repos shows only public repositories; when the token belongs to that user, its private ones
// come from /user/repos. Installation tokens cannot call /user, which simply means "not that user".
async function listUserRepos(octokit: Octokit, owner: string): Promise<RepoItem[]> {
  const self = await octokit.rest.users.getAuthenticated().then(
    (r) => r.data.login,
    () => ''
  )
  if (self.toLowerCase() === owner.toLowerCase()) {
    return octokit.paginate(octokit.rest.repos.listForAuthenticatedUser, { affiliation: 'owner', per_page: 100 })
  }
  return octokit.paginate(octokit.rest.repos.listForUser, { username: owner, type: 'owner', per_page: 100 })
}
