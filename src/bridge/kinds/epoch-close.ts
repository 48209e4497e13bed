/**
 * `epoch-close` (kind 18): a genesis validator closes withdrawal epoch E = nonce + 1 by listing final withdraw
 * transactions. Every epoch-close acts for one system account (the *epoch account*), so the epochs form a nonce
 * chain: exactly one close per epoch becomes final (conflict set (epochAccount, E-1)), and close E always has
 * close E-1 in its causal past. Its effects on balances are none; the bridge (src/chain/dag-bridge.ts) reads the
 * final closes in order and derives each epoch's withdrawal leaves by a deterministic rule (see
 * `epochWithdrawals` there and docs/protocol.md).
 */
import { ADDRESS_BYTES } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'

export const TX_KIND_EPOCH_CLOSE = 18
/** Withdrawals listed per epoch: 120 ids × 32 bytes keeps the payload under the 4 KiB transaction bound. */
export const MAX_WITHDRAWALS_PER_EPOCH = 120

export const EPOCH_ACCOUNT: Uint8Array = sha256(new TextEncoder().encode('HARMONY/epoch-account/v1')).slice(0, ADDRESS_BYTES)

export interface EpochClosePayload {
  /** The epoch closed (1, 2, ...); must equal the transaction's nonce + 1. */
  epoch: bigint
  /** Ids (32 bytes) of final withdraw transactions. */
  withdrawals: Uint8Array[]
}

export const epochCloseKind: TxKind<EpochClosePayload> = {
  id: TX_KIND_EPOCH_CLOSE,
  name: 'epoch-close',
  maxPayloadBytes: 8 + 2 + 32 * MAX_WITHDRAWALS_PER_EPOCH,
  encode (p) {
    const w = new Writer(10 + 32 * p.withdrawals.length).u64(p.epoch).u16(p.withdrawals.length)
    for (const id of p.withdrawals) w.fixed(id, 32)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'epoch-close payload')
    const epoch = r.u64()
    const n = r.u16()
    if (n > MAX_WITHDRAWALS_PER_EPOCH) r.fail(`more than ${MAX_WITHDRAWALS_PER_EPOCH} withdrawals`)
    const withdrawals: Uint8Array[] = []
    for (let i = 0; i < n; i++) withdrawals.push(r.fixed(32))
    r.end()
    if (epoch === 0n) r.fail('epochs start at 1')
    return { epoch, withdrawals }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { epoch: p.epoch.toString(), withdrawals: p.withdrawals.map(id => `0x${toHex(id)}`) } },
  account () { return EPOCH_ACCOUNT },
  validate (p, tx) {
    if (tx.nonce + 1n !== p.epoch) throw new DagError('ENCODING_INVALID', 'an epoch-close for epoch E has nonce E-1')
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', 'an epoch-close has fee 0')
  },
  validatorOnly: true,
  feeExempt: true
}
