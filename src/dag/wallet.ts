import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { addressFromPublicKey, parseAddress } from './address.ts'
import { fromHex, toHex } from './codec.ts'
import { generateKeyPair, type KeyPair } from './crypto.ts'
import { DagError } from './errors.ts'
import { buildTransfer, encodeTx } from './tx.ts'

/**
 * Wallet key files: JSON `{ "version": 1, "type": "ml-dsa-65", "seed": "<64 hex>", "address": "hmy1…" }`, mode
 * 0600, created exclusively (never overwritten). The seed regenerates the key pair (noble keygen).
 */
export interface WalletKey extends KeyPair {
  address: string
}

export async function createWalletFile (path: string): Promise<WalletKey> {
  const seed = randomBytes(32)
  const key = walletFromSeed(seed)
  await mkdir(dirname(path), { recursive: true })
  const body = `${JSON.stringify({ version: 1, type: 'ml-dsa-65', seed: toHex(seed), address: key.address }, null, 2)}\n`
  try {
    await writeFile(path, body, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DagError('KEY_FILE_INVALID', `wallet file ${path} already exists; it is never overwritten`)
    throw err
  }
  return key
}

export function walletFromSeed (seed: Uint8Array): WalletKey {
  const kp = generateKeyPair(seed)
  return { ...kp, address: addressFromPublicKey(kp.publicKey) }
}

export async function loadWalletFile (path: string): Promise<WalletKey> {
  let json: unknown
  try { json = JSON.parse(await readFile(path, 'utf8')) } catch (err) {
    throw new DagError('KEY_FILE_INVALID', `cannot read wallet file ${path}: ${err instanceof Error ? err.message : String(err)}`)
  }
  const o = json as { version?: unknown, type?: unknown, seed?: unknown }
  if (o === null || typeof o !== 'object' || o.version !== 1 || o.type !== 'ml-dsa-65' || typeof o.seed !== 'string' || !/^[0-9a-f]{64}$/.test(o.seed)) {
    throw new DagError('KEY_FILE_INVALID', `wallet file ${path} is not a version 1 ml-dsa-65 key file`)
  }
  return walletFromSeed(fromHex(o.seed))
}

export interface SendInit {
  chainId: string
  to: string
  /** base units */
  amount: bigint
  nonce: bigint
  /** base units @default 1000 */
  fee?: bigint
}

/** Builds and signs a transfer; returns the 0x-hex encoding `account_sendTransaction` takes. */
export function signTransfer (key: KeyPair, init: SendInit): string {
  const tx = buildTransfer({ chainId: init.chainId, publicKey: key.publicKey, secretKey: key.secretKey, to: parseAddress(init.to), amount: init.amount, nonce: init.nonce, fee: init.fee ?? 1000n })
  return `0x${toHex(encodeTx(tx))}`
}

/** Parses "1.5" AGC (18 decimals) or a plain integer of base units with suffix "wei"-free: `parseAgc('1.5')`. */
export function parseAgc (text: string): bigint {
  const m = /^([0-9]{1,20})(?:\.([0-9]{1,18}))?$/.exec(text.trim())
  if (m === null) throw new DagError('AMOUNT_INVALID', `not an AGC amount: ${text} (expected e.g. 1.5)`)
  return BigInt(m[1]) * 10n ** 18n + BigInt((m[2] ?? '').padEnd(18, '0'))
}

export function formatAgc (base: bigint): string {
  const whole = base / 10n ** 18n
  const frac = (base % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '')
  return frac.length > 0 ? `${whole}.${frac}` : whole.toString()
}
