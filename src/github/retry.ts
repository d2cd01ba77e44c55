// Retries an async operation on transient failures, with exponential backoff and jitter.

import { setTimeout as delay } from 'node:timers/promises'

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  tries?: number
  /** Delay before the second attempt; doubles for each further one (default 1000 ms). */
  baseMs?: number
  isTransient: (e: unknown) => boolean
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void
  sleep?: (ms: number) => Promise<void>
}

/** Exponential backoff with jitter, at most `tries` (default 3) attempts; retries only when `isTransient(err)`; `sleep` injectable for tests (default real timers); base delay default 1000 ms. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const tries = Math.max(1, opts.tries ?? 3)
  const baseMs = opts.baseMs ?? 1000
  const sleep = opts.sleep ?? ((ms: number) => delay(ms))
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      if (attempt >= tries || !opts.isTransient(error)) throw error
      // "Equal jitter": half the exponential step is fixed, half random, so parallel clients spread out
      // without ever retrying immediately.
      const step = baseMs * 2 ** (attempt - 1)
      const wait = Math.round(step / 2 + Math.random() * (step / 2))
      opts.onRetry?.(error, attempt, wait)
      await sleep(wait)
    }
  }
}
