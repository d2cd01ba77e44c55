// Re-running only what failed: each attempt's successful children are kept in the Actions cache under a key
// bound to GITHUB_RUN_ID, the job and what it ran; a later attempt of the same job reuses them instead of running them again.

import * as cache from '@actions/cache'
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { reusableChildren } from '../engine/resume.js'
import type { InputValue } from '../config/types.js'
import type { ChildReport, RunReport } from '../engine/types.js'
import { inStableRoot } from './cache.js'

const FILE = 'outcomes.json'

export interface OutcomeScope {
  runnerTemp: string
  /** GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT. */
  runId: string
  attempt: number
  /** GITHUB_JOB: two jobs of one run (or two tako steps of one job) must not reuse each other's children. */
  job: string
  /** Config path, workflow and inputs of this step; matrix legs of one job differ here. */
  configPath: string
  workflow: string
  inputs: Record<string, InputValue>
  /** Page of this attempt, linked from children reused later. */
  attemptUrl: string
}

export class OutcomeStore {
  private readonly dir: string
  private readonly prefix: string

  constructor(private readonly scope: OutcomeScope) {
    this.dir = path.join(scope.runnerTemp, 'tako-outcomes')
    const what = createHash('sha256')
      .update(JSON.stringify([scope.configPath, scope.workflow, scope.inputs]))
      .digest('hex')
      .slice(0, 12)
    this.prefix = `tako-outcomes-${scope.runId}-${scope.job.replace(/[^A-Za-z0-9_.-]/g, '_')}-${what}-`
  }

  /** Successful children of the latest earlier attempt, or nothing on a first attempt. */
  async restore(): Promise<{ reuse?: Map<string, ChildReport>; warning?: string }> {
    if (this.scope.attempt <= 1 || !this.scope.runId) return {}
    try {
      await mkdir(this.dir, { recursive: true })
      const hit = await inStableRoot(this.dir, (dir) => cache.restoreCache([dir], `${this.prefix}${this.scope.attempt - 1}`, [this.prefix]))
      if (!hit) return {}
      const children = JSON.parse(await readFile(path.join(this.dir, FILE), 'utf8')) as ChildReport[]
      return { reuse: reusableChildren([{ children } as RunReport]) }
    } catch (error) {
      return { warning: `could not read the outcomes of earlier attempts, every child runs again: ${(error as Error).message}` }
    }
  }

  /** Keeps what succeeded in this attempt (and what it reused) for the next attempt. */
  async save(report: RunReport): Promise<{ warning?: string }> {
    if (!this.scope.runId) return {}
    const kept = report.children
      .filter((c) => c.status === 'success' || c.status === 'reused')
      .map((c) => ({ ...c, url: c.status === 'success' ? (c.url ?? this.scope.attemptUrl) : c.url }))
    const key = `${this.prefix}${this.scope.attempt}`
    try {
      await mkdir(this.dir, { recursive: true })
      await writeFile(path.join(this.dir, FILE), JSON.stringify(kept))
      // The library reports most refusals (service errors, a key being saved elsewhere) as -1, not as errors.
      if ((await inStableRoot(this.dir, (dir) => cache.saveCache([dir], key))) === -1) {
        return {
          warning: `this attempt's outcomes were not kept for a re-run (the cache service refused ${key}, see the debug log): a re-run runs every child again`
        }
      }
      return {}
    } catch (error) {
      return { warning: `could not keep this attempt's outcomes for a re-run: ${(error as Error).message}` }
    }
  }
}
