// Subscriber candidates from local checkouts: `--repos DIR` (DIR/<owner>/<repo>) and `--repo owner/name=PATH`.

import { readdir, stat } from 'node:fs/promises'
import { MAX_CONFIG_BYTES } from '../config/load.js'
import { readRegularFile } from './regular-file.js'
import path from 'node:path'
import { CloneLanes, type CloneRequest, type CloneResult } from './clone-lanes.js'
import { git, readTakoFile, readTakoFiles } from './git.js'
import { parseRepoRef, SourceError, type Candidate, type RepositorySource, type TakoFileRead } from './repository-source.js'

type Problem = { repository: string; ref: string; reason: string }

export interface LocalSourceOptions {
  reposDir?: string
  /** owner/name -> checkout path */
  repos?: Record<string, string>
}

/** Shells reading tako files side by side, as `xargs -P 4` would. */
const READ_LANES = 4
/** The most candidates one of those shells reads. */
const READ_CHUNK = 32

export class LocalRepositorySource implements RepositorySource {
  private readonly paths = new Map<string, string>()
  private scanned?: Promise<void>
  private readonly lanes = new CloneLanes()
  /** Folders under --repos that cannot be candidates, said once per fan-out rather than ignored. */
  private readonly scanProblems: Problem[] = []

  constructor(private readonly opts: LocalSourceOptions) {
    for (const [name, dir] of Object.entries(opts.repos ?? {})) this.paths.set(name.toLowerCase(), path.resolve(dir))
  }

  async list(declared: string[]): Promise<{ candidates: Candidate[]; problems: Array<{ repository: string; ref: string; reason: string }> }> {
    await (this.scanned ??= this.scan())
    const problems: Problem[] = [...this.scanProblems]
    const byKey = new Map<string, Candidate>()
    for (const name of this.paths.keys()) byKey.set(name, { repository: this.displayName(name), ref: '' })
    for (const entry of declared) {
      const parsed = parseRepoRef(entry)
      if (typeof parsed === 'string') {
        problems.push({ repository: entry, ref: '', reason: parsed })
        continue
      }
      const key = parsed.repository.toLowerCase()
      if (!this.paths.has(key)) {
        problems.push({
          repository: parsed.repository,
          ref: parsed.ref,
          reason: `listed in repos: but not found locally (give --repos DIR holding ${parsed.repository}, or --repo ${parsed.repository}=PATH)`
        })
        continue
      }
      byKey.set(key, { repository: this.displayName(key), ref: parsed.ref })
    }
    return { candidates: [...byKey.values()].sort((a, b) => a.repository.localeCompare(b.repository)), problems }
  }

  async readConfig(candidate: Candidate): Promise<TakoFileRead | null> {
    const dir = this.pathOf(candidate)
    let file: TakoFileRead | null
    try {
      file = await readTakoFile(dir, candidate.ref || 'HEAD')
    } catch (error) {
      throw new SourceError(`cannot read ${candidate.repository} at ${dir}: ${(error as Error).message}`, 'other')
    }
    const explained = await explain(candidate, dir, file)
    if (explained instanceof Error) throw explained
    return explained
  }

  describe(): string {
    const where = [
      ...(this.opts.reposDir ? [`--repos ${relative(this.opts.reposDir)}`] : []),
      ...Object.keys(this.opts.repos ?? {}).map((name) => `--repo ${name}`)
    ]
    return where.length ? `${where.join(', ')}; expected DIR/<owner>/<repo> git checkouts` : 'nowhere: no --repos DIR or --repo given'
  }

  /** Reads many checkouts with a few shells rather than one git process each (see readTakoFiles). Each shell reads
      a few candidates, each next one twice as many (up to READ_CHUNK): the first verdicts come after one
      repository's read, so a match starts its clone while the rest are still read, and a wide fan-out still needs
      few shells. */
  async readConfigs(
    candidates: Candidate[],
    signal: AbortSignal,
    each?: (index: number, file: TakoFileRead | null | Error) => void
  ): Promise<Array<TakoFileRead | null | Error>> {
    const lanes = Math.min(READ_LANES, candidates.length)
    const results: Array<TakoFileRead | null | Error> = new Array(candidates.length)
    const settle = async (i: number, file: TakoFileRead | null | Error): Promise<void> => {
      const c = candidates[i]
      results[i] = file instanceof Error ? new SourceError(`cannot read ${c.repository}: ${file.message}`) : await explain(c, this.pathOf(c), file)
      each?.(i, results[i])
    }
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        const mine: number[] = []
        for (let i = lane; i < candidates.length; i += lanes) mine.push(i)
        for (let start = 0, size = 1; start < mine.length; start += size, size = Math.min(size * 2, READ_CHUNK)) {
          const chunk = mine.slice(start, start + size)
          const files = await readTakoFiles(
            chunk.map((i) => ({ dir: this.pathOf(candidates[i]), rev: candidates[i].ref || 'HEAD' })),
            { signal }
          )
          await Promise.all(chunk.map((i, k) => settle(i, files[k])))
        }
      })
    )
    return results
  }

  async checkout(candidate: Candidate, dir: string, signal: AbortSignal): Promise<void> {
    const src = this.pathOf(candidate)
    // "Remote intact": a child that pushes reaches the subscriber's own remote, not the local checkout it came from.
    const req = { src, dst: dir, upstream: await originUrl(src), ref: candidate.ref || undefined }
    const result = CloneLanes.accepts(req) ? await this.lanes.clone(req, signal) : await cloneDirectly(req, signal)
    const said = result.output.trim()
    if (result.failed === 'clone') throw new SourceError(`git clone of ${candidate.repository} failed: ${said}`)
    if (result.failed === 'remote') throw new SourceError(`setting the origin of ${candidate.repository}'s clone failed: ${said}`)
    if (result.failed === 'checkout') throw new SourceError(`git checkout ${candidate.ref} of ${candidate.repository} failed: ${said}`)
  }

  /** Ends the shells that made checkouts. */
  close(): void {
    this.lanes.close()
  }

  private readonly names = new Map<string, string>()

  private displayName(key: string): string {
    return this.names.get(key) ?? key
  }

  /** The local checkout of a candidate (for `tako run`, which works in place). */
  pathOf(candidate: Candidate): string {
    const dir = this.paths.get(candidate.repository.toLowerCase())
    if (!dir) throw new SourceError(`${candidate.repository} is not a known local repository`, 'not_found')
    return dir
  }

  /** DIR/<owner>/<repo>/ folders that are git checkouts; any other folder there is a problem said once per fan-out. */
  private async scan(): Promise<void> {
    for (const [name] of this.paths) this.names.set(name, this.originalName(name))
    const root = this.opts.reposDir
    if (!root) return
    for (const owner of await readdir(root, { withFileTypes: true })) {
      if (!owner.isDirectory() || owner.name.startsWith('.')) continue
      const ownerDir = path.join(root, owner.name)
      if (await isGitCheckout(ownerDir)) {
        // The usual slip: --repos given the owner's folder, one level too deep.
        this.scanProblems.push({
          repository: owner.name,
          ref: '',
          reason: `${relative(ownerDir)} is a git repository where an owner folder was expected: --repos wants DIR/<owner>/<repo> (did you mean --repos ${relative(path.dirname(path.resolve(root)))}?)`
        })
        continue
      }
      for (const repo of await readdir(ownerDir, { withFileTypes: true })) {
        if (!repo.isDirectory()) continue
        const full = `${owner.name}/${repo.name}`
        const dir = path.join(ownerDir, repo.name)
        if (typeof parseRepoRef(full) === 'string') {
          this.scanProblems.push({ repository: full, ref: '', reason: `${relative(dir)} is ignored: "${full}" is not a repository name` })
          continue
        }
        if (!(await isGitCheckout(dir))) {
          this.scanProblems.push({ repository: full, ref: '', reason: `${relative(dir)} is not a git repository (no .git): ignored` })
          continue
        }
        const key = full.toLowerCase()
        if (!this.paths.has(key)) {
          this.paths.set(key, dir)
          this.names.set(key, full)
        }
      }
    }
  }

  private originalName(key: string): string {
    for (const name of Object.keys(this.opts.repos ?? {})) if (name.toLowerCase() === key) return name
    return key
  }
}

/** The same steps as a clone lane, one git process each: for paths a lane cannot take. */
async function cloneDirectly(req: CloneRequest, signal: AbortSignal): Promise<CloneResult> {
  const clone = await git(['clone', '--quiet', '--', req.src, req.dst], { signal })
  if (clone.code !== 0) return { failed: 'clone', output: clone.stderr }
  if (req.upstream) {
    const remote = await git(['remote', 'set-url', 'origin', req.upstream], { cwd: req.dst, signal })
    if (remote.code !== 0) return { failed: 'remote', output: remote.stderr }
  }
  if (req.ref) {
    const co = await git(['checkout', '--quiet', req.ref, '--'], { cwd: req.dst, signal })
    if (co.code !== 0) return { failed: 'checkout', output: co.stderr }
  }
  return { failed: null, output: '' }
}

/** The origin URL from a checkout's .git/config, read as a file: no git process for the common case of none. */
async function originUrl(repoDir: string): Promise<string | undefined> {
  const text = await readRegularFile(path.join(repoDir, '.git', 'config'), { maxBytes: MAX_CONFIG_BYTES }).then(
    (buf) => buf.toString('utf8'),
    () => ''
  )
  const section = /\[remote "origin"\]([^[]*)/.exec(text)?.[1] ?? ''
  return /^\s*url\s*=\s*(.+?)\s*$/m.exec(section)?.[1]
}

/**
 * What a bare "no tako.yml" would hide: a ref that does not exist, a tako.yml that is there but not committed; and,
 * for a file that was read, uncommitted edits the child will not see.
 */
async function explain(candidate: Candidate, dir: string, file: TakoFileRead | null): Promise<TakoFileRead | null | Error> {
  if (file) {
    if (candidate.ref) return file
    const onDisk = await readRegularFile(path.join(dir, file.file), { maxBytes: MAX_CONFIG_BYTES }).then(
      (buf) => buf.toString('utf8'),
      () => undefined
    )
    return onDisk !== undefined && onDisk !== file.text ? { ...file, note: `${file.file} has uncommitted changes (children run the committed state)` } : file
  }
  if (candidate.ref) {
    const res = await git(['rev-parse', '--verify', '--quiet', `${candidate.ref}^{commit}`], { cwd: dir })
    if (res.code !== 0) return new SourceError(`ref "${candidate.ref}" does not exist in ${candidate.repository} (${relative(dir)})`, 'not_found')
    return null
  }
  for (const name of ['tako.yml', 'tako.yaml']) {
    if (
      await stat(path.join(dir, name)).then(
        (s) => s.isFile(),
        () => false
      )
    ) {
      return new SourceError(`${name} is not committed (children run the committed state): commit it in ${relative(dir)}`, 'not_found')
    }
  }
  return null
}

/** Paths in messages relative to the current folder, as a user typed them. */
function relative(p: string): string {
  return path.relative(process.cwd(), path.resolve(p)) || '.'
}

async function isGitCheckout(dir: string): Promise<boolean> {
  try {
    await stat(path.join(dir, '.git'))
    return true
  } catch {
    return false
  }
}
