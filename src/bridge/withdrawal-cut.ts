/**
 * The bridge's part of a state cut (src/dag/cut-parts.ts, docs/protocol.md "State sync"): the withdrawals final in
 * the cut's past that no epoch-close in it settled. A later epoch may list them (a close lists the withdrawals its
 * proposer saw final, so one final just before close E can be listed by close E+1), and a node that starts from the
 * cut holds no record of transactions below it: without this part its leaves for that epoch would lack them, and as
 * a validator its signature of that checkpoint would not count.
 *
 * The rule is the bridge's (`epochWithdrawals`): a final close settles each withdraw it lists that is final in its
 * own causal past. Folded over the cut's past, a withdraw is unsettled at the cut when no final close in the cut's
 * past lists it with it in its past; that set does not depend on the order the fold meets them in.
 */
import { compareBytes, fromHex, Reader, toHex, Writer } from '../core/codec.ts'
import { type BinaryDb, KEY_PREFIXES, sublevel } from '../core/storage.ts'
import type { CutAncestry, CutPart, CutTx } from '../dag/cut-parts.ts'
import type { FinalTx } from '../dag/reader.ts'
import { MAX_TX_BYTES, txInfo } from '../dag/tx.ts'
import { epochCloseKind, TX_KIND_EPOCH_CLOSE, TX_KIND_WITHDRAW } from './kinds/index.ts'

export const WITHDRAWAL_CUT_PART_ID = 2
/** Unsettled withdrawals a cut may carry (decoding bound). */
const MAX_UNSETTLED = 1_000_000
const MAGIC = new TextEncoder().encode('HWC1')
/** A stored unsettled record that carries its transaction (written by a state sync; the bridge's own hold '1'). */
const STORED_TAG = 0x57 // 'W'

/** A withdraw final in the cut's past, not settled there. */
export interface UnsettledWithdrawal { vertexId: string, encoded: Uint8Array }

export type WithdrawalCut = ReadonlyMap<string, UnsettledWithdrawal>

async function advance (prev: WithdrawalCut, txs: readonly CutTx[], ancestry: CutAncestry): Promise<WithdrawalCut> {
  const out = new Map(prev)
  for (const { tx, vertexId } of txs) {
    if (tx.tx.kind === TX_KIND_WITHDRAW) {
      out.set(tx.idHex, { vertexId, encoded: tx.encoded })
    } else if (tx.tx.kind === TX_KIND_EPOCH_CLOSE) {
      for (const id of epochCloseKind.decode(tx.tx.payload).withdrawals) {
        const w = out.get(toHex(id))
        if (w !== undefined && await ancestry.isAncestor(w.vertexId, vertexId)) out.delete(toHex(id))
      }
    }
  }
  return out
}

/** "HWC1" ‖ u32 n ‖ n × (tx id 32 ‖ vertex id 32 ‖ u32 k ‖ k bytes: the signed withdraw), by tx id */
function encode (state: WithdrawalCut): Uint8Array {
  const w = new Writer(64 + state.size * 3400).raw(MAGIC).u32(state.size)
  for (const id of [...state.keys()].sort()) {
    const x = state.get(id) as UnsettledWithdrawal
    w.fixed(fromHex(id), 32).fixed(fromHex(x.vertexId), 32).varBytes(x.encoded)
  }
  return w.finish()
}

function decode (bytes: Uint8Array): WithdrawalCut {
  const r = new Reader(bytes, 'withdrawal cut')
  if (compareBytes(r.fixedView(MAGIC.length), MAGIC) !== 0) r.fail('not a withdrawal cut')
  const n = r.u32()
  if (n > MAX_UNSETTLED || n > r.remaining) r.fail('too many withdrawals')
  const out = new Map<string, UnsettledWithdrawal>()
  let last = ''
  for (let i = 0; i < n; i++) {
    const id = toHex(r.fixed(32))
    const vertexId = toHex(r.fixed(32))
    const encoded = r.varBytes(MAX_TX_BYTES)
    if (id <= last) r.fail('withdrawals out of order or repeated')
    last = id
    const tx = txInfo(encoded)
    if (tx.idHex !== id || tx.tx.kind !== TX_KIND_WITHDRAW) r.fail('an entry that is not its withdraw transaction')
    out.set(id, { vertexId, encoded })
  }
  r.end()
  return out
}

/** The bridge's unsettled record of a synced withdrawal: 'W' ‖ vertex id 32 ‖ the signed withdraw. */
function storedValue (w: UnsettledWithdrawal): Uint8Array {
  return new Writer(33 + w.encoded.length).u8(STORED_TAG).fixed(fromHex(w.vertexId), 32).raw(w.encoded).finish()
}

/**
 * The withdraw an unsettled record carries (a state sync wrote it: the ledger holds no record of it), or undefined
 * for the bridge's own records (the ledger's `finalTx` answers for those) and anything unreadable.
 */
export function storedWithdrawal (value: Uint8Array): FinalTx | undefined {
  if (value.length < 34 || value[0] !== STORED_TAG) return undefined
  try {
    const tx = txInfo(value.subarray(33))
    return tx.tx.kind === TX_KIND_WITHDRAW ? { vertexId: toHex(value.subarray(1, 33)), tx } : undefined
  } catch {
    return undefined
  }
}

export const withdrawalCutPart: CutPart<WithdrawalCut> = {
  id: WITHDRAWAL_CUT_PART_ID,
  name: 'withdrawals',
  kinds: new Set([TX_KIND_WITHDRAW, TX_KIND_EPOCH_CLOSE]),
  empty: () => new Map(),
  advance,
  encode,
  decode,
  baseVertices: (state) => [...state.values()].map((w) => w.vertexId),
  installWrites: (state: WithdrawalCut, db: BinaryDb) => {
    const chain = sublevel(db, 'chain')
    return [...state].map(([id, w]) => ({ sublevel: chain, key: new TextEncoder().encode(KEY_PREFIXES.chain.bridgeUnsettled + id), value: storedValue(w) }))
  }
}
