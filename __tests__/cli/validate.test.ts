// `tako validate` through the bundle: located errors and exit codes a user sees.

import { afterAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

async function validate(text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = tempDir()
  writeFileSync(path.join(root, 'tako.yml'), text)
  return runTako(['validate', '--root', root])
}

describe('tako validate', () => {
  it('suggests workflows for workflow', async () => {
    const res = await validate('version: 1\nworkflow:\n  w:\n    steps: ["true"]\n')
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/tako\.yml:2:1: unknown key "workflow" \(did you mean "workflows"\?\)/)
  })

  it.each([
    ['a YAML syntax error', 'version: 1\nworkflows: [\n', /tako\.yml:\d+:\d+: /],
    ['an empty file', '', /tako\.yml:1:1: /],
    ['a plain string', 'just some text\n', /tako\.yml:1:1: /]
  ])('locates %s and exits 2', async (_what, text, pattern) => {
    const res = await validate(text)
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(pattern)
    expect(res.stderr).not.toMatch(/\n\s+at /)
  })

  it('accepts the examples and warns about unquoted event values in run', async () => {
    for (const repo of ['api-definitions', 'user-service', 'billing-service', 'web-app']) {
      const res = await runTako(['validate', '--root', path.join('examples/acme', repo)])
      expect(res.stderr).toBe('')
      expect(res.code).toBe(0)
      expect(res.stdout).toMatch(/is valid/)
    }
    const res = await validate(`version: 1
workflows:
  w:
    steps:
      - run: echo {{ .event.payload.title }}
`)
    expect(res.code).toBe(0)
    expect(res.stderr).toMatch(/tako\.yml:5:\d+: warning: .*shell_quote/)
  })

  it('the committed JSON schema is the one the bundle generates', async () => {
    const res = await runTako(['schema'])
    expect(res.code).toBe(0)
    expect(JSON.parse(res.stdout)).toEqual(JSON.parse(readFileSync('tako.schema.json', 'utf8')))
  })
})
