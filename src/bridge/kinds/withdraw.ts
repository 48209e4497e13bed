/**
 * `withdraw` (kind 17): the signer's account burns `amount` (plus the fee) to be paid out on the EVM chain to
 * `evmAddress`. Once final, an epoch-close lists it and it becomes the withdrawal leaf
 * `{ account: evmAddress, amount, nonce: uint256(transaction id) }` of that epoch's checkpoint.
 */
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { KEY_PREFIXES } from '../../core/storage.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'

export const TX_KIND_WITHDRAW = 17
export const EVM_ADDRESS_BYTES = 20

export interface WithdrawPayload {
  /** The EVM address that receives the AGC (20 bytes). */
  evmAddress: Uint8Array
  /** Base units, > 0. */
  amount: bigint
}

export const withdrawKind: TxKind<WithdrawPayload> = {
  id: TX_KIND_WITHDRAW,
  name: 'withdraw',
  maxPayloadBytes: EVM_ADDRESS_BYTES + 16,
  encode (p) { return new Writer(36).fixed(p.evmAddress, EVM_ADDRESS_BYTES).u128(p.amount).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'withdraw payload')
    const evmAddress = r.fixed(EVM_ADDRESS_BYTES)
    const amount = r.u128()
    r.end()
    if (amount === 0n) r.fail('amount must be positive')
    if (evmAddress.every(b => b === 0)) r.fail('the zero EVM address cannot receive a withdrawal')
    return { evmAddress, amount }
  },
  // a burn: debited from the signer, credited to no one
  effects (p) { return { debit: p.amount, credits: [] } },
  toJSON (p) { return { evmAddress: `0x${toHex(p.evmAddress)}`, amount: p.amount.toString() } },
  // "owed an epoch" (DagBridge's unsettled set) commits with the decision: a write after it could be lost to kill -9
  finalRecords (tx) {
    return [{ sublevel: 'chain', key: new TextEncoder().encode(KEY_PREFIXES.chain.bridgeUnsettled + tx.idHex), value: new TextEncoder().encode('1') }]
  }
}
