// Removes finished child workspaces in batches: one `rm -rf` per batch, started through a launcher (launcher.ts),
// costs the engine's thread far less than a recursive fs.rm per child, and a batch bounds how long finished
// workspaces wait on disk.

import { rm } from 'node:fs/promises'
import { startInGroup } from './launcher.js'
import { inheritedEnv } from './process-groups.js'

export class WorkspaceReaper {
  private queue: string[] = []
  private readonly pending: Array<Promise<void>> = []

  constructor(private readonly batch = 16) {}

  remove(dir: string): void {
    this.queue.push(dir)
    if (this.queue.length >= this.batch) this.flush()
  }

  /** Removes what is queued and waits for every removal started. */
  async drain(): Promise<void> {
    this.flush()
    await Promise.all(this.pending)
  }

  private flush(): void {
    if (this.queue.length === 0) return
    this.pending.push(removeAll(this.queue.splice(0)))
  }
}

async function removeAll(dirs: string[]): Promise<void> {
  if (process.platform !== 'win32') {
    const ignore = (): void => {}
    const rmAll = { command: 'rm', args: ['-rf', '--', ...dirs], cwd: '/', env: inheritedEnv(), stdout: ignore, stderr: ignore }
    const code = await startInGroup(rmAll).then(
      (child) => child.exited.then((status) => status.code),
      () => 1
    )
    if (code === 0) return
  }
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
}
