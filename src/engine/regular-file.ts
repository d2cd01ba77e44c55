// Reads files a subscriber controls (`from_file:` outputs, `$TAKO_OUTPUT`, a repository's tako file) without letting
// them stall the engine or read what is not theirs: regular files only, inside a given folder once links are resolved,
// opened without following a link and without blocking (a FIFO with no writer would block open() for good), and
// bounded. The calls are synchronous: once a file is known to be a regular file of bounded size, reading it cannot
// wait on anything, and each promise call was a round trip through libuv's thread pool (several per child step).

import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs'
import path from 'node:path'

/** A file refused before or without reading it; the message says why, never what it holds. */
export class RefusedFile extends Error {}

export interface ReadOptions {
  maxBytes: number
  /** The file must be inside this folder once every symbolic link is resolved. */
  within?: string
  /** How a refusal names that folder ('working directory', 'repository'). */
  folderName?: string
}

/** The whole content of `file`, or a RefusedFile; other errors (ENOENT) as fs gives them. */
export async function readRegularFile(file: string, opts: ReadOptions): Promise<Buffer> {
  const target = opts.within ? insideFolder(file, opts.within, opts.folderName ?? 'folder') : file
  let fd: number
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new RefusedFile('is a symbolic link')
    throw error
  }
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw new RefusedFile(`is not a regular file (${kindOf(info)})`)
    if (info.size > opts.maxBytes) throw new RefusedFile(`is larger than ${opts.maxBytes} bytes`)
    // One byte more than allowed tells a file that grew since fstat.
    const buf = Buffer.alloc(Math.min(info.size, opts.maxBytes) + 1)
    let length = 0
    for (;;) {
      const bytesRead = readSync(fd, buf, length, buf.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
      if (length === buf.length) break
    }
    if (length > opts.maxBytes) throw new RefusedFile(`is larger than ${opts.maxBytes} bytes`)
    return buf.subarray(0, length)
  } finally {
    closeSync(fd)
  }
}

/** `file` with every symbolic link resolved, when that is inside `dir` (a link within the folder is fine); else a
    RefusedFile, before anything is opened. */
function insideFolder(file: string, dir: string, folder: string): string {
  const root = realpathSync(dir)
  const real = realpathSync(path.resolve(dir, file))
  const rel = path.relative(root, real)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new RefusedFile(`is outside the ${folder}`)
  return real
}

function kindOf(info: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (info.isDirectory()) return 'a directory'
  if (info.isFIFO()) return 'a FIFO'
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device'
  if (info.isSocket()) return 'a socket'
  return 'not a file'
}
