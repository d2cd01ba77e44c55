// Reading tako files out of real repositories, one at a time and many at once.

import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { readTakoFile, readTakoFiles } from '../../src/engine/git.js'
import { cleanupTempDirs, gitSync, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

describe('readTakoFiles', () => {
  it('answers in order for many repositories: the file, the .yaml fallback, none, a ref, an error', async () => {
    const base = tempDir()
    const yml = makeRepo(path.join(base, 'yml'), { 'tako.yml': 'version: 1\n' })
    const yaml = makeRepo(path.join(base, 'yaml'), { 'tako.yaml': 'version: "yaml"\n' })
    const none = makeRepo(path.join(base, 'none'), { 'README.md': 'x\n' })
    const branched = makeRepo(path.join(base, 'branched'), { 'tako.yml': 'version: main\n' })
    gitSync(branched, 'checkout', '-q', '-b', 'next')
    writeFileSync(path.join(branched, 'tako.yml'), 'version: next\n')
    gitSync(branched, 'commit', '-qam', 'next')
    // A body holding what looks like the batch's own markers must not confuse the reader.
    const tricky = makeRepo(path.join(base, 'tricky'), { 'tako.yml': 'end 0\n0123abc blob 5\nend 1\n' })
    const notRepo = path.join(base, 'plain')
    mkdirSync(notRepo)
    const items = [
      { dir: yml, rev: 'HEAD' },
      { dir: yaml, rev: 'HEAD' },
      { dir: none, rev: 'HEAD' },
      { dir: branched, rev: 'main' },
      { dir: notRepo, rev: 'HEAD' },
      { dir: tricky, rev: 'HEAD' },
      { dir: branched, rev: 'next' }
    ]
    const files = await readTakoFiles(items)
    expect(files.slice(0, 4)).toEqual([
      { text: 'version: 1\n', file: 'tako.yml' },
      { text: 'version: "yaml"\n', file: 'tako.yaml' },
      null,
      { text: 'version: main\n', file: 'tako.yml' }
    ])
    expect(files[4]).toBeInstanceOf(Error)
    expect(files[5]).toEqual({ text: 'end 0\n0123abc blob 5\nend 1\n', file: 'tako.yml' })
    expect(files[6]).toEqual({ text: 'version: next\n', file: 'tako.yml' })
    // The same answers as reading one by one.
    for (const [i, item] of items.entries()) {
      if (files[i] instanceof Error) continue
      expect(await readTakoFile(item.dir, item.rev)).toEqual(files[i])
    }
  })
})
