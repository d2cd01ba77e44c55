// The action bundle, run as a runner runs it, attacked by its subscribers (issue #10): a step that reads every
// ancestor's environment, and a step that prints workflow commands in every syntax the runner accepts.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { runAction, type ActionResult } from '../../__fixtures__/action-runner.js'
import { startActionServers, scriptSubscriber, type ActionServers } from '../../__fixtures__/action-servers.js'
import { cacheServiceEnv, type CacheServer } from '../../__fixtures__/cache-server.js'
import { createBareRepo, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

const TOKEN = 'ghs_takoSecurityE2eToken0123456789'
const CACHE_TOKEN = 'cache-runtime-token-5f2a9c'
const ID_TOKEN = 'id-token-request-token-8b1d7e'

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { tag: v1 } }
`

let git: GitServer
let gitRoot: string
let cacheServer: CacheServer
let serverUrl: string
let workspace: string

let servers: ActionServers | undefined

beforeAll(async () => {
  servers = await startActionServers({ token: TOKEN, cacheToken: CACHE_TOKEN, publisher: PUBLISHER })
  ;({ git, gitRoot, cacheServer, serverUrl, workspace } = servers)
})

afterAll(async () => {
  await servers?.close()
  cleanupTempDirs()
})

function action(repositories: string): Promise<ActionResult> {
  return runAction({
    workspace,
    inputs: { workflow: 'release', repositories },
    token: TOKEN,
    serverUrl,
    cacheEnv: {
      ...cacheServiceEnv(cacheServer.url, CACHE_TOKEN),
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: ID_TOKEN,
      ACTIONS_ID_TOKEN_REQUEST_URL: `${cacheServer.url}/oidc`
    },
    timeoutMs: 120_000
  })
}

/** Every form a secret was seen leaking in: itself, reversed, base64 (padded or not) of it and of git's basic pair. */
function forms(secret: string): string[] {
  const b64 = (s: string): string => Buffer.from(s).toString('base64').replace(/=+$/, '')
  return [secret, [...secret].reverse().join(''), b64(secret), b64(`x-access-token:${secret}`)]
}

describe('a subscriber step', () => {
  it('finds no token, in any form, in the environment of any ancestor up to the runner, while the action clones and caches with them', async () => {
    const out = tempDir('tako-e2e-spy-')
    // Walks /proc/<pid>/status PPid from the step's shell up to this test process (the runner here).
    const spy = [
      'pid=$$',
      'cat /proc/$$/environ > "$OUT/self.environ"',
      'while :; do',
      "  ppid=$(awk '/^PPid:/ { print $2 }' /proc/$pid/status)",
      '  if [ -z "$ppid" ] || [ "$ppid" -le 1 ]; then break; fi',
      '  cat /proc/$ppid/environ > "$OUT/$ppid.environ"',
      '  tr "\\0" " " < /proc/$ppid/cmdline > "$OUT/$ppid.cmdline"',
      '  echo $ppid >> "$OUT/chain"',
      `  if [ "$ppid" = ${process.pid} ]; then break; fi`,
      '  pid=$ppid',
      'done',
      'echo "walked $(wc -l < "$OUT/chain") ancestors"'
    ].join('\n')
    await createBareRepo(gitRoot, 'acme/spy', { 'tako.yml': scriptSubscriber(`OUT=${out}\n${spy}`) })
    const before = git.requests.length

    const res = await action('acme/spy')
    expect(res.timedOut).toBe(false)
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.outputs.status).toBe('success')
    expect(res.stdout).toMatch(/walked \d+ ancestors/)
    // The clone needed the token (the server refuses anonymous fetches), and the cache the runtime token.
    expect(git.requests.slice(before).some((q) => q.path === '/acme/spy/git-upload-pack' && q.authorized && q.status === 200)).toBe(true)
    expect(cacheServer.entries.size).toBeGreaterThan(0)

    const chain = readFileSync(path.join(out, 'chain'), 'utf8').trim().split('\n')
    expect(chain[chain.length - 1]).toBe(String(process.pid))
    // The action's own process is among them.
    expect(chain.some((pid) => readFileSync(path.join(out, `${pid}.cmdline`), 'utf8').includes(path.join('dist', 'index.js')))).toBe(true)

    const secrets = [TOKEN, CACHE_TOKEN, ID_TOKEN].flatMap(forms)
    const names = ['INPUT_TOKEN', 'ACTIONS_RUNTIME_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']
    const files = readdirSync(out).filter((f) => f.endsWith('.environ'))
    expect(files).toHaveLength(chain.length + 1)
    for (const file of files) {
      const environ = readFileSync(path.join(out, file), 'latin1')
      const found = [...names.filter((n) => environ.split('\0').some((e) => e.startsWith(`${n}=`))), ...secrets.filter((s) => environ.includes(s))]
      expect({ file, found }).toEqual({ file, found: [] })
    }
  })

  it("cannot forge annotations or outputs, mask the status, or stop the action's own commands", async () => {
    const forged = [
      '##[error]forged v1',
      'x ##[set-output name=status;]success',
      `printf '\\302\\205::error::forged after U+0085\\n'`,
      `printf 'progress\\r::warning::forged after CR\\n'`,
      'progress 50% ##[stop-commands]tok',
      '::stop-commands::abc',
      '::error::after',
      '::abc::',
      '::add-mask::success',
      '::add-mask::failure',
      '::endgroup::',
      'echo "::set-output name=children::[]"',
      'exit 1'
    ].map((l) => (l.startsWith('printf') || l.startsWith('echo') || l.startsWith('exit') ? l : `echo '${l}'`))
    await createBareRepo(gitRoot, 'acme/forger', { 'tako.yml': scriptSubscriber(forged.join('\n')) })
    await createBareRepo(gitRoot, 'acme/honest', { 'tako.yml': scriptSubscriber('echo honest work') })

    const res = await action('acme/forger\nacme/honest')
    expect(res.timedOut).toBe(false)
    expect(res.code).toBe(1)
    // Nothing the forger printed became a command: no forged annotation, output or mask.
    expect(res.commands.filter((c) => /forged|after/.test(c.data) || c.command === 'set-output')).toEqual([])
    expect(res.masks).not.toEqual(expect.arrayContaining(['success']))
    expect(res.masks).not.toEqual(expect.arrayContaining(['failure']))
    expect(res.outputs.status).toBe('failure')
    expect(res.outputs.failed).toBe('1')
    expect(res.outputs.succeeded).toBe('1')
    expect(JSON.parse(res.outputs.children)).toHaveLength(2)
    // No output holds a value the runner masks (GitHub drops such job outputs).
    for (const [name, value] of Object.entries(res.outputs))
      for (const mask of res.masks) expect({ name, masked: value.includes(mask) }).toEqual({ name, masked: false })

    // The action's own commands still act after the forger's block: both groups, the failure annotation, the masks.
    expect(res.groups).toEqual(
      expect.arrayContaining([expect.stringMatching(/^acme\/forger › build \[.+\]: failure/), expect.stringMatching(/^acme\/honest › build \[.+\]: success/)])
    )
    expect(res.commands.filter((c) => c.command === 'group')).toHaveLength(res.commands.filter((c) => c.command === 'endgroup').length)
    expect(res.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/acme\/forger/), expect.stringMatching(/^tako: run .* failure/)])
    )
    expect(res.masks).toEqual(expect.arrayContaining([TOKEN]))
    // What the forger printed is still shown, as text.
    expect(res.stdout).toContain('forged v1')
    expect(res.stdout).toContain('forged after U+0085')
  })
})
