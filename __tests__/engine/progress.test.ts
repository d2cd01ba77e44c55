import { describe, expect, it } from '@jest/globals'
import { RunProgress } from '../../src/engine/progress.js'
import { GroupedLogs } from '../../src/github/log-groups.js'
import { child, step } from '../../__fixtures__/reports.js'

const ROOT = { id: '', repository: 'acme/api', workflow: 'release' }
const header = {
  runId: 'exec-20261124-143022-a7b3c1d2',
  source: 'acme/api',
  workflow: 'release',
  inputs: { version: 'v1' },
  startedAt: new Date('2026-11-24T14:30:22.000Z')
}

describe('RunProgress', () => {
  it('reports what finished and each child still running as cancelled, showing its output so far', () => {
    let out = ''
    const progress = new RunProgress(
      new GroupedLogs(
        (t) => (out += t),
        () => {}
      )
    )
    progress.stepFinished(ROOT, step('build', { outputs: { version: 'v1' } }))
    const event = { type: 'api_published', source: 'acme/api', payload: { version: 'v1' } }
    progress.discovered({ repository: 'acme/web', ref: '', result: 'matched', reason: 'subscribed', fan_out_of: '', event_type: 'api_published' })
    progress.discovered({ repository: 'acme/old', ref: '', result: 'no_subscription', reason: 'no tako.yml', fan_out_of: '', event_type: 'api_published' })
    progress.stepStarted({ id: 'web-update-1', repository: 'acme/web', workflow: 'update', parentId: '', event }, { id: 'main', name: 'main' })
    progress.stepStarted({ id: 'db-migrate-2', repository: 'acme/db', workflow: 'migrate', parentId: 'web-update-1', event }, { id: 'main', name: 'main' })
    progress.output({ id: 'db-migrate-2', repository: 'acme/db', workflow: 'migrate' }, 'migrating table 3 of 9\n', 'stdout')
    progress.childFinished(child('acme/web', 'update', { id: 'web-update-1' }))
    progress.warning('acme/old skipped: no tako.yml')

    const report = progress.interrupt(header, 'cancelled by SIGINT, then SIGTERM', Date.parse('2026-11-24T14:31:22.000Z'))
    expect(report).toMatchObject({
      run_id: header.runId,
      status: 'cancelled',
      started_at: '2026-11-24T14:30:22.000Z',
      duration_ms: 60_000,
      inputs: { version: 'v1' },
      warnings: ['acme/old skipped: no tako.yml'],
      error: expect.stringMatching(/^cancelled by SIGINT, then SIGTERM: every step still running was killed/)
    })
    expect(report.steps.map((s) => s.id)).toEqual(['build'])
    expect(report.children.map((c) => [c.id, c.repository, c.status, c.error?.message])).toEqual([
      ['web-update-1', 'acme/web', 'success', undefined],
      ['db-migrate-2', 'acme/db', 'cancelled', 'cancelled by SIGINT, then SIGTERM: killed while running']
    ])
    // A child cut short keeps its place in the tree and its event; discovery is whole.
    expect(report.children[1]).toMatchObject({ parent_id: 'web-update-1', event })
    expect(report.discovery.map((d) => [d.repository, d.result])).toEqual([
      ['acme/web', 'matched'],
      ['acme/old', 'no_subscription']
    ])
    expect(out).toContain('::group::acme/db › migrate [db-migrate-2]: cancelled')
    expect(out).toContain('migrating table 3 of 9')
  })
})
