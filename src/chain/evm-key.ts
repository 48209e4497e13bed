import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { isHexString, Wallet } from 'ethers'
import { ChainError } from './errors.ts'

/**
 * The node's EVM key (secp256k1): signs checkpoints when the node is a registered validator and pays gas for
 * checkpoint submissions and equivocation reports. Stored as 0x-hex in a 0600 file in the datadir (e.g.
 * `<datadir>/keys/evm.key`), created on first use.
 */
export async function loadOrCreateEvmKey (path: string): Promise<Wallet> {
  let text: string | undefined
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ChainError('EVM_KEY_INVALID', `cannot read EVM key ${path}: ${(err as Error).message}`, { path })
    }
  }
  if (text !== undefined) {
    if (!isHexString(text, 32)) throw new ChainError('EVM_KEY_INVALID', `EVM key ${path} is not 32 bytes of 0x-hex; restore it from a backup or delete it to create a new key`, { path })
    return new Wallet(text)
  }
  const wallet = Wallet.createRandom()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${wallet.privateKey}\n`, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return new Wallet(wallet.privateKey)
}
