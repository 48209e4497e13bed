import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readBoundedText } from '../bounded-file.ts'
import { KeyFileError } from '../errors.ts'
import { isSecretFileExists, writeSecretFile } from './secret-file.ts'

/** The RPC's HS256 secret inside a node's datadir (as geth's `jwtsecret`: 32 bytes of hex). */
export const JWT_SECRET_FILE = join('rpc', 'jwt.hex')
const SECRET_BYTES = 32
// 64 hex digits, maybe 0x, and a line ending
const MAX_SECRET_FILE_BYTES = 1024

/**
 * The node's JWT secret: written at `harmonyd init` (and at start when missing) to a 0600 file, never replaced.
 * Whoever can read it can call admin and spending methods, as the node's operator.
 */
export async function loadOrCreateJwtSecret (path: string): Promise<Uint8Array> {
  const existing = await readJwtSecret(path)
  if (existing !== undefined) return existing
  const secret = randomBytes(SECRET_BYTES)
  try {
    await writeSecretFile(path, `${secret.toString('hex')}\n`)
  } catch (err) {
    if (!isSecretFileExists(err)) throw err
    // another process wrote it first: both use the one on disk
    const winner = await readJwtSecret(path)
    if (winner === undefined) throw err
    return winner
  }
  return new Uint8Array(secret)
}

/** The secret in `path`; undefined when there is no file; throws KEY_FILE_INVALID for a malformed one. */
export async function readJwtSecret (path: string): Promise<Uint8Array | undefined> {
  let text: string
  try {
    text = (await readBoundedText(path, MAX_SECRET_FILE_BYTES)).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new KeyFileError('KEY_FILE_INVALID', `cannot read the RPC JWT secret ${path}: ${(err as Error).message}`, { path })
  }
  const hex = text.startsWith('0x') ? text.slice(2) : text
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new KeyFileError('KEY_FILE_INVALID', `RPC JWT secret ${path} is not 32 bytes of hex; delete it to have a new one made at the next start (tokens signed with the old one stop working)`, { path })
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
