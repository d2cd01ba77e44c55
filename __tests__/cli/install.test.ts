// The bundle installs as `npm link` installs it: a symlink on the PATH, started through its own shebang.

import { afterAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { accessSync, constants, readFileSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { CLI } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

describe('tako on the PATH', () => {
  it('starts with a node shebang and is executable', () => {
    expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node')
    expect(() => accessSync(CLI, constants.X_OK)).not.toThrow()
  })

  it('answers `tako --version` through a symlink in a bin folder, as npm link makes it', async () => {
    const bin = tempDir('tako-bin-')
    symlinkSync(CLI, path.join(bin, 'tako'))
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string
    // PATH holds the bin folder and node's own, nothing else: the shell must find both through PATH alone.
    const { stdout } = await promisify(execFile)('sh', ['-c', 'tako --version'], {
      env: { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin` }
    })
    expect(stdout.trim()).toBe(`tako ${version}`)
  })
})
