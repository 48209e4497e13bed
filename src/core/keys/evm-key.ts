import { join } from 'node:path'
import { isHexString, Wallet } from 'ethers'
import { readBoundedText } from '../bounded-file.ts'
import { KeyFileError } from '../errors.ts'
import { isSecretFileExists, writeSecretFile } from './secret-file.ts'

/** The EVM key's file inside a node's datadir. */
export const EVM_KEY_FILE = join('keys', 'evm.key')
// 0x and 64 hex digits, and a line ending
const MAX_EVM_KEY_FILE_BYTES = 1024

/**
 * The node's EVM key (secp256k1): signs checkpoints when the node is a registered validator and pays gas for
 * checkpoint submissions and equivocation reports. Stored as 0x-hex in a 0600 file in the datadir (e.g.
 * `<datadir>/keys/evm.key`), created on first use and never replaced: when two processes create it at once, both
 * end up with the key that was written first.
 */
export async function loadOrCreateEvmKey (path: string): Promise<Wallet> {
  const existing = await readEvmKey(path)
  if (existing !== undefined) return existing
  const wallet = Wallet.createRandom()
  try {
    await writeSecretFile(path, `${wallet.privateKey}\n`)
  } catch (err) {
    if (!isSecretFileExists(err)) throw err
    const winner = await readEvmKey(path)
    if (winner === undefined) throw err
    return winner
  }
  return new Wallet(wallet.privateKey)
}

/** The key in `path`, undefined when there is no file; throws EVM_KEY_INVALID for an unreadable or malformed one. */
async function readEvmKey (path: string): Promise<Wallet | undefined> {
  let text: string
  try {
    text = (await readBoundedText(path, MAX_EVM_KEY_FILE_BYTES)).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new KeyFileError('EVM_KEY_INVALID', `cannot read EVM key ${path}: ${(err as Error).message}`, { path })
  }
  if (!isHexString(text, 32)) throw new KeyFileError('EVM_KEY_INVALID', `EVM key ${path} is not 32 bytes of 0x-hex; restore it from a backup or delete it to create a new key`, { path })
  return new Wallet(text)
}
