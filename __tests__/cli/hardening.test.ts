// Hardening through the CLI bundle: cancellation, hostile payloads and names, re-running only what failed.

import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { CLI, runTako } from '../../__fixtures__/cli.js'
import { alive, cleanupTempDirs, gitSync, makeRepo, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const PUBLISHER = (payload: string): string => `version: 1
workflows:
  release:
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with:
          event_type: published
          payload: ${payload}
`

const subscriber = (workflow: string, steps: string, inputs = ''): string => `version: 1
subscriptions:
  - artifact: acme/api
    events: [published]
    workflow: ${workflow}
${inputs}workflows:
  ${workflow}:
${steps}`

describe('cancellation', () => {
  it('SIGTERM mid fan-out stops the child, writes a cancelled report and exits 130', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const pids = path.join(base, 'pids')
    makeRepos(repos, {
      'acme/sleeper': {
        'tako.yml': subscriber(
          'nap',
          `    steps:\n      - id: nap\n        run: |\n          echo $$ >> ${pids}\n          sleep 600 &\n          echo $! >> ${pids}\n          wait\n`
        )
      }
    })
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER('{}') })
    const report = path.join(base, 'report.json')
    const child = spawn(
      process.execPath,
      [CLI, 'exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--report', report, '--workspace', path.join(base, 'run')],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    for (let i = 0; i < 600 && !(existsSync(pids) && readFileSync(pids, 'utf8').trim().split('\n').length >= 2); i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGTERM')
    const code = await exited
    expect(code).toBe(130)
    for (const pid of readFileSync(pids, 'utf8').trim().split('\n').map(Number)) expect(alive(pid)).toBe(false)
    const r = JSON.parse(readFileSync(report, 'utf8'))
    expect(r.status).toBe('cancelled')
    expect(r.children[0]).toMatchObject({ repository: 'acme/sleeper', status: 'cancelled' })
    expect(stdout).toContain('cancelled')
  })
})

describe('a second signal', () => {
  it('forces exit at once when the first one is still waiting for a step that ignores SIGTERM, and still writes the report', async () => {
    const base = tempDir()
    const ready = path.join(base, 'ready')
    const root = makeRepo(path.join(base, 'api'), {
      'tako.yml': `version: 1\nworkflows:\n  stubborn:\n    steps:\n      - run: |\n          trap '' TERM\n          echo $$ > ${ready}.pid\n          sleep 30 &\n          echo $! >> ${ready}.pid\n          touch ${ready}\n          wait\n`
    })
    const report = path.join(base, 'report.json')
    const child = spawn(process.execPath, [CLI, 'exec', 'stubborn', '--root', root, '--workspace', path.join(base, 'run'), '--report', report], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    for (let i = 0; i < 1200 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50))
    child.kill('SIGINT')
    // The second signal must come after the first was handled: wait for the engine to say so.
    for (let i = 0; i < 1200 && !stderr.includes('SIGINT received'); i++) await new Promise((r) => setTimeout(r, 50))
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    // The forced path ran, not the first signal's 10 s grace (the step ignores SIGTERM).
    expect(stderr).toContain('second SIGINT, killing every step and exiting now')
    // The report is still written, saying what happened.
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({
      status: 'cancelled',
      workflow: 'stubborn',
      error: expect.stringMatching(/^interrupted by SIGINT, then SIGINT: every step still running was killed/)
    })
    for (const pid of readFileSync(`${ready}.pid`, 'utf8').trim().split('\n').map(Number)) {
      for (let i = 0; i < 600 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50))
      expect(alive(pid)).toBe(false)
    }
  })
})

describe('hostile input', () => {
  it('a payload of $(touch pwned), backticks and quotes never executes', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const evil = '$(touch pwned) `touch pwned2` \'"; touch pwned3; "'
    makeRepos(repos, {
      'acme/safe': {
        'tako.yml': subscriber(
          'use',
          `    inputs:\n      title: { type: string }\n    steps:\n      - run: |\n          printf '%s' "$TAKO_INPUT_TITLE" > via-input\n          printf '%s' "$TAKO_EVENT_PAYLOAD" > via-payload\n          printf '%s' {{ .event.payload.title | shell_quote }} > via-quote\n          ls\n`,
          '    inputs:\n      title: "{{ .event.payload.title }}"\n'
        )
      }
    })
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER(JSON.stringify({ title: evil })) })
    const workspace = path.join(base, 'run')
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--workspace', workspace, '--keep-workspaces'])
    expect(res.code).toBe(0)
    const [child] = readdirSync(path.join(workspace, 'children'))
    const dir = path.join(workspace, 'children', child)
    expect(readFileSync(path.join(dir, 'via-input'), 'utf8')).toBe(evil)
    expect(readFileSync(path.join(dir, 'via-quote'), 'utf8')).toBe(evil)
    expect(JSON.parse(readFileSync(path.join(dir, 'via-payload'), 'utf8'))).toEqual({ title: evil })
    for (const where of [dir, root, base, process.cwd()]) {
      for (const f of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(path.join(where, f))).toBe(false)
    }
  })

  it('a subscriber folder named ..evil runs inside the run root and harms nothing', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, { 'acme/..evil': { 'tako.yml': subscriber('w', '    steps:\n      - run: pwd > "$TAKO_CACHE_DIR/where"\n') } })
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER('{}') })
    const workspace = path.join(base, 'run')
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--workspace', workspace])
    expect(res.code).toBe(0)
    const where = readFileSync(path.join(workspace, 'cache', 'where'), 'utf8').trim()
    expect(path.dirname(where)).toBe(path.join(workspace, 'children'))
    expect(path.basename(where)).toMatch(/^evil-w-1$/)
    expect(readdirSync(workspace).sort()).toEqual(['cache', 'children'])
    expect(readdirSync(base).sort()).toEqual(['api', 'repos', 'run'])
  })

  it('rejects a malformed --source with exit 2', async () => {
    const root = makeRepo(path.join(tempDir(), 'api'), { 'tako.yml': PUBLISHER('{}') })
    const res = await runTako(['exec', 'release', '--root', root, '--source', '../etc'])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('--source must be owner/repo')
  })
})

describe('--resume', () => {
  it('re-runs only the child that failed, reusing the one that succeeded', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const counter = (name: string, extra = ''): string => `    steps:\n      - run: |\n          echo run >> "$TAKO_CACHE_DIR/${name}-runs"\n${extra}`
    makeRepos(repos, {
      'acme/good': { 'tako.yml': subscriber('w', counter('good')) },
      'acme/flaky': { 'tako.yml': subscriber('w', counter('flaky', '          test -f fixed\n')) }
    })
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER('{ tag: v1 }') })
    const cache = path.join(base, 'cache')
    const first = path.join(base, 'first.json')
    const args = ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--cache-dir', cache]
    expect((await runTako([...args, '--report', first])).code).toBe(1)
    writeFileSync(path.join(repos, 'acme/flaky/fixed'), '')
    gitSync(path.join(repos, 'acme/flaky'), 'add', 'fixed')
    gitSync(path.join(repos, 'acme/flaky'), 'commit', '-qm', 'fix')
    const second = path.join(base, 'second.json')
    const res = await runTako([...args, '--report', second, '--resume', first])
    expect(res.code).toBe(0)
    expect(readFileSync(path.join(cache, 'good-runs'), 'utf8')).toBe('run\n')
    expect(readFileSync(path.join(cache, 'flaky-runs'), 'utf8')).toBe('run\nrun\n')
    const r = JSON.parse(readFileSync(second, 'utf8'))
    const status = Object.fromEntries(r.children.map((c: { repository: string; status: string }) => [c.repository, c.status]))
    expect(status).toEqual({ 'acme/good': 'reused', 'acme/flaky': 'success' })
    expect(res.stdout).toMatch(/acme\/good › w .*reused/)
  })
})
