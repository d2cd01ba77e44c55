// The dead-man switch's watchdog (process-groups.ts): started with the first process a launcher does not guard (one
// started through spawn), holding no secret of the engine. That every step dies with the engine, guarded by its
// launcher or by the watchdog, is shown through the CLI bundle (__tests__/cli/faults.test.ts).

import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runScript } from '../../src/engine/process.js'
import { WATCHDOG_SCRIPT } from '../../src/engine/process-groups.js'
import { cleanupTempDirs, ownChildren, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const watchdogs = (): number[] => ownChildren((cmdline) => cmdline.startsWith('sh\0-c\0trap '))

describe('the watchdog', () => {
  it('runs once per engine, in its own process group, with PATH as its whole environment', async () => {
    process.env.TAKO_TEST_SECRET = 'ghs_watchdogMustNotHoldThis'
    try {
      // Jest runs several test files in one worker, each with its own module registry (so its own watchdog):
      // only the one this file's engine started is new.
      const before = new Set(watchdogs())
      const dir = tempDir()
      // Through launchers: their own root shell ends them if the engine dies; no watchdog is needed.
      const launched = await runScript({ script: 'true', shell: 'sh', cwd: dir, env: { PATH: process.env.PATH ?? '' }, tempDir: dir })
      expect(launched.exitCode).toBe(0)
      await new Promise((resolve) => setImmediate(resolve))
      expect(watchdogs().filter((p) => !before.has(p))).toEqual([])
      // SHELLOPTS cannot be exported by a launcher's bash: these go through spawn, and the watchdog guards them.
      for (let i = 0; i < 2; i++) {
        const result = await runScript({ script: 'true', shell: 'sh', cwd: dir, env: { PATH: process.env.PATH ?? '', SHELLOPTS: 'braceexpand' }, tempDir: dir })
        expect(result.exitCode).toBe(0)
      }
      const [pid, ...more] = watchdogs().filter((p) => !before.has(p))
      expect(more).toEqual([])
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
      expect(environ).toEqual([`PATH=${process.env.PATH}`])
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])).toBe(pid)
    } finally {
      delete process.env.TAKO_TEST_SECRET
    }
  })

  describe('when the engine is gone', () => {
    /** Runs the watchdog's script told of `groups`, then closes its stdin as the engine's exit does; its `sleep`
        (the one pause before SIGKILL) only notes that it was called. */
    async function watch(groups: number[]): Promise<{ slept: boolean }> {
      const dir = tempDir()
      const bin = path.join(dir, 'bin')
      mkdirSync(bin)
      const note = path.join(dir, 'slept')
      writeFileSync(path.join(bin, 'sleep'), `#!/bin/sh\necho "$*" >> '${note}'\n`, { mode: 0o755 })
      const dog = spawn('sh', ['-c', WATCHDOG_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: `${bin}:${process.env.PATH}` } })
      dog.stdin.end(groups.map((g) => `+${g}\n`).join(''))
      await new Promise((resolve) => dog.once('exit', resolve))
      return { slept: existsSync(note) }
    }

    /** A process group of its own that has ended. */
    async function endedGroup(): Promise<number> {
      const child = spawn('true', [], { detached: true, stdio: 'ignore' })
      await new Promise((resolve) => child.once('exit', resolve))
      return child.pid as number
    }

    it('leaves at once when every group it knows has ended, signalling nothing a second later', async () => {
      expect(await watch([await endedGroup(), await endedGroup()])).toEqual({ slept: false })
    })

    it('sends SIGKILL a second after SIGTERM to a group that is still there', async () => {
      // Ignores SIGTERM, as a step may; told of once it does.
      const stubborn = spawn('sh', ['-c', "trap '' TERM; echo ready; exec sleep 300"], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })
      const ended = new Promise<NodeJS.Signals | null>((resolve) => stubborn.once('exit', (_code, signal) => resolve(signal)))
      await new Promise((resolve) => stubborn.stdout.once('data', resolve))
      expect(await watch([await endedGroup(), stubborn.pid as number])).toEqual({ slept: true })
      expect(await ended).toBe('SIGKILL')
    })
  })
})
