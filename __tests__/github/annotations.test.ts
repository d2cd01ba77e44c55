import { describe, expect, it } from '@jest/globals'
import { configAnnotations, runAnnotations } from '../../src/github/annotations.js'
import type { ConfigIssue } from '../../src/config/types.js'
import { child, failedChild, report } from '../../__fixtures__/reports.js'

describe('runAnnotations', () => {
  it('gives one error per failed child with its step, exit code, message and url', () => {
    const failed = failedChild('acme/db', 'migrate', { id: 'db-migrate-1', url: 'https://github.com/acme/db/actions/runs/9' })
    const timedOut = child('acme/web', 'deploy', {
      id: 'web-deploy-2',
      status: 'timed_out',
      error: { kind: 'timed_out', message: 'step deploy timed out after 10m', step: 'deploy', exit_code: null }
    })
    const cancelled = child('acme/cli', 'bump', {
      id: 'cli-bump-3',
      parent_id: 'web-deploy-2',
      status: 'cancelled',
      error: { kind: 'cancelled', message: 'not started: cancelled by SIGTERM' }
    })
    const others = [
      child('acme/ok', 'w'),
      child('acme/again', 'w', { status: 'reused' }),
      child('acme/dup', 'w', { status: 'skipped', error: { kind: 'cycle', message: 'duplicate' } })
    ]
    expect(runAnnotations(report({ status: 'failure', children: [failed, ...others, timedOut, cancelled] }))).toEqual([
      {
        level: 'error',
        title: 'tako: acme/db › migrate failed',
        message: 'step test failed with exit code 1\nchild db-migrate-1, step test, exit code 1\nhttps://github.com/acme/db/actions/runs/9'
      },
      { level: 'error', title: 'tako: acme/web › deploy timed out', message: 'step deploy timed out after 10m\nchild web-deploy-2, step deploy' },
      { level: 'error', title: 'tako: acme/cli › bump cancelled', message: 'not started: cancelled by SIGTERM\nchild cli-bump-3' }
    ])
  })

  it('turns report warnings into warnings', () => {
    expect(runAnnotations(report({ warnings: ['acme/old skipped: no tako.yml'] }))).toEqual([
      { level: 'warning', title: 'tako', message: 'acme/old skipped: no tako.yml' }
    ])
  })

  it('has nothing to say about a run where everything succeeded', () => {
    expect(runAnnotations(report({ children: [child('acme/ok', 'w')] }))).toEqual([])
  })

  it('keeps each level within the 10 GitHub shows, the last counting the rest', () => {
    const children = Array.from({ length: 25 }, (_, i) => failedChild('acme/svc', `w${i}`))
    const warnings = Array.from({ length: 12 }, (_, i) => `warning ${i}`)
    const all = runAnnotations(report({ status: 'failure', children, warnings }))
    const errors = all.filter((a) => a.level === 'error')
    expect(errors).toHaveLength(10)
    expect(errors.slice(0, 9).map((a) => a.title)).toEqual(Array.from({ length: 9 }, (_, i) => `tako: acme/svc › w${i} failed`))
    expect(errors[9]).toEqual({ level: 'error', title: 'tako', message: '… and 16 more failed children: see the job summary' })
    const warned = all.filter((a) => a.level === 'warning')
    expect(warned.map((a) => a.message)).toEqual([...Array.from({ length: 9 }, (_, i) => `warning ${i}`), '… and 3 more warnings: see the job summary'])
  })

  it('fits the room left: 9 errors when the failed step adds its own, warnings after those already shown', () => {
    const children = Array.from({ length: 12 }, (_, i) => failedChild('acme/svc', `w${i}`))
    const warnings = Array.from({ length: 5 }, (_, i) => `warning ${i}`)
    const all = runAnnotations(report({ status: 'failure', children, warnings }), { errors: 9, warnings: 3 })
    const errors = all.filter((a) => a.level === 'error')
    expect(errors).toHaveLength(9)
    expect(errors[8]).toEqual({ level: 'error', title: 'tako', message: '… and 4 more failed children: see the job summary' })
    expect(all.filter((a) => a.level === 'warning').map((a) => a.message)).toEqual(['warning 0', 'warning 1', '… and 3 more warnings: see the job summary'])
    expect(runAnnotations(report({ warnings }), { errors: 10, warnings: 0 })).toEqual([])
    expect(runAnnotations(report({ warnings: ['only'] }), { errors: 10, warnings: 1 })).toHaveLength(1)
  })

  it('shows exactly 10 without a count when there are exactly 10', () => {
    const children = Array.from({ length: 10 }, (_, i) => failedChild('acme/svc', `w${i}`))
    const all = runAnnotations(report({ status: 'failure', children }))
    expect(all).toHaveLength(10)
    expect(all.every((a) => a.title?.startsWith('tako: acme/svc › w'))).toBe(true)
    const warnings = runAnnotations(report({ warnings: Array.from({ length: 11 }, (_, i) => `w${i}`) }))
    expect(warnings).toHaveLength(10)
    expect(warnings.at(-1)?.message).toBe('… and 2 more warnings: see the job summary')
  })
})

describe('configAnnotations', () => {
  const issue = (line: number, severity: ConfigIssue['severity'], message: string): ConfigIssue => ({
    file: '/home/runner/work/api/api/tako.yml',
    line,
    col: 5,
    message,
    severity
  })

  it('annotates the tako file at each problem, by severity', () => {
    expect(
      configAnnotations(
        [
          issue(3, 'error', 'unknown key "workflow" (did you mean "workflows"?)'),
          issue(12, 'warning', 'event type "published" is not declared in events.produces')
        ],
        'tako.yml'
      )
    ).toEqual([
      {
        level: 'error',
        title: 'tako: invalid configuration',
        message: 'unknown key "workflow" (did you mean "workflows"?)',
        file: 'tako.yml',
        line: 3,
        col: 5
      },
      {
        level: 'warning',
        title: 'tako: configuration warning',
        message: 'event type "published" is not declared in events.produces',
        file: 'tako.yml',
        line: 12,
        col: 5
      }
    ])
  })

  it('caps each level the same way', () => {
    const issues = [...Array.from({ length: 14 }, (_, i) => issue(i + 1, 'error', `e${i}`)), issue(40, 'warning', 'w')]
    const all = configAnnotations(issues, 'ci/tako.yml')
    expect(all.filter((a) => a.level === 'error').map((a) => a.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, undefined])
    expect(all[9]).toEqual({
      level: 'error',
      title: 'tako',
      file: 'ci/tako.yml',
      message: '… and 5 more configuration errors in ci/tako.yml: run `tako validate` to list them all'
    })
    expect(all[10]).toMatchObject({ level: 'warning', line: 40 })
    const roomy = configAnnotations(issues, 'ci/tako.yml', { errors: 9, warnings: 10 })
    expect(roomy.filter((a) => a.level === 'error').map((a) => a.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, undefined])
  })
})
