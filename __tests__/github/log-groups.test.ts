import { describe, expect, it } from '@jest/globals'
import { GroupedLogs } from '../../src/github/log-groups.js'
import { parseAnnotations, parseMasks } from '../../__fixtures__/action-runner.js'
import { child } from '../../__fixtures__/reports.js'

const ROOT = { id: '', repository: 'acme/api', workflow: 'release' }
const CHILD = { id: 'web-update-1', repository: 'acme/web', workflow: 'update' }

function logs(): { observer: GroupedLogs; text: () => string; warnings: string[] } {
  let out = ''
  const warnings: string[] = []
  return { observer: new GroupedLogs((t) => (out += t), (m) => warnings.push(m)), text: () => out, warnings }
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

  it("neutralises a child's commands but lets its masks through", () => {
    const { observer, text } = logs()
    observer.output(CHILD, '::add-mask::child-secret\n  ::error::not yours\n::set-output name=status::success\n::endgroup::\n')
    observer.childFinished(child('acme/web', 'update', { id: 'web-update-1' }))
    expect(parseMasks(text())).toEqual(['child-secret'])
    expect(parseAnnotations(text())).toEqual([])
    // The only commands left are the group the child's output is shown in, and the mask.
    const commands = text().split('\n').filter((l) => /^\s*::/.test(l))
    expect(commands).toEqual(['::group::acme/web › update [web-update-1]: success in 1m5s', '::add-mask::child-secret', '::endgroup::'])
    expect(text()).toContain('not yours')
  })

  it('passes run warnings on to its warn callback', () => {
    const { observer, warnings } = logs()
    observer.warning('acme/old skipped: no tako.yml')
    expect(warnings).toEqual(['acme/old skipped: no tako.yml'])
  })
})
