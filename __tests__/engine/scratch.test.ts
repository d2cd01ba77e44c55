// Per-run scratch space: two runs on one run root keep their own, and a dead run's is removed by the next.

import { afterAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import { TEMP_DIR } from '../../src/engine/scratch.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

async function waitFor(file: string): Promise<void> {
  // A ceiling that only catches a hang.
  for (let i = 0; i < 1200 && !existsSync(file); i++) await delay(50)
  if (!existsSync(file)) throw new Error(`${file} never appeared`)
}

function fixture(base: string): { root: string; sub: string; flags: string } {
  const flags = path.join(base, 'flags')
  mkdirSync(flags)
  const sub = makeRepo(path.join(base, 'sub'), {
    'tako.yml': `version: 1
subscriptions:
  - artifact: acme/api
    events: [built]
    workflow: react
workflows:
  react:
    steps:
      - id: wait
        run: |
          touch "${flags}/child-started"
          i=0; while [ ! -e "${flags}/other-done" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
          echo "seen=yes" >> "$TAKO_OUTPUT"
`
  })
  const root = makeRepo(path.join(base, 'api'), {
    'tako.yml': `version: 1
workflows:
  slow:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: built }
  quick:
    steps:
      - run: "true"
`
  })
  return { root, sub, flags }
}

async function run(root: string, sub: string, workflow: string, runRoot: string): Promise<Awaited<ReturnType<typeof executeRun>>> {
  const prepared = await prepareRun({ root, workflow, inputs: {}, source: 'acme/api' })
  const source = new LocalRepositorySource({ repos: { 'acme/sub': sub } })
  try {
    return await executeRun(prepared, { root, workflow, inputs: {}, source: 'acme/api', repositorySource: source, runRoot })
  } finally {
    source.close()
  }
}

describe('per-run scratch space', () => {
  it('a run that ends while another on the same run root still runs children leaves that run intact', async () => {
    const base = tempDir()
    const { root, sub, flags } = fixture(base)
    const runRoot = path.join(base, 'run')
    const slow = run(root, sub, 'slow', runRoot)
    await waitFor(path.join(flags, 'child-started'))
    const quick = await run(root, sub, 'quick', runRoot)
    expect(quick.status).toBe('success')
    writeFileSync(path.join(flags, 'other-done'), '')
    const report = await slow
    expect(report.children.map((c) => [c.status, c.error?.message])).toEqual([['success', undefined]])
    expect(report.children[0].steps[0].outputs).toEqual({ seen: 'yes' })
    expect(report.status).toBe('success')
    // Both runs cleaned up after themselves.
    expect(existsSync(path.join(runRoot, TEMP_DIR))).toBe(false)
  }, 120_000)

  it('removes the scratch folder of a run whose engine process is gone, and keeps a live one', async () => {
    const base = tempDir()
    const { root, sub } = fixture(base)
    const runRoot = path.join(base, 'run')
    const dead = spawnSync('true').pid as number
    const stale = path.join(runRoot, TEMP_DIR, `${dead}-exec-20260101-000000-deadbeef`)
    const live = path.join(runRoot, TEMP_DIR, `${process.ppid}-exec-20260101-000000-0a0a0a0a`)
    for (const dir of [stale, live]) {
      mkdirSync(path.join(dir, 'root'), { recursive: true })
      writeFileSync(path.join(dir, 'root', 'tako-step-x.sh'), 'secret')
    }
    const report = await run(root, sub, 'quick', runRoot)
    expect(report.status).toBe('success')
    expect(readdirSync(path.join(runRoot, TEMP_DIR))).toEqual([path.basename(live)])
  }, 60_000)
})
