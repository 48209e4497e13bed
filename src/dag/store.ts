// One job, past 400 lines: the repositories over every dag-* sublevel and the encodings of their records, which
// only this file writes and reads (a split would export every codec for one reader).
import { type BinaryDb, type BinarySublevel, KEY_PREFIXES, keyBytes, type SublevelName } from '../core/storage.ts'
import { getValue, sublevel } from '../core/storage.ts'
import { concatBytes, fromHex, Reader, toHex, Writer } from '../core/codec.ts'
import type { VertexStatus } from './graph.ts'
import { decodeBodyRef, type VertexBodyLog } from './body-log.ts'
import { ACCOUNT_RECORD_BYTES, type AccountRecord, ACCOUNTS_FORMAT, type AccountSnapshot, decodeAccount, decodeCreditAmount, decodeLegacyAccount, encodeAccount, encodeCreditAmount, type UnprovenCredit } from './account-record.ts'
import { DagError } from './errors.ts'

export type { AccountRecord, AccountSnapshot, UnprovenCredit } from './account-record.ts'

/**
 * LevelDB layout of the ledger (one repository per record type, each with its codec). Everything a state change
 * touches is written through one `DagBatch`, committed as ONE LevelDB batch, so a crash leaves either all of it
 * or none of it.
 *
 *   dag-v  vertexId(32)                         -> vertex encoding (bodies kept in LevelDB: no body log given,
 *                                                    or written before it existed; read as a fallback)
 *   dag-b  vertexId(32)                         -> reference into the vertex body log (body-log.ts)
 *   dag-c  (parentId(32) || childId(32) -> '': written by earlier versions, never read; no longer written)
 *   dag-t  vertexId(32)                         -> ''            (vertices without children)
 *   dag-x  'i' || txId(32)                      -> TxRecord
 *          'n' || address(20) || nonce(8) || vertexId(32) -> txId (every instance of an (account, nonce))
 *   dag-a  address(20)                          -> AccountRecord
 *   dag-u  address(20) || vertexId(32)          -> u128 amount (the account's unproven credits, one per vertex)
 *   dag-s  'v' || vertexId(32)                  -> VertexDecision
 *          'c' || address(20) || nonce(8)       -> vertexId(32) || txId(32) (decided conflict sets)
 *   dag-m  'genesis' -> genesis id; 'counters' -> Counters; 'final-clock' -> FinalClock.encode; 'history' -> the history cut (history.ts);
 *          'accounts' -> u8 format of dag-a (absent: written before s20, credits inside the record; upgradeAccounts)
 *   dag-g  'r' || vertexId(32) -> GraphRecord; 'h' || height(4) || vertexId(32) -> ''; 'u' || vertexId(32) -> ''
 *          (the graph index of history.ts: decided history leaves memory and is read from here)
 */

export type TxStatus = 'pending' | 'final' | 'rejected'

/** Why a transaction was rejected (bounded). */
// appended only (stored by index); 'unattested': a deposit credit the order reached before a quorum of attestations;
// 'order-check': refused where the commit rule's order reached it by its part's check (order-checkers.ts)
export const REJECT_REASONS = ['none', 'conflict', 'insufficient-balance', 'nonce', 'unattested', 'order-check'] as const
export type RejectReason = (typeof REJECT_REASONS)[number]
/** The refusals of an order check: the nonce stays unused, and the transaction's id keeps that decision. */
export const ORDER_REFUSALS: ReadonlySet<RejectReason> = new Set(['unattested', 'order-check'])

export interface TxRecord {
  status: TxStatus
  vertexId: Uint8Array
  reason: RejectReason
  /** finality time, ms since epoch (0 when not final) */
  decidedAtMs: bigint
}

export interface VertexDecision {
  status: Exclude<VertexStatus, 'processing'>
  /** acceptance sequence number on this node (0 for rejected) */
  seq: bigint
  /**
   * Under the commit rule, the slot (round × leaders + index) whose committed leader ordered the vertex: the same
   * at every node, unlike `seq`. Absent under Avalanche, for a rejected vertex, and in records written before s28.
   */
  slot?: number
}

export interface Counters {
  acceptedVertices: bigint
  rejectedVertices: bigint
  finalTxs: bigint
  rejectedTxs: bigint
}

const STATUS_CODE: Record<TxStatus, number> = { pending: 0, final: 1, rejected: 2 }
const STATUS_BY_CODE: TxStatus[] = ['pending', 'final', 'rejected']

export function encodeTxRecord (r: TxRecord): Uint8Array {
  return new Writer(48).u8(STATUS_CODE[r.status]).fixed(r.vertexId, 32).u8(REJECT_REASONS.indexOf(r.reason)).u64(r.decidedAtMs).finish()
}

export function decodeTxRecord (b: Uint8Array): TxRecord {
  const rd = new Reader(b, 'tx record')
  const s = rd.u8()
  const vertexId = rd.fixed(32)
  const reason = rd.u8()
  const decidedAtMs = rd.u64()
  rd.end()
  if (s >= STATUS_BY_CODE.length || reason >= REJECT_REASONS.length) rd.fail('bad status')
  return { status: STATUS_BY_CODE[s], vertexId, reason: REJECT_REASONS[reason], decidedAtMs }
}

/** u8 status ‖ u64 seq ‖ [u64 slot] */
function encodeDecision (d: VertexDecision): Uint8Array {
  const w = new Writer(17).u8(d.status === 'accepted' ? 1 : 2).u64(d.seq)
  if (d.slot !== undefined) w.u64(BigInt(d.slot))
  return w.finish()
}

function decodeDecision (b: Uint8Array): VertexDecision {
  const r = new Reader(b, 'vertex decision')
  const s = r.u8()
  const seq = r.u64()
  const slot = r.remaining > 0 ? Number(r.u64()) : undefined
  r.end()
  return { status: s === 1 ? 'accepted' : 'rejected', seq, ...(slot !== undefined ? { slot } : {}) }
}

function encodeCounters (c: Counters): Uint8Array {
  return new Writer(32).u64(c.acceptedVertices).u64(c.rejectedVertices).u64(c.finalTxs).u64(c.rejectedTxs).finish()
}

function decodeCounters (b: Uint8Array): Counters {
  const r = new Reader(b, 'counters')
  const c = { acceptedVertices: r.u64(), rejectedVertices: r.u64(), finalTxs: r.u64(), rejectedTxs: r.u64() }
  r.end()
  return c
}

// key layouts from the storage table (src/core/storage.ts)
const PREFIX_I = keyBytes(KEY_PREFIXES.dagTx.txRecord)
const PREFIX_N = keyBytes(KEY_PREFIXES.dagTx.nonceIndex)
const PREFIX_V = keyBytes(KEY_PREFIXES.dagConsensus.decision)
const PREFIX_C = keyBytes(KEY_PREFIXES.dagConsensus.conflictWinner)
const PREFIX_S = keyBytes(KEY_PREFIXES.dagConsensus.slotLeader)
const slotKey = (slot: number): Uint8Array => concatBytes(PREFIX_S, new Writer(8).u64(BigInt(slot)).finish())
const KEY_GENESIS = keyBytes(KEY_PREFIXES.dagMeta.genesis)
const KEY_COUNTERS = keyBytes(KEY_PREFIXES.dagMeta.counters)
const KEY_FINAL_CLOCK = keyBytes(KEY_PREFIXES.dagMeta.finalClock)
const KEY_ACCOUNTS_FORMAT = keyBytes(KEY_PREFIXES.dagMeta.accountsFormat)
const VERTEX_ID_MAX = new Uint8Array(32).fill(0xff)
const PREFIX_UNDECIDED = keyBytes(KEY_PREFIXES.dagGraph.undecided)
const EMPTY = new Uint8Array(0)

function nonceBytes (nonce: bigint): Uint8Array {
  return new Writer(8).u64(nonce).finish()
}

interface BatchOp {
  type: 'put' | 'del'
  sublevel: BinarySublevel
  key: Uint8Array
  value?: Uint8Array
}

/** Collects writes across sublevels; `commit` writes them as one atomic LevelDB batch. */
export class DagBatch {
  readonly ops: BatchOp[] = []
  private readonly store: DagStore
  constructor (store: DagStore) { this.store = store }

  put (sub: BinarySublevel, key: Uint8Array, value: Uint8Array): this {
    this.ops.push({ type: 'put', sublevel: sub, key, value })
    return this
  }

  del (sub: BinarySublevel, key: Uint8Array): this {
    this.ops.push({ type: 'del', sublevel: sub, key })
    return this
  }

  /**
   * Writes every op as one LevelDB batch. With `sync` the write is fsync'd before it resolves: only then does a
   * power loss keep it (a process kill keeps it either way, the OS has it).
   */
  async commit (options: { sync?: boolean } = {}): Promise<void> {
    if (this.ops.length === 0) return
    // every body a reference in this batch (or an earlier one) names is durable before the batch is
    if (options.sync === true) await this.store.bodyLog?.sync()
    await this.store.db.batch(this.ops.map(o => o.type === 'put'
      ? { type: 'put' as const, sublevel: o.sublevel, key: o.key, value: o.value as Uint8Array }
      : { type: 'del' as const, sublevel: o.sublevel, key: o.key }), { sync: options.sync === true })
  }
}

/** Repositories over the dag-* sublevels. Holds no state of its own beyond the handles. */
export class DagStore {
  readonly db: BinaryDb
  readonly vertices: BinarySublevel
  readonly tips: BinarySublevel
  readonly txs: BinarySublevel
  readonly accounts: BinarySublevel
  /** unproven credits, address ‖ vertex id → amount */
  readonly credits: BinarySublevel
  readonly consensus: BinarySublevel
  readonly meta: BinarySublevel
  /** the graph index (src/dag/history.ts) */
  readonly graph: BinarySublevel
  /** references into `bodyLog` by vertex id */
  readonly bodyRefs: BinarySublevel
  /** Where new vertex bodies go; without one they are stored in `vertices` (an in-memory store, tests). */
  readonly bodyLog: VertexBodyLog | undefined

  constructor (db: BinaryDb, bodyLog?: VertexBodyLog) {
    this.db = db
    this.bodyLog = bodyLog
    this.bodyRefs = sublevel(db, 'dagBodies')
    this.vertices = sublevel(db, 'dagVertices')
    this.tips = sublevel(db, 'dagTips')
    this.txs = sublevel(db, 'dagTx')
    this.accounts = sublevel(db, 'dagAccounts')
    this.credits = sublevel(db, 'dagCredits')
    this.consensus = sublevel(db, 'dagConsensus')
    this.meta = sublevel(db, 'dagMeta')
    this.graph = sublevel(db, 'dagGraph')
  }

  private readonly others = new Map<SublevelName, BinarySublevel>()

  batch (): DagBatch { return new DagBatch(this) }

  /** A handle on any sublevel of the storage table, for records other parts add to a decision's batch. */
  sublevelOf (name: SublevelName): BinarySublevel {
    let s = this.others.get(name)
    if (s === undefined) { s = sublevel(this.db, name); this.others.set(name, s) }
    return s
  }

  // vertices
  async getVertex (id: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.bodyLog !== undefined) {
      const ref = await getValue(this.bodyRefs, id)
      if (ref !== undefined) return await this.bodyLog.read(ref)
    }
    return await this.vertices.get(id)
  }

  async * allVertices (): AsyncGenerator<[Uint8Array, Uint8Array]> {
    for await (const [k, v] of this.vertices.iterator()) yield [k, v]
    if (this.bodyLog === undefined) return
    for await (const k of this.bodyRefs.keys()) {
      const v = await this.getVertex(k)
      if (v !== undefined) yield [k, v]
    }
  }

  putVertex (b: DagBatch, id: Uint8Array, encoded: Uint8Array, parents: Uint8Array[]): void {
    if (this.bodyLog !== undefined) b.put(this.bodyRefs, id, this.bodyLog.append(encoded))
    else b.put(this.vertices, id, encoded)
    for (const p of parents) b.del(this.tips, p)
    b.put(this.tips, id, EMPTY)
  }

  /** Deletes a vertex's body wherever it is stored (pruning); its segment goes with `collectBodies`. */
  deleteVertexBody (b: DagBatch, id: Uint8Array): void {
    b.del(this.vertices, id)
    if (this.bodyLog !== undefined) b.del(this.bodyRefs, id)
  }

  /** Deletes the body log's segments that no stored reference names. Reads every reference: run after pruning. */
  async collectBodies (): Promise<number> {
    if (this.bodyLog === undefined) return 0
    const live = new Set<number>()
    for await (const ref of this.bodyRefs.values()) live.add(decodeBodyRef(ref).segment)
    return this.bodyLog.collect(live)
  }

  // transactions
  async getTxRecord (txId: Uint8Array): Promise<TxRecord | undefined> {
    const v = await getValue(this.txs, concatBytes(PREFIX_I, txId))
    return v === undefined ? undefined : decodeTxRecord(v)
  }

  putTxRecord (b: DagBatch, txId: Uint8Array, r: TxRecord): void {
    b.put(this.txs, concatBytes(PREFIX_I, txId), encodeTxRecord(r))
  }

  putTxInstance (b: DagBatch, account: Uint8Array, nonce: bigint, vertexId: Uint8Array, txId: Uint8Array): void {
    b.put(this.txs, concatBytes(PREFIX_N, account, nonceBytes(nonce), vertexId), txId)
  }

  /** Vertex ids holding a transaction of (account, nonce). */
  async txInstances (account: Uint8Array, nonce: bigint): Promise<Array<{ vertexId: Uint8Array, txId: Uint8Array }>> {
    const prefix = concatBytes(PREFIX_N, account, nonceBytes(nonce))
    const out: Array<{ vertexId: Uint8Array, txId: Uint8Array }> = []
    const it = this.txs.iterator({ gte: prefix })
    for await (const [k, v] of it) {
      if (k.length !== prefix.length + 32 || !k.subarray(0, prefix.length).every((x, i) => x === prefix[i])) break
      out.push({ vertexId: k.slice(prefix.length), txId: v })
    }
    return out
  }

  // accounts
  async getAccount (address: Uint8Array): Promise<AccountRecord | undefined> {
    const v = await getValue(this.accounts, address)
    return v === undefined ? undefined : decodeAccount(v)
  }

  putAccount (b: DagBatch, address: Uint8Array, a: AccountRecord): void {
    b.put(this.accounts, address, encodeAccount(a))
  }

  async * allAccounts (): AsyncGenerator<[Uint8Array, AccountRecord]> {
    for await (const [k, v] of this.accounts.iterator()) yield [k, decodeAccount(v)]
  }

  /** Writes an account with its credits listed (a genesis allocation, a state cut's account). */
  putAccountSnapshot (b: DagBatch, address: Uint8Array, a: AccountSnapshot): void {
    this.putAccount(b, address, { balance: a.balance, nonce: a.nonce, unprovenCount: a.unproven.length })
    for (const c of a.unproven) this.putCredit(b, address, c)
  }

  /** The account's unproven credits, in vertex id order (as many as its record counts). */
  async getCredits (address: Uint8Array): Promise<UnprovenCredit[]> {
    const out: UnprovenCredit[] = []
    for await (const [k, v] of this.credits.iterator({ gte: concatBytes(address, new Uint8Array(32)), lte: concatBytes(address, VERTEX_ID_MAX) })) {
      out.push({ vertexId: k.slice(20), amount: decodeCreditAmount(v) })
    }
    return out
  }

  /** Puts one credit of (address, vertex): a later put of the same pair replaces it. */
  putCredit (b: DagBatch, address: Uint8Array, c: UnprovenCredit): void {
    b.put(this.credits, concatBytes(address, c.vertexId), encodeCreditAmount(c.amount))
  }

  deleteCredit (b: DagBatch, address: Uint8Array, vertexId: Uint8Array): void {
    b.del(this.credits, concatBytes(address, vertexId))
  }

  /** Marks a new ledger's account records as this code's format (genesis, state sync). */
  putAccountsFormat (b: DagBatch): void { b.put(this.meta, KEY_ACCOUNTS_FORMAT, Uint8Array.of(ACCOUNTS_FORMAT)) }

  /**
   * A datadir written before s20 holds unproven credits inside the account records: moves them under dag-u, in one
   * fsync'd batch, once (dag-m 'accounts' marks it done). Returns the records rewritten.
   */
  async upgradeAccounts (): Promise<number> {
    const format = await getValue(this.meta, KEY_ACCOUNTS_FORMAT)
    if (format !== undefined) {
      if (format.length !== 1 || format[0] !== ACCOUNTS_FORMAT) throw new DagError('ENCODING_INVALID', `account records of format ${format[0]}; this node reads format ${ACCOUNTS_FORMAT}`)
      return 0
    }
    const b = this.batch()
    let n = 0
    for await (const [k, v] of this.accounts.iterator()) {
      if (v.length === ACCOUNT_RECORD_BYTES) continue // no credits: the two formats are the same bytes
      this.putAccountSnapshot(b, k, decodeLegacyAccount(v))
      n++
    }
    this.putAccountsFormat(b)
    await b.commit({ sync: true })
    return n
  }

  // consensus
  putDecision (b: DagBatch, vertexId: Uint8Array, d: VertexDecision): void {
    b.put(this.consensus, concatBytes(PREFIX_V, vertexId), encodeDecision(d))
    // decided: no longer loaded at start as undecided (the same batch, so a crash keeps both or neither)
    b.del(this.graph, concatBytes(PREFIX_UNDECIDED, vertexId))
  }

  /** Under the commit rule: `vertexId` led committed slot `slot` (written in the batch that accepts it). */
  putSlotLeader (b: DagBatch, slot: number, vertexId: Uint8Array): void {
    b.put(this.consensus, slotKey(slot), vertexId)
  }

  /**
   * The leaders of the committed slots after `after` through `through` (skipped slots have none), in slot order, at
   * most `limit` of them (the first ones).
   */
  async slotLeaders (after: number, through: number, limit = Number.MAX_SAFE_INTEGER): Promise<Array<{ slot: number, vertexId: string }>> {
    const out: Array<{ slot: number, vertexId: string }> = []
    if (through <= after) return out
    const from = after < 0 ? { gte: slotKey(0) } : { gt: slotKey(after) }
    for await (const [k, v] of this.consensus.iterator({ ...from, lte: slotKey(through), limit })) {
      out.push({ slot: Number(new Reader(k.subarray(PREFIX_S.length), 'slot key').u64()), vertexId: toHex(v) })
    }
    return out
  }

  async getDecision (vertexId: Uint8Array): Promise<VertexDecision | undefined> {
    const v = await getValue(this.consensus, concatBytes(PREFIX_V, vertexId))
    return v === undefined ? undefined : decodeDecision(v)
  }

  async allDecisions (): Promise<Map<string, VertexDecision>> {
    const out = new Map<string, VertexDecision>()
    for await (const [k, v] of this.consensus.iterator({ gte: PREFIX_V, lt: new Uint8Array([0x77]) })) {
      out.set(Buffer.from(k.subarray(1)).toString('hex'), decodeDecision(v))
    }
    return out
  }

  putConflictDecision (b: DagBatch, account: Uint8Array, nonce: bigint, vertexId: Uint8Array, txId: Uint8Array): void {
    b.put(this.consensus, concatBytes(PREFIX_C, account, nonceBytes(nonce)), concatBytes(vertexId, txId))
  }

  async getConflictDecision (account: Uint8Array, nonce: bigint): Promise<{ vertexId: Uint8Array, txId: Uint8Array } | undefined> {
    const v = await getValue(this.consensus, concatBytes(PREFIX_C, account, nonceBytes(nonce)))
    return v === undefined ? undefined : { vertexId: v.slice(0, 32), txId: v.slice(32) }
  }

  // meta
  async getGenesisId (): Promise<Uint8Array | undefined> { return await getValue(this.meta, KEY_GENESIS) }
  putGenesisId (b: DagBatch, id: Uint8Array): void { b.put(this.meta, KEY_GENESIS, id) }

  async getCounters (): Promise<Counters> {
    const v = await getValue(this.meta, KEY_COUNTERS)
    return v === undefined ? { acceptedVertices: 0n, rejectedVertices: 0n, finalTxs: 0n, rejectedTxs: 0n } : decodeCounters(v)
  }

  putCounters (b: DagBatch, c: Counters): void { b.put(this.meta, KEY_COUNTERS, encodeCounters(c)) }

  async getFinalClock (): Promise<Uint8Array | undefined> { return await getValue(this.meta, KEY_FINAL_CLOCK) }
  putFinalClock (b: DagBatch, encoded: Uint8Array): void { b.put(this.meta, KEY_FINAL_CLOCK, encoded) }
}

export { fromHex }
