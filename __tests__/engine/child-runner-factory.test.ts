// ChildRunnerFactory against a real run root: unique readable ids, no conflicts, nothing outside the root.

import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pLimit from 'p-limit'
import { ChildRunnerFactory, safeSegment } from '../../src/engine/child-runner-factory.js'
import type { TreeState } from '../../src/engine/run-scope.js'
import { WorkspaceReaper } from '../../src/engine/reaper.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

function tree(runRoot: string): TreeState {
  return {
    runId: 'exec-20260101-000000-00000000',
    runRoot,
    scratchDir: path.join(runRoot, '.tako-tmp', '1-run'),
    cacheDir: path.join(runRoot, 'cache'),
    stepSlots: pLimit(4),
    checkoutSlots: pLimit(4),
    observer: {},
    children: [],
    discovery: [],
    warnings: [],
    maxDepth: 10,
    childIds: new Map(),
    keepWorkspaces: 'failed',
    defaultMode: 'local',
    reaper: new WorkspaceReaper()
  }
}

describe('ChildRunnerFactory', () => {
  it('gives readable, unique ids and folders under <run root>/children, also when created at once', async () => {
    const root = tempDir()
    const factory = new ChildRunnerFactory(tree(root))
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => factory.create(`acme/svc-${i % 2}`, 'update')))
    const ids = runs.map((r) => r.id)
    expect(new Set(ids).size).toBe(20)
    expect(ids).toContain('svc-0-update-1')
    expect(ids).toContain('svc-1-update-10')
    for (const run of runs) {
      expect(run.workspace).toBe(path.join(root, 'children', run.id))
      expect(existsSync(run.workspace)).toBe(true)
      expect(readdirSync(run.workspace)).toEqual([])
    }
    expect(readdirSync(path.join(root, 'children'))).toHaveLength(20)
  })

  it('skips an id whose folder already exists instead of sharing it', async () => {
    const root = tempDir()
    const first = await new ChildRunnerFactory(tree(root)).create('acme/api', 'w')
    const second = await new ChildRunnerFactory(tree(root)).create('acme/api', 'w')
    expect(first.id).toBe('api-w-1')
    expect(second.id).toBe('api-w-2')
  })

  it('keeps hostile names inside the run root', async () => {
    const root = tempDir()
    const factory = new ChildRunnerFactory(tree(root))
    const hostile = ['acme/..', 'acme/..evil', '../../etc/passwd', 'acme/a b c', 'acme/ünïcødé-名前', `acme/${'x'.repeat(500)}`, 'acme/-rf', 'acme/.']
    for (const name of hostile) {
      const run = await factory.create(name, '../../escape')
      expect(path.dirname(run.workspace)).toBe(path.join(root, 'children'))
      expect(run.id).toMatch(/^[a-z0-9][a-z0-9._-]*-\d+$/)
      expect(run.id.length).toBeLessThan(140)
    }
    expect(readdirSync(root).sort()).toEqual(['.tako-tmp', 'children'])
  })

  it('safeSegment never yields a dot path or an empty name', () => {
    expect(safeSegment('..')).toBe('x')
    expect(safeSegment('..evil')).toBe('evil')
    expect(safeSegment('a/../b')).toBe('a-.-b')
    expect(safeSegment('')).toBe('x')
    expect(safeSegment('Hello World')).toBe('hello-world')
  })

  it('children share one cache folder: what one writes the others see', async () => {
    const root = tempDir()
    const state = tree(root)
    const factory = new ChildRunnerFactory(state)
    const [a, b] = await Promise.all([factory.create('acme/a', 'w'), factory.create('acme/b', 'w')])
    expect(a.workspace).not.toBe(b.workspace)
    writeFileSync(path.join(state.cacheDir.replace(/cache$/, ''), 'cache-probe'), 'x')
    expect(readFileSync(path.join(root, 'cache-probe'), 'utf8')).toBe('x')
  })
})
