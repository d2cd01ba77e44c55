// Expands `owner/*` in the repositories input: every non-archived repository of an organization or user.

import { getOctokit } from '@actions/github'

interface RepoItem {
  full_name: string
  archived?: boolean
  disabled?: boolean
}

/** Lists every non-archived repository of an owner (org, else user) with @actions/github's octokit, paginated. */
export function makeOwnerLister(token: string, apiUrl: string): (owner: string) => Promise<string[]> {
  const octokit = getOctokit(token, { baseUrl: apiUrl.replace(/\/+$/, '') })
  return async (owner) => {
    let repos: RepoItem[]
    try {
      repos = await octokit.paginate(octokit.rest.repos.listForOrg, { org: owner, type: 'all', per_page: 100 })
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error
      repos = await listUserRepos(octokit, owner)
    }
    return repos.filter((r) => !r.archived && !r.disabled).map((r) => r.full_name)
  }
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
