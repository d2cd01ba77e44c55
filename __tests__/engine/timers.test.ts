import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { MAX_TIMER_MS, setLongTimeout } from '../../src/engine/timers.js'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

describe('setLongTimeout', () => {
  it('chains slices: a delay of many slices fires once, only after the whole delay', async () => {
    const fired: number[] = []
    const started = Date.now()
    await new Promise<void>((resolve) => setLongTimeout(() => (fired.push(Date.now() - started), resolve()), 120, 10))
    expect(fired).toHaveLength(1)
    // Timers fire late on a busy machine, never early: the lower bound is what chaining must keep.
    expect(fired[0]).toBeGreaterThanOrEqual(119)
  })

  it('does not fire when cleared between slices', async () => {
    let fired = false
    // Slices of 10 ms towards a minute: cleared after some slices have passed, long before the end.
    const timer = setLongTimeout(() => (fired = true), 60_000, 10)
    await new Promise((r) => setTimeout(r, 50))
    timer.clear()
    await new Promise((r) => setTimeout(r, 100))
    expect(fired).toBe(false)
  })

  it('does not fire early for a delay past 2^31 ms (where a bare setTimeout fires at once)', async () => {
    let fired = false
    const timer = setLongTimeout(() => (fired = true), MAX_TIMER_MS + 1000)
    await new Promise((r) => setTimeout(r, 200))
    timer.clear()
    expect(fired).toBe(false)
  })
})

describe('durations past 2^31 ms in tako.yml', () => {
  it('timeout: 1000h on a step, its workflow and a fan-out that sleeps 2 s: every step succeeds', async () => {
    const base = tempDir()
    const sub = makeRepo(path.join(base, 'sub'), {
      'tako.yml': `version: 1
subscriptions:
  - artifact: acme/api
    events: [built]
    workflow: react
workflows:
  react:
    timeout: 1000h
    steps:
      - id: nap
        timeout: 1000h
        run: sleep 2 && echo woke > woke.txt
`
    })
    const root = makeRepo(path.join(base, 'api'), {
      'tako.yml': `version: 1
workflows:
  release:
    timeout: 1000h
    steps:
      - id: nap
        timeout: 1000h
        run: sleep 2
      - id: fan
        uses: tako/fan-out@v1
        with:
          event_type: built
          timeout: 1000h
`
    })
    const prepared = await prepareRun({ root, workflow: 'release', inputs: {}, source: 'acme/api' })
    const source = new LocalRepositorySource({ repos: { 'acme/sub': sub } })
    try {
      const report = await executeRun(prepared, {
        root,
        workflow: 'release',
        inputs: {},
        source: 'acme/api',
        repositorySource: source,
        runRoot: path.join(base, 'run'),
        keepWorkspaces: 'all'
      })
      expect(report.steps.map((s) => [s.id, s.status])).toEqual([
        ['nap', 'success'],
        ['fan', 'success']
      ])
      expect(report.children.map((c) => [c.repository, c.status])).toEqual([['acme/sub', 'success']])
      expect(report.status).toBe('success')
    } finally {
      source.close()
    }
  }, 120_000)
})
