// Kept apart from octokit.ts, which loads Octokit and undici: the CLI reads error statuses without loading them.

/** The HTTP status of an Octokit error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}
