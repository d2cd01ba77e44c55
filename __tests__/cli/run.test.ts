// `tako run` through the CLI bundle over a chain lib → app → web of real checkouts: order, failure, dry run, signals.

import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { CLI, runTako } from '../../__fixtures__/cli.js'
import { alive, cleanupTempDirs, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const publisher = (event: string, sub = ''): string => `version: 1
workflows:
  build:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: ${event} }
${sub}`

/** web subscribes to app, app to lib; named so that alphabetical order (app, lib, web) is not the answer. */
function chain(): { dir: string; lib: string; app: string; web: string } {
  const dir = realpathSync(tempDir())
  makeRepos(dir, {
    'o/web': {
      'tako.yml': 'version: 1\nworkflows:\n  deploy: { steps: [echo deploy] }\nsubscriptions:\n  - { artifact: o/app, events: [app_built], workflow: deploy }\n'
    },
    'o/app': { 'tako.yml': publisher('app_built', 'subscriptions:\n  - { artifact: o/lib, events: [lib_built], workflow: build }\n') },
    'o/lib': { 'tako.yml': publisher('lib_built') }
  })
  return { dir, lib: path.join(dir, 'o/lib'), app: path.join(dir, 'o/app'), web: path.join(dir, 'o/web') }
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').trim().split('\n')

describe('tako run', () => {
  it('runs the command in lib, app, web in that order, each in its checkout', async () => {
    const { dir, lib, app, web } = chain()
    const order = path.join(tempDir(), 'order')
    const res = await runTako(['run', '--repos', dir, '--', 'sh', '-c', 'pwd >> $ORDER_FILE; echo "done in $TAKO_REPOSITORY"'], { env: { ORDER_FILE: order } })
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(lines(order)).toEqual([lib, app, web])
    expect(res.stdout).toContain('[o/app] done in o/app\n')
    expect(res.stdout).toMatch(/\nrepository +status +exit +duration +note\no\/lib +success +0 +\d+m?s\no\/app +success +0 /)
  })

  it('a failure in app skips web and exits 1; --keep-going runs web anyway', async () => {
    const { dir, lib, app, web } = chain()
    const script = 'pwd >> $ORDER_FILE; [ "$TAKO_REPOSITORY" != o/app ] || exit 3'
    const order = path.join(tempDir(), 'order')
    const res = await runTako(['run', '--repos', dir, '--', script], { env: { ORDER_FILE: order } })
    expect(res.code).toBe(1)
    expect(lines(order)).toEqual([lib, app])
    expect(res.stdout).toMatch(/✗ o\/app failure \(exit code 3\)/)
    expect(res.stdout).toMatch(/\no\/web +skipped +- +- +o\/app did not succeed\n/)
    const again = path.join(tempDir(), 'order')
    const kept = await runTako(['run', '--repos', dir, '--keep-going', '--json', '--', script], { env: { ORDER_FILE: again } })
    expect(kept.code).toBe(1)
    expect(lines(again)).toEqual([lib, app, web])
    const report = JSON.parse(kept.stdout) as { status: string; repositories: Array<{ repository: string; status: string; exit_code: number | null }> }
    expect(report.status).toBe('failure')
    expect(report.repositories.map((r) => [r.repository, r.status, r.exit_code])).toEqual([
      ['o/lib', 'success', 0],
      ['o/app', 'failure', 3],
      ['o/web', 'success', 0]
    ])
  })

  it('--dry-run runs nothing and prints the order; --from and --ignore narrow it', async () => {
    const { dir, app, web } = chain()
    const order = path.join(tempDir(), 'order')
    const res = await runTako(['run', '--repos', dir, '--dry-run', '--', 'sh', '-c', 'pwd >> $ORDER_FILE'], { env: { ORDER_FILE: order } })
    expect(res.code).toBe(0)
    expect(existsSync(order)).toBe(false)
    expect(res.stdout).toMatch(/nothing runs\):\n {2}1\. o\/lib {2}\S+\n {2}2\. o\/app {2}\S+ {2}\(after o\/lib\)\n {2}3\. o\/web {2}\S+ {2}\(after o\/app\)$/m)
    const from = await runTako(['run', '--repos', dir, '--from', 'o/app', '--ignore', 'lib', '--dry-run', '--json', '--', 'true'])
    expect(from.code).toBe(0)
    expect((JSON.parse(from.stdout) as { repositories: Array<{ path: string }> }).repositories.map((r) => r.path)).toEqual([app, web])
  })

  it('refuses a missing command or an unknown repository with exit 2', async () => {
    const { dir } = chain()
    const none = await runTako(['run', '--repos', dir])
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('tako: tako run needs a command after --, e.g. tako run -- npm test\n')
    const only = await runTako(['run', '--repos', dir, '--only', 'nope', '--', 'true'])
    expect(only.code).toBe(2)
    expect(only.stderr).toBe('tako: --only nope: no such repository in the graph (repositories: o/lib, o/app, o/web)\n')
  })

  it('SIGINT stops the running command and its process group, skips the rest and exits 130', async () => {
    const { dir } = chain()
    const pidFile = path.join(tempDir(), 'pid')
    const child = spawn(process.execPath, [CLI, 'run', '--repos', dir, '--', `sleep 300 & echo $! > ${pidFile}; wait`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tempDir() }
    })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    for (let i = 0; i < 1200 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()); i++) await delay(50)
    const sleeper = Number(readFileSync(pidFile, 'utf8'))
    expect(alive(sleeper)).toBe(true)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(alive(sleeper)).toBe(false)
    expect(stdout).toMatch(/\no\/lib +cancelled +- +\S+ +killed by SIGTERM\n/)
    expect(stdout).toMatch(/\no\/web +cancelled +- +- +not started: the run was interrupted\n/)
  })
})
