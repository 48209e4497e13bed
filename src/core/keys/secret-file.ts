import { randomBytes } from 'node:crypto'
import { link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * The one writer of secret files (node identity, wallets, EVM key, keystores). A key is written whole
 * or not at all, readable by its owner only, and never replaces an existing key: losing a key loses funds or an
 * identity, so a second writer must fail rather than win.
 */

/** Thrown (as a plain errno error) when `path` already holds a key. */
export const SECRET_FILE_EXISTS = 'EEXIST'

/**
 * Writes `data` to `path` with mode 0600: a temp file beside it is written and fsync'd, then hard-linked to `path`.
 * `link` fails with EEXIST when `path` exists, so an existing key is never replaced, even by a concurrent writer
 * (a rename would silently replace it). Creates the parent folder (mode 0700) when missing.
 */
export async function writeSecretFile (path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = await writeTempSecret(path, data)
  try {
    await link(tmp, path)
  } finally {
    await unlink(tmp)
  }
}

/** True when `err` is the error writeSecretFile throws because the key file already exists. */
export function isSecretFileExists (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === SECRET_FILE_EXISTS
}

/**
 * Replaces the key in `path` with `data` (a re-encryption: change of password, migration of a plain wallet). The
 * new content is written to a temp file beside it and fsync'd, renamed over `path` (atomic: a crash leaves the old
 * file or the new one, never a mix), and the folder fsync'd so the rename itself survives a power loss.
 */
export async function replaceSecretFile (path: string, data: Uint8Array | string): Promise<void> {
  const tmp = await writeTempSecret(path, data)
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/** Writes `data` to a new temp file (mode 0600) beside `path` and fsyncs it; returns the temp file's path. */
async function writeTempSecret (path: string, data: Uint8Array | string): Promise<string> {
  // a random suffix: two writers in one process (or pid reuse after a crash) never share a temp file
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const handle = await open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return tmp
}
