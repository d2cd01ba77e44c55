// The action bundle run as a runner runs it, fanning out to subscribers served over authenticated HTTP git.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { runAction, withoutMaskCommands, type ActionResult } from '../../__fixtures__/action-runner.js'
import { cacheServiceEnv, startCacheServer, type CacheServer } from '../../__fixtures__/cache-server.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { alive, cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'
import type { RunReport } from '../../src/engine/types.js'
import { secretForms } from '../../src/github/outputs.js'

const execFileAsync = promisify(execFile)
const TOKEN = 'ghs_takoE2eToken0123456789abcdefXYZ'
const CACHE_TOKEN = 'cache-runtime-token'

const PUBLISHER = `version: 1
events:
  produces:
    - { type: api_published }
workflows:
  release:
    inputs:
      version: { type: string, default: v1.4.0 }
      note: { type: string, default: "" }
    steps:
      # Both timeouts arm timers that must not outlive the run (see the exit test).
      - id: build
        timeout: 5m
        run: echo "built API $TAKO_INPUT_VERSION $TAKO_INPUT_NOTE"
        produces:
          outputs:
            line: from_stdout
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: api_published
          timeout: 10m
          payload: { git_tag: "{{ .inputs.version }}", note: "{{ .inputs.note }}" }
`

function subscriber(workflow: string, script: string, filter?: string): string {
  return `version: 1
subscriptions:
  - artifact: acme/api
    events: [api_published]
${filter ? `    filters: [${JSON.stringify(filter)}]\n` : ''}    workflow: ${workflow}
    inputs: { api_version: "{{ .event.payload.git_tag }}", note: "{{ .event.payload.note }}" }
workflows:
  ${workflow}:
    inputs:
      api_version: { type: string, required: true }
      note: { type: string, default: "" }
    steps:
      - id: main
        run: |
${script
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
`
}

let git: GitServer
let cacheServer: CacheServer
let serverUrl: string
let workspace: string
const bare: Record<string, string> = {}

async function action(inputs: Record<string, string>, opts: { workspace?: string } = {}): Promise<ActionResult> {
  const res = await runAction({
    workspace: opts.workspace ?? workspace,
    inputs: { workflow: 'release', ...inputs },
    token: TOKEN,
    serverUrl,
    cacheEnv: cacheServiceEnv(cacheServer.url, CACHE_TOKEN)
  })
  expect(res.timedOut).toBe(false)
  return res
}

function findFiles(dir: string, match: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    return e.isDirectory() ? findFiles(full, match) : match(e.name) ? [full] : []
  })
}

function report(res: ActionResult): RunReport {
  return JSON.parse(readFileSync(res.outputs['report-path'], 'utf8')) as RunReport
}

beforeAll(async () => {
  const root = tempDir('tako-e2e-git-')
  git = await startGitServer({ root, token: TOKEN, deny: { 'acme/private-service': 404 } })
  // git resolves *.localhost to loopback by itself; @actions/cache keeps the v2 protocol only for such hosts.
  serverUrl = git.url.replace('127.0.0.1', 'git.localhost')
  cacheServer = await startCacheServer({ dir: tempDir('tako-e2e-cache-'), token: CACHE_TOKEN })
  bare['acme/user-service'] = await createBareRepo(root, 'acme/user-service', {
    'tako.yml': subscriber('update-client', 'echo "$TAKO_INPUT_API_VERSION" > API_VERSION\necho "user-service now on $TAKO_INPUT_API_VERSION"'),
    'README.md': 'user service\n'
  })
  bare['acme/billing-service'] = await createBareRepo(root, 'acme/billing-service', {
    'tako.yml': subscriber('update-client', 'echo "billing-service now on $TAKO_INPUT_API_VERSION"')
  })
  await createBareRepo(root, 'acme/docs', {
    'tako.yml': subscriber('rebuild', 'echo never', "event.payload.git_tag.startsWith('v2.')")
  })
  await createBareRepo(root, 'acme/flaky-service', {
    'tako.yml': subscriber('update-client', 'echo "resolving dependencies"\necho "error: module api@$TAKO_INPUT_API_VERSION not found" >&2\nexit 3')
  })
  await createBareRepo(root, 'acme/private-service', { 'tako.yml': subscriber('update-client', 'echo hidden') })
  await createBareRepo(root, 'acme/leaky-service', {
    'tako.yml': subscriber(
      'update-client',
      [
        'echo "note is $TAKO_INPUT_NOTE"',
        `printf '%s' "$TAKO_INPUT_NOTE" | base64 -w0; echo`,
        `printf 'x-access-token:%s' "$TAKO_INPUT_NOTE" | base64 -w0; echo`,
        'git config --list --show-origin',
        'env > env.txt',
        'exit 1'
      ].join('\n')
    )
  })
  await createBareRepo(root, 'acme/daemon-service', {
    'tako.yml': subscriber(
      'update-client',
      [
        'sleep 25 &',
        'echo $! > "$TAKO_CACHE_DIR/in-group.pid"',
        // Out of the step's process group and holding its output pipes: out of reach, but must not hold the run.
        'setsid sleep 25 &',
        'echo $! > "$TAKO_CACHE_DIR/escaped.pid"',
        'echo "started two background jobs"'
      ].join('\n')
    )
  })
  workspace = makeRepo(path.join(tempDir('tako-e2e-ws-'), 'api'), { 'tako.yml': PUBLISHER }, `${serverUrl}/acme/api`)
})

afterAll(async () => {
  await git?.close()
  await cacheServer?.close()
  cleanupTempDirs()
})

describe('the action bundle', () => {
  it('fans out to the two subscribers of three candidates and reports each', async () => {
    const before = git.requests.length
    const res = await action({ repositories: 'acme/user-service, acme/billing-service\nacme/docs', 'keep-workspaces': 'true' })
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.outputs.status).toBe('success')
    expect(res.outputs.succeeded).toBe('2')
    expect(res.outputs.failed).toBe('0')
    expect(res.outputs.skipped).toBe('0')
    expect(res.outputs['run-id']).toMatch(/^exec-\d{8}-\d{6}-[0-9a-f]{8}$/)
    const children = JSON.parse(res.outputs.children) as Array<{ repository: string; workflow: string; status: string }>
    expect(children.map((c) => [c.repository, c.workflow, c.status]).sort()).toEqual([
      ['acme/billing-service', 'update-client', 'success'],
      ['acme/user-service', 'update-client', 'success']
    ])
    expect(JSON.parse(res.outputs.outputs)).toEqual({ build: { line: 'built API v1.4.0' }, 'fan-out': expect.objectContaining({ succeeded: '2' }) })

    // Each child is a real checkout of its repository under $RUNNER_TEMP/children/, with the work it did.
    const r = report(res)
    expect(r.children).toHaveLength(2)
    for (const child of r.children) {
      expect(path.dirname(child.workspace)).toBe(path.join(res.runnerTemp, 'children'))
      const { stdout: remote } = await execFileAsync('git', ['-C', child.workspace, 'remote', 'get-url', 'origin'])
      expect(remote.trim()).toBe(`${serverUrl}/${child.repository}`)
      const { stdout: head } = await execFileAsync('git', ['-C', child.workspace, 'rev-parse', 'HEAD'])
      const { stdout: main } = await execFileAsync('git', ['--git-dir', bare[child.repository], 'rev-parse', 'main'])
      expect(head.trim()).toBe(main.trim())
      const { stdout: branch } = await execFileAsync('git', ['-C', child.workspace, 'branch', '--show-current'])
      expect(branch.trim()).toBe('main')
    }
    const user = r.children.find((c) => c.repository === 'acme/user-service')!
    expect(readFileSync(path.join(user.workspace, 'API_VERSION'), 'utf8')).toBe('v1.4.0\n')
    expect(readFileSync(path.join(user.workspace, 'README.md'), 'utf8')).toBe('user service\n')

    expect(res.summary).toMatch(/\| acme\/user-service \| update-client \| api\\_published \| ✅ success \|/)
    expect(res.summary).toMatch(/\| acme\/billing-service \| update-client \| api\\_published \| ✅ success \|/)
    expect(res.summary).toContain('### Discovery')
    expect(res.summary).toMatch(/\| acme\/docs \|[^|]*\| no\\_match \| .*filter 1 is false/)
    expect(res.stdout).toMatch(/::group::acme\/user-service › update-client \[[^\]]+\]: success/)
    expect(res.stdout).toContain('user-service now on v1.4.0')

    // Every fetch carried the token; nothing was served without it.
    const seen = git.requests.slice(before)
    const fetches = seen.filter((q) => q.path.endsWith('/git-upload-pack') && q.status === 200)
    expect(new Set(fetches.map((q) => q.path.split('/').slice(1, 3).join('/')))).toEqual(new Set(['acme/user-service', 'acme/billing-service', 'acme/docs']))
    expect(fetches.every((q) => q.authorized)).toBe(true)
    expect(seen.filter((q) => !q.authorized && q.status < 400)).toEqual([])

    // The token travelled only with each git command: no mirror nor checkout keeps it in a config file.
    const configs = [
      ...findFiles(path.join(res.runnerTemp, 'tako-git'), (name) => name === 'config'),
      ...r.children.map((c) => path.join(c.workspace, '.git', 'config'))
    ]
    expect(configs.filter((f) => f.includes(`${path.sep}tako-git${path.sep}`)).length).toBeGreaterThanOrEqual(3)
    for (const file of configs) {
      const text = readFileSync(file, 'utf8')
      expect(text).toContain('[core]')
      for (const secret of secretForms(TOKEN)) expect({ file, leaks: text.includes(secret) }).toEqual({ file, leaks: false })
    }
  })

  it('fails on a failing child, says where, still reports, and skips unreachable candidates with a warning', async () => {
    const res = await action({ repositories: 'acme/user-service\nacme/flaky-service\nacme/private-service\nacme/nowhere' })
    expect(res.code).toBe(1)
    expect(res.outputs.status).toBe('failure')
    expect(res.outputs.succeeded).toBe('1')
    expect(res.outputs.failed).toBe('1')
    const children = JSON.parse(res.outputs.children) as Array<{ repository: string; status: string; error: string | null }>
    expect(children.find((c) => c.repository === 'acme/flaky-service')).toMatchObject({ status: 'failure', error: expect.stringMatching(/main/) })

    const errors = res.annotations.filter((a) => a.level === 'error')
    const childError = errors.find((a) => a.title === 'tako: acme/flaky-service › update-client failed')
    expect(childError?.message).toMatch(/step main.*exit code 3/)
    // The failing step and the end of its log, in a collapsible section.
    expect(res.summary).toContain('### Failures')
    expect(res.summary).toMatch(/<summary>❌ acme\/flaky-service › update-client \[[^\]]+\]: step main failed \(exit code 3\)<\/summary>/)
    expect(res.summary).toContain('error: module api@v1.4.0 not found')
    expect(res.summary).toContain('resolving dependencies')
    expect(res.summary).toMatch(/\| acme\/user-service \| update-client \| api\\_published \| ✅ success \|/)

    const warnings = res.annotations.filter((a) => a.level === 'warning').map((a) => a.message)
    expect(warnings.some((w) => w.includes('acme/private-service') && /does not exist or the token cannot see it/.test(w))).toBe(true)
    expect(warnings.some((w) => w.includes('acme/nowhere'))).toBe(true)
    const r = report(res)
    expect(r.discovery.find((d) => d.repository === 'acme/private-service')?.result).toBe('error')
    expect(r.discovery.find((d) => d.repository === 'acme/nowhere')?.result).toBe('error')
    // The failed child's workspace is kept for inspection, the successful one removed.
    const flaky = r.children.find((c) => c.repository === 'acme/flaky-service')!
    const user = r.children.find((c) => c.repository === 'acme/user-service')!
    expect(existsSync(path.join(flaky.workspace, 'tako.yml'))).toBe(true)
    expect(existsSync(user.workspace)).toBe(false)
  })

  it('annotates each warning once and keeps an error for the failed step', async () => {
    const res = await action({ repositories: 'acme/flaky-service\nacme/private-service\nacme/nowhere' })
    expect(res.code).toBe(1)
    const warnings = res.annotations.filter((a) => a.level === 'warning').map((a) => a.message)
    expect(warnings.filter((w) => w.includes('acme/private-service'))).toHaveLength(1)
    expect(warnings.filter((w) => w.includes('acme/nowhere'))).toHaveLength(1)
    // Logged when they happen too, as plain lines.
    expect(res.stdout).toMatch(/^warning: acme\/private-service/m)
    const errors = res.annotations.filter((a) => a.level === 'error')
    expect(errors.map((a) => a.title ?? '')).toEqual(['tako: acme/flaky-service › update-client failed', ''])
    expect(errors[1].message).toMatch(/^tako: run exec-\S+ failure: step "fan-out": /)
  })

  it('plans without running: the children it would start, in the summary', async () => {
    const res = await action({ repositories: 'acme/user-service\nacme/docs', 'dry-run': 'true' })
    expect(res.code).toBe(0)
    expect(res.outputs.status).toBe('success')
    expect(res.stdout).not.toContain('user-service now on')
    expect(res.summary).toMatch(/^## ✅ tako \(dry run\): acme\/api › release succeeded/)
    expect(res.summary).toContain('| fan-out | acme/user-service | update-client | api\\_published | would run (subscription 1) |')
    expect(res.summary).toMatch(/\| acme\/docs \|[^|]*\| no\\_match \|/)
  })

  it('fails a dry run whose fan-out cannot be planned', async () => {
    const ws = makeRepo(path.join(tempDir('tako-e2e-plan-'), 'api'), {
      'tako.yml': `version: 1
workflows:
  release:
    inputs:
      kind: { type: string, default: api_published }
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with: { event_type: "{{ .inputs.kind }}" }
`
    })
    const res = await action({ repositories: 'acme/user-service', 'dry-run': 'true', inputs: 'kind: Not-Snake' }, { workspace: ws })
    expect(res.code).toBe(1)
    expect(res.outputs.status).toBe('failure')
    expect(res.summary).toMatch(/^## ❌ tako \(dry run\): /)
    expect(res.summary).toContain(
      'fan-out step &quot;fan-out&quot; cannot be planned: fan-out: event\\_type must be snake\\_case (like api\\_published), got &quot;Not-Snake&quot;'
    )
    expect(res.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual([expect.stringContaining('cannot be planned')])
  })

  it('with strict, a fan-out that found no candidates fails the run; without, it warns once and succeeds', async () => {
    const relaxed = await action({ repositories: '' })
    expect(relaxed.code).toBe(0)
    const said = 'fan-out api_published found no candidate repositories'
    expect(relaxed.annotations.filter((a) => a.level === 'warning' && a.message.includes(said))).toHaveLength(1)
    const strict = await action({ repositories: '', strict: 'true' })
    expect(strict.code).toBe(1)
    expect(strict.outputs.status).toBe('failure')
    expect(strict.summary).toContain('strict: 1 warning fail the run')
  })

  it('finds tako.yaml when there is no tako.yml and no config input', async () => {
    const ws = makeRepo(path.join(tempDir('tako-e2e-yaml-'), 'api'), {
      'tako.yaml': 'version: 1\nworkflows:\n  release:\n    steps:\n      - run: echo "from tako.yaml"\n'
    })
    const res = await action({}, { workspace: ws })
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('from tako.yaml')
  })

  it('annotates a broken tako.yml at its line and fails', async () => {
    const broken = makeRepo(path.join(tempDir('tako-e2e-broken-'), 'api'), {
      'tako.yml': 'version: 1\nworkflows:\n  release:\n    stesp:\n      - run: echo hi\n'
    })
    const res = await action({}, { workspace: broken })
    expect(res.code).toBe(1)
    expect(res.outputs.status).toBe('failure')
    expect(res.annotations.filter((a) => a.file === 'tako.yml')).toEqual([
      { level: 'error', file: 'tako.yml', line: 3, col: 3, title: 'tako: invalid configuration', message: 'missing required key "steps"' },
      { level: 'error', file: 'tako.yml', line: 4, col: 5, title: 'tako: invalid configuration', message: 'unknown key "stesp" (did you mean "steps"?)' }
    ])
    expect(res.stdout).not.toMatch(/\n\s+at .*\.js:\d+/)
    expect(res.stderr).toBe('')
    // Nothing ran, and every output and the summary say so.
    expect(res.outputs).toEqual({
      status: 'failure',
      'run-id': '',
      succeeded: '0',
      failed: '0',
      skipped: '0',
      children: '[]',
      'pull-requests': '[]',
      outputs: '{}',
      'report-path': '',
      'cache-hit': 'false'
    })
    expect(res.summary).toBe(
      [
        '## ❌ tako: release failed: no run',
        '',
        'Nothing ran:',
        '',
        '- tako.yml:3:3: missing required key &quot;steps&quot;',
        '- tako.yml:4:5: unknown key &quot;stesp&quot; (did you mean &quot;steps&quot;?)',
        ''
      ].join('\n')
    )
  })

  it('refuses a malformed repositories input with a clear error before running anything', async () => {
    const res = await action({ repositories: 'acme/user-service, ../evil, acme/x@-rf' })
    expect(res.code).toBe(1)
    const errors = res.annotations.filter((a) => a.level === 'error').map((a) => a.message)
    expect(errors.join('\n')).toMatch(/input "repositories": .*\.\.\/evil/)
    expect(errors.join('\n')).toMatch(/input "repositories": .*-rf/)
    expect(res.stdout).not.toContain('::group::')
    expect(res.stdout).not.toMatch(/\n\s+at .*\.js:\d+/)
    expect(res.outputs).toMatchObject({ status: 'failure', children: '[]', 'report-path': '' })
    expect(res.summary).toContain('- input &quot;repositories&quot;: ')
  })

  it('never shows the token or its base64 forms, and masks all three', async () => {
    const b64 = Buffer.from(TOKEN).toString('base64')
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
    expect(b64).toMatch(/=$/)
    const res = await action({
      repositories: 'acme/user-service\nacme/leaky-service\nacme/private-service',
      inputs: `note=${TOKEN}`
    })
    expect(res.code).toBe(1)
    expect(res.masks).toEqual(expect.arrayContaining([TOKEN, b64, basic]))
    // The run did use the token and did print what the child printed.
    expect(git.requests.some((q) => q.authorized && q.path === '/acme/leaky-service/git-upload-pack')).toBe(true)
    expect(res.stdout).toContain('note is ***')
    expect(res.summary).toContain('note is ***')
    // The child's two base64 lines, each wholly replaced.
    expect(res.summary.match(/^\*\*\*$/gm)).toHaveLength(2)

    const reportText = readFileSync(res.outputs['report-path'], 'utf8')
    // Nor does a step get the action's inputs or the runtime token in its environment.
    const leaky = report(res).children.find((c) => c.repository === 'acme/leaky-service')!
    const stepEnv = readFileSync(path.join(leaky.workspace, 'env.txt'), 'utf8')
    // (The token is there only where this test passed it on itself: as the `note` input and in the event.)
    expect(stepEnv.split('\n').filter((l) => l.includes(TOKEN) && !/^TAKO_(INPUT_NOTE|EVENT_PAYLOAD)=/.test(l))).toEqual([])
    expect(stepEnv).not.toContain(CACHE_TOKEN)
    expect(stepEnv).not.toMatch(/^INPUT_/m)
    // Nor the runner's command files: a subscriber cannot set this action's outputs or the job's environment.
    expect(stepEnv).not.toMatch(/^GITHUB_(OUTPUT|ENV|STATE|PATH|STEP_SUMMARY)=/m)
    const places: Record<string, string> = {
      stdout: withoutMaskCommands(res.stdout),
      stderr: res.stderr,
      summary: res.summary,
      outputs: res.outputsFile,
      report: reportText
    }
    // Unpadded base64 is a prefix of the padded form: looking for it finds both.
    for (const secret of [TOKEN, b64.replace(/=+$/, ''), basic.replace(/=+$/, '')]) {
      for (const [where, text] of Object.entries(places)) {
        expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false })
      }
    }
  })

  it('exits within seconds of its last output, leaving no process of a step behind', async () => {
    const res = await action({ repositories: 'acme/billing-service\nacme/daemon-service' })
    const pid = (name: string): number => Number(readFileSync(path.join(res.runnerTemp, 'tako-cache', name), 'utf8'))
    const escaped = pid('escaped.pid')
    try {
      expect(res.code).toBe(0)
      expect(res.stdout).toContain('started two background jobs')
      // Not held up by the escaped daemon's open output: the run ended by itself, within the fixture's ceiling.
      expect(res.timedOut).toBe(false)
      expect(alive(pid('in-group.pid'))).toBe(false)
    } finally {
      if (alive(escaped)) process.kill(escaped, 'SIGKILL')
    }
  })
})
