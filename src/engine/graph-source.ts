// Finds the repositories of a graph on disk: `--root` (its working tree, as `tako exec` reads it) and the checkouts of
// `--repos DIR` / `--repo owner/name=PATH` (their committed tako.yml, as a fan-out's discovery reads it).

import { realpath } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, formatIssue } from '../config/errors.js'
import { loadConfig, parseConfig } from '../config/load.js'
import { originRepository } from './engine.js'
import type { GraphRepository } from './graph.js'
import { LocalRepositorySource } from './local-source.js'

export interface GraphSourceOptions {
  /** A repository checkout whose working-tree tako file is read; omitted when only --repos/--repo are wanted. */
  root?: string
  reposDir?: string
  repos?: Record<string, string>
}

export async function loadGraphRepositories(opts: GraphSourceOptions): Promise<GraphRepository[]> {
  const source = new LocalRepositorySource({ reposDir: opts.reposDir, repos: opts.repos })
  try {
    const found: GraphRepository[] = []
    let declared: string[] = []
    let rootDir: string | undefined
    if (opts.root !== undefined) {
      rootDir = await realpath(opts.root).catch(() => path.resolve(opts.root as string))
      const root = await readRoot(rootDir)
      declared = root.config?.repos ?? []
      found.push(root)
    }
    const listed = await source.list(declared)
    const files = listed.candidates.length > 0 ? await source.readConfigs(listed.candidates, new AbortController().signal) : []
    for (const [i, candidate] of listed.candidates.entries()) {
      const dir = source.pathOf(candidate)
      // The root is often one of the checkouts too: it counts once, under the name the layout gives it.
      if (rootDir !== undefined && (await realpath(dir).catch(() => dir)) === rootDir) {
        found[0].repository = candidate.repository
        continue
      }
      found.push({ repository: candidate.repository, path: dir, ...interpret(candidate.repository, files[i]) })
    }
    for (const p of listed.problems) found.push({ repository: p.repository, problem: p.reason })
    return found
  } finally {
    source.close()
  }
}

async function readRoot(dir: string): Promise<GraphRepository> {
  const repository = (await originRepository(dir)) ?? `local/${path.basename(dir)}`
  try {
    const { config } = await loadConfig({ root: dir })
    return { repository, path: dir, config }
  } catch (error) {
    if (error instanceof ConfigError) {
      // A file that is missing or unreadable (no position) is not an invalid one.
      const unreadable = error.issues.length === 1 && error.issues[0].line === 0
      return { repository, path: dir, problem: unreadable ? error.issues[0].message : problemOf(error.issues.map(formatIssue)) }
    }
    throw error
  }
}

function interpret(repository: string, file: { text: string; file: string } | null | Error): Pick<GraphRepository, 'config' | 'problem'> {
  if (file instanceof Error) return { problem: file.message }
  if (!file) return { problem: 'has no tako.yml' }
  const parsed = parseConfig(file.text, `${repository}/${file.file}`)
  if (parsed.config) return { config: parsed.config }
  return { problem: problemOf(parsed.issues.filter((i) => i.severity === 'error').map(formatIssue)) }
}

function problemOf(errors: string[]): string {
  return `invalid tako.yml: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? ` (+${errors.length - 3} more)` : ''}`
}
