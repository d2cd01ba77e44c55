// Loopback smart-HTTP git server for tests: `git http-backend` behind node:http, with token auth and injected failures.
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export interface GitRequest {
  method: string
  /** URL path without the query, e.g. /owner/repo/info/refs */
  path: string
  /** The request passed the auth check (always true when the server has no token). */
  authorized: boolean
  status: number
}

export interface GitServer {
  /** e.g. http://127.0.0.1:PORT; repositories are at <url>/<owner>/<repo> (with or without .git) */
  url: string
  requests: GitRequest[]
  close(): Promise<void>
}

export interface GitServerOptions {
  /** Holds bare repositories as <root>/<owner>/<repo>.git */
  root: string
  /** When set, every request needs HTTP basic auth whose password is this token (any user name). */
  token?: string
  /** The first N requests answer 503, to exercise retries. */
  failFirst?: number
  /** owner/repo -> status answered (after auth) instead of serving it. */
  deny?: Record<string, 403 | 404>
  /** Each authorized request is served after this long: keeps the client's git processes alive to be inspected. */
  delayMs?: number
}

// The repository part of a smart or dumb HTTP path, before the service suffix.
const REPO_PATH = /^\/(.+?)(?:\.git)?\/(?:info\/refs|git-upload-pack|git-receive-pack|HEAD|objects\/.*)$/

/** Serves every bare repository under `root` over smart HTTP; a `git http-backend` is spawned per request. */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const backend = path.join((await execFileAsync('git', ['--exec-path'])).stdout.trim(), 'git-http-backend')
  const requests: GitRequest[] = []
  let failuresLeft = opts.failFirst ?? 0

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const authorized = opts.token === undefined || basicPassword(req.headers.authorization) === opts.token
    res.on('close', () => requests.push({ method: req.method ?? 'GET', path: url.pathname, authorized, status: res.statusCode }))

    if (failuresLeft > 0) {
      failuresLeft--
      return plain(req, res, 503, 'injected failure\n')
    }
    if (!authorized) {
      res.setHeader('WWW-Authenticate', 'Basic realm="tako test git server"')
      return plain(req, res, 401, 'authentication required\n')
    }
    const repo = REPO_PATH.exec(url.pathname)?.[1]
    const denied = repo === undefined ? undefined : opts.deny?.[repo]
    if (denied !== undefined) {
      return plain(req, res, denied, denied === 404 ? 'repository not found\n' : 'permission denied\n')
    }
    if (opts.delayMs) setTimeout(() => runBackend(backend, opts.root, req, url, res), opts.delayMs)
    else runBackend(backend, opts.root, req, url, res)
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
  }
}

function basicPassword(header: string | undefined): string | undefined {
  const match = /^basic\s+(\S+)$/i.exec(header ?? '')
  if (!match) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : decoded.slice(colon + 1)
}

function plain(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  req.resume()
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(body)
}

function runBackend(backend: string, root: string, req: IncomingMessage, url: URL, res: ServerResponse): void {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY']) delete env[name]
  // CGI meta-variables; every request header also becomes HTTP_<NAME> (Git-Protocol selects protocol v2,
  // Content-Encoding: gzip makes http-backend inflate the body itself).
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = String(value)
  }
  Object.assign(env, {
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: url.pathname,
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: 'x-access-token',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    SERVER_PROTOCOL: 'HTTP/1.1'
  })
  // Without CONTENT_LENGTH (chunked uploads) http-backend reads the body until EOF.
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length']
  else delete env.CONTENT_LENGTH

  const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  // http-backend may exit without reading the whole body (an error answer), and a client may hang up.
  child.stdin.on('error', () => undefined)
  res.on('close', () => {
    if (!res.writableFinished) child.kill()
  })
  req.pipe(child.stdin)

  let head = Buffer.alloc(0)
  let headersSent = false
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk)
      return
    }
    head = Buffer.concat([head, chunk])
    const end = headerEnd(head)
    if (!end) return
    headersSent = true
    let status = 200
    for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':')
      if (colon < 0) continue
      const name = line.slice(0, colon).trim()
      const value = line.slice(colon + 1).trim()
      if (name.toLowerCase() === 'status') status = parseInt(value, 10)
      else res.setHeader(name, value)
    }
    res.writeHead(status)
    res.write(head.subarray(end.at + end.length))
  })
  child.on('error', (err) => {
    if (!headersSent) res.writeHead(500).end(`cannot run git http-backend: ${err.message}\n`)
  })
  child.on('close', (code) => {
    if (!headersSent) res.writeHead(500).end(`git http-backend exited ${code}: ${stderr}`)
    else res.end()
  })
}

function headerEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n')
  const lf = buf.indexOf('\n\n')
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 }
  if (lf >= 0) return { at: lf, length: 2 }
  return undefined
}

const FIXED_IDENTITY = {
  GIT_AUTHOR_NAME: 'tako fixture',
  GIT_AUTHOR_EMAIL: 'fixture@tako.test',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'tako fixture',
  GIT_COMMITTER_EMAIL: 'fixture@tako.test',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z'
}

/**
 * Makes the bare repository root/<owner>/<repo>.git holding `files` (path -> content) in one commit on `main`,
 * configured to accept pushes and filtered/shallow fetches. Returns its path. Async, so it can run while a
 * server in this process is serving.
 */
export async function createBareRepo(root: string, fullName: string, files: Record<string, string>): Promise<string> {
  const bare = path.join(root, `${fullName}.git`)
  const scratch = await mkdtemp(path.join(tmpdir(), 'tako-bare-src-'))
  const work = path.join(scratch, 'files')
  const env = { ...process.env, ...FIXED_IDENTITY, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }
  const git = async (args: string[], extraEnv: Record<string, string> = {}): Promise<string> =>
    (await execFileAsync('git', args, { env: { ...env, ...extraEnv } })).stdout.trim()
  try {
    await mkdir(bare, { recursive: true })
    await git(['init', '--quiet', '--bare', '--initial-branch=main', bare])
    for (const [key, value] of [
      ['http.receivepack', 'true'],
      ['uploadpack.allowFilter', 'true'],
      ['uploadpack.allowAnySHA1InWant', 'true']
    ]) {
      await git(['--git-dir', bare, 'config', key, value])
    }
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(work, file)), { recursive: true })
      await writeFile(path.join(work, file), content)
    }
    // A throwaway index outside both the bare repository and the files (`add` would pick up its lock file).
    await mkdir(work, { recursive: true })
    const index = { GIT_INDEX_FILE: path.join(scratch, 'index') }
    await git(['--git-dir', bare, '--work-tree', work, 'add', '--all'], index)
    const tree = await git(['--git-dir', bare, 'write-tree'], index)
    const commit = await git(['--git-dir', bare, 'commit-tree', tree, '-m', 'initial commit'])
    await git(['--git-dir', bare, 'update-ref', 'refs/heads/main', commit])
    return bare
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
