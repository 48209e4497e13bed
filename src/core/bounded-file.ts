import { open } from 'node:fs/promises'
import { HarmonyError } from './errors.ts'

/**
 * The one reader of the small files a node or the CLI reads whole (config, keys, genesis, password files): it never
 * reads more than a file's bound, whatever the path names. A 1 GB file is refused from its size without being read;
 * a path whose size says nothing (a symlink to /dev/zero or /dev/urandom, a pipe) is read only up to the bound.
 * Open errors (ENOENT, EISDIR, EACCES) are thrown as Node gives them, so a caller can tell "missing" from "broken".
 */

/** A file too large for what it should hold, or text that is not UTF-8; the message ("it is …") follows a caller's "cannot read X FILE: ". */
export class FileContentError extends HarmonyError<'FILE_TOO_LARGE' | 'FILE_NOT_UTF8'> {
  constructor (code: FileContentError['code'], message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'FileContentError'
  }
}

// a read's chunk: large enough for any file bounded here in a few reads
const CHUNK_BYTES = 64 * 1024
const BOM = '\uFEFF'

/** The bytes of `path`; throws FILE_TOO_LARGE, without reading on, once it holds more than `maxBytes`. */
export async function readBoundedFile (path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r')
  try {
    const stats = await handle.stat()
    if (stats.isFile() && stats.size > maxBytes) throw tooLarge(path, maxBytes)
    const chunks: Buffer[] = []
    let total = 0
    // read until end of file, or one byte past the bound (devices and pipes report size 0)
    while (total <= maxBytes) {
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, maxBytes + 1 - total))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      chunks.push(buffer.subarray(0, bytesRead))
      total += bytesRead
    }
    if (total > maxBytes) throw tooLarge(path, maxBytes)
    return Buffer.concat(chunks, total)
  } finally {
    await handle.close()
  }
}

/**
 * The text of `path` (UTF-8, bounded as readBoundedFile), without a leading byte-order mark (as Windows editors
 * write); throws FILE_NOT_UTF8 for bytes that are not UTF-8, rather than reading them as U+FFFD.
 */
export async function readBoundedText (path: string, maxBytes: number): Promise<string> {
  const bytes = await readBoundedFile(path, maxBytes)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw new FileContentError('FILE_NOT_UTF8', 'it is not UTF-8 text', { path })
  }
  return text.startsWith(BOM) ? text.slice(BOM.length) : text
}

function tooLarge (path: string, maxBytes: number): FileContentError {
  return new FileContentError('FILE_TOO_LARGE', `it is larger than ${maxBytes} bytes, too large for what it should hold`, { path, maxBytes })
}
