// Fan-out end to end through the CLI bundle: real git checkouts, real child processes, the report a user reads.

import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { alive, cleanupTempDirs, gitSync, makeRepo, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

interface Child {
  id: string
  parent_id: string
  repository: string
  workflow: string
  status: string
  workspace: string
  error?: { kind: string; message: string; step?: string; exit_code?: number; log_tail?: string }
}

function publisher(dir: string, fanOutWith: string, after = ''): string {
  return makeRepo(dir, {
    'tako.yml': `version: 1
workflows:
  release:
    inputs:
      services: { type: string, default: "" }
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with:
${fanOutWith.replace(/^/gm, '          ')}
${after}`
  })
}

function subscriber(source: string, event: string, workflow: string, steps: string, extra = ''): string {
  return `version: 1
subscriptions:
  - artifact: ${source}
    events: [${event}]
    workflow: ${workflow}
${extra}workflows:
  ${workflow}:
    steps:
${steps.replace(/^/gm, '      ')}
`
}

async function exec(
  root: string,
  args: string[]
): Promise<{
  code: number | null
  stdout: string
  stderr: string
  report: {
    status: string
    steps: Array<{ id: string; status: string }>
    children: Child[]
    discovery: Array<{ repository: string; result: string; reason: string }>
  }
}> {
  const report = path.join(tempDir(), 'report.json')
  const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--report', report, ...args])
  return { ...res, report: JSON.parse(readFileSync(report, 'utf8')) }
}

describe('tako/fan-out@v1', () => {
  it('runs exactly the subscribers whose filters select the event, each in its own checkout', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const filter = (name: string): string => `    filters:\n      - "'${name}' in event.payload.services_affected.split(',').map(s, s.trim().lower())"\n`
    const writes = '- id: write\n  run: |\n    echo "$TAKO_EVENT_PAYLOAD" > seen.json\n    git status --porcelain > status.txt\n'
    makeRepos(repos, {
      'acme/user-service': { 'tako.yml': subscriber('acme/api', 'api_published', 'update', writes, filter('user-service')) },
      'acme/auth-service': { 'tako.yml': subscriber('acme/api', 'api_published', 'update', writes, filter('auth-service')) },
      'acme/billing': { 'tako.yml': subscriber('acme/api', 'api_published', 'update', writes, filter('billing')) },
      'acme/docs': { 'README.md': 'no tako here\n' }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\npayload:\n  services_affected: "{{ .inputs.services }}"')
    const workspace = path.join(base, 'run')
    const { code, report, stdout } = await exec(root, [
      '--repos',
      repos,
      '--workspace',
      workspace,
      '--keep-workspaces',
      '-i',
      'services=User-Service, AUTH-service'
    ])
    expect(code).toBe(0)
    expect(report.children.map((c) => [c.repository, c.status]).sort()).toEqual([
      ['acme/auth-service', 'success'],
      ['acme/user-service', 'success']
    ])
    for (const child of report.children) {
      expect(path.dirname(child.workspace)).toBe(path.join(workspace, 'children'))
      expect(child.parent_id).toBe('')
      expect(JSON.parse(readFileSync(path.join(child.workspace, 'seen.json'), 'utf8'))).toEqual({ services_affected: 'User-Service, AUTH-service' })
      expect(gitSync(child.workspace, 'rev-parse', '--is-inside-work-tree').trim()).toBe('true')
      expect(gitSync(child.workspace, 'log', '--oneline')).toContain('initial')
    }
    for (const name of ['user-service', 'auth-service', 'billing']) {
      expect(existsSync(path.join(repos, 'acme', name, 'seen.json'))).toBe(false)
      expect(gitSync(path.join(repos, 'acme', name), 'status', '--porcelain')).toBe('')
    }
    const discovery = Object.fromEntries(report.discovery.map((d) => [d.repository, d]))
    expect(discovery['acme/billing']).toMatchObject({ result: 'no_match' })
    expect(discovery['acme/billing'].reason).toContain('filter 1 is false')
    expect(discovery['acme/docs']).toMatchObject({ result: 'no_subscription', reason: 'has no tako.yml' })
    expect(discovery['acme/user-service'].result).toBe('matched')
    expect(stdout).toMatch(/✓ acme\/user-service › update/)
  })

  it('runs a diamond A → B, C → D with one shared cache, also with --max-concurrency 1', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const record = (name: string): string => `- run: echo "${name} $TAKO_CACHE_DIR" >> "$TAKO_CACHE_DIR/seen"\n`
    const relay = (name: string): string => record(name) + `- uses: tako/fan-out@v1\n  with: { event_type: relayed }\n`
    makeRepos(repos, {
      'acme/b': { 'tako.yml': subscriber('acme/api', 'api_published', 'relay', relay('b')) },
      'acme/c': { 'tako.yml': subscriber('acme/api', 'api_published', 'relay', relay('c')) },
      'acme/d': {
        'tako.yml': `version: 1
subscriptions:
  - { artifact: acme/b, events: [relayed], workflow: sink }
  - { artifact: acme/c, events: [relayed], workflow: sink }
workflows:
  sink:
    steps:
${record('d').replace(/^/gm, '      ')}`
      }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published', '      - run: echo "a $TAKO_CACHE_DIR" >> "$TAKO_CACHE_DIR/seen"\n')
    for (const max of ['4', '1']) {
      const cache = path.join(base, `cache-${max}`)
      const { code, report } = await exec(root, ['--repos', repos, '--cache-dir', cache, '--max-concurrency', max])
      expect(code).toBe(0)
      const byId = new Map(report.children.map((c) => [c.id, c]))
      const ds = report.children.filter((c) => c.repository === 'acme/d')
      expect(ds).toHaveLength(2)
      expect(ds.map((d) => byId.get(d.parent_id)?.repository).sort()).toEqual(['acme/b', 'acme/c'])
      const seen = readFileSync(path.join(cache, 'seen'), 'utf8').trim().split('\n')
      expect(seen.map((l) => l.split(' ')[0]).sort()).toEqual(['a', 'b', 'c', 'd', 'd'])
      expect(new Set(seen.map((l) => l.split(' ')[1]))).toEqual(new Set([cache]))
    }
  })

  it('reports a cycle A → B → A with the chain and runs B once', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const root = path.join(repos, 'acme/api')
    makeRepos(repos, {
      'acme/b': {
        'tako.yml': subscriber(
          'acme/api',
          'api_published',
          'relay',
          '- run: echo b >> "$TAKO_CACHE_DIR/b-runs"\n- uses: tako/fan-out@v1\n  with: { event_type: relayed }\n'
        )
      }
    })
    makeRepo(root, {
      'tako.yml': `version: 1
subscriptions:
  - { artifact: acme/b, events: [relayed], workflow: release }
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: api_published }
`
    })
    const cache = path.join(base, 'cache')
    const { code, report, stdout } = await exec(root, ['--repos', repos, '--cache-dir', cache])
    expect(code).toBe(1)
    expect(readFileSync(path.join(cache, 'b-runs'), 'utf8')).toBe('b\n')
    const cycle = report.children.find((c) => c.error?.kind === 'cycle')
    expect(cycle).toMatchObject({ repository: 'acme/api', workflow: 'release', status: 'failure' })
    expect(cycle?.error?.message).toBe('cycle: acme/api:release → acme/b:relay → acme/api:release')
    expect(stdout).toContain('cycle: acme/api:release → acme/b:relay → acme/api:release')
  })

  it('reports a failing child with its step, exit code and log tail beside a healthy sibling', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/good': { 'tako.yml': subscriber('acme/api', 'api_published', 'build', '- id: compile\n  run: echo fine\n') },
      'acme/bad': {
        'tako.yml': subscriber(
          'acme/api',
          'api_published',
          'build',
          '- id: compile\n  run: |\n    for i in $(seq 1 40); do echo "line $i"; done\n    exit 3\n- id: never\n  run: "true"\n'
        )
      }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published', '      - id: after\n        run: touch after.txt\n')
    const workspace = path.join(base, 'run')
    const { code, report, stdout } = await exec(root, ['--repos', repos, '--workspace', workspace])
    expect(code).toBe(1)
    const good = report.children.find((c) => c.repository === 'acme/good')
    const bad = report.children.find((c) => c.repository === 'acme/bad')
    expect(good?.status).toBe('success')
    expect(bad?.status).toBe('failure')
    expect(bad?.error).toMatchObject({ kind: 'step_failed', step: 'compile', exit_code: 3 })
    const tail = bad?.error?.log_tail?.split('\n') ?? []
    expect(tail).toHaveLength(30)
    expect(tail[29]).toBe('line 40')
    expect(existsSync(bad!.workspace)).toBe(true)
    expect(existsSync(good!.workspace)).toBe(false)
    expect(existsSync(path.join(root, 'after.txt'))).toBe(false)
    expect(stdout).toMatch(/✗ acme\/bad › build .*failed at step compile \(exit 3\)/)
    expect(readdirSync(workspace).sort()).toEqual(['cache', 'children'])
  })

  it('times a sleeping child out at the fan-out deadline and leaves no process', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const pids = path.join(base, 'pids')
    makeRepos(repos, {
      'acme/slow': {
        'tako.yml': subscriber('acme/api', 'api_published', 'wait', `- id: nap\n  run: |\n    sleep 600 &\n    echo $! >> ${pids}\n    sleep 600\n`)
      }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\ntimeout: 3s')
    const { code, report } = await exec(root, ['--repos', repos])
    expect(code).toBe(1)
    expect(report.children[0]).toMatchObject({ repository: 'acme/slow', status: 'timed_out' })
    expect(report.children[0].error).toMatchObject({ kind: 'timed_out', step: 'nap' })
    for (const pid of readFileSync(pids, 'utf8').trim().split('\n').map(Number)) expect(alive(pid)).toBe(false)
  })

  it('accepts the Go tako dialect', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/go': {
        'tako.yml': `version: "0.1.0"
events:
  subscriptions:
    - artifact: acme/api:default
      events: [{ type: api_published }]
      filter: event.payload.tag.startsWith("v2")
      workflow: update
      inputs:
        tag: "{{ .event.payload.tag }}"
workflows:
  update:
    inputs:
      tag: { type: string }
    steps:
      - run: echo "{{ .Inputs.tag }}" > "$TAKO_CACHE_DIR/go-tag"
`
      }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\npayload: { tag: v2.1.0 }')
    const cache = path.join(base, 'cache')
    const { code, report } = await exec(root, ['--repos', repos, '--cache-dir', cache])
    expect(code).toBe(0)
    expect(report.children).toHaveLength(1)
    expect(readFileSync(path.join(cache, 'go-tag'), 'utf8')).toBe('v2.1.0\n')
  })

  it('wait_for_children: false lets the next steps run while children run, and still fails the run for a failed child', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    // The child can only finish once the parent's next step has run: proof that the parent did not wait.
    makeRepos(repos, {
      'acme/waiter': {
        'tako.yml': subscriber(
          'acme/api',
          'api_published',
          'w',
          '- run: |\n    for i in $(seq 1 100); do [ -f "$TAKO_CACHE_DIR/parent-went-on" ] && exit 0; sleep 0.1; done\n    exit 7\n'
        )
      },
      'acme/broken': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- id: boom\n  run: exit 4\n') }
    })
    const root = publisher(
      path.join(base, 'api'),
      'event_type: api_published\nwait_for_children: false',
      '      - id: next\n        run: touch "$TAKO_CACHE_DIR/parent-went-on"\n'
    )
    const { code, report } = await exec(root, ['--repos', repos])
    expect(code).toBe(1)
    const status = Object.fromEntries(report.children.map((c) => [c.repository, c.status]))
    expect(status).toEqual({ 'acme/waiter': 'success', 'acme/broken': 'failure' })
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['fan', 'success'],
      ['next', 'success']
    ])
  })

  it('concurrency_limit 1 runs the children one at a time', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    // mkdir is atomic: a second child running at the same time fails with exit 9.
    const exclusive = '- run: |\n    mkdir "$TAKO_CACHE_DIR/lock" || exit 9\n    sleep 0.3\n    rmdir "$TAKO_CACHE_DIR/lock"\n'
    makeRepos(repos, Object.fromEntries(['a', 'b', 'c'].map((n) => [`acme/${n}`, { 'tako.yml': subscriber('acme/api', 'api_published', 'w', exclusive) }])))
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\nconcurrency_limit: 1')
    const limited = await exec(root, ['--repos', repos])
    expect(limited.report.children.map((c) => c.status)).toEqual(['success', 'success', 'success'])
    expect(limited.code).toBe(0)
    const unlimited = await exec(publisher(path.join(base, 'api2'), 'event_type: api_published'), ['--repos', repos, '--max-concurrency', '3'])
    expect(unlimited.report.children.some((c) => c.error?.exit_code === 9)).toBe(true)
  })

  it('fail_fast cancels the running siblings on the first failure', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/fails': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- run: exit 2\n') },
      'acme/slow': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- id: nap\n  run: sleep 600\n') }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\nfail_fast: true')
    const { code, report } = await exec(root, ['--repos', repos])
    expect(code).toBe(1)
    const slow = report.children.find((c) => c.repository === 'acme/slow')
    expect(slow?.status).toBe('cancelled')
    expect(slow?.error?.message).toContain('fail_fast: acme/fails › w failed')
  })

  it('a child that cannot even be set up fails alone; the run still reports', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, { 'acme/sub': { 'tako.yml': subscriber('acme/api', 'api_published', 'update', '- run: "true"\n') } })
    // The root step blocks the child's scratch folder with a file of the same name (its script file lies in
    // <run scratch>/root/, next to where the children's folders go).
    const block = makeRepo(path.join(base, 'api2'), {
      'tako.yml': `version: 1
workflows:
  release:
    steps:
      - run: touch "$(dirname "$(dirname "$0")")/sub-update-1"
      - uses: tako/fan-out@v1
        with: { event_type: api_published, wait_for_children: false }
      - run: sleep 1
`
    })
    const { code, report, stderr } = await exec(block, ['--repos', repos, '--workspace', path.join(base, 'run')])
    expect(code).toBe(1)
    expect(stderr).not.toMatch(/\n\s+at /)
    expect(report.children).toEqual([expect.objectContaining({ repository: 'acme/sub', status: 'failure' })])
    expect(report.children[0].error?.message).toMatch(/could not run/)
  })

  it('refuses a missing --repos folder or report folder before running anything', async () => {
    const base = tempDir()
    const root = publisher(path.join(base, 'api'), 'event_type: api_published', '      - run: touch ran\n')
    const noRepos = await runTako(['exec', 'release', '--root', root, '--repos', path.join(base, 'nope')])
    expect(noRepos.code).toBe(2)
    expect(noRepos.stderr).toContain('does not exist')
    const noReportDir = await runTako(['exec', 'release', '--root', root, '--report', path.join(base, 'nodir', 'r.json')])
    expect(noReportDir.code).toBe(2)
    expect(noReportDir.stderr).toMatch(/--report .*its folder does not exist/)
    expect(existsSync(path.join(root, 'ran'))).toBe(false)
  })

  it.each([
    ['waits for them', '{ event_type: api_published }', 'timed_out'],
    ['left them running (wait_for_children: false)', '{ event_type: api_published, wait_for_children: false }', 'success']
  ])('a `timeout:` on the fan-out step bounds its children, also when the step %s', async (_how, withMap, stepStatus) => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, { 'acme/slow': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- id: nap\n  run: sleep 600\n') } })
    const root = makeRepo(path.join(base, 'api'), {
      'tako.yml': `version: 1\nworkflows:\n  release:\n    steps:\n      - id: fan\n        timeout: 2s\n        uses: tako/fan-out@v1\n        with: ${withMap}\n      - run: echo next\n`
    })
    const { code, report } = await exec(root, ['--repos', repos])
    expect(code).toBe(1)
    expect(report.children[0]).toMatchObject({ repository: 'acme/slow', status: 'timed_out' })
    expect(report.steps[0].status).toBe(stepStatus)
  })

  it('runs a duplicate match once, reports the other as skipped, and numbers ids in discovery order', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/twice': {
        'tako.yml': `version: 1
subscriptions:
  - { artifact: acme/api, events: [api_published], workflow: w }
  - { artifact: acme/api, events: [api_published], workflow: w, filter: "true" }
workflows:
  w:
    steps: ["true"]
`
      }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published')
    const { code, report } = await exec(root, ['--repos', repos])
    expect(code).toBe(0)
    const byStatus = Object.fromEntries(report.children.map((c) => [c.status, c]))
    expect(byStatus.success.id).toBe('twice-w-1')
    expect(byStatus.skipped).toMatchObject({ id: 'twice-w-2', error: { kind: 'duplicate' } })
  })

  it("gives a child the subscriber's own origin, warns about candidates without tako.yml, and sees .env in subscription inputs", async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/sub': {
        'tako.yml': subscriber(
          'acme/api',
          'api_published',
          'w',
          '- run: git remote get-url origin > "$TAKO_CACHE_DIR/origin"; echo "$TAKO_INPUT_WHO" > "$TAKO_CACHE_DIR/who"\n',
          '    inputs: { who: "{{ .env.TAKO_TEST_WHO }}" }\n'
        ).replace('workflows:\n  w:\n', 'workflows:\n  w:\n    inputs: { who: { type: string } }\n')
      },
      'acme/bare': { 'README.md': 'nothing\n' }
    })
    gitSync(path.join(repos, 'acme/sub'), 'remote', 'add', 'origin', 'https://example.invalid/acme/sub.git')
    const root = publisher(path.join(base, 'api'), 'event_type: api_published')
    const cache = path.join(base, 'cache')
    const report = path.join(base, 'r.json')
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--cache-dir', cache, '--report', report], {
      env: { TAKO_TEST_WHO: 'ci-bot' }
    })
    expect(res.code).toBe(0)
    expect(readFileSync(path.join(cache, 'origin'), 'utf8').trim()).toBe('https://example.invalid/acme/sub.git')
    expect(readFileSync(path.join(cache, 'who'), 'utf8').trim()).toBe('ci-bot')
    expect(res.stdout).toContain('warning: acme/bare skipped: it has no tako.yml')
    expect(JSON.parse(readFileSync(report, 'utf8')).warnings).toContain('acme/bare skipped: it has no tako.yml')
  })

  it('--dry-run renders nested payload values as the run does', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/sub': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- run: "true"\n', '    filter: event.payload.nested.t == "1.0.0"\n') }
    })
    const root = makeRepo(path.join(base, 'api'), {
      'tako.yml':
        'version: 1\nworkflows:\n  release:\n    inputs: { v: { type: string } }\n    steps:\n      - uses: tako/fan-out@v1\n        with:\n          event_type: api_published\n          payload: { nested: { t: "{{ .inputs.v }}" } }\n'
    })
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--dry-run', '-i', 'v=1.0.0'])
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('✓ acme/sub › w: would run (subscription 1)')
  })

  it('--dry-run says for every candidate whether it would run and why not', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/yes': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- run: touch ran\n') },
      'acme/no': { 'tako.yml': subscriber('acme/api', 'api_published', 'w', '- run: touch ran\n', '    filter: payload.x == "never"\n') },
      'acme/other': { 'tako.yml': subscriber('acme/api', 'something_else', 'w', '- run: touch ran\n') }
    })
    const root = publisher(path.join(base, 'api'), 'event_type: api_published\npayload: { x: "1" }')
    const workspace = path.join(base, 'run')
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--workspace', workspace, '--dry-run'])
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('✓ acme/yes › w: would run (subscription 1)')
    expect(res.stdout).toMatch(/- acme\/no: no_match: .*filter 1 is false/)
    expect(res.stdout).toMatch(/- acme\/other: no_subscription: not subscribed to api_published/)
    expect(existsSync(path.join(workspace, 'children'))).toBe(false)
  })
})
