import { parseAddress } from '../core/address.ts'
import { toHex } from '../core/codec.ts'
import type { KeyPair } from '../core/crypto.ts'
import { DagError } from './errors.ts'
import { buildTransfer, encodeTx } from './tx.ts'

// Wallet key files live with the other keys (src/core/keys/wallet.ts); signing and amounts are the ledger's.

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
