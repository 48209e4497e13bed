/**
 * The market's part of a state cut (src/dag/cut-parts.ts, docs/market.md "State sync"): the market records at a
 * checkpoint, so that a node that starts from the checkpoint (`--state-sync`) knows the providers registered and
 * the tasks open before it, as the validators do, and can check and follow them.
 *
 * The snapshot is the market state given by exactly the final market transactions of the cut's causal past,
 * applied by the market's own rules (apply.ts) in the cut's canonical order (height, then vertex id, then position):
 * every validator computes the same bytes, and the checkpoint's `dagRoot` binds them. It holds what applying later
 * transactions needs: every provider, every task not done (settled with each fault slashed), and the transactions
 * parked for a dependency still to come. Done tasks, payments and refused transactions are history: a synced node
 * lists them from the cut on (like pruned vertices); a late transaction about a done task waits there and is then
 * refused, where a node that holds the task refuses it at once.
 *
 * A node's live market state applies in its own finality order, and retries a parked transaction right after the
 * next transaction of its task as the fold does (queue-cursor.ts).
 */
import { compareBytes, fromHex, Reader, toHex, Writer } from '../../core/codec.ts'
import { decodeValue, encodeValue } from '../../core/canonical-value.ts'
import { type BinaryDb, KEY_PREFIXES, sublevel } from '../../core/storage.ts'
import type { CutAncestry, CutPart, CutTx, PartWrite } from '../../dag/cut-parts.ts'
import { MAX_TX_BYTES, type TxInfo, txInfo } from '../../dag/tx.ts'
import { entryCount, MARKET_KIND_IDS } from '../kinds/index.ts'
import { queueRecord } from '../kinds/queue.ts'
import { type ApplyContext, applyMarketTx, marketTaskIdOf } from './apply.ts'
import { encodeRecord, isDone, type ProviderRecord, type TaskRecord } from './records.ts'

export const MARKET_CUT_PART_ID = 1
/** Market time a parked transaction waits for its dependency (MarketState's default `parkMs`): fixed here, since every validator must fold alike. */
export const SNAPSHOT_PARK_MS = 600_000
/** Parked transactions a snapshot holds; one more is dropped (refused) as the live state would refuse it later. */
export const MAX_SNAPSHOT_PARKED = 10_000
/** Records of each kind in one snapshot (decoding bound). */
const MAX_RECORDS = 1_000_000
const MAGIC = new TextEncoder().encode('HMS1')

/** A final market transaction waiting for its task, a commit or an award. */
export interface ParkedTx {
  txId: string
  vertexId: string
  vertexTimeMs: bigint
  encoded: Uint8Array
  /** the entry of a bid batch it is (queue.ts); undefined for a single kind */
  entry?: number
  /** decoded once, and the task it is about (not encoded: the bytes are) */
  tx?: TxInfo
  taskId?: string
}

export interface MarketSnapshot {
  providers: ReadonlyMap<string, ProviderRecord>
  tasks: ReadonlyMap<string, TaskRecord>
  parked: readonly ParkedTx[]
  /** The newest market time (vertex time) applied: parked transactions and done tasks age against it. */
  newestMs: number
}

export function emptySnapshot (): MarketSnapshot {
  return { providers: new Map(), tasks: new Map(), parked: [], newestMs: 0 }
}

/**
 * `prev` advanced by `txs` (final market transactions in the cut's order); `prev` is not changed (its records are
 * shared: apply.ts never changes a record, it writes a new one). A transaction parked is retried after each later
 * one about its task that is not parked; after each transaction, parked ones older than SNAPSHOT_PARK_MS behind the
 * newest market time are dropped; a task leaves once done. Every rule acts per transaction, never per call, so
 * folding a history in one call or split at any point gives the same snapshot (a node without the last epoch's
 * cut folds from the genesis: the same bytes).
 */
export async function advanceSnapshot (prev: MarketSnapshot, txs: readonly CutTx[], ledger: Pick<CutAncestry, 'validatorKeys'>): Promise<MarketSnapshot> {
  const providers = new Map(prev.providers)
  const tasks = new Map(prev.tasks)
  let parked: ParkedTx[] = [...prev.parked]
  let newestMs = prev.newestMs
  const applyOne = async (tx: TxInfo, txId: string, timeMs: number, entry: number | undefined): Promise<boolean> => {
    const putTasks = new Map<string, TaskRecord>()
    const putProviders = new Map<string, ProviderRecord>()
    const ctx: ApplyContext = {
      task: async (id) => putTasks.get(id) ?? tasks.get(id),
      provider: async (a) => putProviders.get(a) ?? providers.get(a),
      putTask: (t) => { putTasks.set(t.taskId, t) },
      putProvider: (p) => { putProviders.set(p.address, p) },
      validatorKeys: ledger.validatorKeys,
      // listings of this node's own history: not part of the snapshot (install rebuilds the bid index)
      indexBid: () => undefined,
      payment: () => undefined
    }
    let outcome
    try {
      outcome = await applyMarketTx(ctx, tx, { txId, timeMs }, entry)
    } catch {
      // as MarketState: a transaction that cannot be applied is refused (and writes nothing)
      return true
    }
    if (outcome.status === 'parked') return false
    // a task done (settled, each fault slashed) leaves at once: what refers to it later waits and is refused
    for (const [k, t] of putTasks) {
      if (isDone(t)) tasks.delete(k)
      else tasks.set(k, t)
    }
    for (const [k, p] of putProviders) providers.set(k, p)
    if (timeMs > newestMs) newestMs = timeMs
    return true
  }
  // parked transactions per task (a task's count only: the order is the list's)
  const waiting = new Map<string, number>()
  const taskOf = (q: ParkedTx): string | undefined => {
    q.tx ??= txInfo(q.encoded)
    q.taskId ??= marketTaskIdOf(q.tx, q.entry) ?? ''
    return q.taskId
  }
  const wait = (id: string, by: 1 | -1): void => {
    const n = (waiting.get(id) ?? 0) + by
    if (n <= 0) waiting.delete(id)
    else waiting.set(id, n)
  }
  for (const q of parked) wait(taskOf(q) as string, 1)
  // parked transactions too old for the newest market time leave after each transaction, so a fold gives the same
  // snapshot however its transactions are split into epochs
  let oldestParkedMs = Math.min(...parked.map((q) => Number(q.vertexTimeMs)))
  const expire = (): void => {
    if (parked.length === 0 || newestMs - oldestParkedMs <= SNAPSHOT_PARK_MS) return
    parked = parked.filter((q) => {
      if (newestMs - Number(q.vertexTimeMs) <= SNAPSHOT_PARK_MS) return true
      wait(taskOf(q) as string, -1)
      return false
    })
    oldestParkedMs = Math.min(...parked.map((q) => Number(q.vertexTimeMs)))
  }
  const retryParked = async (taskId: string): Promise<void> => {
    for (let progress = true; progress && waiting.has(taskId);) {
      progress = false
      const still: ParkedTx[] = []
      for (const q of parked) {
        if (taskOf(q) === taskId && await applyOne(q.tx as TxInfo, q.txId, Number(q.vertexTimeMs), q.entry)) {
          progress = true
          wait(taskId, -1)
        } else {
          still.push(q)
        }
      }
      parked = still
    }
  }
  // a bid batch is its entries, each in turn as the live queue holds them (queue.ts)
  const items = function * (): Generator<{ tx: TxInfo, vertexId: string, vertexTimeMs: bigint, entry?: number }> {
    for (const c of txs) {
      const n = entryCount(c.tx)
      if (n === undefined) yield c
      else for (let entry = 0; entry < n; entry++) yield { ...c, entry }
    }
  }
  for (const { tx, vertexId, vertexTimeMs, entry } of items()) {
    const taskId = marketTaskIdOf(tx, entry)
    if (await applyOne(tx, tx.idHex, Number(vertexTimeMs), entry)) {
      if (taskId !== undefined) await retryParked(taskId)
    } else if (parked.length < MAX_SNAPSHOT_PARKED) {
      parked.push({ txId: tx.idHex, vertexId, vertexTimeMs, encoded: tx.encoded, tx, taskId: taskId ?? '', ...(entry !== undefined ? { entry } : {}) })
      wait(taskId ?? '', 1)
      oldestParkedMs = Math.min(oldestParkedMs, Number(vertexTimeMs))
    }
    expire()
  }
  return { providers, tasks, parked, newestMs }
}

/** Canonical bytes of a record, once per record (records are never changed, only replaced). */
const recordBytes = new WeakMap<object, Uint8Array>()
function canonical (rec: TaskRecord | ProviderRecord): Uint8Array {
  let b = recordBytes.get(rec)
  if (b === undefined) {
    b = encodeValue(rec)
    recordBytes.set(rec, b)
  }
  return b
}

const byKey = (a: [string, unknown], b: [string, unknown]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

/**
 * "HMS1" ‖ u64 newestMs ‖ u32 n ‖ n × provider (u32 k ‖ k bytes: canonical-value.ts), by address ‖ u32 m ‖ m × task
 * (the same), by id ‖ u32 q ‖ q × parked (tx id 32 ‖ vertex id 32 ‖ u64 vertex time ‖ u32 k ‖ k bytes: the signed
 * transaction ‖ for a bid batch only, u8 entry), in order
 */
export function encodeSnapshot (s: MarketSnapshot): Uint8Array {
  const w = new Writer(1024)
  w.raw(MAGIC).u64(BigInt(s.newestMs))
  const providers = [...s.providers].sort(byKey)
  w.u32(providers.length)
  for (const [, p] of providers) w.varBytes(canonical(p))
  const tasks = [...s.tasks].sort(byKey)
  w.u32(tasks.length)
  for (const [, t] of tasks) w.varBytes(canonical(t))
  w.u32(s.parked.length)
  for (const q of s.parked) {
    w.fixed(fromHex(q.txId), 32).fixed(fromHex(q.vertexId), 32).u64(q.vertexTimeMs).varBytes(q.encoded)
    if (q.entry !== undefined) w.u8(q.entry)
  }
  return w.finish()
}

/** Decodes encodeSnapshot's bytes; throws CodecError on anything else. */
export function decodeSnapshot (bytes: Uint8Array): MarketSnapshot {
  const r = new Reader(bytes, 'market snapshot')
  if (compareBytes(r.fixedView(MAGIC.length), MAGIC) !== 0) r.fail('not a market snapshot')
  const newestMs = Number(r.u64())
  const providers = new Map<string, ProviderRecord>()
  let last = ''
  for (const p of records<ProviderRecord>(r, 'provider')) {
    if (typeof p.address !== 'string' || p.address <= last) r.fail('providers out of order')
    last = p.address
    providers.set(p.address, p)
  }
  const tasks = new Map<string, TaskRecord>()
  last = ''
  for (const t of records<TaskRecord>(r, 'task')) {
    if (typeof t.taskId !== 'string' || t.taskId <= last) r.fail('tasks out of order')
    last = t.taskId
    tasks.set(t.taskId, t)
  }
  const q = r.u32()
  if (q > MAX_SNAPSHOT_PARKED) r.fail('too many parked transactions')
  const parked: ParkedTx[] = []
  for (let i = 0; i < q; i++) {
    const txId = toHex(r.fixed(32))
    const vertexId = toHex(r.fixed(32))
    const vertexTimeMs = r.u64()
    const encoded = r.varBytes(MAX_TX_BYTES)
    const tx = txInfo(encoded)
    if (tx.idHex !== txId || !MARKET_KIND_IDS.includes(tx.tx.kind)) r.fail('a parked entry that is not its market transaction')
    const n = entryCount(tx)
    const entry = n === undefined ? undefined : r.u8()
    if (entry !== undefined && entry >= (n ?? 0)) r.fail(`a parked entry ${entry} of a batch of ${n}`)
    parked.push({ txId, vertexId, vertexTimeMs, encoded, tx, ...(entry !== undefined ? { entry } : {}) })
  }
  r.end()
  return { providers, tasks, parked, newestMs }
}

function * records<T> (r: Reader, what: string): Generator<T> {
  const n = r.u32()
  if (n > MAX_RECORDS || n > r.remaining) r.fail(`too many ${what} records`)
  for (let i = 0; i < n; i++) {
    const v = decodeValue(r.varBytesView(r.remaining), `market snapshot ${what}`)
    if (v === null || typeof v !== 'object') r.fail(`a ${what} record that is no record`)
    yield v as T
  }
}

/**
 * The market sublevel's records of a node that starts from this snapshot: every record, the open set, the
 * requester and bid indexes, and the parked transactions queued first (queue seq 0), for MarketState to retry.
 */
export function snapshotWrites (s: MarketSnapshot, db: BinaryDb): PartWrite[] {
  const market = sublevel(db, 'market')
  const P = KEY_PREFIXES.market
  const enc = (k: string): Uint8Array => new TextEncoder().encode(k)
  const empty = new Uint8Array(0)
  const out: PartWrite[] = []
  for (const p of s.providers.values()) out.push({ sublevel: market, key: enc(P.provider + p.address), value: encodeRecord(p) })
  for (const t of s.tasks.values()) {
    out.push({ sublevel: market, key: enc(P.task + t.taskId), value: encodeRecord(t) })
    out.push({ sublevel: market, key: enc(`${P.byRequester}${t.requester}/${t.taskId}`), value: empty })
    if (!isDone(t)) out.push({ sublevel: market, key: enc(P.open + t.taskId), value: empty })
    for (const provider of t.bids.keys()) out.push({ sublevel: market, key: enc(`${P.byProvider}${provider}/${t.taskId}`), value: empty })
  }
  s.parked.forEach((q, i) => {
    const rec = queueRecord({ idHex: q.txId, vertexIdHex: q.vertexId, vertexTimeMs: q.vertexTimeMs, seq: 0n, position: i, encoded: q.encoded }, q.entry)
    out.push({ sublevel: market, key: rec.key, value: rec.value })
  })
  return out
}

/** The part the market registers with its kinds (src/market/index.ts). */
export const marketCutPart: CutPart<MarketSnapshot> = {
  id: MARKET_CUT_PART_ID,
  name: 'market',
  kinds: new Set(MARKET_KIND_IDS),
  empty: emptySnapshot,
  advance: advanceSnapshot,
  encode: encodeSnapshot,
  decode: decodeSnapshot,
  installWrites: snapshotWrites
}
