// Loopback fake of the GitHub Actions cache service v2 (twirp JSON + signed blob URLs) for the real @actions/cache.
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'

export interface CacheEntry {
  key: string
  version: string
  size: number
}

export interface CacheServer {
  url: string
  /** Finalized entries, keyed by `${key}@${version}` (one key may exist in several versions, as on GitHub). */
  entries: Map<string, CacheEntry>
  /** Every request (path with its query): twirp calls with their parsed JSON body, blob transfers without. */
  requests: Array<{ path: string; body: unknown; status: number }>
  close(): Promise<void>
}

export interface CacheServerOptions {
  /** Where blobs are stored. */
  dir: string
  /** Expected `Authorization: Bearer <token>` on twirp calls. */
  token: string
  /**
   * Fail every request. `true` answers 400, which the library gives up on at once; a number answers that
   * status (500/502/503/504 make the library retry its twirp calls for about 25 s before giving up).
   */
  failAll?: boolean | number
}

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/'
// Path-style blob URLs (<account>/<container>/<blob>), which the Azure SDK accepts for an IP host.
const BLOB_PREFIX = '/blobs/cache/'

/** The environment a process calling @actions/cache needs to use this server through the v2 protocol. */
export function cacheServiceEnv(url: string, token: string): Record<string, string> {
  return {
    ACTIONS_CACHE_SERVICE_V2: 'true',
    ACTIONS_RESULTS_URL: `${url}/`,
    ACTIONS_RUNTIME_TOKEN: token,
    // Any other host silently switches the library to the retired v1 protocol.
    GITHUB_SERVER_URL: 'https://github.com'
  }
}

export async function startCacheServer(opts: CacheServerOptions): Promise<CacheServer> {
  const blobDir = path.join(opts.dir, 'blobs')
  await mkdir(blobDir, { recursive: true })
  const entries = new Map<string, CacheEntry>()
  const requests: CacheServer['requests'] = []
  // Entry id -> blob name, for reserved and finalized entries. A finalized id is never reserved again, so
  // `entries` stays in creation order and a reversed walk finds the newest first.
  const reserved = new Map<string, string>()
  const blobs = new Map<string, string>()
  const signature = randomBytes(16).toString('hex')
  let nextId = 1
  let url = ''

  const blobUrl = (blob: string): string => `${url}${BLOB_PREFIX}${blob}?sv=2024-01-01&sig=${signature}`

  async function twirp(method: string, body: Record<string, unknown>): Promise<[number, unknown]> {
    const key = String(body.key ?? '')
    const version = String(body.version ?? '')
    if (!key || !version) return [400, twirpError('invalid_argument', 'key and version are required')]
    const id = `${key}@${version}`
    switch (method) {
      case 'CreateCacheEntry': {
        if (entries.has(id) || reserved.has(id)) {
          return [200, { ok: false, signed_upload_url: '', message: `cache entry ${key} already exists` }]
        }
        const blob = `entry-${nextId++}`
        reserved.set(id, blob)
        return [200, { ok: true, signed_upload_url: blobUrl(blob) }]
      }
      case 'FinalizeCacheEntryUpload': {
        const blob = reserved.get(id)
        if (!blob) return [404, twirpError('not_found', `no reserved cache entry ${key}`)]
        const size = await stat(path.join(blobDir, blob)).then(
          (s) => s.size,
          () => -1
        )
        if (size < 0 || String(size) !== String(body.size_bytes)) {
          return [200, { ok: false, entry_id: '0', message: `uploaded ${size} bytes, announced ${body.size_bytes}` }]
        }
        reserved.delete(id)
        entries.set(id, { key, version, size })
        blobs.set(id, blob)
        return [200, { ok: true, entry_id: blob.slice('entry-'.length) }]
      }
      case 'GetCacheEntryDownloadURL': {
        // As documented for actions/cache: for the key, then each restore key in order, an exact match
        // wins, else the newest entry whose key starts with it; always within the same version.
        const candidates = [key, ...((body.restore_keys as string[] | undefined) ?? [])]
        const newestFirst = [...entries.values()].filter((e) => e.version === version).reverse()
        for (const candidate of candidates) {
          const hit = newestFirst.find((e) => e.key === candidate) ?? newestFirst.find((e) => e.key.startsWith(candidate))
          if (hit) {
            const blob = blobs.get(`${hit.key}@${version}`)!
            return [200, { ok: true, signed_download_url: blobUrl(blob), matched_key: hit.key }]
          }
        }
        return [200, { ok: false, signed_download_url: '', matched_key: '' }]
      }
      default:
        return [404, twirpError('bad_route', `no method ${method}`)]
    }
  }

  async function blob(req: IncomingMessage, res: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
    if (query.get('sig') !== signature || !/^entry-\d+$/.test(name)) {
      req.resume()
      return void res.writeHead(403, { 'Content-Type': 'application/xml' }).end(azureError('AuthenticationFailed'))
    }
    const file = path.join(blobDir, name)
    const azureHeaders = { 'x-ms-request-id': randomBytes(8).toString('hex'), 'x-ms-version': '2024-01-01' }
    if (req.method === 'GET') {
      const size = await stat(file).then(
        (s) => s.size,
        () => undefined
      )
      if (size === undefined) return void res.writeHead(404, azureHeaders).end(azureError('BlobNotFound'))
      res.writeHead(200, { ...azureHeaders, 'Content-Type': 'application/octet-stream', 'Content-Length': size })
      return pipeline(createReadStream(file), res)
    }
    if (req.method !== 'PUT') {
      req.resume()
      return void res.writeHead(405, azureHeaders).end()
    }
    const comp = query.get('comp')
    if (comp === 'block') {
      const blockId = query.get('blockid') ?? ''
      await mkdir(`${file}.blocks`, { recursive: true })
      await pipeline(req, createWriteStream(path.join(`${file}.blocks`, Buffer.from(blockId).toString('hex'))))
    } else if (comp === 'blocklist') {
      const xml = (await readBody(req)).toString('utf8')
      const ids = [...xml.matchAll(/<(?:Latest|Committed|Uncommitted)>([^<]*)<\//g)].map((m) => m[1])
      const parts = await Promise.all(ids.map((id) => readFile(path.join(`${file}.blocks`, Buffer.from(id).toString('hex')))))
      await writeFile(file, Buffer.concat(parts))
      await rm(`${file}.blocks`, { recursive: true, force: true })
    } else if (req.headers['x-ms-blob-type'] === 'BlockBlob') {
      await pipeline(req, createWriteStream(file))
    } else {
      req.resume()
      return void res.writeHead(400, azureHeaders).end(azureError('InvalidHeaderValue'))
    }
    const etag = `"${randomBytes(8).toString('hex')}"`
    res.writeHead(201, { ...azureHeaders, ETag: etag, 'Last-Modified': new Date().toUTCString() }).end()
  }

  const server = createServer((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://127.0.0.1')
    const log = { path: parsed.pathname + parsed.search, body: undefined as unknown, status: 0 }
    requests.push(log)
    res.on('close', () => (log.status = res.statusCode))
    const handle = async (): Promise<void> => {
      if (opts.failAll !== undefined && opts.failAll !== false) {
        req.resume()
        const status = opts.failAll === true ? 400 : opts.failAll
        return void sendJson(res, status, twirpError('internal', 'injected failure'))
      }
      if (parsed.pathname.startsWith(BLOB_PREFIX)) {
        return blob(req, res, parsed.pathname.slice(BLOB_PREFIX.length), parsed.searchParams)
      }
      if (!parsed.pathname.startsWith(TWIRP_PREFIX) || req.method !== 'POST') {
        req.resume()
        return void sendJson(res, 404, twirpError('bad_route', `no route ${req.method} ${parsed.pathname}`))
      }
      const raw = (await readBody(req)).toString('utf8')
      let body: Record<string, unknown>
      try {
        body = log.body = JSON.parse(raw) as Record<string, unknown>
      } catch {
        log.body = raw
        return void sendJson(res, 400, twirpError('malformed', 'body is not JSON'))
      }
      if (req.headers.authorization !== `Bearer ${opts.token}`) {
        return void sendJson(res, 401, twirpError('unauthenticated', 'invalid or missing bearer token'))
      }
      sendJson(res, ...(await twirp(parsed.pathname.slice(TWIRP_PREFIX.length), body)))
    }
    handle().catch((err) => {
      if (!res.headersSent) sendJson(res, 500, twirpError('internal', String(err)))
      else res.destroy()
    })
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    entries,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
  }
}

// The library JSON-parses every response, errors included; a non-JSON error body would be retried.
function twirpError(code: string, msg: string): { code: string; msg: string } {
  return { code, msg }
}

function azureError(code: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body)
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
