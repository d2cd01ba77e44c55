// Durations as written in tako.yml (`90s`, `10m`, `2h`, `1h30m`, `500ms`), parsed to milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Shape of a duration; also used as the JSON Schema pattern. */
export const DURATION_PATTERN = /^(\d+(\.\d+)?(ms|s|m|h))+$/

/** Milliseconds in `text`; throws an Error whose message can be shown to a user. */
export function parseDuration(text: string): number {
  const trimmed = text.trim()
  if (!DURATION_PATTERN.test(trimmed)) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: use a number and a unit (ms, s, m, h), like 90s, 10m, 2h or 1h30m`)
  }
  let ms = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(amount) * UNIT_MS[unit]
  ms = Math.round(ms)
  if (ms <= 0) throw new Error(`invalid duration ${JSON.stringify(text)}: it must be longer than 0`)
  return ms
}
