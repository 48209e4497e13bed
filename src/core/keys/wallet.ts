import { randomBytes } from 'node:crypto'
import { addressFromPublicKey } from '../address.ts'
import { fromHex, toHex } from '../codec.ts'
import { generateKeyPair, type KeyPair } from '../crypto.ts'
import { readBoundedText } from '../bounded-file.ts'
import { KeyFileError } from '../errors.ts'
import { KEYSTORE_TYPE, KEYSTORE_VERSION } from './keystore.ts'
import { isSecretFileExists, writeSecretFile } from './secret-file.ts'

/**
 * Plain (version 1) wallet key files, kept for the throwaway faucet wallets of a devnet or solo ledger; a person's
 * wallet is an encrypted keystore (keystore.ts), and `harmonyd wallet migrate` encrypts a plain file in place.
 * Wallet key files: JSON `{ "version": 1, "type": "ml-dsa-65", "seed": "<64 hex>", "address": "hmy1…" }`, mode
 * 0600, created exclusively (never overwritten). The seed regenerates the key pair (noble keygen). Signing a
 * transfer with the key is the ledger's business (src/dag/wallet.ts).
 */
export interface WalletKey extends KeyPair {
  address: string
}

/** Creates a new wallet file at `path`; throws KEY_FILE_INVALID when one exists there already. */
export async function createWalletFile (path: string): Promise<WalletKey> {
  const seed = randomBytes(32)
  const key = walletFromSeed(seed)
  const body = `${JSON.stringify({ version: 1, type: 'ml-dsa-65', seed: toHex(seed), address: key.address }, null, 2)}\n`
  try {
    await writeSecretFile(path, body)
  } catch (err) {
    if (isSecretFileExists(err)) throw new KeyFileError('KEY_FILE_INVALID', `wallet file ${path} already exists; it is never overwritten`, { path })
    throw err
  }
  return key
}

export function walletFromSeed (seed: Uint8Array): WalletKey {
  const kp = generateKeyPair(seed)
  return { ...kp, address: addressFromPublicKey(kp.publicKey) }
}

// a plain wallet file is ~200 bytes
const MAX_WALLET_FILE_BYTES = 64 * 1024

/** Reads a plain (version 1) wallet file; throws KEY_FILE_INVALID saying what is wrong, and how to open a keystore. */
export async function loadWalletFile (path: string): Promise<WalletKey> {
  let json: unknown
  try { json = JSON.parse(await readBoundedText(path, MAX_WALLET_FILE_BYTES)) } catch (err) {
    throw new KeyFileError('KEY_FILE_INVALID', `cannot read wallet file ${path}: ${err instanceof Error ? err.message : String(err)}`, { path })
  }
  const o = json as { version?: unknown, type?: unknown, seed?: unknown }
  if (o !== null && typeof o === 'object' && o.version === KEYSTORE_VERSION && o.type === KEYSTORE_TYPE) {
    throw new KeyFileError('KEY_FILE_INVALID', `wallet file ${path} is an encrypted keystore (as 'harmonyd wallet new' writes), not a plain key file; open it with loadKeystore(path, password) from src/core/keys/keystore.ts (or readWalletFile and unlockWalletFile, for either kind)`, { path })
  }
  if (o === null || typeof o !== 'object' || o.version !== 1 || o.type !== 'ml-dsa-65' || typeof o.seed !== 'string' || !/^[0-9a-f]{64}$/.test(o.seed)) {
    throw new KeyFileError('KEY_FILE_INVALID', `wallet file ${path} is not a version 1 ml-dsa-65 key file`, { path })
  }
  return walletFromSeed(fromHex(o.seed))
}
