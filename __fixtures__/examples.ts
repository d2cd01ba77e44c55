// The demo's example repositories (examples/acme/*) laid out as real git checkouts, as scripts/demo.mjs does.

import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { makeRepos } from './repos.js'

export function exampleRepos(dir: string): string {
  const repos: Record<string, Record<string, string>> = {}
  for (const owner of readdirSync('examples')) {
    for (const repo of readdirSync(path.join('examples', owner))) {
      const files: Record<string, string> = {}
      for (const file of readdirSync(path.join('examples', owner, repo))) files[file] = readFileSync(path.join('examples', owner, repo, file), 'utf8')
      repos[`${owner}/${repo}`] = files
    }
  }
  return makeRepos(dir, repos)
}
