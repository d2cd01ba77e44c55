// Per-run scratch space under a run root: <run root>/.tako-tmp/<pid>-<run id>/ holds the script files and
// TAKO_OUTPUT files of one run and nothing else, so two runs sharing a --workspace never delete each other's.
// The engine's process id in the name lets the next run on that root remove what a killed run left behind.

import { readdir, rm, rmdir } from 'node:fs/promises'
import path from 'node:path'
import { makeDirectory } from './directories.js'

/** Parent of every run's scratch folder in a run root. */
export const TEMP_DIR = '.tako-tmp'

/** Creates this run's scratch folder; first removes the folders of runs whose engine process is gone. */
export async function createScratch(runRoot: string, runId: string, pid = process.pid): Promise<string> {
  const parent = path.join(runRoot, TEMP_DIR)
  await removeStale(parent)
  const dir = path.join(parent, `${pid}-${runId}`)
  return makeDirectory(dir, "the run's scratch folder")
}

/** Removes this run's scratch folder, and the shared parent when no other run holds one. */
export async function removeScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  await rmdir(path.dirname(dir)).catch(() => {})
}

async function removeStale(parent: string): Promise<void> {
  const entries = await readdir(parent).catch(() => [] as string[])
  await Promise.all(
    entries
      .filter((name) => {
        const pid = /^(\d+)-/.exec(name)?.[1]
        // A folder without an owner (an older tako's, or anything else) is left alone.
        return pid !== undefined && !processExists(Number(pid))
      })
      .map((name) => rm(path.join(parent, name), { recursive: true, force: true }))
  )
}

/** Whether a process exists on this machine. A reused pid keeps a stale folder a while longer, never the reverse. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
