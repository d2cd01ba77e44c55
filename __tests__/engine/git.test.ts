// Reading tako files out of real repositories, one at a time and many at once.

import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
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

  it("tells a corrupt repository (missing blob, commit or pack) and an unknown ref from one without tako.yml, in git's words", async () => {
    const base = tempDir()
    const make = (name: string): string => makeRepo(path.join(base, name), { 'tako.yml': 'version: 1\n', 'README.md': 'x\n' })
    const object = (dir: string, sha: string): string => path.join(dir, '.git', 'objects', sha.slice(0, 2), sha.slice(2))
    const blob = make('blob')
    rmSync(object(blob, gitSync(blob, 'rev-parse', 'HEAD:tako.yml').trim()))
    const commit = make('commit')
    rmSync(object(commit, gitSync(commit, 'rev-parse', 'HEAD').trim()))
    const pack = make('pack')
    gitSync(pack, 'gc', '-q')
    for (const f of readdirSync(path.join(pack, '.git', 'objects', 'pack'))) if (f.endsWith('.pack')) rmSync(path.join(pack, '.git', 'objects', 'pack', f))
    const healthy = makeRepo(path.join(base, 'none'), { 'README.md': 'x\n' })
    const dirAsFile = makeRepo(path.join(base, 'dir'), { 'tako.yml/inner': 'x\n' })
    const files = await readTakoFiles([
      { dir: blob, rev: 'HEAD' },
      { dir: commit, rev: 'HEAD' },
      { dir: pack, rev: 'HEAD' },
      { dir: healthy, rev: 'HEAD' },
      { dir: healthy, rev: 'v9' },
      { dir: dirAsFile, rev: 'HEAD' }
    ])
    const messages = files.map((f) => (f instanceof Error ? f.message : f))
    expect(messages[0]).toMatch(/^the repository at .*blob is corrupt \(git: tako\.yml at HEAD is blob [0-9a-f]{40}, which cannot be read: fatal: .*\)$/)
    expect(messages[1]).toMatch(/^the repository at .*commit is corrupt \(git: fatal: bad object HEAD\)$/)
    expect(messages[2]).toMatch(/^the repository at .*pack is corrupt \(git: fatal: bad object HEAD\)$/)
    expect(messages[3]).toBeNull()
    expect(messages[4]).toMatch(/^has no branch, tag or commit "v9" \(git: fatal: /)
    expect(messages[5]).toBeNull()
  })
})
