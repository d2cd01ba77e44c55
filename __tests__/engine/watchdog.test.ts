// The dead-man switch's watchdog (process-groups.ts): started with the first process a launcher does not guard (one
// started through spawn), holding no secret of the engine. That every step dies with the engine, guarded by its
// launcher or by the watchdog, is shown through the CLI bundle (__tests__/cli/faults.test.ts).

import { afterAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { runScript } from '../../src/engine/process.js'
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
})
