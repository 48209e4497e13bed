/**
 * The state at a cut of the DAG: the accounts given by exactly the accepted vertices in the causal past of a
 * vertex (docs/protocol.md "State roots of checkpoints"). Equal on every node, whatever order it accepted
 * concurrent vertices in, because a transaction's outcome depends only on its vertex's causal past.
 *
 * Cuts advance: when `prev` is in the causal past of `close`, cut(close) = cut(prev) + the effects of the vertices
 * in past(close) \ past(prev). Epoch closes chain that way (close E-1 is in close E's past), so each epoch walks
 * only its own vertices. The effects mirror LedgerState.applyVertex: a final transaction debits its kind's debit
 * plus the fee, credits its kind's credits and the fee pool, and consumes the nonce; one rejected `insufficient-balance` consumes
 * the nonce only; one rejected `nonce` changes nothing. Fees are credited to the fee pool (fee-pool.ts), as the
 * ledger does.
 */
import { fromHex, toHex } from '../core/codec.ts'
import { DagError } from './errors.ts'
import { FEE_POOL_ACCOUNT } from './fee-pool.ts'
import type { LedgerReader } from './reader.ts'
import { type AccountLeaf, buildStateTree, type StateTree } from './state-root.ts'
import { requireTxKind } from './tx-kinds.ts'

const FEE_POOL_HEX = toHex(FEE_POOL_ACCOUNT)

/** Vertices one cut may add: bounds the walk (an epoch closes every few seconds; a devnet epoch holds hundreds). */
export const MAX_CUT_VERTICES = 200_000

export interface AccountState { balance: bigint, nonce: bigint }

/** The accounts at one cut (hex address without 0x → state), and the vertex that defines it. */
export interface StateCut {
  vertexId: string
  accounts: Map<string, AccountState>
}

export type CutReader = Pick<LedgerReader, 'acceptedVertex' | 'genesisState' | 'isAncestor'>

/** The cut of the genesis vertex: the genesis allocations. */
export function genesisCut (reader: CutReader): StateCut {
  const g = reader.genesisState()
  const accounts = new Map<string, AccountState>()
  for (const a of g.accounts) accounts.set(toHex(a.address), { balance: a.balance, nonce: 0n })
  return { vertexId: g.vertexId, accounts }
}

/**
 * Advances `prev` to the cut of `vertexId`, which must be accepted on this node and have `prev.vertexId` in its
 * causal past. Does not change `prev`. Throws DagError PROTOCOL_ERROR when a vertex of the past is not accepted
 * here or an outcome is missing (the caller retries later) and TOO_LARGE past MAX_CUT_VERTICES.
 */
export async function advanceCut (reader: CutReader, prev: StateCut, vertexId: string): Promise<StateCut> {
  if (!await reader.isAncestor(prev.vertexId, vertexId)) {
    throw new DagError('PROTOCOL_ERROR', `state cut: ${prev.vertexId.slice(0, 16)} is not in the causal past of ${vertexId.slice(0, 16)}`)
  }
  const accounts = new Map<string, AccountState>()
  for (const [k, a] of prev.accounts) accounts.set(k, { balance: a.balance, nonce: a.nonce })
  const get = (hex: string): AccountState => {
    let a = accounts.get(hex)
    if (a === undefined) {
      a = { balance: 0n, nonce: 0n }
      accounts.set(hex, a)
    }
    return a
  }
  const seen = new Set<string>()
  const stack = [vertexId]
  while (stack.length > 0) {
    const id = stack.pop() as string
    if (seen.has(id)) continue
    seen.add(id)
    // everything at or below the previous cut is already in it
    if (await reader.isAncestor(id, prev.vertexId)) continue
    if (seen.size > MAX_CUT_VERTICES) throw new DagError('TOO_LARGE', `state cut: more than ${MAX_CUT_VERTICES} vertices since the last cut`)
    const v = await reader.acceptedVertex(id)
    if (v === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: vertex ${id.slice(0, 16)} is not accepted here`)
    for (const { tx, status, reason, recordVertexId } of v.txs) {
      // an accepted vertex's transaction has its outcome recorded for this vertex (conflicting instances reject
      // their vertices); anything else means this node has not finished applying it
      if (status === 'pending' || recordVertexId !== id) throw new DagError('PROTOCOL_ERROR', `state cut: transaction ${tx.idHex.slice(0, 16)} has no outcome in ${id.slice(0, 16)}`)
      if (status === 'rejected' && reason !== 'insufficient-balance') continue
      const sender = get(tx.accountHex)
      if (tx.tx.nonce + 1n > sender.nonce) sender.nonce = tx.tx.nonce + 1n
      if (status !== 'final') continue
      const kind = requireTxKind(tx.tx.kind)
      const effects = kind.effects(kind.decode(tx.tx.payload), { account: tx.account, nonce: tx.tx.nonce })
      sender.balance -= effects.debit + tx.tx.fee
      for (const c of effects.credits) get(toHex(c.to)).balance += c.amount
      if (tx.tx.fee > 0n) get(FEE_POOL_HEX).balance += tx.tx.fee
    }
    for (const p of v.parents) if (!seen.has(p)) stack.push(p)
  }
  for (const [k, a] of accounts) {
    // sums commute, so the order of the walk does not matter; a negative end balance would mean the outcomes
    // read here disagree with the ledger's rules
    if (a.balance < 0n) throw new DagError('PROTOCOL_ERROR', `state cut: account ${k.slice(0, 16)} would end negative`)
  }
  return { vertexId, accounts }
}

/** The Merkle state tree of a cut (state-root.ts). */
export function cutTree (cut: StateCut): StateTree {
  const leaves: AccountLeaf[] = []
  for (const [k, a] of cut.accounts) leaves.push({ address: fromHex(k), balance: a.balance, nonce: a.nonce })
  return buildStateTree(leaves)
}

const RECORD_BYTES = 20 + 32 + 8

/** Binary encoding of a cut: vertex id (32) ‖ u32 count ‖ count × (address 20 ‖ balance u256 ‖ nonce u64). */
export function encodeCut (cut: StateCut): Uint8Array {
  const rows = [...cut.accounts].filter(([, a]) => a.balance !== 0n || a.nonce !== 0n)
  const out = new Uint8Array(36 + rows.length * RECORD_BYTES)
  const view = new DataView(out.buffer)
  out.set(fromHex(cut.vertexId), 0)
  view.setUint32(32, rows.length)
  let o = 36
  for (const [k, a] of rows) {
    out.set(fromHex(k), o)
    writeBig(view, o + 20, a.balance, 32)
    writeBig(view, o + 52, a.nonce, 8)
    o += RECORD_BYTES
  }
  return out
}

/** Decodes encodeCut's bytes; throws DagError ENCODING_INVALID on anything else. */
export function decodeCut (bytes: Uint8Array): StateCut {
  if (bytes.length < 36) throw new DagError('ENCODING_INVALID', 'state cut: truncated')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = view.getUint32(32)
  if (bytes.length !== 36 + count * RECORD_BYTES) throw new DagError('ENCODING_INVALID', 'state cut: wrong length')
  const accounts = new Map<string, AccountState>()
  let o = 36
  for (let i = 0; i < count; i++) {
    accounts.set(toHex(bytes.subarray(o, o + 20)), { balance: readBig(view, o + 20, 32), nonce: readBig(view, o + 52, 8) })
    o += RECORD_BYTES
  }
  return { vertexId: toHex(bytes.subarray(0, 32)), accounts }
}

function writeBig (view: DataView, offset: number, value: bigint, bytes: number): void {
  let v = value
  for (let i = bytes - 1; i >= 0; i--) {
    view.setUint8(offset + i, Number(v & 0xffn))
    v >>= 8n
  }
}

function readBig (view: DataView, offset: number, bytes: number): bigint {
  let v = 0n
  for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(view.getUint8(offset + i))
  return v
}
