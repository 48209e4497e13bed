/**
 * Sealed bids: `bid-commit` (35) fixes a price without showing it; `bid-reveal` (36) opens it. Both are signed by
 * the provider and final on the DAG, so the record proves which bids existed in time (docs/market.md "Time").
 */
import { ADDRESS_BYTES } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { TX_KIND_BID_COMMIT, TX_KIND_BID_REVEAL } from './ids.ts'
import { TASK_ID_BYTES } from './provider.ts'

export const SALT_BYTES = 32
const BID_TAG = new TextEncoder().encode('HARMONY/market/bid/v1')

/** commitment = sha256("HARMONY/market/bid/v1" ‖ taskId ‖ provider ‖ price u128 ‖ salt 32 B). */
export function bidCommitment (taskId: Uint8Array, provider: Uint8Array, price: bigint, salt: Uint8Array): Uint8Array {
  return sha256(BID_TAG, new Writer(100).fixed(taskId, TASK_ID_BYTES).fixed(provider, ADDRESS_BYTES).u128(price).fixed(salt, SALT_BYTES).finish())
}

export interface BidCommitPayload {
  taskId: Uint8Array
  commitment: Uint8Array
}

export const bidCommitKind: TxKind<BidCommitPayload> = {
  id: TX_KIND_BID_COMMIT,
  name: 'bid-commit',
  maxPayloadBytes: TASK_ID_BYTES + 32,
  encode (p) { return new Writer(64).fixed(p.taskId, TASK_ID_BYTES).fixed(p.commitment, 32).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'bid-commit payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const commitment = r.fixed(32)
    r.end()
    return { taskId, commitment }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, commitment: `0x${toHex(p.commitment)}` } }
}

export interface BidRevealPayload {
  taskId: Uint8Array
  /** Base units per replica. */
  price: bigint
  salt: Uint8Array
}

export const bidRevealKind: TxKind<BidRevealPayload> = {
  id: TX_KIND_BID_REVEAL,
  name: 'bid-reveal',
  maxPayloadBytes: TASK_ID_BYTES + 16 + SALT_BYTES,
  encode (p) { return new Writer(80).fixed(p.taskId, TASK_ID_BYTES).u128(p.price).fixed(p.salt, SALT_BYTES).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'bid-reveal payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const price = r.u128()
    const salt = r.fixed(SALT_BYTES)
    r.end()
    if (price === 0n) r.fail('price must be positive')
    return { taskId, price, salt }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, price: p.price.toString(), salt: `0x${toHex(p.salt)}` } }
}
