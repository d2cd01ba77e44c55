// tako run's engine in-process: the plan (order, waits through left-out repositories) and real processes side by side.

import { afterAll, describe, expect, it } from '@jest/globals'
import { readFileSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { parseConfig } from '../../src/config/load.js'
import { buildGraph, type GraphRepository } from '../../src/engine/graph.js'
import { planRepositoryRun, runAcross, shellQuote } from '../../src/engine/graph-run.js'
import { stringEnv } from '../../src/engine/process-groups.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

function repo(repository: string, dir: string, publishes: string | undefined, subscribes: Array<[string, string]>): GraphRepository {
  const steps = publishes ? `      - uses: tako/fan-out@v1\n        with: { event_type: ${publishes} }\n` : '      - echo\n'
  const subs = subscribes.map(([of, event]) => `  - { artifact: ${of}, events: [${event}], workflow: w }\n`).join('')
  const { config } = parseConfig(`version: 1\nworkflows:\n  w:\n    steps:\n${steps}${subs ? `subscriptions:\n${subs}` : ''}`, `${repository}/tako.yml`)
  if (!config) throw new Error('invalid fixture')
  return { repository, path: dir, config }
}

describe('planRepositoryRun', () => {
  // lib → app → web, lib → docs; tools alone.
  const graph = buildGraph([
    repo('o/web', '/w', undefined, [['o/app', 'app_built']]),
    repo('o/app', '/a', 'app_built', [['o/lib', 'lib_built']]),
    repo('o/lib', '/l', 'lib_built', []),
    repo('o/docs', '/d', undefined, [['o/lib', 'lib_built']]),
    repo('o/tools', '/t', undefined, [])
  ])

  it('orders publishers first and lists what each waits for', () => {
    expect(planRepositoryRun(graph, {}).tasks.map((t) => [t.repository, t.publishers])).toEqual([
      ['o/lib', []],
      ['o/tools', []],
      ['o/app', ['o/lib']],
      ['o/docs', ['o/lib']],
      ['o/web', ['o/app']]
    ])
  })

  it('keeps the wait through a repository left out, and narrows by --from', () => {
    expect(planRepositoryRun(graph, { ignore: ['app'] }).tasks.map((t) => [t.repository, t.publishers])).toEqual([
      ['o/lib', []],
      ['o/tools', []],
      ['o/docs', ['o/lib']],
      ['o/web', ['o/lib']]
    ])
    expect(planRepositoryRun(graph, { from: 'o/app' }).tasks.map((t) => t.repository)).toEqual(['o/app', 'o/web'])
    expect(planRepositoryRun(graph, { only: ['o/web', 'docs'] }).tasks.map((t) => t.repository)).toEqual(['o/docs', 'o/web'])
  })
})

describe('runAcross', () => {
  it('runs independent repositories side by side: each waits for a file only the other writes', async () => {
    const a = realpathSync(tempDir())
    const b = realpathSync(tempDir())
    // Run one after the other, the first would wait for the second forever; the 60 s loop only catches a hang.
    const script =
      'touch "$TAKO_WORKSPACE/started"; other=$( [ "$TAKO_REPOSITORY" = o/a ] && echo "$B" || echo "$A"); i=0; while [ ! -e "$other/started" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; [ -e "$other/started" ]'
    const results = await runAcross({
      tasks: [
        { repository: 'o/a', path: a, publishers: [] },
        { repository: 'o/b', path: b, publishers: [] }
      ],
      command: [script],
      maxConcurrency: 2,
      keepGoing: false,
      signal: new AbortController().signal,
      env: { ...stringEnv(process.env), A: a, B: b }
    })
    expect(results.map((r) => [r.repository, r.status, r.exit_code])).toEqual([
      ['o/a', 'success', 0],
      ['o/b', 'success', 0]
    ])
  })

  it('passes several arguments to the program exactly as given, and reports one that cannot start', async () => {
    const dir = realpathSync(tempDir())
    const arg = `it's "odd" $HOME; *`
    const ok = await runAcross({
      tasks: [{ repository: 'o/a', path: dir, publishers: [] }],
      command: ['sh', '-c', 'printf %s "$1" > out', 'sh', arg],
      maxConcurrency: 1,
      keepGoing: false,
      signal: new AbortController().signal,
      env: stringEnv(process.env)
    })
    expect(ok[0].status).toBe('success')
    expect(readFileSync(path.join(dir, 'out'), 'utf8')).toBe(arg)
    expect(shellQuote(arg)).toBe(`'it'\\''s "odd" $HOME; *'`)
    const gone = await runAcross({
      tasks: [{ repository: 'o/a', path: path.join(dir, 'missing'), publishers: [] }],
      command: ['true'],
      maxConcurrency: 1,
      keepGoing: false,
      signal: new AbortController().signal,
      env: stringEnv(process.env)
    })
    expect(gone[0]).toEqual(
      expect.objectContaining({ status: 'failure', exit_code: null, reason: expect.stringMatching(/does not exist or is not a directory/) })
    )
  })
})
