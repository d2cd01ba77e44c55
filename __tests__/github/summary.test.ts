import { describe, expect, it } from '@jest/globals'
import { noRunMarkdown, SUMMARY_MAX_BYTES, summaryMarkdown } from '../../src/github/summary.js'
import type { FanOutPlan } from '../../src/engine/engine.js'
import type { PlannedChild } from '../../src/engine/builtins/fan-out.js'
import { child, discovery, failedChild, report, step } from '../../__fixtures__/reports.js'

const lines = (md: string): string[] => md.split('\n')
const bytes = (md: string): number => Buffer.byteLength(md, 'utf8')

/** Splits a table row on the pipes markdown treats as cell borders (not `\|`). */
const cells = (row: string): string[] => row.slice(2, -2).split(/(?<!\\) \| /)

/** The text of the fenced block that opens at `start`, ending where markdown would end it. */
function fencedBody(md: string, start: number): { fence: string; body: string[] } {
  const all = lines(md)
  const fence = /^(`{3,})/.exec(all[start])![1]
  const closer = new RegExp(`^ {0,3}\`{${fence.length},}\\s*$`)
  const end = all.findIndex((l, i) => i > start && closer.test(l))
  return { fence, body: all.slice(start + 1, end) }
}

describe('summaryMarkdown', () => {
  const web = child('acme/web', 'update', { id: 'web-update-1', url: 'https://github.com/acme/web/actions/runs/7', duration_ms: 61_000 })
  const db = failedChild('acme/db', 'migrate', {
    id: 'db-migrate-2',
    parent_id: 'web-update-1',
    duration_ms: 4_000,
    logTail: 'running migrations\nerror: relation "users" does not exist\n'
  })
  const dup = child('acme/web', 'update', {
    id: 'web-update-3',
    status: 'skipped',
    duration_ms: 0,
    error: { kind: 'cycle', message: 'duplicate: acme/web › update already triggered' }
  })
  const cached = child('acme/cli', 'bump', { id: 'cli-bump-4', status: 'reused', duration_ms: 0, ref: '' })
  const failed = report({
    status: 'failure',
    steps: [
      step('build', { duration_ms: 800 }),
      step('fan-out', { status: 'failure', exit_code: 1, duration_ms: 70_000, on_failure: [step('notify', { duration_ms: 300 })] })
    ],
    children: [web, db, dup, cached],
    discovery: [
      discovery('acme/web', 'matched', 'subscription 0'),
      discovery('acme/docs', 'no_subscription', 'no subscription to api_published'),
      discovery('acme/old', 'error', 'tako.yml:3:1: unknown key "workflow"')
    ],
    warnings: ['acme/old skipped: tako.yml:3:1: unknown key "workflow"']
  })

  it('starts with the status, the run and the totals', () => {
    const md = summaryMarkdown(failed)
    expect(lines(md).slice(0, 8)).toEqual([
      '## ❌ tako: acme/api › release-api failed',
      '',
      'Run exec-20261124-143022-a7b3c1d2 · started 2026-11-24T14:30:22.000Z · 2m5s',
      '',
      '| triggered | succeeded | reused | failed | skipped | duration |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      '| 4 | 2 | 1 | 1 | 1 | 2m5s |',
      ''
    ])
  })

  it('lists the root steps with their on_failure handlers', () => {
    const md = summaryMarkdown(failed)
    expect(md).toContain(
      [
        '### Steps of release-api',
        '',
        '| step | status | duration |',
        '| --- | --- | ---: |',
        '| build | ✅ success | 800ms |',
        '| fan-out | ❌ failure (exit code 1) | 1m10s |',
        '| ↳ on_failure: notify | ✅ success | 300ms |',
        ''
      ].join('\n')
    )
  })

  it('has one row per child with its link, failing step and parent', () => {
    const md = summaryMarkdown(failed)
    expect(md).toContain(
      [
        '| id | repository | workflow | event | status | duration | failing step | triggered by | pull request |',
        '| --- | --- | --- | --- | --- | ---: | --- | --- | --- |',
        '| web-update-1 | acme/web@main | [update](https://github.com/acme/web/actions/runs/7) | api\\_published | ✅ success | 1m1s |  | — | — |',
        '| db-migrate-2 | acme/db@main | migrate | api\\_published | ❌ failure | 4s | test (exit code 1) | web-update-1 | — |',
        '| web-update-3 | acme/web@main | update | api\\_published | ⏭️ skipped | 0ms | duplicate: acme/web › update already triggered | — | — |',
        '| cli-bump-4 | acme/cli | bump | api\\_published | ♻️ reused | 0ms |  | — | — |'
      ].join('\n')
    )
  })

  it("links each child's pull requests in its row, and names a branch pushed without one", () => {
    const md = summaryMarkdown(
      report({
        children: [
          child('acme/web', 'update', {
            id: 'web-update-1',
            pull_requests: [
              { repository: 'acme/web', number: 12, url: 'https://github.com/acme/web/pull/12', branch: 'tako/api', base: 'main', operation: 'created' }
            ]
          }),
          child('acme/cli', 'bump', {
            id: 'cli-bump-2',
            pull_requests: [{ repository: 'acme/cli', number: null, url: null, branch: 'tako/api', base: 'main', operation: 'pushed' }]
          })
        ],
        pull_requests: [
          { repository: 'acme/api', number: 3, url: 'https://github.com/acme/api/pull/3', branch: 'tako/release', base: 'main', operation: 'updated' }
        ]
      })
    )
    expect(md).toMatch(/^\| web-update-1 \|.*\| \[#12\]\(https:\/\/github\.com\/acme\/web\/pull\/12\) created \|$/m)
    expect(md).toMatch(/^\| cli-bump-2 \|.*\| tako\/api pushed \|$/m)
    expect(md).toContain('Pull requests of release-api: [#3](https://github.com/acme/api/pull/3) updated')
  })

  it('gives each failure a collapsible section with its message, workspace and log tail', () => {
    const md = summaryMarkdown(failed)
    const all = lines(md)
    const open = all.indexOf('<details><summary>❌ acme/db › migrate [db-migrate-2]: step test failed (exit code 1)</summary>')
    expect(open).toBeGreaterThan(0)
    expect(all.slice(open + 1, open + 6)).toEqual([
      '',
      '**step\\_failed**: step test failed with exit code 1',
      '',
      'Workspace kept: /tmp/run/children/db-migrate',
      ''
    ])
    expect(fencedBody(md, open + 6)).toEqual({ fence: '```', body: ['running migrations', 'error: relation "users" does not exist'] })
    expect(all.slice(open + 10, open + 12)).toEqual(['', '</details>'])
    expect(md.match(/<details>/g)).toHaveLength(1)
  })

  it('ends with the discovery table and the warnings', () => {
    const md = summaryMarkdown(failed)
    expect(md).toContain(
      [
        '### Discovery',
        '',
        '| repository | ref | result | reason |',
        '| --- | --- | --- | --- |',
        '| acme/web | main | matched | subscription 0 |',
        '| acme/docs | main | no\\_subscription | no subscription to api\\_published |',
        '| acme/old | main | error | tako.yml:3:1: unknown key &quot;workflow&quot; |',
        '',
        '### Warnings',
        '',
        '- acme/old skipped: tako.yml:3:1: unknown key &quot;workflow&quot;'
      ].join('\n')
    )
    expect(md).not.toContain('shortened')
  })

  it('keeps a log that contains fences and </details> inside its code block', () => {
    const tail = 'before\n```\n</details>\n<script>alert(1)</script>\n  ````` \n~~~\nafter\n'
    const md = summaryMarkdown(report({ status: 'failure', children: [failedChild('acme/db', 'migrate', { logTail: tail })] }))
    const all = lines(md)
    // The first fence is the diagram's; the log's follows its failure heading.
    const start = all.findIndex((l, i) => l.startsWith('```') && i > all.findIndex((h) => h.startsWith('<details>')))
    const { fence, body } = fencedBody(md, start)
    expect(fence).toBe('``````')
    expect(body).toEqual(['before', '```', '</details>', '<script>alert(1)</script>', '  ````` ', '~~~', 'after'])
    expect(all.filter((l) => l === '</details>')).toHaveLength(2)
    expect(all.lastIndexOf('</details>')).toBeGreaterThan(start + body.length + 1)
  })

  it('escapes pipes, newlines, markup and HTML in table cells', () => {
    const md = summaryMarkdown(
      report({
        discovery: [discovery('acme/x', 'error', 'bad | reason\nsecond line <img src=x onerror=alert(1)> *bold* [a](b)')],
        children: [child('acme/x', 'w', { id: 'x|1', status: 'skipped', error: { kind: 'cycle', message: 'a`b' } })]
      })
    )
    const row = lines(md).find((l) => l.startsWith('| acme/x | main | error'))!
    expect(cells(row)).toEqual(['acme/x', 'main', 'error', 'bad \\| reason<br>second line &lt;img src=x onerror=alert(1)&gt; \\*bold\\* \\[a\\](b)'])
    const childRow = lines(md).find((l) => l.startsWith('| x\\|1 '))!
    expect(cells(childRow)).toHaveLength(9)
    expect(cells(childRow)[6]).toBe('a\\`b')
  })

  it('links only http(s) urls', () => {
    const md = summaryMarkdown(
      report({ children: [child('acme/x', 'w', { url: 'javascript:alert(1)' }), child('acme/y', 'v', { url: 'https://x.test/a (b)' })] })
    )
    expect(md).not.toContain('](javascript')
    expect(md).toContain('[v](https://x.test/a%20%28b%29)')
  })

  it('renders a dry-run report that has no children', () => {
    const md = summaryMarkdown(report({ steps: [], discovery: [discovery('acme/web', 'matched', 'would run update (subscription 0)')] }), {
      title: 'tako (dry run)'
    })
    expect(lines(md)[0]).toBe('## ✅ tako (dry run): acme/api › release-api succeeded')
    expect(md).toContain('| 0 | 0 | 0 | 0 | 0 | 2m5s |')
    expect(md).toContain('### Child runs\n\n_No child runs._')
    expect(md).toContain('| acme/web | main | matched | would run update (subscription 0) |')
    expect(md).not.toContain('### Steps')
    expect(md).not.toContain('### Failures')
  })

  it('lists the children a dry run would start, and why one would not, in place of the child runs', () => {
    const planned = (repository: string, ref: string, index: number, blocked?: PlannedChild['blocked']): PlannedChild =>
      ({ candidate: { repository, ref }, match: { index, subscription: { workflow: 'update' } }, blocked }) as unknown as PlannedChild
    const plan: FanOutPlan[] = [
      {
        step: 'fan-out',
        event: { id: 'dry-run', type: 'api_published', source: 'acme/api', artifact: 'default', payload: {} },
        unresolved: [],
        children: [
          planned('acme/web', '', 0),
          planned('acme/db', 'v2', 1, { status: 'failure', error: { kind: 'cycle', message: 'cycle: acme/api:release → acme/db:update' } })
        ]
      }
    ]
    const md = summaryMarkdown(report({ steps: [], discovery: [discovery('acme/web', 'matched', 'subscription 0')] }), { title: 'tako (dry run)', plan })
    expect(md).toContain(
      [
        '### Planned child runs',
        '',
        '| fan-out step | repository | workflow | event | verdict |',
        '| --- | --- | --- | --- | --- |',
        '| fan-out | acme/web | update | api\\_published | would run (subscription 0) |',
        '| fan-out | acme/db@v2 | update | api\\_published | would not run: cycle: acme/api:release → acme/db:update |',
        ''
      ].join('\n')
    )
    expect(md).not.toContain('### Child runs')
    expect(md).toContain('### Discovery')
    expect(summaryMarkdown(report({ steps: [] }), { plan: [] })).toContain('### Planned child runs\n\n_No child would run._')
  })

  it('lists the pull requests a dry run would propose, with branch and base', () => {
    const pullRequests = [
      {
        repository: 'acme/web',
        workflow: 'update',
        step: 'propose',
        branch: 'tako/api_published-api',
        base: 'main',
        title: 'Update the API to v2',
        push_only: false
      }
    ]
    const md = summaryMarkdown(report({ steps: [] }), { title: 'tako (dry run)', plan: [], pullRequests })
    expect(md).toContain(
      [
        '### Pull requests that would be proposed',
        '',
        '_When there are changes to commit._',
        '',
        '| repository | workflow | step | branch | base | title |',
        '| --- | --- | --- | --- | --- | --- |',
        '| acme/web | update | propose | tako/api\\_published-api | main | Update the API to v2 |'
      ].join('\n')
    )
    expect(summaryMarkdown(report({ steps: [] }), { plan: [] })).not.toContain('would be proposed')
  })

  it('says what stopped a step that ran nothing, one problem per item', () => {
    expect(
      noRunMarkdown({ workflow: 'release_api', status: 'failure', error: 'tako.yml:3:3: missing required key "steps"\ntako.yml:4:5: unknown key <stesp>' })
    ).toBe(
      [
        '## ❌ tako: release\\_api failed: no run',
        '',
        'Nothing ran:',
        '',
        '- tako.yml:3:3: missing required key &quot;steps&quot;',
        '- tako.yml:4:5: unknown key &lt;stesp&gt;',
        ''
      ].join('\n')
    )
    expect(noRunMarkdown({ workflow: '', status: 'cancelled', error: 'cancelled by SIGINT, then SIGTERM before the run started' })).toMatch(
      /^## 🚫 tako: no workflow cancelled: no run\n/
    )
  })

  it('shows the run error of a cancelled run', () => {
    const md = summaryMarkdown(report({ status: 'cancelled', error: 'cancelled by SIGTERM\nwhile running <fan-out>' }))
    expect(lines(md)[0]).toBe('## 🚫 tako: acme/api › release-api cancelled')
    expect(md).toContain('> **Error:** cancelled by SIGTERM<br>while running &lt;fan-out&gt;\n')
  })

  it('strips terminal colour codes and carriage-return redraws from log tails', () => {
    const md = summaryMarkdown(report({ children: [failedChild('acme/db', 'migrate', { logTail: '\x1b[31merror\x1b[0m: boom\r\n10%\r50%\r100%\n' })] }))
    expect(md).toContain('```text\nerror: boom\n100%\n```')
  })

  it('stays under 1 MiB with 200 children of 50 KB log tails, keeping the end of each tail', () => {
    const children = Array.from({ length: 200 }, (_, i) => {
      const body = Array.from({ length: 1000 }, (_, n) => `line ${n} of child ${i}: ${'x'.repeat(30)}`).join('\n')
      return failedChild('acme/svc', `w${i}`, { id: `svc-w${i}`, logTail: `START-${i}\n${body}\nEND-${i}\n` })
    })
    expect(Buffer.byteLength(children[0].error!.log_tail!)).toBeGreaterThan(50_000)
    const md = summaryMarkdown(report({ status: 'failure', children }))
    expect(bytes(md)).toBeLessThan(SUMMARY_MAX_BYTES)
    expect(bytes(md)).toBeGreaterThan(SUMMARY_MAX_BYTES * 0.9)
    for (let i = 0; i < 200; i++) {
      expect(md).toContain(`\nEND-${i}\n`)
      expect(md).not.toContain(`START-${i}\n`)
    }
    expect(md.match(/<details>/g)).toHaveLength(200)
    const notes = md.match(/_\(log tail shortened: [\d ]+ bytes cut\)_/g)!
    expect(notes).toHaveLength(200)
    expect(md).toMatch(
      /_This summary was shortened to stay under 1 048 576 bytes: 200 log tails shortened \([\d ]+ bytes cut\)\. The run report has everything\._/
    )
    // Each kept tail starts on a whole line.
    for (const m of md.matchAll(/```text\n(.*)\n/g)) expect(m[1]).toMatch(/^line \d+ of child \d+: x{30}$/)
  })

  it('cuts a tail on a character boundary, never inside a UTF-8 sequence', () => {
    const tail = 'é'.repeat(5000) + '\nfin\n'
    const md = summaryMarkdown(report({ children: [failedChild('acme/db', 'migrate', { logTail: tail })] }), { maxBytes: 4000 })
    expect(bytes(md)).toBeLessThan(4000)
    expect(md).not.toContain('\uFFFD')
    expect(md).toContain('é\nfin\n```')
    expect(md).toMatch(/_\(log tail shortened: [\d ]+ bytes cut\)_/)
  })

  it('drops table rows beyond the limit when shortening tails is not enough, and says so', () => {
    const children = Array.from({ length: 400 }, (_, i) => child('acme/svc', `w${i}`, { id: `svc-w${i}` }))
    const md = summaryMarkdown(report({ children, discovery: children.map((_, i) => discovery(`acme/d${i}`, 'matched', 'subscription 0')) }), {
      maxBytes: 20_000
    })
    expect(bytes(md)).toBeLessThan(20_000)
    expect(md).toContain('| svc-w0 | acme/svc@main | w0 |')
    expect(md).not.toContain('| svc-w399 |')
    const dropped = [...md.matchAll(/_… and (\d+) more not shown \(summary size limit\): the run report has them all\._/g)].map((m) => Number(m[1]))
    expect(dropped).toHaveLength(2)
    const shownRows = lines(md).filter((l) => l.startsWith('| svc-w')).length
    expect(dropped[0]).toBe(400 - shownRows)
    expect(md).toMatch(/The run report has everything\._\n$/)
  })

  it('truncates as a last resort when even the bare report is too big, and says so', () => {
    const md = summaryMarkdown(report({ status: 'failure', error: 'boom '.repeat(10_000) }), { maxBytes: 10_000 })
    expect(bytes(md)).toBeLessThan(10_000)
    expect(lines(md)[0]).toBe('## ❌ tako: acme/api › release-api failed')
    expect(md).toMatch(/\n\n_\(summary truncated at the size limit: the run report has everything\)_\n$/)
  })
})
