// Bounded capture of a process stream: keeps the tail for step outputs and error reports, counts what was cut.

export const DEFAULT_MAX_CAPTURE_BYTES = 1024 * 1024

/** A UTF-8 character is at most 4 bytes, so at most 3 continuation bytes follow a cut. */
const MAX_CONTINUATION_BYTES = 3

/** Keeps the last `maxBytes` of a stream (default 1 MiB) and counts what was cut; for outputs and error reports. */
export class OutputBuffer {
  private readonly maxBytes: number
  // Chunks from `head` on are kept; a moving head makes dropping old chunks O(1) even for tiny chunks.
  private chunks: Buffer[] = []
  private head = 0
  private size = 0
  private cut = 0

  constructor(maxBytes: number = DEFAULT_MAX_CAPTURE_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`)
    }
    this.maxBytes = maxBytes
  }

  append(chunk: string | Buffer): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    if (bytes.length === 0) return
    this.chunks.push(bytes)
    this.size += bytes.length
    if (this.size <= this.maxBytes) return
    this.dropFront(this.size - this.maxBytes)
    // The kept tail must start on a character boundary, so finish cutting a character split by the cut.
    for (let i = 0; i < MAX_CONTINUATION_BYTES && this.size > 0 && isContinuation(this.chunks[this.head][0]); i++) {
      this.dropFront(1)
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }

  /** The kept tail. */
  text(): string {
    return this.bytes().toString('utf8')
  }

  /** The kept tail as raw bytes. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks.slice(this.head), this.size)
  }

  /** Bytes currently kept (at most `maxBytes`). */
  get byteLength(): number {
    return this.size
  }

  get truncatedBytes(): number {
    return this.cut
  }

  /** The last `n` lines (a final newline does not start an empty line), after a line `[… N bytes cut]` when cut. */
  tailLines(n = 30, maxBytes = Infinity): string {
    const lines = this.text().split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    const tail = n > 0 ? lines.slice(-n).map((line) => line.replace(/\r$/, '')) : []
    let text = tail.join('\n')
    let cut = this.cut
    const bytes = Buffer.byteLength(text)
    if (bytes > maxBytes) {
      // Keep the end, starting on a whole UTF-8 character.
      const kept = Buffer.from(text).subarray(bytes - maxBytes)
      let start = 0
      while (start < kept.length && (kept[start] & 0xc0) === 0x80) start++
      text = kept.subarray(start).toString('utf8')
      cut += bytes - kept.length + start
    }
    return cut > 0 ? `[… ${cut} bytes cut]\n${text}` : text
  }

  private dropFront(count: number): void {
    let rest = count
    while (rest > 0) {
      const first = this.chunks[this.head]
      if (first.length <= rest) {
        this.chunks[this.head] = EMPTY
        this.head++
        rest -= first.length
      } else {
        // Copy so a small kept piece does not pin a large chunk in memory.
        this.chunks[this.head] = Buffer.from(first.subarray(rest))
        rest = 0
      }
    }
    this.size -= count
    this.cut += count
  }
}

const EMPTY = Buffer.alloc(0)

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80
}
