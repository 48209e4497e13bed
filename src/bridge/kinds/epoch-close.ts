/**
 * `epoch-close` (kind 18): a genesis validator closes withdrawal epoch E = nonce + 1 by listing final withdraw
 * transactions and sweeping `fees` out of the validators' fee pool. Every epoch-close acts for one system account,
 * the *epoch account*, which is the fee pool (FEE_POOL_ACCOUNT, src/dag/fee-pool.ts): so the epochs form a nonce
 * chain (exactly one close per epoch becomes final, conflict set (epochAccount, E-1), and close E always has close
 * E-1 in its causal past), and the sweep is an ordinary debit of the pool, checked by the ledger's causal-past rule
 * (only fees credited in the close's causal past can be swept: the same outcome on every node). The bridge
 * (src/bridge/dag-bridge.ts) reads the final closes in order and derives each epoch's leaves by a deterministic
 * rule: the listed withdrawals (`epochWithdrawals`) plus, when `fees` > 0, one leaf paying `fees` to the settlement
 * contract itself, which puts it in the stakers' fee pool (docs/chain.md "Solvency", docs/protocol.md).
 */
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { DagError } from '../../dag/errors.ts'
import { FEE_POOL_ACCOUNT } from '../../dag/fee-pool.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'

export const TX_KIND_EPOCH_CLOSE = 18
/** Withdrawals listed per epoch: 120 ids × 32 bytes keeps the payload under the 4 KiB transaction bound. */
export const MAX_WITHDRAWALS_PER_EPOCH = 120

/** The account every epoch-close acts for: the fee pool, so a close can sweep it (see above). */
export const EPOCH_ACCOUNT: Uint8Array = FEE_POOL_ACCOUNT

export interface EpochClosePayload {
  /** The epoch closed (1, 2, ...); must equal the transaction's nonce + 1. */
  epoch: bigint
  /** Ids (32 bytes) of final withdraw transactions. */
  withdrawals: Uint8Array[]
  /** Base units swept from the fee pool into the epoch's fee leaf (0: none). */
  fees: bigint
}

export const epochCloseKind: TxKind<EpochClosePayload> = {
  id: TX_KIND_EPOCH_CLOSE,
  name: 'epoch-close',
  maxPayloadBytes: 8 + 2 + 32 * MAX_WITHDRAWALS_PER_EPOCH + 16,
  encode (p) {
    const w = new Writer(26 + 32 * p.withdrawals.length).u64(p.epoch).u16(p.withdrawals.length)
    for (const id of p.withdrawals) w.fixed(id, 32)
    return w.u128(p.fees).finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'epoch-close payload')
    const epoch = r.u64()
    const n = r.u16()
    if (n > MAX_WITHDRAWALS_PER_EPOCH) r.fail(`more than ${MAX_WITHDRAWALS_PER_EPOCH} withdrawals`)
    const withdrawals: Uint8Array[] = []
    for (let i = 0; i < n; i++) withdrawals.push(r.fixed(32))
    const fees = r.u128()
    r.end()
    if (epoch === 0n) r.fail('epochs start at 1')
    return { epoch, withdrawals, fees }
  },
  // the sweep burns the fees on the DAG; the epoch's fee leaf pays them out of escrow into the stakers' fee pool
  effects (p) { return { debit: p.fees, credits: [] } },
  toJSON (p) { return { epoch: p.epoch.toString(), withdrawals: p.withdrawals.map(id => `0x${toHex(id)}`), fees: p.fees.toString() } },
  account () { return EPOCH_ACCOUNT },
  validate (p, tx) {
    if (tx.nonce + 1n !== p.epoch) throw new DagError('ENCODING_INVALID', 'an epoch-close for epoch E has nonce E-1')
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', 'an epoch-close has fee 0')
  },
  validatorOnly: true,
  feeExempt: true
}
