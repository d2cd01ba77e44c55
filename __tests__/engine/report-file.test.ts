// The report file: streamed (no size limit of one string), and never left empty or truncated by a failed write.

import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { writeJsonFile, writeJsonFileSync } from '../../src/engine/report-file.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

const mounts: string[] = []
afterAll(() => {
  for (const dir of mounts) execFileSync('umount', [dir])
  cleanupTempDirs()
})

/** A 64 KiB tmpfs: a real full disk. Null where this machine does not let the test mount one. */
function tinyDisk(): string | null {
  const dir = path.join(tempDir(), 'disk')
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    return null
  }
  mounts.push(dir)
  return dir
}

const big = { children: Array.from({ length: 40 }, (_, i) => ({ id: `c${i}`, payload: 'p'.repeat(4096) })) }

describe('writeJsonFile', () => {
  it('writes the same text as JSON.stringify(value, null, 2) plus a newline, and no temp file', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'report.json')
    const value = { a: [1, { b: 'x"y', c: undefined, d: null }], e: {}, f: [], g: 'é\u2028' }
    await writeJsonFile(file, value)
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(value, null, 2)}\n`)
    expect(readdirSync(dir)).toEqual(['report.json'])
  })

  it('writes a report larger than the longest string V8 can build', async () => {
    // 600 children of 1 MiB each: JSON.stringify throws "Invalid string length" on it (V8's limit is ~512 MiB).
    const payload = 'z'.repeat(1024 * 1024)
    const report = { children: Array.from({ length: 600 }, (_, i) => ({ id: `c${i}`, payload })) }
    expect(() => JSON.stringify(report)).toThrow(/Invalid string length/)
    const file = path.join(tempDir(), 'report.json')
    await writeJsonFile(file, report)
    expect(statSync(file).size).toBeGreaterThan(600 * 1024 * 1024)
  }, 300_000)

  it('on a full disk fails and leaves neither a 0-byte report nor a temp file; an earlier report stays whole', async () => {
    const disk = tinyDisk()
    if (!disk) return console.warn('skipped: cannot mount a tmpfs here')
    const file = path.join(disk, 'report.json')
    await expect(writeJsonFile(file, big)).rejects.toThrow(/ENOSPC/)
    expect(readdirSync(disk)).toEqual([])
    writeFileSync(file, '{"old": true}\n')
    await expect(writeJsonFile(file, big)).rejects.toThrow(/ENOSPC/)
    expect(() => writeJsonFileSync(file, big)).toThrow(/ENOSPC/)
    expect(readdirSync(disk)).toEqual(['report.json'])
    expect(readFileSync(file, 'utf8')).toBe('{"old": true}\n')
  })

  it('writes into a device in place (it never replaces /dev/full), and reports its failure', async () => {
    await expect(writeJsonFile('/dev/full', big)).rejects.toThrow(/ENOSPC/)
    expect(() => writeJsonFileSync('/dev/full', big)).toThrow(/ENOSPC/)
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true)
  })
})
