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
 *
 * A cut also holds what a node that starts from it (state sync, docs/protocol.md "State sync") needs to apply the
 * vertices above it exactly as the others do: per account the vertex of its latest transaction (`lastTx`) and its
 * unproven credits (the credits of the cut from vertices outside past(lastTx), which a debit concurrent with the
 * cut may not spend), and the graph records of the cut's top SYNC_BAND_HEIGHTS heights (`band`), with which a
 * syncing node answers ancestry between the cut and vertices concurrent with it; and the state of each part the
 * floors above register (cut-parts.ts: the market's records), folded from the final transactions of past(close)
 * in a canonical order. All of it is a function of past(close), so every honest validator computes the same
 * `syncDigest`, and the checkpoint carries it as its `dagRoot`.
 */
import { fromHex, Reader, toHex, Writer } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'
import { type CutPartId, cutParts, type CutTx, getCutPart } from './cut-parts.ts'
import { DagError } from './errors.ts'
import { FEE_POOL_ACCOUNT } from './fee-pool.ts'
import type { LedgerReader } from './reader.ts'
import { type AccountLeaf, buildStateTree, type StateTree } from './state-root.ts'
import { requireTxKind } from './tx-kinds.ts'
import { COMMIT_GC_DEPTH } from './consensus/commit-core.ts'

const FEE_POOL_HEX = toHex(FEE_POOL_ACCOUNT)
/** The credits of every account that has none: shared, never written (AccountState.unproven is read-only). */
const NO_CREDITS: ReadonlyMap<string, bigint> = new Map()

/** Vertices one cut may add: bounds the walk (an epoch closes every few seconds; a devnet epoch holds hundreds). */
export const MAX_CUT_VERTICES = 200_000
/**
 * Heights below the cut's vertex whose graph records the cut carries. A vertex concurrent with the cut was built on
 * the tips of its time, so its past and the cut's meet a few heights down; 32 heights is minutes of devnet history.
 */
export const SYNC_BAND_HEIGHTS = 32
/** Graph records in a band: SYNC_BAND_HEIGHTS heights of up to 64 validators' vertices. */
export const MAX_BAND_RECORDS = 64 * (SYNC_BAND_HEIGHTS + 1)
/**
 * A commit-rule cut's band: the ordered vertices of the rounds the rule keeps below the slot's round
 * (COMMIT_GC_DEPTH), which a node starting from the cut needs to go on ordering as the others do.
 */
export const MAX_SLOT_BAND_RECORDS = 64 * (COMMIT_GC_DEPTH + 1)

export interface AccountState {
  balance: bigint
  nonce: bigint
  /** The account's transaction of nonce `nonce - 1` and its vertex; undefined while the nonce is 0. */
  lastTx?: { vertexId: string, txId: string }
  /**
   * Credits (vertex id → amount) that are not in the causal past of `lastTx` (nor of `lastTx` itself). Read-only:
   * cuts share the maps of accounts an epoch did not change (most of them).
   */
  unproven: ReadonlyMap<string, bigint>
}

/** A vertex of the cut's top heights, as the graph records it (src/dag/history.ts). */
export interface BandRecord {
  id: string
  height: number
  timestampMs: bigint
  parents: string[]
  /** A commit-rule cut's record: its author's index in the genesis validators (the rule resumes from it). */
  author?: number
}

/** The accounts at one cut (hex address without 0x → state), and the vertex that defines it. */
export interface StateCut {
  vertexId: string
  /** The cut vertex's height (the genesis: 0). */
  height: number
  /** Under the commit rule: the committed slot the cut is the state after (advanceCutToSlot); `vertexId` is its leader. */
  slot?: number
  accounts: Map<string, AccountState>
  /**
   * past(vertexId) at heights ≥ height − SYNC_BAND_HEIGHTS, the vertex included (not the genesis), by id; for a
   * commit-rule cut, every vertex the order reached through the slot at heights ≥ height − COMMIT_GC_DEPTH, with
   * its author.
   */
  band: BandRecord[]
  /** The state of each registered part (cut-parts.ts) at this cut, by part id. */
  parts: Map<CutPartId, unknown>
}

export type CutReader = Pick<LedgerReader, 'acceptedVertex' | 'genesisState' | 'isAncestor' | 'ancestorsAmong' | 'vertexRecord' | 'validatorKeys'>

/** The cut of the genesis vertex: the genesis allocations. */
export function genesisCut (reader: Pick<CutReader, 'genesisState'>): StateCut {
  const g = reader.genesisState()
  const accounts = new Map<string, AccountState>()
  for (const a of g.accounts) accounts.set(toHex(a.address), { balance: a.balance, nonce: 0n, unproven: NO_CREDITS })
  return { vertexId: g.vertexId, height: 0, accounts, band: [], parts: new Map(cutParts().map(p => [p.id, p.empty()])) }
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
  // everything at or below the previous cut is already in it
  return await walkCut(reader, prev, [vertexId], vertexId, async id => await reader.isAncestor(id, prev.vertexId) ? 'below' : 'walk')
}

/**
 * The walk both cuts share (this one's and slot-cut.ts's): from `starts` through parents, counting each vertex `classify` says to walk (`below`:
 * already in `prev`, not descended; `skip`: no effects, not descended). `vertexId`: the new cut's vertex.
 */
export async function walkCut (reader: CutReader, prev: StateCut, starts: string[], vertexId: string, classify: (id: string) => Promise<'walk' | 'below' | 'skip'>): Promise<StateCut> {
  const accounts = new Map<string, AccountState>()
  // copy on write: an account's record is copied (shallow, its credits shared) and its credits copied only when
  // this walk changes them; most accounts do not change in an epoch
  for (const [k, a] of prev.accounts) accounts.set(k, { ...a })
  const own = new Map<string, Map<string, bigint>>()
  const creditsOf = (hex: string, a: AccountState): Map<string, bigint> => {
    let m = own.get(hex)
    if (m === undefined) {
      m = new Map(a.unproven)
      own.set(hex, m)
      a.unproven = m
    }
    return m
  }
  const get = (hex: string): AccountState => {
    let a = accounts.get(hex)
    if (a === undefined) {
      a = { balance: 0n, nonce: 0n, unproven: NO_CREDITS }
      accounts.set(hex, a)
    }
    return a
  }
  const credit = (hex: string, from: string, amount: bigint): void => {
    const a = get(hex)
    a.balance += amount
    const m = creditsOf(hex, a)
    m.set(from, (m.get(from) ?? 0n) + amount)
  }
  // accounts whose latest transaction is new in this walk: their unproven credits are filtered at the end
  const moved = new Set<string>()
  const seen = new Set<string>()
  const stack = [...starts]
  const parts = cutParts()
  const partKinds = new Set(parts.flatMap(p => [...p.kinds]))
  // the new vertices holding final transactions of a part's kinds, folded in (height, id) order after the walk
  const partVertices: Array<{ id: string, height: number, txs: CutTx[] }> = []
  while (stack.length > 0) {
    const id = stack.pop() as string
    if (seen.has(id)) continue
    seen.add(id)
    if (await classify(id) !== 'walk') continue
    if (seen.size > MAX_CUT_VERTICES) throw new DagError('TOO_LARGE', `state cut: more than ${MAX_CUT_VERTICES} vertices since the last cut`)
    const v = await reader.acceptedVertex(id)
    if (v === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: vertex ${id.slice(0, 16)} is not accepted here`)
    // an accepted vertex's transaction has its outcome recorded (anything else means this node has not finished
    // applying it), for this vertex, or under the commit rule possibly for another accepted vertex that carried the
    // same transaction (sent to two validators): the first in the order decided it, and it has no outcome here
    // (under Avalanche conflicting instances reject their vertices)
    const own = v.txs.filter(x => {
      if (x.status === 'pending' || x.recordVertexId === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: transaction ${x.tx.idHex.slice(0, 16)} has no outcome in ${id.slice(0, 16)}`)
      return x.recordVertexId === id
    })
    if (own.some(x => x.status === 'final' && partKinds.has(x.tx.tx.kind))) partVertices.push(await partVertex(reader, id, own, partKinds))
    for (const { tx, status, reason } of own) {
      if (status === 'rejected' && reason !== 'insufficient-balance') continue
      const sender = get(tx.accountHex)
      if (tx.tx.nonce + 1n > sender.nonce) {
        sender.nonce = tx.tx.nonce + 1n
        sender.lastTx = { vertexId: id, txId: tx.idHex }
        moved.add(tx.accountHex)
      }
      if (status !== 'final') continue
      const kind = requireTxKind(tx.tx.kind)
      const effects = kind.effects(kind.decode(tx.tx.payload), { account: tx.account, nonce: tx.tx.nonce })
      sender.balance -= effects.debit + tx.tx.fee
      for (const c of effects.credits) credit(toHex(c.to), id, c.amount)
      if (tx.tx.fee > 0n) credit(FEE_POOL_HEX, id, tx.tx.fee)
    }
    for (const p of v.parents) if (!seen.has(p)) stack.push(p)
  }
  for (const k of moved) {
    // a credit in past(lastTx) (or from lastTx itself) is proven for every later debit, which descends from lastTx;
    // credits new in this walk of an account that did not move are outside past(lastTx), which is below `prev`
    const a = accounts.get(k) as AccountState
    if (a.unproven.size === 0 || a.lastTx === undefined) continue
    const proven = await reader.ancestorsAmong([a.lastTx.vertexId], [...a.unproven.keys()])
    if (proven.size === 0) continue
    const m = creditsOf(k, a)
    for (const p of proven) m.delete(p)
  }
  for (const [k, a] of accounts) {
    // sums commute, so the order of the walk does not matter; a negative end balance would mean the outcomes
    // read here disagree with the ledger's rules
    if (a.balance < 0n) throw new DagError('PROTOCOL_ERROR', `state cut: account ${k.slice(0, 16)} would end negative`)
  }
  const { height, band } = await bandOf(reader, vertexId)
  partVertices.sort((x, y) => x.height - y.height || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
  const ordered = partVertices.flatMap(x => x.txs)
  const partStates = new Map<CutPartId, unknown>()
  for (const p of parts) partStates.set(p.id, await p.advance(prev.parts.get(p.id) ?? p.empty(), ordered.filter(x => p.kinds.has(x.tx.tx.kind)), reader))
  return { vertexId, height, accounts, band, parts: partStates }
}

/** A new vertex's final transactions of the parts' kinds, in its order, with its height and time. */
async function partVertex (reader: Pick<CutReader, 'vertexRecord'>, id: string, txs: NonNullable<Awaited<ReturnType<CutReader['acceptedVertex']>>>['txs'], kinds: ReadonlySet<number>): Promise<{ id: string, height: number, txs: CutTx[] }> {
  const r = await reader.vertexRecord(id)
  if (r === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: no graph record of ${id.slice(0, 16)}`)
  return { id, height: r.height, txs: txs.filter(x => x.status === 'final' && kinds.has(x.tx.tx.kind)).map(x => ({ tx: x.tx, vertexId: id, vertexTimeMs: r.timestampMs })) }
}

/** The graph records of past(vertexId) within SYNC_BAND_HEIGHTS heights of it, sorted by id. */
async function bandOf (reader: Pick<CutReader, 'vertexRecord' | 'genesisState'>, vertexId: string): Promise<{ height: number, band: BandRecord[] }> {
  const genesis = reader.genesisState().vertexId
  const top = await reader.vertexRecord(vertexId)
  if (top === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: no graph record of ${vertexId.slice(0, 16)}`)
  const floor = top.height - SYNC_BAND_HEIGHTS
  const band: BandRecord[] = []
  const seen = new Set<string>([vertexId])
  const stack = [vertexId]
  while (stack.length > 0) {
    const id = stack.pop() as string
    const r = id === vertexId ? top : await reader.vertexRecord(id)
    if (r === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: no graph record of ${id.slice(0, 16)}`)
    if (r.height < floor) continue
    band.push({ id, height: r.height, timestampMs: r.timestampMs, parents: [...r.parents] })
    if (band.length > MAX_BAND_RECORDS) throw new DagError('TOO_LARGE', `state cut: more than ${MAX_BAND_RECORDS} vertices in its top ${SYNC_BAND_HEIGHTS} heights`)
    for (const p of r.parents) {
      if (p === genesis || seen.has(p)) continue
      seen.add(p)
      stack.push(p)
    }
  }
  band.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
  return { height: top.height, band }
}

/** The Merkle state tree of a cut (state-root.ts). */
export function cutTree (cut: StateCut): StateTree {
  const leaves: AccountLeaf[] = []
  for (const [k, a] of cut.accounts) leaves.push({ address: fromHex(k), balance: a.balance, nonce: a.nonce })
  return buildStateTree(leaves)
}

/** Leading bytes of an encoded cut (its format's version); a stored cut of an older format does not decode. */
const CUT_MAGIC = new TextEncoder().encode('HSC3')
/** A commit-rule cut (advanceCutToSlot): HSC3's bytes with the slot after the height. */
const CUT_MAGIC_SLOT = new TextEncoder().encode('HSC4')
/** The format before parts (s15): the same bytes without the parts, read from this node's own store only. */
const CUT_MAGIC_NO_PARTS = new TextEncoder().encode('HSC2')
const SYNC_DIGEST_TAG = new TextEncoder().encode('HARMONY/state-sync/v2')
/** Accounts per cut (state-root.ts's bound) and unproven credits per account (a vertex each). */
const MAX_CUT_ACCOUNTS = 1_000_000
const MAX_UNPROVEN = 1_000_000
/** Bytes of one part's state. */
const MAX_PART_BYTES = 128 * 1024 * 1024

const byKey = <T>(a: [string, T], b: [string, T]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

/**
 * Canonical binary encoding of a cut (its sync digest is over these bytes, so it is one byte string per cut):
 *
 *   "HSC3" ‖ vertex id (32) ‖ height u32 ‖ u32 n ‖ n × band record (id 32 ‖ height u32 ‖ timestamp u64 ‖ u8 k ‖
 *   k × parent 32), by id ‖ u32 m ‖ m × account (address 20 ‖ balance u128 ‖ nonce u64 ‖ u8 has-last ‖ [vertex 32 ‖ tx 32] ‖
 *   u32 u ‖ u × (vertex 32 ‖ amount u128), by vertex), by address ‖ u8 p ‖ p × part (id u8 ‖ u32 n ‖ n bytes: the
 *   part's encoding of its state), by id
 *
 * Accounts at balance 0 and nonce 0 (which then have no credits) are left out. A commit-rule cut is "HSC4" with its
 * slot (u64) after the height and each band record's author (u16, its index in the genesis validators) after its
 * timestamp, the rest the same.
 */
export function encodeCut (cut: StateCut): Uint8Array {
  const w = new Writer(64 + cut.band.length * 120 + cut.accounts.size * 80)
  w.raw(cut.slot === undefined ? CUT_MAGIC : CUT_MAGIC_SLOT).fixed(fromHex(cut.vertexId), 32).u32(cut.height)
  if (cut.slot !== undefined) w.u64(BigInt(cut.slot))
  w.u32(cut.band.length)
  for (const r of [...cut.band].sort((x, y) => byKey([x.id, 0], [y.id, 0]))) {
    w.fixed(fromHex(r.id), 32).u32(r.height).u64(r.timestampMs)
    if (cut.slot !== undefined) w.u16(r.author ?? 0xffff)
    w.u8(r.parents.length)
    for (const p of r.parents) w.fixed(fromHex(p), 32)
  }
  const rows = [...cut.accounts].filter(([, a]) => a.balance !== 0n || a.nonce !== 0n).sort(byKey)
  w.u32(rows.length)
  for (const [k, a] of rows) {
    w.fixed(fromHex(k), 20).u128(a.balance).u64(a.nonce).u8(a.lastTx === undefined ? 0 : 1)
    if (a.lastTx !== undefined) w.fixed(fromHex(a.lastTx.vertexId), 32).fixed(fromHex(a.lastTx.txId), 32)
    const credits = [...a.unproven].sort(byKey)
    w.u32(credits.length)
    for (const [v, amount] of credits) w.fixed(fromHex(v), 32).u128(amount)
  }
  const parts = [...cut.parts].sort((a, b) => a[0] - b[0])
  w.u8(parts.length)
  for (const [id, state] of parts) {
    const part = getCutPart(id)
    if (part === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: part ${id} is not registered here`)
    w.u8(id).varBytes(part.encode(state))
  }
  return w.finish()
}

/**
 * Decodes encodeCut's bytes; throws DagError ENCODING_INVALID on anything else (an older format included). With
 * `stored` (this node's own stored cuts, src/bridge/state-cuts.ts) a cut of the format before parts decodes too,
 * with every part empty: every validator stored the same such cut, so the first epoch after the upgrade folds its
 * parts alike from there, without what came before it. (A node with no stored cut at all folds from the genesis,
 * the whole history: its parts then differ from the others', and so does its checkpoint signature.)
 */
export function decodeCut (bytes: Uint8Array, stored = false): StateCut {
  try {
    const r = new Reader(bytes, 'state cut')
    const magic = r.fixed(CUT_MAGIC.length)
    const is = (m: Uint8Array): boolean => magic.every((b, i) => b === m[i])
    const legacy = stored && is(CUT_MAGIC_NO_PARTS)
    const slotted = is(CUT_MAGIC_SLOT)
    if (!legacy && !slotted && !is(CUT_MAGIC)) r.fail('not a state cut of this format')
    const vertexId = toHex(r.fixed(32))
    const height = r.u32()
    const slotValue = slotted ? r.u64() : undefined
    if (slotValue !== undefined && slotValue > BigInt(Number.MAX_SAFE_INTEGER)) r.fail('slot out of range')
    const slot = slotValue === undefined ? undefined : Number(slotValue)
    const n = r.u32()
    if (n > (slotted ? MAX_SLOT_BAND_RECORDS : MAX_BAND_RECORDS)) r.fail('too many band records')
    const band: BandRecord[] = []
    for (let i = 0; i < n; i++) {
      const id = toHex(r.fixed(32))
      const h = r.u32()
      const timestampMs = r.u64()
      const author = slotted ? r.u16() : undefined
      const k = r.u8()
      const parents: string[] = []
      for (let j = 0; j < k; j++) parents.push(toHex(r.fixed(32)))
      band.push({ id, height: h, timestampMs, parents, ...(author !== undefined ? { author } : {}) })
    }
    const m = r.u32()
    if (m > MAX_CUT_ACCOUNTS) r.fail('too many accounts')
    const accounts = new Map<string, AccountState>()
    for (let i = 0; i < m; i++) {
      const address = toHex(r.fixed(20))
      if (accounts.has(address)) r.fail('an account listed twice')
      const balance = r.u128()
      const nonce = r.u64()
      const hasLast = r.u8()
      if (hasLast > 1) r.fail('bad flag')
      const lastTx = hasLast === 1 ? { vertexId: toHex(r.fixed(32)), txId: toHex(r.fixed(32)) } : undefined
      const u = r.u32()
      if (u > MAX_UNPROVEN) r.fail('too many unproven credits')
      const unproven = u === 0 ? NO_CREDITS : new Map<string, bigint>()
      for (let j = 0; j < u; j++) (unproven as Map<string, bigint>).set(toHex(r.fixed(32)), r.u128())
      accounts.set(address, { balance, nonce, ...(lastTx !== undefined ? { lastTx } : {}), unproven })
    }
    const parts = new Map<CutPartId, unknown>()
    if (legacy) {
      for (const part of cutParts()) parts.set(part.id, part.empty())
      r.end()
      return { vertexId, height, accounts, band, parts }
    }
    const p = r.u8()
    for (let i = 0; i < p; i++) {
      const id = r.u8()
      if (i > 0 && id <= Math.max(...parts.keys())) r.fail('parts out of order or repeated')
      const part = getCutPart(id) ?? r.fail(`part ${id} is not known here`)
      parts.set(id, part.decode(r.varBytesView(MAX_PART_BYTES)))
    }
    // every part this node folds must be there: a cut without one would start that part empty
    for (const part of cutParts()) if (!parts.has(part.id)) r.fail(`the ${part.name} part is missing`)
    r.end()
    return { vertexId, height, ...(slot !== undefined ? { slot } : {}), accounts, band, parts }
  } catch (err) {
    if (err instanceof DagError) throw err
    throw new DagError('ENCODING_INVALID', (err as Error).message, {}, { cause: err })
  }
}

/**
 * The digest a checkpoint signs as its `dagRoot`: sha256("HARMONY/state-sync/v2" ‖ encodeCut(cut)), lowercase hex
 * without 0x. It binds the cut's vertex, its state and everything a node syncing from it reads.
 */
export function syncDigest (cut: StateCut): string {
  return toHex(sha256(SYNC_DIGEST_TAG, encodeCut(cut)))
}

/** syncDigest of bytes a peer sent as an encoded cut (hash first: only bytes that match are decoded). */
export function syncDigestOfBytes (bytes: Uint8Array): string {
  return toHex(sha256(SYNC_DIGEST_TAG, bytes))
}
