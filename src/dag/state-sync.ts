/**
 * Starting a ledger from a checkpoint's state cut instead of the genesis (state sync, docs/protocol.md "State
 * sync"). The cut (state-cut.ts) carries, per account, what LedgerState keeps: balance, nonce and the credits not
 * yet proven for a later debit. A node that stores these records and then applies every accepted vertex outside
 * past(cut) computes the outcomes and the state the others computed (test/unit/state-sync.test.ts checks it
 * against a node that applied everything, over random DAGs).
 */
import { fromHex } from '../core/codec.ts'
import type { StateCut } from './state-cut.ts'
import type { AccountRecord } from './store.ts'

/** The account records of a cut, as LedgerState stores them. */
export function cutAccountRecords (cut: StateCut): Array<{ address: Uint8Array, rec: AccountRecord }> {
  const out: Array<{ address: Uint8Array, rec: AccountRecord }> = []
  for (const [k, a] of cut.accounts) {
    if (a.balance === 0n && a.nonce === 0n) continue
    const unproven = [...a.unproven].map(([v, amount]) => ({ vertexId: fromHex(v), amount }))
    out.push({ address: fromHex(k), rec: { balance: a.balance, nonce: a.nonce, unproven } })
  }
  return out
}
