// `tako graph` through the CLI bundle, on the demo's example repositories laid out as git checkouts.

import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { parseMermaid, renderDot } from '../../__fixtures__/diagrams.js'
import { exampleRepos } from '../../__fixtures__/examples.js'
import { cleanupTempDirs, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

describe('tako graph on the demo repositories', () => {
  const dir = exampleRepos(tempDir())

  it('prints what a release of api-definitions reaches as a tree, billing-service through a filter', async () => {
    const res = await runTako(['graph', '--repos', dir, '--from', 'acme/api-definitions'])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('api-definitions:release → user-service:update-client → web-app:redeploy')
    expect(res.stdout).toMatch(/^api-definitions:release\n├── billing-service:update-client {3}\[api_published · filter: 'billing-service' in /m)
    expect(res.stdout).toMatch(/api-definitions:release → billing-service:update-client {3}\(through a filter or condition\)/)
  })

  it('--format mermaid is a flowchart Mermaid parses', async () => {
    const res = await runTako(['graph', '--repos', dir, '--from', 'acme/api-definitions', '--format', 'mermaid'])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^flowchart LR\n/)
    expect(res.stdout).toContain('n2 -->|"client_updated"| n3')
    await expect(parseMermaid(res.stdout)).resolves.toBeTruthy()
  })

  it('--format dot is accepted by Graphviz', async () => {
    const res = await runTako(['graph', '--repos', dir, '--format', 'dot'])
    expect(res.code).toBe(0)
    const svg = await renderDot(res.stdout)
    expect(svg).toMatch(/<svg[\s\S]*>acme\/web&#45;app<\/text>[\s\S]*>redeploy<\/text>/)
  })

  it('--format json lists the edges with their event types', async () => {
    const res = await runTako(['graph', '--repos', dir, '--format', 'json'])
    expect(res.code).toBe(0)
    const graph = JSON.parse(res.stdout) as { nodes: unknown[]; edges: Array<{ from: string; to: string; event_type: string }>; warnings: string[] }
    expect(graph.nodes).toHaveLength(4)
    expect(graph.edges.map((e) => `${e.from} -${e.event_type}-> ${e.to}`)).toEqual([
      'acme/api-definitions:release -api_published-> acme/billing-service:update-client',
      'acme/api-definitions:release -api_published-> acme/user-service:update-client',
      'acme/user-service:update-client -client_updated-> acme/web-app:redeploy'
    ])
    expect(graph.warnings).toEqual([])
  })

  it('--root inside --repos counts once; an unknown --from or --format exits 2 saying what exists', async () => {
    const both = await runTako(['graph', '--root', path.join(dir, 'acme/web-app'), '--repos', dir, '--format', 'json'])
    expect(both.code).toBe(0)
    expect((JSON.parse(both.stdout) as { nodes: unknown[] }).nodes).toHaveLength(4)
    const from = await runTako(['graph', '--repos', dir, '--from', 'acme/nope'])
    expect(from.code).toBe(2)
    expect(from.stderr).toMatch(/^tako: --from acme\/nope: no repository acme\/nope with workflows was found \(found: acme\/api-definitions, /)
    const format = await runTako(['graph', '--repos', dir, '--format', 'svg'])
    expect(format.code).toBe(2)
    expect(format.stderr).toBe('tako: --format must be one of tree, mermaid, dot, json, got "svg"\n')
  })
})

describe('tako graph --report', () => {
  it('draws the actual tree of a run report as the job summary does', async () => {
    const dir = exampleRepos(tempDir())
    const file = path.join(tempDir(), 'report.json')
    const run = await runTako([
      'exec',
      'release',
      '--root',
      path.join(dir, 'acme/api-definitions'),
      '--source',
      'acme/api-definitions',
      '--repos',
      dir,
      '-i',
      'version=v1.4.0',
      '-i',
      'services_affected=user-service',
      '--report',
      file
    ])
    expect(run.code).toBe(0)
    const res = await runTako(['graph', '--report', file])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^flowchart TD\n {2}root\["acme\/api-definitions<br\/>release"\]\n/)
    expect(res.stdout).toMatch(/ {2}(c\d)\["acme\/user-service<br\/>update-client<br\/>success"\][\s\S]* {2}\1 -->\|"client_updated"\| c\d/)
    expect(res.stdout).toContain('["acme/web-app<br/>redeploy<br/>success"]')
    await expect(parseMermaid(res.stdout)).resolves.toBeTruthy()
  })

  it('exits 2 on a folder with nothing to draw, saying where to look', async () => {
    const res = await runTako(['graph'], { cwd: tempDir() })
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(
      /^tako: no workflow found to draw: give --root DIR \(a checkout with a tako\.yml\) or --repos DIR .*\n {2}local\/[^:]+: no tako\.yml or tako\.yaml found here\n$/
    )
  })
})

describe('tako graph on a cycle', () => {
  it('reports A → B → A with its chain, as a warning (exit 0)', async () => {
    const dir = makeRepos(tempDir(), {
      'o/a': {
        'tako.yml':
          'version: 1\nworkflows:\n  build:\n    steps:\n      - uses: tako/fan-out@v1\n        with: { event_type: a_built }\nsubscriptions:\n  - { artifact: o/b, events: [b_built], workflow: build }\n'
      },
      'o/b': {
        'tako.yml':
          'version: 1\nworkflows:\n  build:\n    steps:\n      - uses: tako/fan-out@v1\n        with: { event_type: b_built }\nsubscriptions:\n  - { artifact: o/a, events: [a_built], workflow: build }\n'
      }
    })
    const tree = await runTako(['graph', '--repos', dir])
    expect(tree.code).toBe(0)
    expect(tree.stdout).toMatch(/Warnings:\n {2}cycle: a:build → b:build → a:build \(filters may break it at run time\)/)
    const dot = await runTako(['graph', '--repos', dir, '--format', 'dot'])
    expect(dot.code).toBe(0)
    expect(dot.stderr).toMatch(/^tako: warning: cycle: o\/a:build → o\/b:build → o\/a:build /)
    const json = JSON.parse((await runTako(['graph', '--repos', dir, '--format', 'json'])).stdout) as { cycles: string[][] }
    expect(json.cycles).toEqual([['o/a:build', 'o/b:build', 'o/a:build']])
  })
})
