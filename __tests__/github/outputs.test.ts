import { describe, expect, it } from '@jest/globals'
import { Outputs } from '../../src/github/constants.js'
import { actionOutputs, noRunOutputs, redact } from '../../src/github/outputs.js'
import { child, failedChild, report, step } from '../../__fixtures__/reports.js'

describe('actionOutputs', () => {
  const web = child('acme/web', 'update', { id: 'web-update-1', duration_ms: 1500 })
  const db = failedChild('acme/db', 'migrate', { parent_id: 'web-update-1', duration_ms: 200 })
  const cli = child('acme/cli', 'bump', {
    parent_id: 'web-update-1',
    status: 'reused',
    duration_ms: 0,
    url: 'https://github.com/acme/api/actions/runs/7/attempts/1'
  })
  const x = child('acme/x', 'y', {
    status: 'timed_out',
    duration_ms: 600_000,
    error: { kind: 'timed_out', message: 'fan-out timed out after 10m' },
    url: 'https://github.com/acme/x/actions/runs/42'
  })
  const z = child('acme/z', 'y', {
    parent_id: 'web-update-1',
    status: 'cancelled',
    duration_ms: 3,
    error: { kind: 'cancelled', message: 'cancelled by SIGTERM' }
  })
  const dup = child('acme/web', 'update', { status: 'skipped', duration_ms: 0, error: { kind: 'cycle', message: 'duplicate' } })
  const tree = report({
    status: 'failure',
    steps: [step('build', { outputs: { version: 'v1.2.3', sha: 'abc' } }), step('fan-out', { outputs: { triggered: '6' } }), step('notify')],
    children: [web, db, cli, x, z, dup]
  })

  it('gives every output as a string, counting the whole tree', () => {
    expect(actionOutputs(tree, { reportPath: '/runner/_temp/tako/report.json', cacheHit: false })).toEqual({
      status: 'failure',
      'run-id': 'exec-20261124-143022-a7b3c1d2',
      succeeded: '2',
      failed: '3',
      skipped: '1',
      children: JSON.stringify([
        { id: 'web-update-1', parent_id: '', repository: 'acme/web', workflow: 'update', status: 'success', duration_ms: 1500, error: null, url: null },
        {
          id: db.id,
          parent_id: 'web-update-1',
          repository: 'acme/db',
          workflow: 'migrate',
          status: 'failure',
          duration_ms: 200,
          error: 'step test failed with exit code 1',
          url: null
        },
        {
          id: cli.id,
          parent_id: 'web-update-1',
          repository: 'acme/cli',
          workflow: 'bump',
          status: 'reused',
          duration_ms: 0,
          error: null,
          url: 'https://github.com/acme/api/actions/runs/7/attempts/1'
        },
        {
          id: x.id,
          parent_id: '',
          repository: 'acme/x',
          workflow: 'y',
          status: 'timed_out',
          duration_ms: 600000,
          error: 'fan-out timed out after 10m',
          url: 'https://github.com/acme/x/actions/runs/42'
        },
        {
          id: z.id,
          parent_id: 'web-update-1',
          repository: 'acme/z',
          workflow: 'y',
          status: 'cancelled',
          duration_ms: 3,
          error: 'cancelled by SIGTERM',
          url: null
        },
        { id: dup.id, parent_id: '', repository: 'acme/web', workflow: 'update', status: 'skipped', duration_ms: 0, error: 'duplicate', url: null }
      ]),
      'pull-requests': '[]',
      outputs: '{"build":{"version":"v1.2.3","sha":"abc"},"fan-out":{"triggered":"6"},"notify":{}}',
      'report-path': '/runner/_temp/tako/report.json',
      'cache-hit': 'false'
    })
  })

  it('lists the pull requests of the root run and of every child', () => {
    const pr = (repository: string, number: number | null, operation: 'created' | 'pushed') => ({
      repository,
      number,
      url: number ? `https://github.com/${repository}/pull/${number}` : null,
      branch: 'tako/api',
      base: 'main',
      operation
    })
    const out = actionOutputs(
      report({
        pull_requests: [pr('acme/api', 1, 'created')],
        children: [
          child('acme/web', 'update', { pull_requests: [pr('acme/web', 7, 'created')] }),
          child('acme/cli', 'bump', { pull_requests: [pr('acme/cli', null, 'pushed')] })
        ]
      }),
      { reportPath: 'r.json', cacheHit: false }
    )
    expect(JSON.parse(out['pull-requests'])).toEqual([
      { repository: 'acme/api', number: 1, url: 'https://github.com/acme/api/pull/1', branch: 'tako/api', operation: 'created' },
      { repository: 'acme/web', number: 7, url: 'https://github.com/acme/web/pull/7', branch: 'tako/api', operation: 'created' },
      { repository: 'acme/cli', number: null, url: null, branch: 'tako/api', operation: 'pushed' }
    ])
  })

  it('names exactly the outputs of the constants file', () => {
    const out = actionOutputs(report(), { reportPath: 'r.json', cacheHit: true })
    expect(Object.keys(out).sort()).toEqual(Object.values(Outputs).sort())
    expect(out).toMatchObject({ succeeded: '0', failed: '0', skipped: '0', children: '[]', 'cache-hit': 'true' })
  })
})

describe('noRunOutputs', () => {
  it('gives every output, with nothing counted, when there is no run report', () => {
    const outputs = noRunOutputs({ status: 'failure', cacheHit: false })
    expect(Object.keys(outputs).sort()).toEqual(Object.values(Outputs).sort())
    expect(outputs).toEqual({
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
    expect(noRunOutputs({ status: 'cancelled', runId: 'exec-20261124-143022-a7b3c1d2', cacheHit: true })).toMatchObject({
      status: 'cancelled',
      'run-id': 'exec-20261124-143022-a7b3c1d2',
      'cache-hit': 'true'
    })
  })
})

describe('redact', () => {
  const token = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'
  const b64 = (s: string): string => Buffer.from(s).toString('base64')

  it('masks a secret, its base64 and the base64 of the basic-auth pair git sends', () => {
    const text = [
      `git clone https://x-access-token:${token}@github.com/acme/web`,
      `token=${b64(token)}`,
      `git -c http.https://github.com/.extraheader=AUTHORIZATION: basic ${b64(`x-access-token:${token}`)} fetch`
    ].join('\n')
    expect(redact(text, [token])).toBe(
      [
        'git clone https://x-access-token:***@github.com/acme/web',
        'token=***',
        'git -c http.https://github.com/.extraheader=AUTHORIZATION: basic *** fetch'
      ].join('\n')
    )
  })

  it('masks base64 forms with or without padding', () => {
    const secret = 'abcd'
    expect(b64(secret)).toBe('YWJjZA==')
    expect(redact('a YWJjZA== b YWJjZA c', [secret])).toBe('a *** b *** c')
  })

  it('masks every secret given, longest form first, and ignores empty ones', () => {
    expect(redact('p4ss and p4ssword and plain', ['p4ss', 'p4ssword', '', '  '])).toBe('*** and *** and plain')
  })
})
