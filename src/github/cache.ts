// The shared cache folder restored before the run and saved after it through @actions/cache (SPEC 6), and the
// way every cache call of the action names its folder: relative to a stable root, never by its absolute path.

import * as cache from '@actions/cache'
import { createHash } from 'node:crypto'
import path from 'node:path'

/**
 * Runs a cache call on `folder` named relative to its parent. @actions/cache hashes the literal path list into
 * the entry's version and stores paths relative to GITHUB_WORKSPACE (else the working directory), so an
 * absolute path under the runner's install folder (`/home/runner/actions-runner-2/_work/_temp/...`) makes every
 * runner folder of a self-hosted machine miss the others' entries. With the working directory and
 * GITHUB_WORKSPACE set to the parent (RUNNER_TEMP) for the call, the library sees `tako-cache` wherever the
 * runner lives. Only called while no step runs: the working directory is process-wide.
 */
export async function inStableRoot<T>(folder: string, call: (relative: string) => Promise<T>): Promise<T> {
  const root = path.dirname(path.resolve(folder))
  const cwd = process.cwd()
  const workspace = process.env.GITHUB_WORKSPACE
  process.chdir(root)
  process.env.GITHUB_WORKSPACE = root
  try {
    return await call(path.basename(folder))
  } finally {
    process.chdir(cwd)
    if (workspace === undefined) delete process.env.GITHUB_WORKSPACE
    else process.env.GITHUB_WORKSPACE = workspace
  }
}

export interface CacheKeys {
  key: string
  restoreKeys: string[]
}

/** `tako-<os>-<sha256 of the tako files>` and the `tako-<os>-` prefix, unless the inputs give keys. */
export function cacheKeys(opts: { os: string; takoFiles: string[]; key?: string; restoreKeys?: string[] }): CacheKeys {
  const prefix = `tako-${opts.os.toLowerCase()}-`
  const hash = createHash('sha256')
  for (const text of opts.takoFiles) hash.update(text).update('\0')
  return {
    key: opts.key || `${prefix}${hash.digest('hex').slice(0, 32)}`,
    restoreKeys: opts.restoreKeys && opts.restoreKeys.length > 0 ? opts.restoreKeys : [prefix]
  }
}

export interface CacheOutcome {
  hit: boolean
  restoredKey?: string
  warning?: string
}

/** Restore and save use exactly the same path list: the cache version hashes it. */
export class SharedCache {
  constructor(
    private readonly dir: string,
    private readonly keys: CacheKeys
  ) {}

  async restore(): Promise<CacheOutcome> {
    try {
      const restoredKey = await inStableRoot(this.dir, (dir) => cache.restoreCache([dir], this.keys.key, this.keys.restoreKeys))
      return { hit: restoredKey === this.keys.key, restoredKey }
    } catch (error) {
      return { hit: false, warning: `cache restore failed, continuing without it: ${(error as Error).message}` }
    }
  }

  /** An exact hit is not saved again (the key is immutable in the cache service). */
  async save(hit: boolean): Promise<{ saved: boolean; warning?: string }> {
    if (hit) return { saved: false }
    try {
      const id = await inStableRoot(this.dir, (dir) => cache.saveCache([dir], this.keys.key))
      // The library reports most refusals (service errors, a key another job is saving) as -1, not as errors.
      return id === -1 ? { saved: false, warning: `cache not saved under ${this.keys.key}: the cache service refused it (see the debug log)` } : { saved: true }
    } catch (error) {
      return { saved: false, warning: `cache save failed: ${(error as Error).message}` }
    }
  }
}
