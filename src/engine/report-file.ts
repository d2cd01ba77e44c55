// Writing the run report to a file: streamed, so no report is too large for one string (JSON.stringify of a
// tree of children carrying big payloads throws "Invalid string length"), and atomic, so a full disk or a
// failed write leaves the previous file or none, never a truncated or empty one.

import { createWriteStream, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { JsonStreamStringify } from 'json-stream-stringify'

/** A temp file next to `file` (same filesystem, so the rename is atomic). */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
}

/** The report as indented JSON, produced piece by piece (the same text as JSON.stringify(value, null, 2)). */
export function reportJson(value: unknown): JsonStreamStringify {
  return new JsonStreamStringify(value, undefined, 2)
}

/** Streams `value` as indented JSON plus a newline into `file`, replacing it only once all is written. A
    target that exists and is not a regular file (/dev/stdout, a FIFO) is written in place: renaming onto it
    would replace the device or pipe itself. */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  const existing = await stat(file).catch(() => undefined)
  if (existing && !existing.isFile()) return streamInto(createWriteStream(file), value)
  const temp = tempName(file)
  try {
    await streamInto(createWriteStream(temp, { flags: 'wx', mode: 0o644 }), value)
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

/** writeJsonFile for a forced exit, where no event loop is left to stream on: one string, written atomically. */
export function writeJsonFileSync(file: string, value: unknown): void {
  const text = `${JSON.stringify(value, null, 2)}\n`
  const existing = (() => {
    try {
      return statSync(file)
    } catch {
      return undefined
    }
  })()
  if (existing && !existing.isFile()) return writeFileSync(file, text)
  const temp = tempName(file)
  try {
    writeFileSync(temp, text, { flag: 'wx', mode: 0o644 })
    renameSync(temp, file)
  } catch (error) {
    rmSync(temp, { force: true })
    throw error
  }
}

async function streamInto(out: NodeJS.WritableStream, value: unknown): Promise<void> {
  await pipeline(
    reportJson(value),
    async function* (chunks: AsyncIterable<string>) {
      for await (const chunk of chunks) yield chunk
      yield '\n'
    },
    out
  )
}
