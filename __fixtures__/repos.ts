// Builders for tests: temp folders and real git repositories holding given files.

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const created: string[] = []

export function tempDir(prefix = 'tako-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  created.push(dir)
  return dir
}

export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
}

export function gitSync(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd, encoding: 'utf8' })
}

/** A git repository at `dir` with `files` committed on `main`; `origin` set when `remote` is given. */
export function makeRepo(dir: string, files: Record<string, string>, remote?: string): string {
  mkdirSync(dir, { recursive: true })
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), content)
  }
  gitSync(dir, 'init', '-q', '-b', 'main')
  gitSync(dir, 'add', '-A')
  gitSync(dir, 'commit', '-qm', 'initial')
  if (remote) gitSync(dir, 'remote', 'add', 'origin', remote)
  return dir
}

/** Lays out `DIR/<owner>/<repo>` checkouts for `--repos DIR`. */
export function makeRepos(root: string, repos: Record<string, Record<string, string>>): string {
  for (const [name, files] of Object.entries(repos)) makeRepo(path.join(root, name), files)
  return root
}

/** The processes this test process started itself whose command line (arguments joined by NUL) passes `matches`. */
export function ownChildren(matches: (cmdline: string) => boolean): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        return ppid === process.pid && matches(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
      } catch {
        return false
      }
    })
    .map(Number)
}

/** Whether a process id is still running (a zombie awaiting its reaper counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}
