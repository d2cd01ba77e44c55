// The loopback servers an end-to-end test of the action bundle runs against (git http-backend with token auth and the
// cache service), with the publisher's checkout whose origin is on that git server, and a subscriber of its event.

import path from 'node:path'
import { startCacheServer, type CacheServer } from './cache-server.js'
import { startGitServer, type GitServer } from './git-server.js'
import { makeRepo, tempDir } from './repos.js'

export interface ActionServers {
  git: GitServer
  gitRoot: string
  cacheServer: CacheServer
  /** The git server as `git.localhost` (git resolves `*.localhost` itself; a runner's GITHUB_SERVER_URL is a name). */
  serverUrl: string
  /** The publisher `acme/api`, checked out with its tako.yml, its origin on the git server. */
  workspace: string
  close(): Promise<void>
}

export async function startActionServers(opts: { token: string; cacheToken: string; publisher: string }): Promise<ActionServers> {
  const gitRoot = tempDir('tako-e2e-git-')
  const git = await startGitServer({ root: gitRoot, token: opts.token })
  const serverUrl = git.url.replace('127.0.0.1', 'git.localhost')
  const cacheServer = await startCacheServer({ dir: tempDir('tako-e2e-cache-'), token: opts.cacheToken })
  const workspace = makeRepo(path.join(tempDir('tako-e2e-ws-'), 'api'), { 'tako.yml': opts.publisher }, `${serverUrl}/acme/api`)
  return {
    git,
    gitRoot,
    cacheServer,
    serverUrl,
    workspace,
    close: async () => {
      await git.close()
      await cacheServer.close()
    }
  }
}

/** A subscriber of `api_published` from acme/api whose workflow `build` runs `script` in one step `work`. */
export const scriptSubscriber = (script: string): string => `version: 1
subscriptions:
  - { artifact: acme/api, events: [api_published], workflow: build }
workflows:
  build:
    steps:
      - id: work
        run: |
${script.replace(/^/gm, '          ')}
`
