// How an event's payload reaches a child's steps (SPEC 1.3): always as a JSON file, TAKO_EVENT_PAYLOAD_FILE,
// and as the TAKO_EVENT_PAYLOAD variable while it fits one environment string; plus the size limit a fan-out
// checks before anything starts.

import { writeFileSync } from 'node:fs'
import path from 'node:path'

/** Largest payload a fan-out sends, as JSON. Every child's report carries the payload, and so does the run
    report; the bound keeps a tree of children within memory and disk a runner has. */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024

/** Largest payload also given as TAKO_EVENT_PAYLOAD. Linux refuses any one environment string over 128 KiB
    (MAX_ARG_STRLEN: the start of every step would fail with E2BIG), and all of them together share ~2 MiB. */
export const MAX_ENV_PAYLOAD_BYTES = 64 * 1024

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`
  return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB`
}

/** Throws a message a user can act on when the payload is over MAX_PAYLOAD_BYTES. */
export function checkPayloadSize(payload: unknown, what: string): void {
  const size = Buffer.byteLength(JSON.stringify(payload))
  if (size > MAX_PAYLOAD_BYTES) {
    throw new Error(
      `${what}: the event payload is ${formatBytes(size)} as JSON, over the limit of ${formatBytes(MAX_PAYLOAD_BYTES)}; ` +
        'send a reference (a URL, an artifact or release name, a commit) and let subscribers fetch the data'
    )
  }
}

/** Writes the payload into the run's scratch folder; returns the variables every step of the run gets. */
export async function payloadEnv(payload: unknown, tempDir: string): Promise<Record<string, string>> {
  const json = JSON.stringify(payload)
  const file = path.join(tempDir, 'event-payload.json')
  writeFileSync(file, json, { mode: 0o600 })
  const size = Buffer.byteLength(json)
  return {
    TAKO_EVENT_PAYLOAD_FILE: file,
    // Not JSON on purpose: a step that parses it fails loudly instead of reading an empty payload.
    TAKO_EVENT_PAYLOAD:
      size <= MAX_ENV_PAYLOAD_BYTES
        ? json
        : `tako: the payload (${formatBytes(size)}) is over the ${formatBytes(MAX_ENV_PAYLOAD_BYTES)} an environment variable can hold; read it from TAKO_EVENT_PAYLOAD_FILE`
  }
}
