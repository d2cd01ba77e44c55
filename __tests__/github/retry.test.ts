import { describe, expect, it } from '@jest/globals'
import { withRetry } from '../../src/github/retry.js'

class Flaky extends Error {}

function recorder(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = []
  return { sleeps, sleep: async (ms) => void sleeps.push(ms) }
}

describe('withRetry', () => {
  it('returns the first success without sleeping', async () => {
    const { sleeps, sleep } = recorder()
    const attempts: number[] = []
    const value = await withRetry(async (n) => (attempts.push(n), 'ok'), { isTransient: () => true, sleep })
    expect(value).toBe('ok')
    expect(attempts).toEqual([1])
    expect(sleeps).toEqual([])
  })

  it('retries transient failures with growing, jittered delays until one succeeds', async () => {
    const { sleeps, sleep } = recorder()
    const retries: Array<[number, number]> = []
    const value = await withRetry(
      async (n) => {
        if (n < 3) throw new Flaky(`attempt ${n}`)
        return n
      },
      { isTransient: (e) => e instanceof Flaky, sleep, baseMs: 1000, onRetry: (_e, attempt, ms) => retries.push([attempt, ms]) }
    )
    expect(value).toBe(3)
    expect(retries.map(([a]) => a)).toEqual([1, 2])
    expect(sleeps).toEqual(retries.map(([, ms]) => ms))
    expect(sleeps[0]).toBeGreaterThanOrEqual(500)
    expect(sleeps[0]).toBeLessThanOrEqual(1000)
    expect(sleeps[1]).toBeGreaterThanOrEqual(1000)
    expect(sleeps[1]).toBeLessThanOrEqual(2000)
  })

  it('spreads delays out (jitter) rather than using one fixed value', async () => {
    const seen = new Set<number>()
    for (let i = 0; i < 20; i++) {
      const { sleeps, sleep } = recorder()
      await withRetry(
        async (n) => {
          if (n === 1) throw new Flaky('once')
        },
        { isTransient: () => true, sleep, baseMs: 1000 }
      )
      seen.add(sleeps[0])
    }
    expect(seen.size).toBeGreaterThan(1)
  })

  it('gives up after `tries` attempts with the last error', async () => {
    const { sleeps, sleep } = recorder()
    const attempts: number[] = []
    await expect(
      withRetry(
        async (n) => {
          attempts.push(n)
          throw new Flaky(`attempt ${n}`)
        },
        { isTransient: () => true, sleep }
      )
    ).rejects.toThrow('attempt 3')
    expect(attempts).toEqual([1, 2, 3])
    expect(sleeps).toHaveLength(2)
  })

  it('does not retry an error that is not transient', async () => {
    const { sleeps, sleep } = recorder()
    let calls = 0
    await expect(
      withRetry(
        async () => {
          calls++
          throw new Error('refused')
        },
        { isTransient: (e) => e instanceof Flaky, sleep, tries: 5 }
      )
    ).rejects.toThrow('refused')
    expect(calls).toBe(1)
    expect(sleeps).toEqual([])
  })

  it('waits on real timers by default', async () => {
    const started = Date.now()
    const value = await withRetry(
      async (n) => {
        if (n < 3) throw new Flaky('again')
        return 'done'
      },
      { isTransient: () => true, baseMs: 40 }
    )
    expect(value).toBe('done')
    // At least half of 40 ms plus half of 80 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(50)
  })
})
