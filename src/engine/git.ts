// Runs git as a child process (async, bounded output) for checkouts and config reads, and owns how git is given a
// credential: the one place fetch, clone and push authenticate.

import { startInGroup } from './launcher.js'
import { inheritedEnv, killGroup, trackGroup, untrackGroup } from './process-groups.js'

export interface GitResult {
  code: number
  stdout: Buffer
  stderr: string
}

export interface GitOptions {
  cwd?: string
  env?: Record<string, string>
  signal?: AbortSignal
  /** Extra settings for this command only, given through GIT_CONFIG_* variables so they never show in a process list.
      Never a secret: a process's environment is readable by every process of its user (/proc/<pid>/environ). */
  config?: Record<string, string>
  /** Authenticates this command to one server (see gitAuth). */
  auth?: GitAuth
}

/** A token for the HTTP(S) server at `origin`, sent as the password of the basic-auth user `x-access-token`. */
export interface GitAuth {
  origin: string
  token: string
}

/** The credential for `serverUrl`; with an empty token git only resets configured helpers and goes anonymous. */
export function gitAuth(serverUrl: string, token: string): GitAuth {
  return { origin: new URL(serverUrl).origin, token }
}

/**
 * The credential reaches git through neither its environment nor its arguments (both readable by any process of the
 * job's user, steps included): git's credential helper reads it from file descriptor 3, a socket the engine writes
 * and closes at start, inherited by git, git-remote-http and the helper's shell. /proc/<pid>/fd/3 of a socket cannot
 * be opened by another process. Each `get` consumes one line (sh's `read` takes no more than a line from a socket),
 * so the socket holds enough copies for every HTTP transport one command starts (a partial clone's lazy fetches,
 * a batch of cat-files); the helper answers only for the origin the token belongs to.
 */
function authConfig(auth: GitAuth | undefined): { config: Record<string, string>; fd3?: string } {
  // An empty helper resets any configured one, so nothing is read from or stored in a keychain.
  if (!auth) return { config: {} }
  if (!auth.token) return { config: { 'credential.helper': '' } }
  const url = new URL(auth.origin)
  if (!/^https?:$/.test(url.protocol) || !/^[A-Za-z0-9.:[\]-]+$/.test(url.host))
    throw new Error(`cannot authenticate git to ${auth.origin}: not an http(s) origin`)
  if (/[\r\n]/.test(auth.token)) throw new Error('the token holds a line break')
  const protocol = url.protocol.slice(0, -1)
  const helper =
    `!f() { test "$1" = get || exit 0; p=; h=; while IFS= read -r l && [ -n "$l" ]; do case "$l" in protocol=*) p=\${l#protocol=};; host=*) h=\${l#host=};; esac; done; ` +
    `[ "$p" = ${protocol} ] && [ "$h" = '${url.host}' ] || exit 0; IFS= read -r t <&3 || exit 0; printf 'username=x-access-token\\npassword=%s\\n' "$t"; }; f`
  const line = `${auth.token}\n`
  return {
    config: { 'credential.helper': '', 'credential.helper ': helper },
    fd3: line.repeat(Math.max(1, Math.floor(CREDENTIAL_BYTES / line.length)))
  }
}

/** Below a socket's buffer, so writing them never waits for a reader. */
const CREDENTIAL_BYTES = 16 * 1024

const MAX_STDERR = 64 * 1024

export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  return collect('git', args, opts)
}

/** The settings as GIT_CONFIG_* variables, for git and for the shells that run it; keys may repeat (a trailing space
    in a key only keeps it distinct in the map). */
function configEnv(...configs: Array<Record<string, string> | undefined>): Record<string, string> {
  const settings = configs.flatMap((c) => Object.entries(c ?? {})).map(([k, v]) => [k.trimEnd(), v] as const)
  const env: Record<string, string> = settings.length ? { GIT_CONFIG_COUNT: String(settings.length) } : {}
  settings.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key
    env[`GIT_CONFIG_VALUE_${i}`] = value
  })
  return env
}

/** Runs a command with git's quiet environment in its own process group, collecting stdout whole and stderr bounded. */
async function collect(command: string, args: string[], opts: GitOptions): Promise<GitResult> {
  opts.signal?.throwIfAborted()
  const out: Buffer[] = []
  let err = ''
  const auth = authConfig(opts.auth)
  const child = await startInGroup({
    command,
    args,
    cwd: opts.cwd ?? process.cwd(),
    env: { ...inheritedEnv(), GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', ...opts.env, ...configEnv(auth.config, opts.config) },
    fd3: auth.fd3,
    stdout: (d) => out.push(d),
    stderr: (d) => {
      if (err.length < MAX_STDERR) err += d.toString('utf8')
    }
  })
  trackGroup(child.pid)
  const onAbort = (): void => killGroup(child.pid, 'SIGTERM')
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  // An abort that came while git was being started found no listener.
  if (opts.signal?.aborted) onAbort()
  try {
    const { code } = await child.exited
    await child.closed
    return { code: code ?? 1, stdout: Buffer.concat(out), stderr: err }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    untrackGroup(child.pid)
  }
}

/** One shell runs `git cat-file` in each repository in turn: one process for the engine to start, not one per
    repository (each start blocks the engine's thread for a fork of the whole Node process). The two names go in
    as a here-document, which sh writes into git's stdin itself: a `printf | git` pipeline forked a second process
    per repository. */
const BATCH_SCRIPT = `while [ $# -gt 0 ]; do
  git -C "$1" cat-file --batch <<EOF
$2:tako.yml
$2:tako.yaml
EOF
  printf 'end %s\\n' "$?"
  shift 2
done`

/** readTakoFile for many repositories at once, in order; an Error for a repository git could not read. */
export async function readTakoFiles(
  items: Array<{ dir: string; rev: string }>,
  opts: GitOptions = {}
): Promise<Array<{ text: string; file: string } | null | Error>> {
  if (items.length === 0) return []
  const res = await collect('sh', ['-c', BATCH_SCRIPT, 'sh', ...items.flatMap((i) => [i.dir, i.rev])], opts)
  let buf = res.stdout
  const line = (): string => {
    const nl = buf.indexOf(10)
    const text = buf.subarray(0, nl < 0 ? buf.length : nl).toString('utf8')
    buf = buf.subarray(nl < 0 ? buf.length : nl + 1)
    return text
  }
  const found = items.map(({ dir }): { text: string; file: string } | null | Error => {
    let found: { text: string; file: string } | null = null
    for (let answer = 0; ; answer++) {
      if (buf.length === 0) return new Error(`git cat-file gave no answer for ${dir}: ${res.stderr.trim()}`)
      const header = line()
      const end = /^end (\d+)$/.exec(header)
      if (end) return end[1] === '0' ? found : new Error(`git cat-file failed in ${dir} (exit ${end[1]})`)
      const blob = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header)
      if (!blob) continue
      const body = buf.subarray(0, Number(blob[2]))
      buf = buf.subarray(Number(blob[2]) + 1)
      if (blob[1] === 'blob' && !found) found = { text: body.toString('utf8'), file: answer === 0 ? 'tako.yml' : 'tako.yaml' }
    }
  })
  await explainMissing(items, found, opts)
  return found
}

/** For repositories where cat-file found neither file: is that so, or is the repository corrupt (a missing
    blob, commit or pack: cat-file says "missing" for those too), or is the revision unknown? One line each:
    `none`, `corrupt <git's words>`, `norev <git's words>`, or `again <file> at <rev>` for a blob readable on a
    second look (a partial clone whose first lazy fetch of it failed). */
const EXPLAIN_SCRIPT = `while [ $# -gt 0 ]; do
  if listing=$(git -C "$1" ls-tree "$2" -- tako.yml tako.yaml 2>/dev/null); then
    entry=$(printf '%s\\n' "$listing" | grep -m1 ' blob ')
    sha=$(printf '%s' "$entry" | cut -f1 | cut -d' ' -f3)
    if [ -z "$sha" ]; then echo none
    elif git -C "$1" cat-file -e "$sha" 2>/dev/null; then printf 'again %s at %s\\n' "$(printf '%s' "$entry" | cut -f2)" "$2"
    else printf 'corrupt %s at %s is blob %s, which cannot be read: %s\\n' "$(printf '%s' "$entry" | cut -f2)" "$2" "$sha" "$(git -C "$1" cat-file blob "$sha" 2>&1 >/dev/null | head -n1)"
    fi
  elif git -C "$1" rev-parse --verify -q "$2" >/dev/null; then
    printf 'corrupt %s\\n' "$(git -C "$1" log -1 --format=%H "$2" 2>&1 >/dev/null | head -n1)"
  else
    printf 'norev %s\\n' "$(git -C "$1" rev-parse --verify "$2" 2>&1 >/dev/null | head -n1)"
  fi
  shift 2
done`

/** Turns the "no tako file" answers that hide a corrupt repository or an unknown revision into Errors. */
async function explainMissing(
  items: Array<{ dir: string; rev: string }>,
  found: Array<{ text: string; file: string } | null | Error>,
  opts: GitOptions
): Promise<void> {
  const missing = found.map((f, i) => (f === null ? i : -1)).filter((i) => i >= 0)
  if (missing.length === 0) return
  const res = await collect('sh', ['-c', EXPLAIN_SCRIPT, 'sh', ...missing.flatMap((i) => [items[i].dir, items[i].rev])], opts)
  const lines = res.stdout.toString('utf8').split('\n')
  missing.forEach((i, k) => {
    const [verdict, ...words] = (lines[k] ?? '').split(' ')
    const said = words.join(' ').trim()
    if (verdict === 'corrupt') found[i] = new Error(`the repository at ${items[i].dir} is corrupt (git: ${said})`)
    else if (verdict === 'again')
      found[i] = new Error(`${said} could not be read at first and could a moment later (a failed fetch of a partial clone?); read it again`)
    // An empty repository has no HEAD yet: that is a repository without tako.yml, not an error.
    else if (verdict === 'norev' && items[i].rev !== 'HEAD') found[i] = new Error(`has no branch, tag or commit "${items[i].rev}" (git: ${said})`)
  })
}

/** Reads `<rev>:tako.yml`, else `<rev>:tako.yaml`, from a repository. */
export async function readTakoFile(repoDir: string, rev: string, opts: GitOptions = {}): Promise<{ text: string; file: string } | null> {
  const [file] = await readTakoFiles([{ dir: repoDir, rev }], opts)
  if (file instanceof Error) throw file
  return file
}
