import { describe, expect, it } from '@jest/globals'
import { GroupedLogs } from '../../src/github/log-groups.js'
import { parseAnnotations, parseMasks, runnerCommands } from '../../__fixtures__/action-runner.js'
import { child } from '../../__fixtures__/reports.js'

const ROOT = { id: '', repository: 'acme/api', workflow: 'release' }
const CHILD = { id: 'web-update-1', repository: 'acme/web', workflow: 'update' }

function logs(): { observer: GroupedLogs; text: () => string; warnings: string[] } {
  let out = ''
  const warnings: string[] = []
  return {
    observer: new GroupedLogs(
      (t) => (out += t),
      (m) => warnings.push(m)
    ),
    text: () => out,
    warnings
  }
}

describe('GroupedLogs', () => {
  it("lets the root workflow's commands act, as any step of the job", () => {
    const { observer, text } = logs()
    observer.output(ROOT, '::add-mask::root-secret\n::error file=tako.yml::bro')
    observer.output(ROOT, 'ken\nplain line\n')
    expect(parseMasks(text())).toEqual(['root-secret'])
    expect(parseAnnotations(text())).toEqual([{ level: 'error', file: 'tako.yml', message: 'broken' }])
    expect(text()).toContain('plain line\n')
  })

  it("keeps a child's output inert for the runner, whatever syntax it tries", () => {
    const { observer, text } = logs()
    const forged = [
      '::add-mask::success',
      '  ::error::not yours',
      '::set-output name=status::success',
      '##[error]forged',
      'x ##[set-output name=status;]success',
      '\u0085::error::forged',
      'progress 50% ##[stop-commands]tok',
      'a\r::warning::after a carriage return',
      '::stop-commands::abc',
      '::error::after',
      '::abc::',
      '::endgroup::'
    ]
    observer.output(CHILD, forged.join('\n') + '\n')
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-1' }))
    // The runner acts on the group alone: no annotation, mask, output or early end of the group.
    expect(runnerCommands(text()).map((c) => `${c.command}:${c.data}`)).toEqual(['group:acme/web › update [web-update-1]: success in 1m5s', 'endgroup:'])
    expect(parseMasks(text())).toEqual([])
    // Every line is still shown, but a child's masked value is hidden in its own block.
    expect(text()).toContain('not yours')
    expect(text()).toContain('forged')
    expect(text()).not.toContain('success\n')
    const lines = text().split('\n')
    expect(lines[1]).toMatch(/^::stop-commands::[0-9a-f]{32}$/)
    expect(lines[lines.length - 3]).toBe(`::${lines[1].slice('::stop-commands::'.length)}::`)
  })

  it('draws a new stop token for every child block', () => {
    const { observer, text } = logs()
    observer.output(CHILD, 'one\n')
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-1' }))
    observer.output({ ...CHILD, id: 'web-update-2' }, 'two\n')
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-2' }))
    const tokens = text().match(/^::stop-commands::(\w+)$/gm)
    expect(tokens).toHaveLength(2)
    expect(new Set(tokens).size).toBe(2)
  })

  it("hides a child's masked values in its block only, and only from complete mask lines", () => {
    const { observer, text } = logs()
    const other = { ...CHILD, id: 'web-update-2' }
    observer.output(CHILD, '::add-mask::hunter2-sec')
    observer.output(CHILD, 'ret\nthe password is hunter2-secret\n')
    observer.output(other, 'hunter2-secret is not a secret of mine\n')
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-1' }))
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-2' }))
    expect(text()).toContain('the password is ***\n')
    expect(text()).toContain('hunter2-secret is not a secret of mine\n')
  })

  it('streams root output without newlines in bounded pieces, each step mark on a line of its own', () => {
    const { observer, text } = logs()
    for (let i = 0; i < 100; i++) observer.output(ROOT, 'x'.repeat(1000))
    expect(text().length).toBeGreaterThan(60_000)
    observer.stepFinished(ROOT, { id: 'build', status: 'success', duration_ms: 5, outputs: {} } as never)
    expect(text()).toBe(`${'x'.repeat(100_000)}\n✓ build success 5ms\n`)
  })

  it('logs a warning quoting a subscriber as a plain line', () => {
    const { observer, warnings } = logs()
    observer.warning('acme/old: bad filter "x\n::error::forged ##[error]y"')
    expect(runnerCommands(warnings.join('\n'))).toEqual([])
  })

  it('passes run warnings on to its warn callback', () => {
    const { observer, warnings } = logs()
    observer.warning('acme/old skipped: no tako.yml')
    expect(warnings).toEqual(['acme/old skipped: no tako.yml'])
  })
})
