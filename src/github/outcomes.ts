// Re-running only what failed: each attempt's successful children are kept in the Actions cache under a key
// bound to GITHUB_RUN_ID; a later attempt of the same run reuses them instead of running them again.

import * as cache from '@actions/cache'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { reusableChildren } from '../engine/resume.js'
import type { ChildReport, RunReport } from '../engine/types.js'

const FILE = 'outcomes.json'

export class OutcomeStore {
  private readonly dir: string

  constructor(
    runnerTemp: string,
    private readonly runId: string,
    private readonly attempt: number,
    /** Page of this attempt, linked from children reused later. */
    private readonly attemptUrl: string
  ) {
    this.dir = path.join(runnerTemp, 'tako-outcomes')
  }

  private key(attempt: number): string {
    return `tako-outcomes-${this.runId}-${attempt}`
  }

  /** Successful children of the latest earlier attempt, or nothing on a first attempt. */
  async restore(): Promise<{ reuse?: Map<string, ChildReport>; warning?: string }> {
    if (this.attempt <= 1 || !this.runId) return {}
    try {
      await mkdir(this.dir, { recursive: true })
      const hit = await cache.restoreCache([this.dir], this.key(this.attempt - 1), [`tako-outcomes-${this.runId}-`])
      if (!hit) return {}
      const children = JSON.parse(await readFile(path.join(this.dir, FILE), 'utf8')) as ChildReport[]
      return { reuse: reusableChildren([{ children } as RunReport]) }
    } catch (error) {
      return { warning: `could not read the outcomes of earlier attempts, every child runs again: ${(error as Error).message}` }
    }
  }

  /** Keeps what succeeded in this attempt (and what it reused) for the next attempt. */
  async save(report: RunReport): Promise<{ warning?: string }> {
    if (!this.runId) return {}
    const kept = report.children
      .filter((c) => c.status === 'success' || c.status === 'reused')
      .map((c) => ({ ...c, url: c.status === 'success' ? (c.url ?? this.attemptUrl) : c.url }))
    try {
      await mkdir(this.dir, { recursive: true })
      await writeFile(path.join(this.dir, FILE), JSON.stringify(kept))
      await cache.saveCache([this.dir], this.key(this.attempt))
      return {}
    } catch (error) {
      return { warning: `could not keep this attempt's outcomes for a re-run: ${(error as Error).message}` }
    }
  }
}
