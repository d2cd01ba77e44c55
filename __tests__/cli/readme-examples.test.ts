// Every tako.yml fragment of README.md loads through the committed CLI bundle: the README's promises stay true.

import { afterAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

interface Fragment {
  line: number
  text: string
}

/**
 * A ```yaml block is a tako.yml fragment when it has a top-level tako key (`version`, `workflows`, `subscriptions`,
 * `events`, `repos`) or starts with the comment `# tako.yml`; GitHub workflow files (top-level `on:` / `jobs:`) are
 * not. A fragment without `version:` gets `version: 1`, so a README may show just the part it explains.
 */
export function takoFragments(markdown: string): Fragment[] {
  const fragments: Fragment[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i])) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++
    const body = lines.slice(start, end)
    i = end
    const text = body.join('\n')
    const marked = /^#\s*tako\.ya?ml\b/.test(body[0] ?? '')
    const takoKeys = body.some((l) => /^(version|workflows|subscriptions|events|repos):/.test(l))
    const githubWorkflow = body.some((l) => /^(on|jobs):/.test(l))
    if ((marked || takoKeys) && !githubWorkflow) {
      fragments.push({ line: start + 1, text: body.some((l) => /^version:/.test(l)) ? text : `version: 1\n${text}` })
    }
  }
  return fragments
}

const README = readFileSync(path.resolve('README.md'), 'utf8')
const fragments = takoFragments(README)

describe('README tako.yml fragments', () => {
  it('finds the reference fragment and no GitHub workflow file', () => {
    expect(fragments.some((f) => f.text.includes('tako/fan-out@v1') && f.text.includes('subscriptions:'))).toBe(true)
    expect(fragments.every((f) => !/^jobs:/m.test(f.text))).toBe(true)
  })

  it('tells tako fragments from other YAML', () => {
    const md = [
      '```yaml',
      'on: push',
      'jobs: {}',
      '```',
      '```yaml',
      'workflows: {}',
      '```',
      '```yaml',
      '# tako.yml',
      'steps: []',
      '```',
      '```yaml',
      '# just a comment',
      '```'
    ].join('\n')
    expect(takoFragments(md)).toEqual([
      { line: 6, text: 'version: 1\nworkflows: {}' },
      { line: 9, text: 'version: 1\n# tako.yml\nsteps: []' }
    ])
  })

  it.each(fragments.map((f) => [f.line, f] as const))('README.md line %i validates', async (_line, fragment) => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'tako.yml'), fragment.text)
    const res = await runTako(['validate', '--root', dir])
    // The exit code with what validate said, so a failure names the problem.
    expect({ code: res.code, said: res.stderr.split('\n').filter((l) => l && !/warning/i.test(l)) }).toEqual({ code: 0, said: [] })
  })
})
