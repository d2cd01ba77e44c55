// The git side of tako/pull-request@v1: the commit holding the workspace's selected changes, and the push of the
// branch tako owns. The checkout itself is never touched (no branch switch, no index change): the commit is built in
// a scratch index, and fetch/push run from a scratch bare repository that borrows the checkout's objects, so the
// credentials never meet the checkout's own config, hooks or remotes, which the run's steps could have rewritten.

import { randomUUID } from 'node:crypto'
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { git, type GitAuth, type GitOptions } from '../git.js'
import type { Identity } from './pull-request-api.js'

export class GitStepError extends Error {}

/** Settings for every command that talks to a remote: no transport that runs a command, no hooks. */
const SAFE_REMOTE_CONFIG: Record<string, string> = {
  'protocol.ext.allow': 'never',
  'protocol.fd.allow': 'never',
  'core.hooksPath': '/dev/null'
}

async function run(args: string[], opts: GitOptions & { cwd: string }): Promise<string> {
  const res = await git(args, opts)
  if (res.code !== 0) throw new GitStepError(`git ${args[0]} failed: ${res.stderr.trim() || `exit ${res.code}`}`)
  return res.stdout.toString('utf8').trim()
}

async function tryRun(args: string[], opts: GitOptions & { cwd: string }): Promise<string | undefined> {
  const res = await git(args, opts)
  return res.code === 0 ? res.stdout.toString('utf8').trim() : undefined
}

/** Git in the checkout reads config a step may have written (core.fsmonitor, clean filters run commands): it runs
    with no more of the engine's environment than a step gets (`hidden`: names to blank), and without fsmonitor. */
export function inWorkspace(workspace: string, signal: AbortSignal, hidden: string[] = []): GitOptions & { cwd: string } {
  return {
    cwd: workspace,
    signal,
    env: Object.fromEntries(hidden.map((name) => [name, ''])),
    config: { 'core.fsmonitor': 'false', 'core.hooksPath': '/dev/null' }
  }
}

export async function currentBranch(ws: GitOptions & { cwd: string }): Promise<string | undefined> {
  return (await tryRun(['symbolic-ref', '--quiet', '--short', 'HEAD'], ws)) || undefined
}

export async function originUrl(ws: GitOptions & { cwd: string }): Promise<string | undefined> {
  return (await tryRun(['remote', 'get-url', 'origin'], ws)) || undefined
}

export async function validBranchName(name: string, ws: GitOptions & { cwd: string }): Promise<boolean> {
  return (await tryRun(['check-ref-format', '--branch', name], ws)) !== undefined
}

export interface CommitRequest {
  /** The checkout (see inWorkspace). */
  ws: GitOptions & { cwd: string }
  scratch: string
  base: string
  /** Pathspecs to commit; empty: every change. */
  paths: string[]
  message: string
  identity?: Identity
  author?: Identity
}

/** The commit to propose: HEAD plus the selected changes. Undefined when the selected paths equal `base` (as the
    workspace knows it: origin/<base>, else HEAD). A commit the steps made themselves is proposed as it is. */
export async function commitChanges(req: CommitRequest): Promise<string | undefined> {
  const opts = req.ws
  const head = await run(['rev-parse', '--verify', 'HEAD^{commit}'], opts)
  const baseCommit = (await tryRun(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${req.base}^{commit}`], opts)) ?? head
  await mkdir(req.scratch, { recursive: true })
  const index = path.join(req.scratch, `index-${randomUUID()}`)
  let tree: string
  try {
    const env = { ...opts.env, GIT_INDEX_FILE: index }
    await run(['read-tree', head], { ...opts, env })
    await run(['add', '--all', '--', ...(req.paths.length ? req.paths : ['.'])], { ...opts, env })
    tree = await run(['write-tree'], { ...opts, env })
  } finally {
    await rm(index, { force: true })
  }
  if (tree === (await run(['rev-parse', `${baseCommit}^{tree}`], opts))) return undefined
  if (tree === (await run(['rev-parse', `${head}^{tree}`], opts))) return head
  const who = (role: 'AUTHOR' | 'COMMITTER', id: Identity | undefined): Record<string, string> =>
    id ? { [`GIT_${role}_NAME`]: id.name, [`GIT_${role}_EMAIL`]: id.email } : {}
  const env = { ...opts.env, ...who('AUTHOR', req.author ?? req.identity), ...who('COMMITTER', req.identity) }
  return run(['commit-tree', tree, '-p', head, '-m', req.message], { ...opts, env })
}

export interface PushRequest {
  /** The checkout (see inWorkspace). */
  ws: GitOptions & { cwd: string }
  scratch: string
  url: string
  branch: string
  head: string
  auth?: GitAuth
  signal: AbortSignal
}

export class PushRejected extends Error {}

/** Makes `branch` on `url` hold `head`: pushed with a lease on what the branch held, only when its tree or parents
    differ (a re-run of the same change pushes nothing). Returns whether it pushed. */
export async function pushBranch(req: PushRequest): Promise<boolean> {
  const { ws } = req
  const repo = path.join(req.scratch, `push-${randomUUID()}.git`)
  await mkdir(req.scratch, { recursive: true })
  try {
    await run(['init', '--quiet', '--bare', repo], { cwd: req.scratch, signal: req.signal })
    await writeFile(path.join(repo, 'objects', 'info', 'alternates'), `${path.resolve(ws.cwd, await run(['rev-parse', '--git-path', 'objects'], ws))}\n`)
    const shallow = path.resolve(ws.cwd, await run(['rev-parse', '--git-path', 'shallow'], ws))
    const isShallow = (await run(['rev-parse', '--is-shallow-repository'], ws)) === 'true'
    if (isShallow) await copyFile(shallow, path.join(repo, 'shallow'))
    const remote = { cwd: repo, signal: req.signal, config: SAFE_REMOTE_CONFIG, auth: req.auth }
    const ref = `refs/heads/${req.branch}`
    const listed = await git(['ls-remote', '--heads', req.url, ref], remote)
    if (listed.code !== 0) throw new PushRejected(`cannot read ${ref} of ${displayUrl(req.url)}: ${listed.stderr.trim()}`)
    const previous = /^([0-9a-f]{40,64})\s/m.exec(listed.stdout.toString('utf8'))?.[1]
    if (previous && (await sameChange(repo, remote, req, previous, isShallow))) return false
    const pushed = await git(['push', '--porcelain', '--no-verify', `--force-with-lease=${ref}:${previous ?? ''}`, req.url, `${req.head}:${ref}`], remote)
    if (pushed.code !== 0) {
      const words = [pushed.stderr.trim(), pushed.stdout.toString('utf8').trim()].filter((s) => s).join('\n')
      throw new PushRejected(`push of ${req.branch} to ${displayUrl(req.url)} was rejected: ${words}`)
    }
    return true
  } finally {
    await rm(repo, { recursive: true, force: true })
  }
}

/** The branch already holds this change: the same commit, or one with the same tree on the same parents. */
async function sameChange(repo: string, remote: GitOptions & { cwd: string }, req: PushRequest, previous: string, shallow: boolean): Promise<boolean> {
  if (previous === req.head) return true
  const fetched = await git(['fetch', '--quiet', '--no-tags', ...(shallow ? ['--depth=1'] : []), req.url, `refs/heads/${req.branch}`], remote)
  if (fetched.code !== 0) return false
  const line = async (rev: string): Promise<string | undefined> => tryRun(['cat-file', 'commit', rev], { cwd: repo, signal: req.signal })
  const [theirs, ours] = await Promise.all([line(previous), line(req.head)])
  const shape = (commit: string | undefined): string | undefined =>
    commit
      ?.split('\n')
      .filter((l) => l.startsWith('tree ') || l.startsWith('parent '))
      .join('\n')
  return theirs !== undefined && shape(theirs) === shape(ours)
}

/** A URL as it may be shown: without any user or password in it. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString()
  } catch {
    return url
  }
}
