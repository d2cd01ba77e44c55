// Creating the folders a user names (run root, cache): one component at a time, each failure a UsageError
// naming the option and the folder. Node's recursive mkdir is not used for them: on a path whose parent
// exists but refuses children with ENOENT (`/proc/self/x`) it retries forever at 100% CPU.

import { mkdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { UsageError } from './errors.js'

/** Creates `dir` and its missing parents; returns it resolved. `what` names it for the user (`--workspace x`). */
export async function makeDirectory(dir: string, what: string): Promise<string> {
  const full = path.resolve(dir)
  const missing: string[] = []
  for (let current = full; ;) {
    const { info, error } = await stat(current).then(
      (info) => ({ info, error: undefined }),
      (error: NodeJS.ErrnoException) => ({ info: undefined, error })
    )
    if (info) {
      if (!info.isDirectory()) throw new UsageError(`${what}: ${current} is not a directory`)
      break
    }
    if (error.code !== 'ENOENT') throw new UsageError(`${what}: cannot use ${current}: ${reason(error)}`)
    const parent = path.dirname(current)
    if (parent === current) break
    missing.unshift(current)
    current = parent
  }
  for (const folder of missing) {
    try {
      await mkdir(folder)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Made meanwhile by someone else (another run on the same root): fine if it is a folder.
      if (code === 'EEXIST' && (await stat(folder).catch(() => undefined))?.isDirectory()) continue
      throw new UsageError(`${what}: cannot create ${folder}: ${reason(error as NodeJS.ErrnoException)}`)
    }
  }
  return full
}

/** "no such file or directory" rather than "ENOENT: no such file or directory, mkdir '/x'". */
function reason(error: NodeJS.ErrnoException): string {
  const text = /^[A-Z]+: (.*?)(, \w+ '.*')?$/.exec(error.message)?.[1] ?? error.message
  return error.code ? `${text} (${error.code})` : text
}
