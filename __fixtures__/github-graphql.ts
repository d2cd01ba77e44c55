// The part of GitHub's GraphQL API that discovery reads (repository, defaultBranchRef, ref, object(expression)),
// executed by graphql-js over a schema written like GitHub's and answered from bare repositories on disk (the
// loopback git server's). Errors look like GitHub's: `type: NOT_FOUND` and the alias `path`, with partial data.

import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { buildSchema, graphql, GraphQLError } from 'graphql'

const SCHEMA = buildSchema(`
  scalar GitObjectID
  type Query {
    repository(owner: String!, name: String!): Repository
  }
  type Repository {
    nameWithOwner: String!
    defaultBranchRef: Ref
    ref(qualifiedName: String!): Ref
    object(expression: String, oid: GitObjectID): GitObject
  }
  type Ref {
    name: String!
    prefix: String!
    target: GitObject
  }
  interface GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Blob implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
    byteSize: Int!
    isBinary: Boolean
    text: String
  }
  type Commit implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Tree implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Tag implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
    name: String!
    target: GitObject!
  }
`)

export interface FakeGraphqlOptions {
  /** Holds bare repositories as <root>/<owner>/<repo>.git (the git server's root). */
  root: string
  /** Repositories (owner/repo) the token cannot see: NOT_FOUND, as GitHub answers. */
  hidden?: string[]
}

interface GitObject {
  __typename: 'Blob' | 'Commit' | 'Tree' | 'Tag'
  oid: string
  abbreviatedOid: string
  byteSize?: number
  isBinary?: boolean
  text?: string | null
  name?: string
  target?: GitObject
}

/** Answers one GraphQL request body the way api.github.com does (HTTP 200 with data and errors). */
export async function answerGraphql(opts: FakeGraphqlOptions, body: unknown): Promise<{ status: number; payload: unknown }> {
  const { query, variables } = (body ?? {}) as { query?: unknown; variables?: Record<string, unknown> }
  if (typeof query !== 'string') return { status: 400, payload: { message: 'Problems parsing JSON' } }
  const result = await graphql({
    schema: SCHEMA,
    source: query,
    variableValues: variables,
    rootValue: root(opts),
    typeResolver: (value) => (value as GitObject).__typename
  })
  const errors = result.errors?.map((e) => ({
    type: (e.extensions?.type as string | undefined) ?? undefined,
    path: e.path,
    locations: e.locations,
    message: e.message
  }))
  return { status: 200, payload: errors ? { data: result.data ?? null, errors } : { data: result.data } }
}

function root(opts: FakeGraphqlOptions): Record<string, unknown> {
  return {
    repository: async ({ owner, name }: { owner: string; name: string }) => {
      const full = `${owner}/${name}`
      const dir = path.join(opts.root, owner, `${name}.git`)
      const exists = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false
      )
      if (!exists || opts.hidden?.includes(full)) {
        throw new GraphQLError(`Could not resolve to a Repository with the name '${full}'.`, { extensions: { type: 'NOT_FOUND' } })
      }
      return repository(dir, full)
    }
  }
}

function repository(dir: string, full: string): Record<string, unknown> {
  const object = (expression: string): Promise<GitObject | null> => objectAt(dir, expression)
  const refAt = async (qualified: string): Promise<Record<string, unknown> | null> => {
    const oid = (await git(dir, ['rev-parse', '--verify', '--quiet', qualified])).trim()
    if (!oid) return null
    const prefix = qualified.startsWith('refs/tags/') ? 'refs/tags/' : 'refs/heads/'
    return { name: qualified.slice(prefix.length), prefix, target: () => object(oid) }
  }
  return {
    nameWithOwner: full,
    defaultBranchRef: async () => {
      const head = (await readFile(path.join(dir, 'HEAD'), 'utf8')).trim()
      const branch = /^ref: (refs\/heads\/.+)$/.exec(head)?.[1]
      return branch ? refAt(branch) : null
    },
    // Fully qualified names first, then short names as a branch, then as a tag (GitHub's order).
    ref: async ({ qualifiedName }: { qualifiedName: string }) => {
      if (qualifiedName.startsWith('refs/')) return refAt(qualifiedName)
      return (await refAt(`refs/heads/${qualifiedName}`)) ?? (await refAt(`refs/tags/${qualifiedName}`))
    },
    object: ({ expression, oid }: { expression?: string; oid?: string }) => object(expression ?? oid ?? '')
  }
}

/** One `git cat-file --batch` answers an expression with its id, type and content. */
async function objectAt(dir: string, expression: string): Promise<GitObject | null> {
  if (!expression || expression.includes('\n')) return null
  const out = await gitBuffer(dir, ['cat-file', '--batch'], `${expression}\n`)
  const nl = out.indexOf(10)
  const header = /^([0-9a-f]{40,64}) (blob|commit|tree|tag) (\d+)$/.exec(out.subarray(0, nl).toString('utf8'))
  if (!header) return null
  const [, oid, type, size] = header
  const content = out.subarray(nl + 1, nl + 1 + Number(size))
  const base = { oid, abbreviatedOid: oid.slice(0, 7) }
  if (type === 'blob') {
    const isBinary = content.includes(0)
    return { __typename: 'Blob', ...base, byteSize: content.length, isBinary, text: isBinary ? null : content.toString('utf8') }
  }
  if (type === 'tag') {
    const target = /^object ([0-9a-f]+)$/m.exec(content.toString('utf8'))?.[1] ?? ''
    const name = /^tag (.+)$/m.exec(content.toString('utf8'))?.[1] ?? ''
    const resolved = await objectAt(dir, target)
    return { __typename: 'Tag', ...base, name, target: resolved ?? undefined }
  }
  return { __typename: type === 'commit' ? 'Commit' : 'Tree', ...base }
}

async function git(dir: string, args: string[]): Promise<string> {
  return (await gitBuffer(dir, args)).toString('utf8')
}

function gitBuffer(dir: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const child = execFile('git', ['--git-dir', dir, ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) =>
      resolve(stdout ?? Buffer.alloc(0))
    )
    // A command that reads no input may exit before it is written: that is not an error.
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(input ?? '')
  })
}
