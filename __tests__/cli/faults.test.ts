// Faults through the CLI bundle: path options that cannot be used, the engine killed with SIGKILL, two runs
// sharing one --workspace.

import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { CLI, runTako } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, makeRepo, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const subscriber = (steps: string): string => `version: 1
subscriptions:
  - artifact: acme/api
    events: [built]
    workflow: react
workflows:
  react:
    steps:
${steps.replace(/^/gm, '      ')}
`

function publisher(dir: string): string {
  return makeRepo(dir, {
    'tako.yml': `version: 1
workflows:
  release:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: built }
`
  })
}

/** Processes whose environment says they are steps of a run under `runRoot` (every step gets TAKO_WORKSPACE). */
function stepProcesses(runRoot: string): number[] {
  const marker = `TAKO_WORKSPACE=${runRoot}/`
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8')
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (environ.includes(marker) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return found
}

/** Polls `check` until it holds; the ceiling only catches a hang. */
async function until(check: () => boolean, what: string, ceilingMs = 60_000): Promise<void> {
  for (const end = Date.now() + ceilingMs; !check(); await delay(50)) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`)
  }
}

describe('path options that cannot be used are usage errors', () => {
  const cases: Array<[string, (base: string) => string[], RegExp]> = [
    [
      '--workspace under /proc/self',
      () => ['--workspace', '/proc/self/x'],
      /^tako: --workspace \/proc\/self\/x: cannot create \/proc\/self\/x: no such file or directory/
    ],
    ['--workspace under a file', (base) => ['--workspace', path.join(base, 'file', 'ws')], /^tako: --workspace .*: cannot use .*file\/ws: not a directory/],
    ['--cache-dir under a file', (base) => ['--cache-dir', path.join(base, 'file', 'cache')], /^tako: --cache-dir .*: cannot use .*: not a directory/],
    ['--cache-dir under /proc/self', () => ['--cache-dir', '/proc/self/cache-x'], /^tako: --cache-dir \/proc\/self\/cache-x: cannot create/],
    ['--report in a missing folder', (base) => ['--report', path.join(base, 'missing', 'r.json')], /^tako: --report .*: its folder does not exist/],
    ['--report naming a folder', (base) => ['--report', base], /^tako: --report .* is a directory/]
  ]
  it.each(cases)(
    '%s: exit 2, one line saying what, no stack, nothing run',
    async (_, args, message) => {
      const base = tempDir()
      writeFileSync(path.join(base, 'file'), '')
      const root = makeRepo(path.join(base, 'api'), { 'tako.yml': 'version: 1\nworkflows:\n  release:\n    steps:\n      - run: touch ran\n' })
      const res = await runTako(['exec', 'release', '--root', root, ...args(base)])
      expect(res.stderr).toMatch(message)
      expect(res.stderr).not.toMatch(/internal error|\n\s+at /)
      expect(res.code).toBe(2)
      expect(existsSync(path.join(root, 'ran'))).toBe(false)
    },
    60_000
  )

  it('a report that cannot be written (a full device) is said so with exit 2 after the run', async () => {
    const base = tempDir()
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': 'version: 1\nworkflows:\n  release:\n    steps:\n      - run: "true"\n' })
    const res = await runTako(['exec', 'release', '--root', root, '--report', '/dev/full'])
    expect(res.stderr).toMatch(/^tako: cannot write the report to \/dev\/full: ENOSPC/m)
    expect(res.stdout).toMatch(/success/)
    expect(res.code).toBe(2)
  }, 60_000)
})

describe('dead-man switch', () => {
  it("kill -9 of the engine during a fan-out: no step process remains, and the next run removes the dead run's scratch", async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const sleeper = subscriber('- run: |\n    sleep 300 &\n    sleep 300\n')
    makeRepos(repos, { 'acme/a': { 'tako.yml': sleeper }, 'acme/b': { 'tako.yml': sleeper }, 'acme/c': { 'tako.yml': sleeper } })
    const root = publisher(path.join(base, 'api'))
    const runRoot = path.join(base, 'run')
    const engine = spawn(process.execPath, [CLI, 'exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--workspace', runRoot], {
      stdio: 'ignore'
    })
    const gone = new Promise((resolve) => engine.on('exit', resolve))
    // 3 children, each a shell and two sleeps.
    await until(() => stepProcesses(runRoot).length >= 9, 'every child step running')
    const scratch = readdirSync(path.join(runRoot, '.tako-tmp'))
    expect(scratch).toEqual([expect.stringMatching(new RegExp(`^${engine.pid}-exec-`))])
    engine.kill('SIGKILL')
    await gone
    await until(() => stepProcesses(runRoot).length === 0, 'every step process gone after the engine died')

    writeFileSync(path.join(root, 'tako.yml'), 'version: 1\nworkflows:\n  release:\n    steps:\n      - run: "true"\n')
    const next = await runTako(['exec', 'release', '--root', root, '--workspace', runRoot])
    expect(next.code).toBe(0)
    expect(existsSync(path.join(runRoot, '.tako-tmp'))).toBe(false)
  }, 120_000)
})

describe('two runs on one --workspace', () => {
  it("both succeed, each child in its own folder, and neither removes the other's scratch space", async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const steps = '- id: s\n  run: |\n    sleep 1\n    echo "at=$TAKO_WORKSPACE" >> "$TAKO_OUTPUT"\n'
    makeRepos(repos, { 'acme/a': { 'tako.yml': subscriber(steps) }, 'acme/b': { 'tako.yml': subscriber(steps) } })
    const root = publisher(path.join(base, 'api'))
    const runRoot = path.join(base, 'run')
    const reports = [path.join(base, 'r1.json'), path.join(base, 'r2.json')]
    const results = await Promise.all(
      reports.map((report) =>
        runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--workspace', runRoot, '--keep-workspaces', '--report', report])
      )
    )
    expect(results.map((r) => r.code)).toEqual([0, 0])
    const workspaces = reports.flatMap((file) => {
      const report = JSON.parse(readFileSync(file, 'utf8')) as {
        status: string
        children: Array<{ status: string; workspace: string; steps: Array<{ outputs: Record<string, string> }> }>
      }
      expect(report.status).toBe('success')
      return report.children.map((c) => {
        expect(c.status).toBe('success')
        expect(c.steps[0].outputs.at).toBe(c.workspace)
        return c.workspace
      })
    })
    expect(new Set(workspaces).size).toBe(4)
    expect(readdirSync(path.join(runRoot, 'children')).sort()).toEqual(['a-react-1', 'a-react-2', 'b-react-1', 'b-react-2'])
    expect(existsSync(path.join(runRoot, '.tako-tmp'))).toBe(false)
  }, 120_000)
})
