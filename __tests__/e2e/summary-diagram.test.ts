// The action bundle run as a runner runs it, over a nested tree: the job summary's Mermaid picture of that tree.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { runAction, type ActionResult } from '../../__fixtures__/action-runner.js'
import { parseMermaid } from '../../__fixtures__/diagrams.js'
import { createBareRepo, startGitServer, type GitServer } from '../../__fixtures__/git-server.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'
import type { RunReport } from '../../src/engine/types.js'

const TOKEN = 'ghs_takoDiagramToken0123456789abcdef'

const subscriber = (to: string, event: string, workflow: string, steps: string): string => `version: 1
subscriptions:
  - { artifact: ${to}, events: [${event}], workflow: ${workflow} }
workflows:
  ${workflow}:
    steps:
${steps}`

let git: GitServer
let serverUrl: string
let workspace: string

beforeAll(async () => {
  const root = tempDir('tako-diagram-git-')
  git = await startGitServer({ root, token: TOKEN })
  serverUrl = git.url.replace('127.0.0.1', 'git.localhost')
  // api → lib → app (a grandchild), api → bad (fails).
  await createBareRepo(root, 'acme/lib', {
    'tako.yml': subscriber(
      'acme/api',
      'api_published',
      'update',
      '      - echo lib updated\n      - uses: tako/fan-out@v1\n        with: { event_type: lib_updated }\n'
    )
  })
  await createBareRepo(root, 'acme/app', { 'tako.yml': subscriber('acme/lib', 'lib_updated', 'build', '      - echo app built\n') })
  await createBareRepo(root, 'acme/bad', { 'tako.yml': subscriber('acme/api', 'api_published', 'update', '      - exit 3\n') })
  const publisher = 'version: 1\nworkflows:\n  release:\n    steps:\n      - uses: tako/fan-out@v1\n        with: { event_type: api_published }\n'
  workspace = makeRepo(path.join(tempDir('tako-diagram-ws-'), 'api'), { 'tako.yml': publisher }, `${serverUrl}/acme/api`)
})

afterAll(async () => {
  await git?.close()
  cleanupTempDirs()
})

function action(inputs: Record<string, string>): Promise<ActionResult> {
  return runAction({
    workspace,
    inputs: { workflow: 'release', repositories: 'acme/lib, acme/app, acme/bad', cache: 'false', ...inputs },
    token: TOKEN,
    serverUrl,
    repository: 'acme/api'
  })
}

function mermaidBlock(summary: string): string {
  const block = /\n```mermaid\n([\s\S]*?)\n```\n/.exec(summary)?.[1]
  if (block === undefined) throw new Error(`no mermaid block in:\n${summary}`)
  return block
}

describe('the job summary diagram', () => {
  it('after a run with a nested tree, draws each child and grandchild with its status, above the tables', async () => {
    const res = await action({})
    expect(res.timedOut).toBe(false)
    expect(res.code).toBe(1)
    const report = JSON.parse(readFileSync(res.outputs['report-path'], 'utf8')) as RunReport
    const block = mermaidBlock(res.summary)
    expect(res.summary.indexOf('```mermaid')).toBeLessThan(res.summary.indexOf('### Child runs'))
    const nodes = new Map<string, string>()
    for (const m of block.matchAll(/^ {2}(\w+)\["([^"]*)"\]$/gm)) nodes.set(m[2], m[1])
    expect([...nodes.keys()].sort()).toEqual([
      'acme/api<br/>release',
      'acme/app<br/>build<br/>success',
      'acme/bad<br/>update<br/>failure',
      'acme/lib<br/>update<br/>success'
    ])
    expect(report.children).toHaveLength(3)
    const lib = nodes.get('acme/lib<br/>update<br/>success')
    const app = nodes.get('acme/app<br/>build<br/>success')
    const bad = nodes.get('acme/bad<br/>update<br/>failure')
    expect(block).toContain(`  root -->|"api_published"| ${lib}`)
    expect(block).toContain(`  ${lib} -->|"lib_updated"| ${app}`)
    expect(block).toContain(`  root -->|"api_published"| ${bad}`)
    expect(block).toMatch(new RegExp(`^ {2}class (root,${bad}|${bad},root) failure$`, 'm'))
    await expect(parseMermaid(block)).resolves.toBeTruthy()
  })

  it('for a dry run, draws the planned tree', async () => {
    const res = await action({ 'dry-run': 'true' })
    expect(res.code).toBe(0)
    const block = mermaidBlock(res.summary)
    expect(block).toMatch(/^ {2}p\d\["acme\/lib<br\/>update<br\/>would run"\]$/m)
    expect(block).toMatch(/^ {2}p\d\["acme\/bad<br\/>update<br\/>would run"\]$/m)
    await expect(parseMermaid(block)).resolves.toBeTruthy()
  })
})
