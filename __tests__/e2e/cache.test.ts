// The action bundle's shared cache through the real @actions/cache and a loopback v2 cache service.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { runAction, type ActionResult } from '../../__fixtures__/action-runner.js'
import { cacheServiceEnv, startCacheServer, type CacheServer } from '../../__fixtures__/cache-server.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

const TOKEN = 'ghs_takoCacheE2eToken42'
const CACHE_TOKEN = 'cache-runtime-token'
const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/'

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published }
`

// Run 1 leaves a file in the shared cache; run 2, on a fresh runner, finds it there.
const SUBSCRIBER = `version: 1
subscriptions:
  - { artifact: acme/api, events: [api_published], workflow: build }
workflows:
  build:
    steps:
      - id: use-cache
        run: |
          if [ -f "$TAKO_CACHE_DIR/x" ]; then
            echo "cached: $(cat "$TAKO_CACHE_DIR/x")"
          else
            echo "cold"
            echo "built by $TAKO_RUN_ID" > "$TAKO_CACHE_DIR/x"
          fi
`

let git: GitServer
let serverUrl: string
let workspace: string

async function action(cacheServer: CacheServer, runnerTemp?: string): Promise<ActionResult> {
  const res = await runAction({
    workspace,
    runnerTemp,
    inputs: { workflow: 'release', repositories: 'acme/worker' },
    token: TOKEN,
    serverUrl,
    cacheEnv: cacheServiceEnv(cacheServer.url, CACHE_TOKEN)
  })
  expect(res.timedOut).toBe(false)
  return res
}

const twirpCalls = (server: CacheServer, from = 0): Array<[string, number]> =>
  server.requests
    .slice(from)
    .filter((r) => r.path.startsWith(TWIRP))
    .map((r) => [r.path.slice(TWIRP.length), r.status])

beforeAll(async () => {
  const root = tempDir('tako-e2e-git-')
  git = await startGitServer({ root, token: TOKEN })
  // A *.localhost server keeps @actions/cache on the v2 protocol; git resolves it to loopback by itself.
  serverUrl = git.url.replace('127.0.0.1', 'git.localhost')
  await createBareRepo(root, 'acme/worker', { 'tako.yml': SUBSCRIBER })
  workspace = makeRepo(path.join(tempDir('tako-e2e-ws-'), 'api'), { 'tako.yml': PUBLISHER }, `${serverUrl}/acme/api`)
})

afterAll(async () => {
  await git?.close()
  cleanupTempDirs()
})

describe('the shared cache', () => {
  it('is saved through the v2 service on a miss and restored on the next run', async () => {
    const server = await startCacheServer({ dir: tempDir('tako-e2e-cache-'), token: CACHE_TOKEN })
    try {
      // Jobs on one runner see the same RUNNER_TEMP path, emptied in between: the cached path is inside it.
      const runnerTemp = tempDir('tako-e2e-runner-temp-')
      const first = await action(server, runnerTemp)
      expect(first.code).toBe(0)
      expect(first.outputs.status).toBe('success')
      expect(first.outputs['cache-hit']).toBe('false')
      expect(first.stdout).toContain('cold')
      const key = /^cache saved as (tako-linux-[0-9a-f]+)$/m.exec(first.stdout)?.[1]
      expect(key).toBeDefined()
      expect([...server.entries.values()].filter((e) => e.key.startsWith('tako-linux-')).map((e) => e.key)).toEqual([key])
      expect(twirpCalls(server)).toEqual(
        expect.arrayContaining([
          ['GetCacheEntryDownloadURL', 200],
          ['CreateCacheEntry', 200],
          ['FinalizeCacheEntryUpload', 200]
        ])
      )

      rmSync(runnerTemp, { recursive: true })
      mkdirSync(runnerTemp)
      const seen = server.requests.length
      const second = await action(server, runnerTemp)
      expect(second.code).toBe(0)
      expect(second.outputs['cache-hit']).toBe('true')
      expect(second.stdout).toContain(`cache restored from ${key}`)
      expect(second.stdout).toMatch(new RegExp(`cached: built by ${first.outputs['run-id']}`))
      expect(readFileSync(path.join(second.runnerTemp, 'tako-cache', 'x'), 'utf8')).toBe(`built by ${first.outputs['run-id']}\n`)
      // An exact hit is not uploaded again.
      const created = server.requests.slice(seen).filter((r) => r.path === `${TWIRP}CreateCacheEntry`)
      expect(created.map((r) => (r.body as { key: string }).key).filter((k) => k.startsWith('tako-linux-'))).toEqual([])
      expect([...server.entries.values()].filter((e) => e.key.startsWith('tako-linux-'))).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  it('hits from another runner folder: an entry does not depend on where the runner is installed', async () => {
    const server = await startCacheServer({ dir: tempDir('tako-e2e-cache-'), token: CACHE_TOKEN })
    try {
      // Two self-hosted runners on one machine: /…/actions-runner-N/_work/{_temp,api/api}.
      const machine = tempDir('tako-e2e-machine-')
      const runner = (n: number): { workspace: string; runnerTemp: string } => {
        const work = path.join(machine, `actions-runner-${n}`, '_work')
        mkdirSync(path.join(work, '_temp'), { recursive: true })
        return { workspace: makeRepo(path.join(work, 'api', 'api'), { 'tako.yml': PUBLISHER }, `${serverUrl}/acme/api`), runnerTemp: path.join(work, '_temp') }
      }
      const on = (where: { workspace: string; runnerTemp: string }): Promise<ActionResult> =>
        runAction({
          ...where,
          inputs: { workflow: 'release', repositories: 'acme/worker' },
          token: TOKEN,
          serverUrl,
          cacheEnv: cacheServiceEnv(server.url, CACHE_TOKEN)
        })
      const first = await on(runner(1))
      expect(first.timedOut).toBe(false)
      expect(first.outputs['cache-hit']).toBe('false')
      expect(first.stdout).toContain('cold')
      const second = await on(runner(2))
      expect(second.timedOut).toBe(false)
      expect(second.code).toBe(0)
      expect(second.outputs['cache-hit']).toBe('true')
      expect(second.stdout).toMatch(new RegExp(`cached: built by ${first.outputs['run-id']}`))
      expect(readFileSync(path.join(second.runnerTemp, 'tako-cache', 'x'), 'utf8')).toBe(`built by ${first.outputs['run-id']}\n`)
    } finally {
      await server.close()
    }
  })

  it('warns and still succeeds when the cache service fails', async () => {
    const server = await startCacheServer({ dir: tempDir('tako-e2e-cache-'), token: CACHE_TOKEN, failAll: true })
    try {
      const res = await action(server)
      expect(res.code).toBe(0)
      expect(res.outputs.status).toBe('success')
      expect(res.outputs.succeeded).toBe('1')
      expect(res.outputs['cache-hit']).toBe('false')
      expect(res.stdout).toContain('cold')
      const warnings = res.annotations.filter((a) => a.level === 'warning').map((a) => a.message)
      expect(warnings.some((w) => /^Failed to restore: .*injected failure/.test(w))).toBe(true)
      // @actions/cache only logs a failed save; the action turns it into a warning.
      expect(res.stdout).toMatch(/^Failed to save: .*tako-linux-/m)
      expect(warnings.some((w) => /^cache not saved under tako-linux-[0-9a-f]+: the cache service refused it/.test(w))).toBe(true)
      expect(
        warnings.some((w) => /^this attempt's outcomes were not kept for a re-run \(the cache service refused tako-outcomes-\d+-release-[0-9a-f]{12}-1/.test(w))
      ).toBe(true)
      expect(res.annotations.filter((a) => a.level === 'error')).toEqual([])
      expect(server.requests.length).toBeGreaterThan(0)
      expect(existsSync(path.join(res.runnerTemp, 'tako-cache', 'x'))).toBe(true)
    } finally {
      await server.close()
    }
  })
})
