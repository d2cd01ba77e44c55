// ChildRunnerFactory: gives each child run a unique, readable id and its own folder under <run root>/children/.

import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { TreeState } from './run-scope.js'

export interface ChildRun {
  id: string
  /** <run root>/children/<id>: the child's checkout. */
  workspace: string
  /** <scratch>/<id>: the child's scratch folder, in the engine run's own scratch space, outside its checkout. */
  tempDir: string
}

const MAX_BASE = 60

/** A path component made only of [a-z0-9._-], never starting with a dot or dash, never empty. */
export function safeSegment(text: string): string {
  const cleaned = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
  return cleaned.slice(0, MAX_BASE).replace(/[.-]+$/, '') || 'x'
}

export class ChildRunnerFactory {
  /** The shared parent folders, made once for the whole tree. */
  private parents?: Promise<unknown>

  constructor(private readonly tree: TreeState) {}

  /** Reserves the next id for `<repo>-<workflow>` without creating anything (for runs that never start). */
  reserveId(repository: string, workflow: string): string {
    const repoName = repository.split('/').pop() ?? repository
    const base = `${safeSegment(repoName)}-${safeSegment(workflow)}`
    const n = (this.tree.childIds.get(base) ?? 0) + 1
    this.tree.childIds.set(base, n)
    return `${base}-${n}`
  }

  /** Creates the child's folders, under `preferred` (an id reserved earlier) unless that folder already exists. */
  async create(repository: string, workflow: string, preferred?: string): Promise<ChildRun> {
    const childrenDir = path.join(this.tree.runRoot, 'children')
    const tmpDir = this.tree.scratchDir
    this.parents ??= Promise.all([mkdir(childrenDir, { recursive: true }), mkdir(tmpDir, { recursive: true })])
    await this.parents
    for (let next = preferred; ; next = undefined) {
      const id = next ?? this.reserveId(repository, workflow)
      const workspace = path.join(childrenDir, id)
      if (path.dirname(workspace) !== childrenDir) throw new Error(`child id "${id}" would leave the run root`)
      try {
        await mkdir(workspace)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw error
      }
      const tempDir = path.join(tmpDir, id)
      await mkdir(tempDir, { recursive: true })
      return { id, workspace, tempDir }
    }
  }
}
