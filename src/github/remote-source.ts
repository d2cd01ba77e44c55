// Subscriber candidates on a git server (SPEC 3, action): where the server has GraphQL (github.com, GHES), the tako
// files of up to 100 candidates per query and only the matched ones fetched; else one shallow blob-filtered fetch
// per candidate into a bare mirror. Child checkouts are made from that mirror. The token travels only through
// git.ts's per-command credential channel (git) or the API client's Authorization header.

import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import pLimit from 'p-limit'
import { git, gitAuth, readTakoFile, type GitAuth, type GitResult } from '../engine/git.js'
import { parseRepoRef, SourceError, type Candidate, type RepositorySource } from '../engine/repository-source.js'
import { messageOf } from '../engine/workflow-runner.js'
import { withRetry } from './retry.js'
import type { GraphqlAnswer, GraphqlQuery } from './graphql.js'
import { GRAPHQL_BATCH, readAnswer, takoFilesQuery, type ConfigFile, type Known } from './tako-files-query.js'

export interface RemoteSourceOptions {
  /** GITHUB_SERVER_URL, e.g. https://github.com or http://127.0.0.1:PORT in tests */
  serverUrl: string
  token: string
  /** The `repositories` input: lines or commas of owner/repo[@ref] or owner/* */
  repositories: string
  /** Where bare mirrors of fetched candidates live, e.g. $RUNNER_TEMP/tako-git */
  cacheRoot: string
  /** For owner/*; see list-repos.ts */
  listOwnerRepos?: (owner: string) => Promise<string[]>
  warn?: (message: string) => void
  /** GraphQL of the server, when it has one: tako files are then read without git (see readConfigs). */
  graphql?: GraphqlQuery
  /** Informational messages (not warnings: a server without GraphQL is not a problem of the user's). */
  info?: (message: string) => void
  retry?: { tries?: number; baseMs?: number; sleep?: (ms: number) => Promise<void> }
}

type Entry = { repository: string; ref: string } | { owner: string; wildcard: true }
type Problem = { repository: string; ref: string; reason: string }

const OWNER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** Parses the repositories input; returns candidates and a list of error messages for invalid entries (named, with what is wrong). */
export function parseRepositoriesInput(text: string): { entries: Entry[]; errors: string[] } {
  const entries: Entry[] = []
  const errors: string[] = []
  for (const item of splitEntries(text)) {
    const parsed = parseEntry(item)
    if (typeof parsed === 'string') errors.push(parsed)
    else entries.push(parsed)
  }
  return { entries, errors }
}

function splitEntries(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function parseEntry(text: string): Entry | string {
  if (text.includes('*')) {
    const owner = text.slice(0, -2)
    if (!text.endsWith('/*') || owner.includes('*')) return `"${text}": a wildcard must be a whole owner, as in owner/* (without @ref)`
    if (!OWNER.test(owner) || owner === '..' || owner === '.') return `"${text}": "${owner}" is not an owner name`
    return { owner, wildcard: true }
  }
  return parseRepoRef(text)
}

interface Fetched {
  mirror: string
  /** Where the mirror keeps the fetched ref. */
  ref: string
  commit: string
  /** Set when the candidate's ref named a branch or a tag; neither for a commit or the default branch. */
  branch?: string
  tag?: string
  /** Asked of the server on the first checkout of a candidate without a ref. */
  defaultBranch?: Promise<string | undefined>
}

const GRAPHQL_AT_ONCE = 2
/** Candidates read with git at once when GraphQL is not there or did not answer for them. */
const GIT_READS = 8

export class RemoteRepositorySource implements RepositorySource {
  private readonly origin: string
  private readonly auth: GitAuth
  private readonly fetches = new Map<string, Promise<Fetched>>()
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly known = new Map<string, Known>()
  private graphqlRefused = false
  private readonly gitReads = pLimit(GIT_READS)
  private readonly queries = pLimit(GRAPHQL_AT_ONCE)

  constructor(private readonly opts: RemoteSourceOptions) {
    try {
      this.origin = new URL(opts.serverUrl).origin
    } catch {
      throw new Error(`the server URL "${opts.serverUrl}" is not a URL`)
    }
    this.auth = gitAuth(this.origin, opts.token)
  }

  async list(declared: string[]): Promise<{ candidates: Candidate[]; problems: Problem[] }> {
    const problems: Problem[] = []
    const byKey = new Map<string, Candidate>()
    const add = (c: Candidate): void => {
      const key = c.repository.toLowerCase()
      const seen = byKey.get(key)
      // An explicit @ref wins over the default branch (a plain entry or an owner/* expansion).
      if (!seen || (!seen.ref && c.ref)) byKey.set(key, c)
      else if (c.ref && c.ref !== seen.ref) this.opts.warn?.(`${c.repository} is listed at @${seen.ref} and @${c.ref}; using @${seen.ref}`)
    }
    const sources: Array<[string[], string]> = [
      [splitEntries(this.opts.repositories), 'the repositories input'],
      [declared.map((s) => s.trim()).filter((s) => s !== ''), 'repos: in tako.yml']
    ]
    for (const [items, where] of sources) {
      for (const item of items) {
        const entry = parseEntry(item)
        if (typeof entry === 'string') problems.push({ repository: item, ref: '', reason: `${entry} (in ${where})` })
        else if ('wildcard' in entry) {
          const names = await this.expand(entry.owner).catch((error: unknown) => {
            problems.push({ repository: item, ref: '', reason: `cannot list the repositories of ${entry.owner}: ${messageOf(error)}` })
            return []
          })
          for (const name of names) add({ repository: name, ref: '' })
        } else add(entry)
      }
    }
    return { candidates: [...byKey.values()], problems }
  }

  async readConfig(candidate: Candidate, signal: AbortSignal): Promise<{ text: string; file: string } | null> {
    const f = await this.fetch(candidate, signal)
    // With blob:none the tako.yml blob is not there yet: cat-file fetches it from the promisor remote, which
    // needs the same auth header.
    return this.exclusive(f.mirror, () =>
      this.retrying(candidate, signal, async () => {
        try {
          return await readTakoFile(f.mirror, f.commit, { auth: this.auth, signal })
        } catch (error) {
          if (signal.aborted) throw error
          throw classify(messageOf(error), candidate)
        }
      })
    )
  }

  /**
   * Many candidates' tako files: through GraphQL, 100 per query, each answer handed on as its query returns;
   * a candidate GraphQL does not answer (not found, no access, no such ref, a binary or truncated file) and every
   * candidate once the server refused GraphQL is read with git, which also says why it cannot be read.
   */
  async readConfigs(
    candidates: Candidate[],
    signal: AbortSignal,
    each?: (index: number, file: ConfigFile | null | Error) => void
  ): Promise<Array<ConfigFile | null | Error>> {
    const results: Array<ConfigFile | null | Error> = new Array(candidates.length)
    const put = (i: number, file: ConfigFile | null | Error): void => {
      results[i] = file
      each?.(i, file)
    }
    const viaGit = (indexes: number[]): Promise<unknown> =>
      Promise.all(
        indexes.map((i) =>
          this.gitReads(() => this.readConfig(candidates[i], signal)).then(
            (file) => put(i, file),
            (error: unknown) => put(i, error instanceof Error ? error : new Error(messageOf(error)))
          )
        )
      )
    const batches: number[][] = []
    for (let i = 0; i < candidates.length; i += GRAPHQL_BATCH)
      batches.push(Array.from({ length: Math.min(GRAPHQL_BATCH, candidates.length - i) }, (_, k) => i + k))
    await Promise.all(
      batches.map((batch) =>
        this.queries(async () => {
          const answers = await this.readByGraphql(
            batch.map((i) => candidates[i]),
            signal
          )
          const unanswered: number[] = []
          batch.forEach((i, k) => {
            const answer = answers[k]
            if (answer === undefined) unanswered.push(i)
            else put(i, answer)
          })
          await viaGit(unanswered)
        })
      )
    )
    return results
  }

  /** One query for a batch; `undefined` for each candidate it did not settle (all of them when GraphQL is refused). */
  private async readByGraphql(batch: Candidate[], signal: AbortSignal): Promise<Array<ConfigFile | null | undefined>> {
    const none = batch.map(() => undefined)
    if (!this.opts.graphql || this.graphqlRefused || signal.aborted) return none
    const { query, variables } = takoFilesQuery(batch)
    let answer: GraphqlAnswer
    try {
      answer = await this.opts.graphql(query, variables)
    } catch (error) {
      if (!this.graphqlRefused) this.opts.info?.(`GraphQL was refused (${messageOf(error)}): reading each candidate's tako.yml with git instead`)
      this.graphqlRefused = true
      return none
    }
    return batch.map((candidate, k) => {
      const read = readAnswer(candidate, answer.data?.[`c${k}`])
      if (read) this.known.set(keyOf(candidate), read.known)
      return read?.file
    })
  }

  // The child gets the fetched commit with depth 1 (as actions/checkout's default fetch-depth), blobs fetched
  // as checkout needs them: enough to commit, tag and push; a child that needs history runs
  // `git fetch --unshallow`. Cloning full histories of every subscriber would cost more than most children use.
  async checkout(candidate: Candidate, dir: string, signal: AbortSignal): Promise<void> {
    const f = await this.fetch(candidate, signal)
    const branch = f.branch ?? (f.tag || candidate.ref ? undefined : await this.defaultBranch(candidate, f, signal))
    const local = (args: string[]): Promise<GitResult> => this.local(candidate, args, dir, signal)
    await local(['init', '--quiet', `--initial-branch=${branch ?? 'main'}`, dir])
    // Fetching from the mirror as `origin` makes it the promisor remote; pointing `origin` at the server
    // afterwards sends the lazy blob fetches (and a child's pushes) there.
    await local(['remote', 'add', 'origin', f.mirror])
    const dest = branch ? `refs/remotes/origin/${branch}` : f.tag ? `refs/tags/${f.tag}` : ''
    await this.exclusive(f.mirror, () =>
      local(['fetch', '--quiet', '--no-tags', '--depth=1', '--filter=blob:none', 'origin', dest ? `+${f.ref}:${dest}` : f.ref])
    )
    await local(['remote', 'set-url', 'origin', this.urlOf(candidate.repository)])
    if (branch && !f.branch) await local(['symbolic-ref', 'refs/remotes/origin/HEAD', dest])
    const args = branch ? ['checkout', '--quiet', '-B', branch, '--track', `origin/${branch}`] : ['checkout', '--quiet', '--detach', f.commit]
    await this.network(candidate, signal, () => git(args, { cwd: dir, auth: this.auth, signal }))
  }

  private async expand(owner: string): Promise<string[]> {
    if (!this.opts.listOwnerRepos) throw new Error('listing an owner needs the GitHub API, which is not available here')
    return this.opts.listOwnerRepos(owner)
  }

  private fetch(candidate: Candidate, signal: AbortSignal): Promise<Fetched> {
    const key = keyOf(candidate)
    let pending = this.fetches.get(key)
    if (!pending) {
      pending = this.fetchOnce(candidate, signal)
      this.fetches.set(key, pending)
      pending.catch(() => this.fetches.delete(key))
    }
    return pending
  }

  private async fetchOnce(candidate: Candidate, signal: AbortSignal): Promise<Fetched> {
    const checked = parseRepoRef(candidate.ref ? `${candidate.repository}@${candidate.ref}` : candidate.repository)
    if (typeof checked === 'string') throw new SourceError(checked)
    const mirror = this.mirrorOf(candidate.repository)
    // Hex keeps every ref a single valid ref name component (`a` and `a/b` would collide as paths).
    const ref = `refs/tako/${candidate.ref ? Buffer.from(candidate.ref).toString('hex') : 'head'}`
    return this.exclusive(mirror, async () => {
      await mkdir(mirror, { recursive: true })
      await this.local(candidate, ['init', '--quiet', '--bare', mirror], mirror, signal)
      await this.local(candidate, ['config', 'remote.origin.url', this.urlOf(candidate.repository)], mirror, signal)
      // Child checkouts fetch from this mirror with a filter too.
      await this.local(candidate, ['config', 'uploadpack.allowFilter', 'true'], mirror, signal)
      // A candidate read through GraphQL is fetched at the very commit its tako file was read at.
      const known = this.known.get(keyOf(candidate))
      const src = known?.commit ?? (candidate.ref || 'HEAD')
      await this.network(candidate, signal, () =>
        git(['fetch', '--quiet', '--no-tags', '--depth=1', '--filter=blob:none', 'origin', `+${src}:${ref}`], { cwd: mirror, auth: this.auth, signal })
      )
      if (known) {
        const { commit, branch, tag, defaultBranch } = known
        return { mirror, ref, commit, branch, tag, defaultBranch: defaultBranch === undefined ? undefined : Promise.resolve(defaultBranch) }
      }
      const head = (await readFile(path.join(mirror, 'FETCH_HEAD'), 'utf8')).split('\n')[0] ?? ''
      const kind = /\t(branch|tag) '(.+)' of /.exec(head)
      const commit = (await this.local(candidate, ['rev-parse', '--verify', `${ref}^{commit}`], mirror, signal)).stdout.toString().trim()
      const fetched: Fetched = { mirror, ref, commit }
      if (kind?.[1] === 'branch') fetched.branch = kind[2]
      else if (kind?.[1] === 'tag') fetched.tag = kind[2]
      return fetched
    })
  }

  /** The name of the default branch, so a child of the default ref is on a branch it can push. */
  private defaultBranch(candidate: Candidate, f: Fetched, signal: AbortSignal): Promise<string | undefined> {
    if (!f.defaultBranch) {
      const pending = this.network(candidate, signal, () => git(['ls-remote', '--symref', 'origin', 'HEAD'], { cwd: f.mirror, auth: this.auth, signal })).then(
        (res) => /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(res.stdout.toString())?.[1]
      )
      f.defaultBranch = pending
      pending.catch(() => {
        if (f.defaultBranch === pending) f.defaultBranch = undefined
      })
    }
    return f.defaultBranch
  }

  private mirrorOf(repository: string): string {
    const [owner, name] = repository.toLowerCase().split('/')
    const root = path.resolve(this.opts.cacheRoot)
    const mirror = path.resolve(root, owner, `${name}.git`)
    if (path.relative(root, mirror).startsWith('..')) throw new SourceError(`"${repository}" is not a repository name`)
    return mirror
  }

  private urlOf(repository: string): string {
    return `${this.origin}/${repository}`
  }

  /** Runs a git command that touches the network: classified on failure, transient failures retried. */
  private network(candidate: Candidate, signal: AbortSignal, run: () => Promise<GitResult>): Promise<GitResult> {
    return this.retrying(candidate, signal, async () => {
      const res = await run()
      if (res.code !== 0) throw classify(res.stderr, candidate)
      return res
    })
  }

  private async retrying<T>(candidate: Candidate, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const tries = this.opts.retry?.tries ?? 3
    try {
      return await withRetry(fn, {
        tries,
        baseMs: this.opts.retry?.baseMs,
        isTransient: (e) => e instanceof SourceError && e.kind === 'transient' && !signal.aborted,
        onRetry: (e, attempt, ms) => this.opts.warn?.(`${messageOf(e)}; retrying in ${(ms / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${tries})`),
        sleep: this.opts.retry?.sleep ?? ((ms) => delay(ms, undefined, { signal }))
      })
    } catch (error) {
      if (error instanceof SourceError && error.kind === 'transient' && !signal.aborted) {
        throw new SourceError(`${error.message} (gave up after ${tries} attempts)`, 'transient')
      }
      throw error
    }
  }

  private async local(candidate: Candidate, args: string[], cwd: string, signal: AbortSignal): Promise<GitResult> {
    const res = await git(args, { cwd, signal })
    if (res.code !== 0) throw new SourceError(`git ${args[0]} for ${candidate.repository} failed: ${detailOf(res.stderr)}`)
    return res
  }

  /** Serializes the git commands that use one mirror: concurrent fetches would fight over its shallow file. */
  private exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(key) ?? Promise.resolve()).then(fn)
    this.locks.set(
      key,
      run.catch(() => undefined)
    )
    return run
  }
}

function keyOf(candidate: Candidate): string {
  return `${candidate.repository.toLowerCase()}@${candidate.ref}`
}

const TRANSIENT =
  /connection (?:reset|refused|timed out)|failed to connect|could not resolve host|timed out|operation too slow|early eof|rpc failed|remote end hung up|unexpected disconnect|ssl_read|gnutls recv error|http\/2 stream/i

/** Turns git's stderr into a SourceError whose message tells the user what to do. */
function classify(stderr: string, candidate: Candidate): SourceError {
  const repo = candidate.repository
  const http = /returned error: (\d{3})/.exec(stderr)
  const status = http ? Number(http[1]) : /could not read (?:username|password)|authentication failed/i.test(stderr) ? 401 : 0
  const tokenHint = `GITHUB_TOKEN can only read its own repository; give a PAT or a GitHub App token with contents:read on ${repo} through the token input`
  if (status === 401 || status === 403) {
    const said = remoteSaid(stderr)
    return new SourceError(`cannot read ${repo}: the token was refused (HTTP ${status}${said ? `: ${said}` : ''}). ${tokenHint}`, 'auth')
  }
  if (status === 404 || /repository '[^']*' not found/i.test(stderr)) {
    return new SourceError(`${repo} does not exist or the token cannot see it (${tokenHint})`, 'not_found')
  }
  if (/couldn't find remote ref|not our ref/i.test(stderr)) {
    const what = candidate.ref ? `has no branch, tag or commit "${candidate.ref}"` : 'is empty (it has no default branch)'
    return new SourceError(`${repo} ${what}`, 'not_found')
  }
  const transient = status === 429 || status >= 500 || TRANSIENT.test(stderr)
  return new SourceError(`cannot read ${repo}: ${detailOf(stderr)}`, transient ? 'transient' : 'other')
}

function remoteSaid(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('remote: '))
    .map((l) => l.slice(8).trim())
    .filter(Boolean)
    .join(' ')
}

/** git's own error lines, without progress noise and warnings. */
function detailOf(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const errors = lines.filter((l) => /^(?:fatal|error|remote):/.test(l))
  return (errors.length > 0 ? errors : lines.slice(-1)).join('; ') || 'git failed without a message'
}
