// schema_version ranges (SPEC 1.5): npm semver ranges plus the interval forms [a...b), (a...b], and loose versions.

import semver from 'semver'

const INTERVAL = /^([[(])\s*([^\s.][^\s]*?)?\s*\.\.\.\s*([^\s\])]+)?\s*([\])])$/
const LOOSE_VERSION = /^v?\d+(\.\d+){0,2}$/

/** A version in canonical form (`1.2` -> `1.2.0`, `v1.2.3` -> `1.2.3`), or null when it is not one. */
export function toVersion(text: string): string | null {
  const trimmed = text.trim()
  const strict = semver.valid(trimmed, { loose: true })
  if (strict) return strict
  return LOOSE_VERSION.test(trimmed) ? (semver.coerce(trimmed)?.version ?? null) : null
}

/** Accepts npm semver ranges and the interval forms [1.0.0...2.0.0), (1.0.0...2.0.0] etc.; returns an npm range
    string or throws Error('invalid schema_version range "..."'). */
export function normalizeRange(range: string): string {
  const trimmed = range.trim()
  const invalid = (why?: string): Error => new Error(`invalid schema_version range "${range}"${why ? `: ${why}` : ''}`)
  const interval = INTERVAL.exec(trimmed)
  if (interval) {
    const [, open, lowText, highText, close] = interval
    if (lowText === undefined && highText === undefined) throw invalid('give at least one bound')
    const low = lowText === undefined ? undefined : toVersion(lowText)
    const high = highText === undefined ? undefined : toVersion(highText)
    if (low === null) throw invalid(`"${lowText}" is not a version`)
    if (high === null) throw invalid(`"${highText}" is not a version`)
    if (low && high && (semver.gt(low, high) || (semver.eq(low, high) && (open === '(' || close === ')')))) {
      throw invalid('the interval is empty')
    }
    const parts: string[] = []
    if (low) parts.push(`${open === '[' ? '>=' : '>'}${low}`)
    if (high) parts.push(`${close === ']' ? '<=' : '<'}${high}`)
    return parts.join(' ')
  }
  if (trimmed === '' || semver.validRange(trimmed) === null) throw invalid()
  return trimmed
}

/** Whether `version` (loose forms like "1.2" or "v1.2.3" accepted) is in `range`; throws on an invalid version or range. */
export function satisfiesRange(version: string, range: string): boolean {
  const normalized = normalizeRange(range)
  const v = toVersion(version)
  if (v === null) throw new Error(`invalid version "${version}"`)
  return semver.satisfies(v, normalized)
}
