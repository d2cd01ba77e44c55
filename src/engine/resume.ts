// Re-running only what failed: fingerprints of child runs and the successes of an earlier report to reuse.

import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { UsageError } from './errors.js'
import { childSucceeded, type ChildReport, type RunReport, type TakoEvent } from './types.js'

/** Same repository, workflow and event (type, source, schema version, payload) => same fingerprint. */
export function childFingerprint(repository: string, workflow: string, event: Pick<TakoEvent, 'type' | 'source' | 'schema_version' | 'payload'>): string {
  const canonical = JSON.stringify([
    repository.toLowerCase(),
    workflow,
    event.type,
    event.source.toLowerCase(),
    event.schema_version ?? '',
    sortKeys(event.payload)
  ])
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])])
    )
  }
  return value
}

/** Successful children of earlier reports, by fingerprint; later reports win. */
export function reusableChildren(reports: RunReport[]): Map<string, ChildReport> {
  const map = new Map<string, ChildReport>()
  for (const report of reports) {
    for (const child of report.children) {
      if (!childSucceeded(child.status)) continue
      map.set(childFingerprint(child.repository, child.workflow, child.event), child)
    }
  }
  return map
}

export async function loadResume(file: string): Promise<Map<string, ChildReport>> {
  let report: RunReport
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as RunReport
  } catch (error) {
    throw new UsageError(`--resume ${file}: cannot read the report (${(error as Error).message})`)
  }
  if (report?.version !== 1 || !Array.isArray(report.children)) throw new UsageError(`--resume ${file}: not a tako run report`)
  return reusableChildren([report])
}
