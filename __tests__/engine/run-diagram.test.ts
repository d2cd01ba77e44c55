// The run tree as Mermaid, in the job summary: statuses, nesting, links, the planned tree, and the limits.

import { describe, expect, it } from '@jest/globals'
import { plannedDiagram, runDiagram, MERMAID_MAX_CHARS } from '../../src/engine/run-diagram.js'
import { SUMMARY_MAX_BYTES, summaryMarkdown } from '../../src/github/summary.js'
import type { FanOutPlan } from '../../src/engine/engine.js'
import type { PlannedChild } from '../../src/engine/builtins/fan-out.js'
import { child, failedChild, report } from '../../__fixtures__/reports.js'
import { parseMermaid } from '../../__fixtures__/diagrams.js'

/** The body of the summary's ```mermaid block, or undefined. */
function mermaidBlock(md: string): string | undefined {
  return /\n```mermaid\n([\s\S]*?)\n```\n/.exec(md)?.[1]
}

describe('the run tree in the job summary', () => {
  const web = child('acme/web', 'update', { id: 'web-1', url: 'https://github.com/acme/web/actions/runs/7' })
  const db = failedChild('acme/db', 'migrate', { id: 'db-2', parent_id: 'web-1', event: { type: 'web_updated', source: 'acme/web', payload: {} } })
  const docs = child('acme/docs', 'rebuild', { id: 'docs-3', status: 'skipped' })
  const prs = [
    { repository: 'acme/cli', number: 42, url: 'https://github.com/acme/cli/pull/42', branch: 'tako/api', base: 'main', operation: 'created' as const }
  ]
  const cli = { ...child('acme/cli', 'bump', { id: 'cli-4' }), pull_requests: prs }
  const run = report({ status: 'failure', children: [web, db, docs, cli] })

  it('draws root, children and grandchildren coloured by status, above the tables, and Mermaid parses it', async () => {
    const md = summaryMarkdown(run)
    const block = mermaidBlock(md)
    expect(block).toBeDefined()
    expect(md.indexOf('```mermaid')).toBeLessThan(md.indexOf('### Child runs'))
    expect(md.indexOf('```mermaid')).toBeGreaterThan(md.indexOf('| triggered |'))
    expect(block!.split('\n')).toEqual(
      expect.arrayContaining([
        'flowchart TD',
        '  root["acme/api<br/>release-api"]',
        '  c0["acme/web<br/>update<br/>success"]',
        '  c1["acme/db<br/>migrate<br/>failure"]',
        '  c2["acme/docs<br/>rebuild<br/>skipped"]',
        '  c3["acme/cli<br/>bump<br/>success<br/>PR #35;42"]',
        '  root -->|"api_published"| c0',
        '  c0 -->|"web_updated"| c1',
        '  class root,c1 failure',
        '  class c0,c3 success',
        '  class c2 skipped',
        '  click c0 href "https://github.com/acme/web/actions/runs/7" _blank',
        '  click c3 href "https://github.com/acme/cli/pull/42" _blank'
      ])
    )
    await expect(parseMermaid(block!)).resolves.toBeTruthy()
  })

  it('keeps hostile names literal and links only http(s)', async () => {
    const odd = child('acme/x', 'w"] --> evil["x', { id: 'x-1', url: 'javascript:alert(1)', event: { type: 'a|b`c', source: 'acme/api', payload: {} } })
    const diagram = runDiagram(report({ children: [odd] }))
    if (!('mermaid' in diagram)) throw new Error('no diagram')
    expect(diagram.mermaid).toContain('c0["acme/x<br/>w#34;#93; --#62; evil#91;#34;x<br/>success"]')
    expect(diagram.mermaid).not.toContain('click')
    await expect(parseMermaid(diagram.mermaid)).resolves.toBeTruthy()
  })

  it('draws the planned tree of a dry run', async () => {
    const planned = (repository: string, workflow: string, blocked?: boolean): PlannedChild =>
      ({
        candidate: { repository, ref: '' },
        match: { subscription: { workflow }, index: 1 },
        config: {},
        ...(blocked ? { blocked: { status: 'skipped', error: { kind: 'cycle', message: 'cycle' } } } : {})
      }) as unknown as PlannedChild
    const plan: FanOutPlan[] = [
      {
        step: 'fan-out',
        event: { id: 'dry-run', type: 'api_published', source: 'acme/api', artifact: 'default', payload: {} },
        unresolved: [],
        children: [planned('acme/web', 'update'), planned('acme/loop', 'again', true)]
      }
    ]
    const md = summaryMarkdown(report({ children: [] }), { title: 'tako (dry run)', plan })
    const block = mermaidBlock(md)!
    expect(block).toContain('  p0["acme/web<br/>update<br/>would run"]')
    expect(block).toContain('  p1["acme/loop<br/>again<br/>would not run"]')
    expect(block).toContain('  class root,p0 planned')
    await expect(parseMermaid(block)).resolves.toBeTruthy()
    expect(plannedDiagram(report(), [])).toEqual(expect.objectContaining({ mermaid: expect.any(String) }))
  })

  it('leaves the picture out with a sentence for 500 children, and keeps the summary under 1 MiB', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      failedChild(`acme/service-${i}`, 'update-client', { id: `service-${i}`, logTail: `${'x'.repeat(3000)}\n` })
    )
    const md = summaryMarkdown(report({ status: 'failure', children: many }))
    expect(md).not.toContain('```mermaid')
    expect(md).toContain(
      '_The diagram of the tree is left out: the tree has 500 child runs, more than the 200 a diagram shows legibly; the tables below list every run._'
    )
    expect(Buffer.byteLength(md, 'utf8')).toBeLessThan(SUMMARY_MAX_BYTES)
    expect(md).toContain('| service-0 |')
  })

  it('stays under its character limit and gives way when the summary budget is tight', () => {
    const long = Array.from({ length: 199 }, (_, i) => child(`acme/${'r'.repeat(90)}-${i}`, 'w'.repeat(90), { id: `c-${i}` }))
    const diagram = runDiagram(report({ children: long }))
    expect(diagram).toEqual({
      omitted: expect.stringMatching(/^The diagram of the tree is left out: its text would be \d+ characters, past the 40000 kept under GitHub's Mermaid limit/)
    })
    expect(MERMAID_MAX_CHARS).toBeLessThan(50_000)
    const small = summaryMarkdown(report({ children: [web, db] }), { maxBytes: 1200 })
    expect(small).toContain('_The diagram of the tree is left out to keep this summary under its size limit; the tables list every run._')
    expect(Buffer.byteLength(small, 'utf8')).toBeLessThan(1200)
  })
})
