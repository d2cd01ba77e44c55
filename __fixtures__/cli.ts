// Runs the committed CLI bundle as a user would, capturing exit code and output.

import { spawn } from 'node:child_process'
import path from 'node:path'
import { tempDir } from './repos.js'

export const CLI = path.resolve('dist/cli/index.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** `env` is added to this process's environment; a name set to undefined is removed from it. */
export function runTako(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; onSpawn?: (pid: number) => void } = {}
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // A private TMPDIR: the run roots tako makes itself (and keeps for failed children) go away with the test's.
    const env = { ...process.env, TMPDIR: tempDir('tako-cli-tmp-'), ...opts.env }
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    if (child.pid) opts.onSpawn?.(child.pid)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
