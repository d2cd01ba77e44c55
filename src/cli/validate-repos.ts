// `tako validate --repos DIR`: every DIR/<owner>/<repo> checkout's tako file checked in one go, problems with file,
// line and column (relative to the current folder), one verdict line per repository and one for the whole folder;
// then what only the folder as a whole shows: subscriptions to an artifact or event their publisher does not declare.

import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, formatIssue } from '../config/errors.js'
import { loadConfig } from '../config/load.js'
import type { TakoConfig } from '../config/types.js'
import { UsageError } from '../engine/errors.js'

const EXIT = { ok: 0, invalid: 2 } as const

export async function validateRepos(dir: string, out: (t: string) => void, err: (t: string) => void): Promise<number> {
  const info = await stat(dir).catch(() => undefined)
  if (!info?.isDirectory()) throw new UsageError(`--repos ${dir} ${info ? 'is not a directory' : 'does not exist'}`)
  const repos = await takoRepositories(dir)
  if (repos.length === 0) throw new UsageError(`--repos ${dir}: no DIR/<owner>/<repo> folder holds a tako.yml or tako.yaml`)
  let invalid = 0
  let warnings = 0
  const loaded = new Map<string, TakoConfig>()
  for (const { name, root } of repos) {
    try {
      const { config, warnings: found } = await loadConfig({ root })
      loaded.set(name.toLowerCase(), config)
      for (const w of found) err(`${formatIssue(w)}\n`)
      warnings += found.length
      const wf = Object.keys(config.workflows).length
      const subs = config.subscriptions.length
      out(
        `✓ ${name}: ${wf} workflow${wf === 1 ? '' : 's'}, ${subs} subscription${subs === 1 ? '' : 's'}${found.length ? `, ${found.length} warning${found.length === 1 ? '' : 's'}` : ''}\n`
      )
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      invalid++
      for (const issue of error.issues) err(`${formatIssue(issue)}\n`)
      const errors = error.issues.filter((i) => i.severity === 'error').length
      out(`✗ ${name}: ${errors} error${errors === 1 ? '' : 's'}\n`)
    }
  }
  const across = crossChecks(loaded)
  for (const w of across) err(`${w}\n`)
  warnings += across.length
  const total = `${repos.length} repositor${repos.length === 1 ? 'y' : 'ies'}`
  out(`${invalid ? `✗ ${invalid} of ${total} invalid` : `✓ ${total} valid`}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}\n`)
  return invalid ? EXIT.invalid : EXIT.ok
}

/** DIR/<owner>/<repo> folders holding a tako file, sorted by name. */
async function takoRepositories(dir: string): Promise<Array<{ name: string; root: string }>> {
  const found: Array<{ name: string; root: string }> = []
  for (const owner of await readdir(dir, { withFileTypes: true })) {
    if (!owner.isDirectory() || owner.name.startsWith('.')) continue
    for (const repo of await readdir(path.join(dir, owner.name), { withFileTypes: true })) {
      if (!repo.isDirectory() || repo.name.startsWith('.')) continue
      const root = path.join(dir, owner.name, repo.name)
      const hasFile = await Promise.all(
        ['tako.yml', 'tako.yaml'].map((f) =>
          stat(path.join(root, f)).then(
            (s) => s.isFile(),
            () => false
          )
        )
      )
      if (hasFile.some(Boolean)) found.push({ name: `${owner.name}/${repo.name}`, root })
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Subscriptions whose publisher is in the folder but does not declare what they listen to: the artifact (besides
 * `default`), or the event type when the publisher lists `events.produces`. Warnings: a publisher may emit an
 * undeclared type, but a typo here means a subscriber that never runs.
 */
function crossChecks(configs: Map<string, TakoConfig>): string[] {
  const out: string[] = []
  for (const config of configs.values()) {
    for (const sub of config.subscriptions) {
      const publisher = configs.get(sub.repository.toLowerCase())
      if (!publisher) continue
      const where = `${config.file}:${sub.line ?? 0}`
      const artifacts = ['default', ...Object.keys(publisher.artifacts).filter((a) => a !== 'default')]
      if (!artifacts.includes(sub.artifact)) {
        out.push(`${where}: warning: ${sub.repository} has no artifact "${sub.artifact}" (artifacts: ${artifacts.join(', ')})`)
      }
      const produced = publisher.produces.map((p) => p.type)
      const unknown = sub.events.filter((e) => !produced.includes(e))
      if (produced.length > 0 && unknown.length > 0) {
        out.push(`${where}: warning: ${sub.repository} does not produce ${unknown.join(', ')} (it declares ${produced.join(', ')})`)
      }
    }
  }
  return out
}
