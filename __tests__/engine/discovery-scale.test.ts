// Discovery at scale, in process over real repositories: report rows grow with children plus candidates (never their
// product), and a matched child starts while other candidates are still being read.

import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import type { RepositorySource } from '../../src/engine/repository-source.js'
import type { RunObserver } from '../../src/engine/run-scope.js'
import type { RunReport } from '../../src/engine/types.js'
import { summaryText } from '../../src/cli/render.js'
import { summaryMarkdown } from '../../src/github/summary.js'
import { cleanupTempDirs, makeRepo, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with: { event_type: go }
`

function subscriber(workflowSteps: string, filter = ''): string {
  return `version: 1
subscriptions:
  - artifact: acme/api
    events: [go]
    workflow: w
${filter}workflows:
  w:
    steps:
${workflowSteps.replace(/^/gm, '      ')}`
}

async function run(root: string, source: RepositorySource, runRoot: string, observer?: RunObserver): Promise<RunReport> {
  const prepared = await prepareRun({ root, workflow: 'release', inputs: {}, source: 'acme/api' })
  try {
    return await executeRun(prepared, {
      root,
      workflow: 'release',
      inputs: {},
      source: 'acme/api',
      repositorySource: source,
      runRoot,
      maxConcurrency: 4,
      observer
    })
  } finally {
    source.close?.()
  }
}

describe('discovery bookkeeping', () => {
  it('records a wide nested tree in O(children + candidates) rows: one row per fan-out, problems once', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    const W = 60
    // Every service announces its own `deployed`; nobody listens to it.
    const announce = '- uses: tako/fan-out@v1\n  with: { event_type: deployed }\n'
    const layout: Record<string, Record<string, string>> = {
      'acme/bare': { 'README.md': 'no tako here\n' },
      'acme/picky': { 'tako.yml': subscriber('- run: "true"\n', '    filter: payload.never == "x"\n') }
    }
    for (let i = 0; i < W; i++) layout[`acme/svc-${String(i).padStart(2, '0')}`] = { 'tako.yml': subscriber(announce) }
    makeRepos(repos, layout)
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER })
    const considered = new Map<string, number>()
    const observer: RunObserver = { considered: (entry) => considered.set(entry.event_type ?? '', (considered.get(entry.event_type ?? '') ?? 0) + 1) }
    const report = await run(root, new LocalRepositorySource({ reposDir: repos }), path.join(base, 'run'), observer)

    expect(report.status).toBe('success')
    expect(report.children).toHaveLength(W)
    const candidates = W + 2
    // The root's fan-out judged every candidate; each child's fan-out, with every file read already, only the
    // subscribers of its event (none) and the unreadable candidate: the work is children + candidates.
    expect(Object.fromEntries(considered)).toEqual({ go: candidates, deployed: W })
    const fanOutRows = report.discovery.filter((d) => d.fan_out)
    // The root's fan-out plus one per child.
    expect(fanOutRows).toHaveLength(W + 1)
    const rootRow = fanOutRows.find((d) => d.fan_out_of === '')!
    expect(rootRow).toMatchObject({
      repository: 'acme/api',
      event_type: 'go',
      result: 'matched',
      fan_out: { candidates, matched: W, no_match: 1, no_subscription: 1, error: 0 }
    })
    for (const row of fanOutRows.filter((d) => d.fan_out_of !== '')) {
      expect(row).toMatchObject({ event_type: 'deployed', result: 'no_subscription', fan_out: { candidates, matched: 0, no_subscription: candidates } })
      expect(row.reason).toBe(`fan-out of deployed from ${row.repository}:default looked at ${candidates} candidates: ${candidates} not subscribed`)
    }
    const candidateRows = report.discovery.filter((d) => !d.fan_out)
    expect(candidateRows.filter((d) => d.result === 'matched')).toHaveLength(W)
    // The candidate without tako.yml is said once for the whole tree, not once per fan-out.
    expect(candidateRows.filter((d) => d.repository === 'acme/bare')).toEqual([
      expect.objectContaining({ result: 'no_subscription', reason: 'has no tako.yml', fan_out_of: '', event_type: 'go' })
    ])
    expect(candidateRows.filter((d) => d.repository === 'acme/picky')).toEqual([expect.objectContaining({ result: 'no_match', event_type: 'go' })])
    expect(report.discovery).toHaveLength(1 + W + W + 2)
    expect(report.warnings.filter((w) => w.includes('acme/bare'))).toEqual(['acme/bare skipped: it has no tako.yml'])

    // What a user reads: one line for all the fan-outs nobody heard, the discovery table with a row per fan-out.
    const text = summaryText(report)
    expect(text).toContain(`  - deployed: nothing triggered by ${W} fan-outs (from acme/svc-`)
    expect(text).toContain(`and ${W - 3} more), each looking at ${candidates} candidates`)
    expect(text).toContain('  - acme/bare (go): no_subscription: has no tako.yml')
    const md = summaryMarkdown(report)
    expect(md).toContain(
      `| fan-out of go from acme/api |  | matched | fan-out of go from acme/api:default looked at ${candidates} candidates: ${W} matched, 1 subscribed but filtered out, 1 not subscribed |`
    )
    expect(md.split('\n').filter((l) => l.startsWith('| fan-out of deployed from acme/svc-'))).toHaveLength(W)
  })

  it('starts a matched child before the last candidate has been read', async () => {
    const base = tempDir()
    const repos = path.join(base, 'repos')
    makeRepos(repos, {
      'acme/aaa': { 'tako.yml': subscriber('- run: "true"\n') },
      'acme/mmm': { 'tako.yml': subscriber('- run: "true"\n') },
      'acme/zzz': { 'tako.yml': subscriber('- run: "true"\n') }
    })
    const root = makeRepo(path.join(base, 'api'), { 'tako.yml': PUBLISHER })
    const inner = new LocalRepositorySource({ reposDir: repos })
    const events: string[] = []
    let childStarted!: () => void
    const started = new Promise<void>((resolve) => (childStarted = resolve))
    // The last candidate's read waits until a child runs a step (a generous ceiling only catches a hang): a fan-out
    // that read every candidate before starting any child would reach the ceiling first and fail the order below.
    const source: RepositorySource = {
      list: (declared) => inner.list(declared),
      readConfig: async (candidate, _signal) => {
        if (candidate.repository === 'acme/zzz') {
          await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 60_000).unref())])
          events.push('read acme/zzz')
        }
        return inner.readConfig(candidate)
      },
      checkout: (candidate, dir, signal) => inner.checkout(candidate, dir, signal),
      close: () => inner.close()
    }
    const observer: RunObserver = {
      stepStarted: (run) => {
        if (!run.id) return
        events.push(`child ${run.repository} started`)
        childStarted()
      },
      considered: (entry) => events.push(`verdict ${entry.repository}`)
    }
    const report = await run(root, source, path.join(base, 'run'), observer)
    expect(report.status).toBe('success')
    expect(report.children.map((c) => c.repository).sort()).toEqual(['acme/aaa', 'acme/mmm', 'acme/zzz'])
    const firstChild = events.findIndex((e) => e.startsWith('child '))
    expect(firstChild).toBeGreaterThanOrEqual(0)
    expect(firstChild).toBeLessThan(events.indexOf('read acme/zzz'))
    expect(events.indexOf('read acme/zzz')).toBeLessThan(events.indexOf('verdict acme/zzz'))
  }, 120_000)
})
