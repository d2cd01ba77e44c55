// Where subscriber candidates come from and how a child's workspace becomes a checkout (SPEC 3).

export interface Candidate {
  /** `owner/repo`. */
  repository: string
  /** Branch, tag or commit; '' means the default branch / HEAD. */
  ref: string
}

export class SourceError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'not_found' | 'transient' | 'other' = 'other'
  ) {
    super(message)
  }
}

/** A candidate's tako file as read at its ref; `note` is something its owner should hear (uncommitted edits). */
export interface TakoFileRead {
  text: string
  file: string
  note?: string
}

export interface RepositorySource {
  /** Candidates from the command line / action input plus `declared` (`repos:` of the emitting file). */
  list(declared: string[]): Promise<{ candidates: Candidate[]; problems: Array<{ repository: string; ref: string; reason: string }> }>
  /** The candidate's tako.yml at its ref, or null when it has none. Throws SourceError when it cannot be read. */
  readConfig(candidate: Candidate, signal: AbortSignal): Promise<TakoFileRead | null>
  /**
   * Optional: many candidates at once, in order (an Error for one that cannot be read). A source that answers in parts
   * may hand each answer to `each` (by index) as it comes, so that discovery can act on it before the rest is read.
   */
  readConfigs?(
    candidates: Candidate[],
    signal: AbortSignal,
    each?: (index: number, file: TakoFileRead | null | Error) => void
  ): Promise<Array<TakoFileRead | null | Error>>
  /** Makes `dir` (existing, empty) a real git checkout of the candidate at its ref. Throws SourceError. */
  checkout(candidate: Candidate, dir: string, signal: AbortSignal): Promise<void>
  /** Optional: where candidates were looked for, for "found no candidates" (`--repos repos (DIR/<owner>/<repo>)`). */
  describe?(): string
  /** Optional: releases what the source holds (processes, connections) once the run is over. */
  close?(): void
}

const REPO_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})\/[A-Za-z0-9._-]{1,100}$/

/** Parses `owner/repo[@ref]`; returns an error message for anything else (including `..` names). */
export function parseRepoRef(text: string): Candidate | string {
  const trimmed = text.trim()
  const at = trimmed.indexOf('@')
  const repository = at >= 0 ? trimmed.slice(0, at) : trimmed
  const ref = at >= 0 ? trimmed.slice(at + 1) : ''
  if (!REPO_NAME.test(repository) || repository.split('/').some((part) => part === '.' || part === '..')) {
    return `"${text}" is not a repository name of the form owner/repo[@ref]`
  }
  if (at >= 0 && !/^[A-Za-z0-9._/-]+$/.test(ref)) return `"${text}": "${ref}" is not a valid ref`
  if (ref.startsWith('-') || ref.includes('..')) return `"${text}": "${ref}" is not a valid ref`
  return { repository, ref }
}
