// The static graph: edges from fan-outs to subscriptions, templates kept, cycles with chains, --from, run order;
// and its renderers, checked by Mermaid's own parser and by Graphviz.

import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { parseConfig } from '../../src/config/load.js'
import {
  buildGraph,
  findCycles,
  reachableFrom,
  repositoryDependencies,
  repositoryOrder,
  startNodes,
  type Graph,
  type GraphRepository
} from '../../src/engine/graph.js'
import { dotString, mermaidText, renderDot as dotOf, renderMermaid, renderTree } from '../../src/engine/graph-render.js'
import { loadGraphRepositories } from '../../src/engine/graph-source.js'
import { exampleRepos } from '../../__fixtures__/examples.js'
import { parseMermaid, renderDot } from '../../__fixtures__/diagrams.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

function repo(repository: string, text: string): GraphRepository {
  const parsed = parseConfig(text, `${repository}/tako.yml`)
  if (!parsed.config) throw new Error(parsed.issues.map((i) => i.message).join('\n'))
  return { repository, config: parsed.config }
}

const publisher = (repository: string, workflow: string, eventType: string, extra = ''): string => `version: 1
workflows:
  ${workflow}:
    steps:
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: ${JSON.stringify(eventType)}
${extra}`

const subscription = (of: string, events: string[], workflow: string, more = ''): string => `  - artifact: ${of}
    events: [${events.join(', ')}]
    workflow: ${workflow}
${more}`

describe('the graph of the demo repositories', () => {
  const dir = exampleRepos(tempDir())
  const load = (): Promise<GraphRepository[]> => loadGraphRepositories({ reposDir: dir })

  it('has one edge per subscription reached, with its event type, range and filters', async () => {
    const graph = buildGraph(await load())
    expect(graph.nodes.map((n) => n.id)).toEqual([
      'acme/api-definitions:release',
      'acme/billing-service:update-client',
      'acme/user-service:update-client',
      'acme/web-app:redeploy'
    ])
    expect(graph.edges.map((e) => [e.from, e.event_type, e.to, e.range ?? null, e.filters.length])).toEqual([
      ['acme/api-definitions:release', 'api_published', 'acme/billing-service:update-client', null, 1],
      ['acme/api-definitions:release', 'api_published', 'acme/user-service:update-client', '^1.0.0', 1],
      ['acme/user-service:update-client', 'client_updated', 'acme/web-app:redeploy', null, 0]
    ])
    expect(graph.cycles).toEqual([])
    expect(graph.repositories.every((r) => r.path && path.isAbsolute(r.path))).toBe(true)
  })

  it('draws what a release of api-definitions reaches as a tree, billing-service through a filter', async () => {
    const graph = buildGraph(await load())
    const text = renderTree(reachableFrom(graph, 'acme/api-definitions'), { from: 'acme/api-definitions', starts: startNodes(graph, 'acme/api-definitions') })
    expect(text).toContain('api-definitions:release → user-service:update-client → web-app:redeploy')
    expect(text).toMatch(/├── billing-service:update-client {3}\[api_published · filter: 'billing-service' in event\.payload/)
    expect(text).toMatch(/└── user-service:update-client {3}\[api_published · schema \^1\.0\.0 · filter: /)
    expect(text).toMatch(/\n {4}└── web-app:redeploy {3}\[client_updated\]/)
  })

  it('from a subscriber reaches only its own subtree; an unknown repository or workflow lists what exists', async () => {
    const graph = buildGraph(await load())
    expect(reachableFrom(graph, 'acme/user-service:update-client').nodes.map((n) => n.id)).toEqual(['acme/user-service:update-client', 'acme/web-app:redeploy'])
    expect(() => startNodes(graph, 'acme/nope')).toThrow(
      /no repository acme\/nope with workflows was found \(found: acme\/api-definitions, acme\/billing-service/
    )
    expect(() => startNodes(graph, 'acme/web-app:deploy')).toThrow(/acme\/web-app has no workflow "deploy" \(workflows: redeploy\)/)
  })

  it('renders Mermaid that Mermaid parses and DOT that Graphviz lays out', async () => {
    const graph = buildGraph(await load())
    await expect(parseMermaid(renderMermaid(graph))).resolves.toBeTruthy()
    const svg = await renderDot(dotOf(graph))
    expect(svg).toContain('<svg')
    expect(svg).toContain('client_updated')
  })

  it('lists a checkout with an invalid tako.yml, or none, with the reason', async () => {
    const more = exampleRepos(tempDir())
    makeRepo(path.join(more, 'acme/broken'), { 'tako.yml': 'version: 1\nworkflows:\n  x:\n    stepz: []\n' })
    makeRepo(path.join(more, 'acme/plain'), { 'README.md': 'no tako file\n' })
    const graph = buildGraph(await loadGraphRepositories({ reposDir: more }))
    expect(graph.repositories.find((r) => r.repository === 'acme/broken')?.problem).toMatch(
      /^invalid tako\.yml: .*acme\/broken\/tako\.yml:4:5: unknown key "stepz" \(did you mean "steps"\?\)/
    )
    expect(graph.repositories.find((r) => r.repository === 'acme/plain')?.problem).toBe('has no tako.yml')
    expect(renderTree(graph)).toMatch(/Not in the graph:\n {2}acme\/broken: invalid tako\.yml[^\n]*\n {2}acme\/plain: has no tako\.yml/)
  })
})

describe('cycles', () => {
  it('reports A → B → A with its chain, and still orders the repositories', () => {
    const graph = buildGraph([
      repo('o/a', `${publisher('o/a', 'build', 'a_built')}subscriptions:\n${subscription('o/b', ['b_built'], 'build')}`),
      repo('o/b', `${publisher('o/b', 'build', 'b_built')}subscriptions:\n${subscription('o/a', ['a_built'], 'build')}`)
    ])
    expect(graph.cycles).toEqual([['o/a:build', 'o/b:build', 'o/a:build']])
    expect(graph.warnings).toEqual([expect.stringMatching(/^cycle: o\/a:build → o\/b:build → o\/a:build \(filters/)])
    expect(renderTree(graph)).toMatch(/Warnings:\n {2}cycle: a:build → b:build → a:build/)
    expect(renderTree(graph, { starts: ['o/a:build'] })).toMatch(
      /\na:build\n└── b:build {3}\[a_built\]\n {4}└── a:build {3}\[b_built\] {3}↻ cycle\n\nPaths:\n {2}a:build → b:build → a:build {3}\(cycle\)/
    )
    expect(repositoryOrder(repositoryDependencies(graph))).toEqual({ order: ['o/a', 'o/b'], broken: ['o/a'] })
  })
})

describe('order and size', () => {
  it('breaks a cycle where it waits for nothing outside itself, never before a publisher of the cycle', () => {
    // a waits for c; c and d wait for each other. "a" sorts first but must not run before c; once c ran, a and d are ready.
    const deps = new Map([
      ['o/a', new Set(['o/c'])],
      ['o/c', new Set(['o/d'])],
      ['o/d', new Set(['o/c'])]
    ])
    expect(repositoryOrder(deps)).toEqual({ order: ['o/c', 'o/a', 'o/d'], broken: ['o/c'] })
  })

  it('handles a chain of 20 000 workflows closing into a cycle without exhausting the stack, and cuts the tree deep down', () => {
    const n = 20_000
    const nodes = Array.from({ length: n }, (_, i) => ({ id: `o/r${i}:w`, repository: `o/r${i}`, workflow: 'w' }))
    const edges = nodes.map((node, i) => ({
      from: node.id,
      to: nodes[(i + 1) % n].id,
      step: 's',
      event_type: 'e',
      artifact: 'default',
      filters: [],
      subscription: 1,
      templated: false
    }))
    const graph: Graph = { nodes, edges, fan_outs: [], repositories: nodes.map((x) => ({ repository: x.repository, workflows: 1 })), cycles: [], warnings: [] }
    expect(findCycles(nodes, edges).map((c) => c.length)).toEqual([n + 1])
    const tree = renderTree(graph)
    expect(tree).toContain('└── … deeper levels left out (see --format json)')
    expect(tree.length).toBeLessThan(20_000)
    expect(repositoryOrder(repositoryDependencies(graph)).order).toHaveLength(n)
  })
})

describe('edges', () => {
  it('keeps a templated event type as such, reaching every subscription of that publisher', () => {
    const graph = buildGraph([
      repo(
        'o/pub',
        `version: 1
workflows:
  release:
    inputs:
      kind: { type: string, default: lib_released }
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: "{{ .inputs.kind }}" }
`
      ),
      repo('o/sub', `version: 1\nworkflows:\n  w: { steps: [echo] }\nsubscriptions:\n${subscription('o/pub', ['lib_released'], 'w')}`)
    ])
    expect(graph.edges).toEqual([expect.objectContaining({ from: 'o/pub:release', to: 'o/sub:w', event_type: '{{ .inputs.kind }}', templated: true })])
    expect(renderTree(graph)).toContain('sub:w   [{{ .inputs.kind }} (known at run time)]')
  })

  it('shows a fan-out nobody subscribes to, and drops a subscription whose schema range excludes the version', () => {
    const graph = buildGraph([
      repo('o/pub', `${publisher('o/pub', 'release', 'api_published')}          schema_version: 2.0.0\n`),
      repo(
        'o/old',
        `version: 1\nworkflows:\n  w: { steps: [echo] }\nsubscriptions:\n${subscription('o/pub', ['api_published'], 'w', '    schema_version: "^1.0.0"\n')}`
      )
    ])
    expect(graph.edges).toEqual([])
    expect(graph.fan_outs).toEqual([{ from: 'o/pub:release', step: 'fan-out', event_type: 'api_published', artifact: 'default', templated: false, edges: 0 }])
    expect(renderTree(graph)).toMatch(/pub:release\n└── \(api_published: no subscriber found\)/)
  })

  it('orders a chain lib → app → web publishers first', () => {
    const graph = buildGraph([
      repo('o/web', `version: 1\nworkflows:\n  w: { steps: [echo] }\nsubscriptions:\n${subscription('o/app', ['app_built'], 'w')}`),
      repo('o/app', `${publisher('o/app', 'b', 'app_built')}subscriptions:\n${subscription('o/lib', ['lib_built'], 'b')}`),
      repo('o/lib', publisher('o/lib', 'b', 'lib_built'))
    ])
    expect(repositoryOrder(repositoryDependencies(graph))).toEqual({ order: ['o/lib', 'o/app', 'o/web'], broken: [] })
  })
})

describe('escaping', () => {
  const hostile = 'a "quoted" [bracket] {brace} (paren) | pipe <b>tag</b> #35; & ; `tick` \\ back\nline --> x'
  const graph: Graph = {
    nodes: [
      { id: 'o/a:w', repository: 'o/a', workflow: hostile },
      { id: 'o/b:w', repository: 'o/b', workflow: 'w' }
    ],
    edges: [{ from: 'o/a:w', to: 'o/b:w', step: 's', event_type: hostile, artifact: 'default', filters: [hostile], subscription: 1, templated: false }],
    fan_outs: [{ from: 'o/a:w', step: 't', event_type: hostile, artifact: 'default', templated: true, edges: 0 }],
    repositories: [],
    cycles: [['o/a:w', 'o/b:w', 'o/a:w']],
    warnings: []
  }

  it('keeps quotes, brackets, pipes and markup in Mermaid labels literal', async () => {
    const text = renderMermaid(graph)
    await expect(parseMermaid(text)).resolves.toBeTruthy()
    expect(mermaidText('a"b|c')).toBe('a#34;b#124;c')
    // The parser is real: an unescaped quote is refused.
    await expect(parseMermaid('flowchart LR\n  n0["a"b"] --> n1')).rejects.toThrow(/Parse error/)
  })

  it('keeps them literal in DOT, which Graphviz lays out', async () => {
    expect(dotString('a"b\\c')).toBe('"a\\"b\\\\c"')
    const svg = await renderDot(dotOf(graph))
    expect(svg).toContain('&quot;quoted&quot; [bracket]')
    await expect(renderDot('digraph { "a -> b }')).rejects.toThrow()
  })
})
