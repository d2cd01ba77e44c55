// One timer for every deadline the engine keeps (step, workflow, fan-out timeouts): Node's setTimeout fires at
// once for a delay above 2^31-1 ms (about 24.8 days), so longer delays are chained in slices below that bound.

/** The largest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export interface LongTimer {
  clear(): void
}

/** Calls `fn` once after `ms` milliseconds, however long; `slice` is the longest single setTimeout (for tests). */
export function setLongTimeout(fn: () => void, ms: number, slice = MAX_TIMER_MS): LongTimer {
  const due = Date.now() + ms
  let timer: NodeJS.Timeout
  const arm = (left: number): void => {
    timer = setTimeout(
      () => {
        // Re-measure rather than count slices: a busy machine fires timers late, never early.
        const rest = due - Date.now()
        if (rest > 0) arm(rest)
        else fn()
      },
      Math.min(Math.max(left, 0), slice)
    )
  }
  arm(ms)
  return { clear: () => clearTimeout(timer) }
}
