/**
 * The ledger's account records (dag-a) and unproven credits (dag-u) as bytes; src/dag/store.ts reads and writes
 * them.
 */
import { Reader, Writer } from '../core/codec.ts'

export interface UnprovenCredit {
  vertexId: Uint8Array
  amount: bigint
}

/**
 * An account's record (dag-a): its balance, nonce, and how many unproven credits it has (dag-u). Unproven credits
 * are credits applied to the account that are not yet known to lie in the causal past of its latest debit; a
 * debit may only spend what its causal past gave the account (see docs/protocol.md §Ledger), which makes the state
 * independent of the order in which nodes accept concurrent vertices. They are kept beside the record, one key
 * each, so that a credit costs one small write however many the account holds (the fee pool gains one per vertex
 * until an epoch close spends it), and are read only when the account debits.
 */
export interface AccountRecord {
  balance: bigint
  nonce: bigint
  unprovenCount: number
}

/** An account with its unproven credits listed (a state cut's account, a record of the format before s20). */
export interface AccountSnapshot {
  balance: bigint
  nonce: bigint
  unproven: UnprovenCredit[]
}

/** Bytes of an encoded AccountRecord: balance u128 ‖ nonce u64 ‖ u32 unproven count. */
export const ACCOUNT_RECORD_BYTES = 28
/** The dag-a format this code writes (dag-m 'accounts'). */
export const ACCOUNTS_FORMAT = 2

export function encodeAccount (a: AccountRecord): Uint8Array {
  return new Writer(ACCOUNT_RECORD_BYTES).u128(a.balance).u64(a.nonce).u32(a.unprovenCount).finish()
}

export function decodeAccount (b: Uint8Array): AccountRecord {
  const r = new Reader(b, 'account record')
  const rec = { balance: r.u128(), nonce: r.u64(), unprovenCount: r.u32() }
  r.end()
  return rec
}

/** The record of the format before s20: balance u128 ‖ nonce u64 ‖ u32 n ‖ n × (vertex 32 ‖ amount u128). */
export function decodeLegacyAccount (b: Uint8Array): AccountSnapshot {
  const r = new Reader(b, 'account record (before s20)')
  const balance = r.u128()
  const nonce = r.u64()
  const n = r.u32()
  if (n > b.length) r.fail('bad credit count')
  const unproven: UnprovenCredit[] = []
  for (let i = 0; i < n; i++) unproven.push({ vertexId: r.fixed(32), amount: r.u128() })
  r.end()
  return { balance, nonce, unproven }
}

/** A credit's amount under dag-u: u128. */
export function encodeCreditAmount (amount: bigint): Uint8Array { return new Writer(16).u128(amount).finish() }

export function decodeCreditAmount (b: Uint8Array): bigint {
  const r = new Reader(b, 'unproven credit')
  const amount = r.u128()
  r.end()
  return amount
}
