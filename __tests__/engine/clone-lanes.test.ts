import { afterAll, afterEach, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CloneLanes } from '../../src/engine/clone-lanes.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import { cleanupTempDirs, gitSync, makeRepo, ownChildren, tempDir } from '../../__fixtures__/repos.js'

const signal = new AbortController().signal
let lanes: CloneLanes

afterEach(() => lanes?.close())
afterAll(() => cleanupTempDirs())

/** The lanes this process started that still run: sh processes whose script reads clone requests. */
const laneProcesses = (): number[] => ownChildren((cmdline) => cmdline.includes('read -r upstream'))

describe('CloneLanes', () => {
  it('clones, sets the origin and checks out the ref, one shell serving clone after clone', async () => {
    lanes = new CloneLanes()
    const src = makeRepo(path.join(tempDir(), 'src'), { 'a.txt': 'main\n' })
    gitSync(src, 'checkout', '-qb', 'feature')
    gitSync(src, 'commit', '-q', '--allow-empty', '-m', 'feature')
    gitSync(src, 'checkout', '-q', 'main')
    const out = tempDir()
    for (let i = 0; i < 3; i++) {
      const dst = path.join(out, `c${i}`)
      const result = await lanes.clone({ src, dst, upstream: 'https://example.invalid/acme/src.git', ref: 'feature' }, signal)
      expect(result).toEqual({ failed: null, output: '' })
      expect(readFileSync(path.join(dst, 'a.txt'), 'utf8')).toBe('main\n')
      expect(gitSync(dst, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('feature')
      expect(gitSync(dst, 'remote', 'get-url', 'origin').trim()).toBe('https://example.invalid/acme/src.git')
    }
    expect(laneProcesses()).toHaveLength(1)
    lanes.close()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(laneProcesses()).toHaveLength(0)
  })

  it('says where it stopped and what git said', async () => {
    lanes = new CloneLanes()
    const src = makeRepo(path.join(tempDir(), 'src'), { 'a.txt': 'x\n' })
    const missing = await lanes.clone({ src: path.join(src, 'nope'), dst: path.join(tempDir(), 'c') }, signal)
    expect(missing.failed).toBe('clone')
    expect(missing.output).toMatch(/does not exist/)
    const badRef = await lanes.clone({ src, dst: path.join(tempDir(), 'c'), ref: 'no-such-branch' }, signal)
    expect(badRef.failed).toBe('checkout')
    expect(badRef.output).toMatch(/no-such-branch/)
    // Output in a non-ASCII path is counted in bytes, so the next answer still parses.
    const odd = path.join(tempDir(), 'ünïcödé $(touch pwned) `x`')
    expect((await lanes.clone({ src, dst: odd }, signal)).failed).toBeNull()
    expect(existsSync(path.join(odd, 'a.txt'))).toBe(true)
    expect(existsSync('pwned')).toBe(false)
  })

  it('stops a clone whose signal aborts, with the abort reason, and leaves no shell behind', async () => {
    lanes = new CloneLanes()
    const src = makeRepo(path.join(tempDir(), 'src'), { 'a.txt': 'x\n' })
    const controller = new AbortController()
    // Aborted at once: the request has been handed to the lane, which is still cloning.
    const pending = lanes.clone({ src, dst: path.join(tempDir(), 'c'), ref: 'main' }, controller.signal)
    controller.abort(new Error('deadline reached'))
    await expect(pending).rejects.toThrow('deadline reached')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(laneProcesses()).toHaveLength(0)
    // The next clone gets a fresh lane.
    expect((await lanes.clone({ src, dst: path.join(tempDir(), 'd') }, signal)).failed).toBeNull()
  })

  it('leaves paths with line breaks to its caller, which clones them directly', async () => {
    expect(CloneLanes.accepts({ src: '/a', dst: '/b\nc' })).toBe(false)
    expect(CloneLanes.accepts({ src: '/a', dst: '/b c' })).toBe(true)
    const root = tempDir()
    const src = makeRepo(path.join(root, 'acme', 'lib'), { 'a.txt': 'x\n' })
    const source = new LocalRepositorySource({ repos: { 'acme/lib': src } })
    const dst = path.join(tempDir(), 'line\nbreak')
    await source.checkout({ repository: 'acme/lib', ref: '' }, dst, signal)
    expect(readFileSync(path.join(dst, 'a.txt'), 'utf8')).toBe('x\n')
    source.close()
  })
})

describe('LocalRepositorySource.readConfigs', () => {
  it('hands each answer on as its shell reads it, before later candidates are read', async () => {
    const root = tempDir()
    const names = Array.from({ length: 10 }, (_, i) => `acme/r${i}`)
    for (const name of names) makeRepo(path.join(root, name), { 'tako.yml': `# ${name} first\n` })
    const source = new LocalRepositorySource({ reposDir: root })
    const { candidates } = await source.list([])
    expect(candidates.map((c) => c.repository)).toEqual(names)
    const seen: string[] = []
    const files = await source.readConfigs(candidates, signal, (i) => {
      seen.push(candidates[i].repository)
      // The first answer of the first reading shell: its later candidates (r4, r8) have not been read yet, so
      // what is committed now is what they give.
      if (i === 0)
        for (const later of ['acme/r4', 'acme/r8']) {
          writeFileSync(path.join(root, later, 'tako.yml'), `# ${later} second\n`)
          gitSync(path.join(root, later), 'commit', '-qam', 'second')
        }
    })
    expect([...seen].sort()).toEqual(names)
    const text = (i: number): string => {
      const file = files[i]
      return file && !(file instanceof Error) ? file.text : String(file)
    }
    expect(text(0)).toBe('# acme/r0 first\n')
    expect(text(4)).toBe('# acme/r4 second\n')
    expect(text(8)).toBe('# acme/r8 second\n')
    expect(text(5)).toBe('# acme/r5 first\n')
    source.close()
  })
})
