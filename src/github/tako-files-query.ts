// The GraphQL side of remote discovery: the query that reads the tako files of a batch of candidates (with the
// commit each was read at and what its ref names), and what an answer means for one candidate.

import type { Candidate } from '../engine/repository-source.js'

export type ConfigFile = { text: string; file: string }

/** What GraphQL said of a candidate: the commit its tako file was read at, and what its ref names. */
export interface Known {
  commit: string
  branch?: string
  tag?: string
  defaultBranch?: string
}

/** GitHub allows 100 repositories' worth of fields per query comfortably within its node limits. */
export const GRAPHQL_BATCH = 100

interface BlobAnswer {
  text?: string | null
  byteSize?: number
  isBinary?: boolean | null
}

interface RepositoryAnswer {
  defaultBranchRef?: { name: string } | null
  ref?: { name: string; prefix: string } | null
  commit?: { oid: string; target?: { oid: string } } | null
  yml?: BlobAnswer | null
  yaml?: BlobAnswer | null
}

/**
 * The query for a batch: per candidate (alias c<k>) the commit of its ref (HEAD: the default branch), what the ref
 * is (branch or tag), the default branch's name, and `tako.yml` and `tako.yaml` at that ref. Values travel as
 * variables, never spliced into the query text.
 */
export function takoFilesQuery(batch: Candidate[]): { query: string; variables: Record<string, string> } {
  const variables: Record<string, string> = {}
  const declared: string[] = []
  const fields = batch.map((candidate, k) => {
    const [owner, name] = candidate.repository.split('/')
    const rev = candidate.ref || 'HEAD'
    Object.assign(variables, { [`o${k}`]: owner, [`n${k}`]: name, [`r${k}`]: rev, [`y${k}`]: `${rev}:tako.yml`, [`a${k}`]: `${rev}:tako.yaml` })
    declared.push(`$o${k}: String!, $n${k}: String!, $r${k}: String!, $y${k}: String!, $a${k}: String!`)
    let ref = ''
    if (candidate.ref) {
      variables[`q${k}`] = candidate.ref
      declared.push(`$q${k}: String!`)
      ref = ` ref(qualifiedName: $q${k}) { name prefix }`
    }
    return (
      `  c${k}: repository(owner: $o${k}, name: $n${k}) { defaultBranchRef { name }${ref}` +
      ` commit: object(expression: $r${k}) { oid ... on Tag { target { oid } } }` +
      ` yml: object(expression: $y${k}) { ...takoFile } yaml: object(expression: $a${k}) { ...takoFile } }`
    )
  })
  const query = `query takoFiles(${declared.join(', ')}) {\n${fields.join('\n')}\n}\nfragment takoFile on Blob { text byteSize isBinary }`
  return { query, variables }
}

/** A blob's text when GraphQL gave all of it; undefined for no blob, binary content or text cut short. */
function blobText(blob: BlobAnswer | null | undefined, file: string): ConfigFile | undefined {
  if (!blob || blob.byteSize === undefined || blob.isBinary || typeof blob.text !== 'string') return undefined
  if (Buffer.byteLength(blob.text, 'utf8') !== blob.byteSize) return undefined
  return { text: blob.text, file }
}

/**
 * The candidate's tako file (null: it has none) and what GraphQL named, or undefined when the answer does not settle
 * it: the repository or ref was not resolved, or the file is binary or cut at GraphQL's size limit. Git reads those,
 * as before, and says why.
 */
export function readAnswer(candidate: Candidate, answer: unknown): { file: ConfigFile | null; known: Known } | undefined {
  const repo = answer as RepositoryAnswer | null | undefined
  const commit = repo?.commit ? (repo.commit.target?.oid ?? repo.commit.oid) : undefined
  if (!repo || !commit) return undefined
  const file = blobText(repo.yml, 'tako.yml') ?? (repo.yml?.byteSize === undefined ? blobText(repo.yaml, 'tako.yaml') : undefined)
  if (file === undefined && (repo.yml?.byteSize !== undefined || repo.yaml?.byteSize !== undefined)) return undefined
  const known: Known = { commit }
  if (repo.ref?.prefix === 'refs/heads/') known.branch = repo.ref.name
  else if (repo.ref?.prefix === 'refs/tags/') known.tag = repo.ref.name
  if (!candidate.ref && repo.defaultBranchRef?.name) known.defaultBranch = repo.defaultBranchRef.name
  return { file: file ?? null, known }
}
