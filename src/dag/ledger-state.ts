import { fromHex, toHex, Writer } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'
import { FEE_POOL_ACCOUNT } from './fee-pool.ts'
import type { Genesis } from './genesis.ts'
import type { DagGraph } from './graph.ts'
import type { AccountRecord, DagBatch, DagStore, RejectReason } from './store.ts'
import type { TxInfo } from './tx.ts'
import { requireTxKind } from './tx-kinds.ts'
import type { VertexInfo } from './vertex.ts'

/** Committed account records kept in memory (and as many last-transaction vertices); the rest is read from disk. */
export const ACCOUNT_CACHE_LIMIT = 100_000

export interface TxOutcome {
  info: TxInfo
  ok: boolean
  reason: RejectReason
}

/**
 * Account state: balances and nonces in AGC base units, changed only by applying accepted vertices.
 *
 * Determinism: nodes accept concurrent vertices in different orders, so a transaction's validity must not depend
 * on that order. A transaction (A, n) in vertex V is checked against V's causal past only: its nonce must be
 * A's next (the protocol guarantees (A, n-1) is in V's causal past), and A may spend only credits that lie in
 * V's causal past (or earlier in V). Credits applied from concurrent vertices stay "unproven" until a later debit
 * of A has them in its causal past. The fees of V's transactions are credited to the fee pool (FEE_POOL_ACCOUNT) after
 * them, as one unproven credit of V, so the supply is conserved exactly and an epoch close (the pool's only
 * spender) sweeps only fees in its causal past. See docs/protocol.md.
 */
/** Writes of the decision round being applied: visible to the round only, adopted when its batch commits. */
interface RoundOverlay {
  accounts: Map<string, { address: Uint8Array, rec: AccountRecord }>
  lastTxVertex: Map<string, string>
}

export class LedgerState {
  private readonly store: DagStore
  private readonly graph: DagGraph
  /**
   * Committed account records only (the same as on disk), bounded. Records of a round not yet committed live in
   * the round's overlay, so an eviction or a failed commit can never lose or leak them.
   */
  private readonly cache = new Map<string, AccountRecord>()
  /** vertex holding each account's latest applied transaction (committed; bounded, the store has the rest) */
  private readonly lastTxVertex = new Map<string, string>()
  private round: RoundOverlay | undefined
  /**
   * Bumped each time a round's records are adopted. A read that missed the cache went to disk before the bump may
   * hold an older record than the one just adopted: it must not put it in the cache (the cause of a divergence
   * after kill -9 campaigns: an RPC read during catch-up re-cached a stale account, the next vertex built on it).
   */
  private generation = 0
  private rootCache: Uint8Array | undefined
  private readonly cacheLimit: number

  constructor (store: DagStore, graph: DagGraph, cacheLimit = ACCOUNT_CACHE_LIMIT) {
    this.store = store
    this.graph = graph
    this.cacheLimit = Math.max(1, cacheLimit)
  }

  /** Writes the genesis allocations into `b`; the cache fills from disk once `b` is committed. */
  async initGenesis (b: DagBatch, genesis: Genesis): Promise<void> {
    for (const a of genesis.allocations) {
      this.store.putAccount(b, a.address, { balance: a.balance, nonce: 0n, unproven: [] })
    }
    this.generation++
    this.rootCache = undefined
  }

  /** The committed record, if the account is in memory. */
  peek (address: Uint8Array): AccountRecord | undefined {
    return this.cache.get(toHex(address))
  }

  /** The committed record of an account (what is on disk), safe to call outside the ledger's lock. */
  async account (address: Uint8Array): Promise<AccountRecord> {
    const key = toHex(address)
    const cached = this.cache.get(key)
    if (cached !== undefined) return cached
    const gen = this.generation
    const rec = (await this.store.getAccount(address)) ?? { balance: 0n, nonce: 0n, unproven: [] }
    // A round may have been adopted (or another reader cached a newer record) while this read was on disk.
    if (gen !== this.generation) return this.cache.get(key) ?? rec
    const again = this.cache.get(key)
    if (again !== undefined) return again
    this.cacheSet(key, rec)
    return rec
  }

  /** The record as the round being applied sees it (its own uncommitted writes first), else the committed one. */
  async roundAccount (address: Uint8Array): Promise<AccountRecord> {
    return this.round?.accounts.get(toHex(address))?.rec ?? await this.account(address)
  }

  private cacheSet (key: string, rec: AccountRecord): void {
    this.cache.delete(key)
    if (this.cache.size >= this.cacheLimit) {
      const first = this.cache.keys().next()
      if (first.done !== true) this.cache.delete(first.value)
    }
    this.cache.set(key, rec)
  }

  /** Starts a decision round: applyVertex writes go to the round's overlay until commitRound or abortRound. */
  beginRound (): void {
    this.round = { accounts: new Map(), lastTxVertex: new Map() }
  }

  /** The round's batch is committed: its records become the committed view. */
  commitRound (): void {
    const r = this.round
    this.round = undefined
    if (r === undefined) return
    this.generation++
    for (const [k, { rec }] of r.accounts) this.cacheSet(k, rec)
    for (const [k, v] of r.lastTxVertex) {
      this.lastTxVertex.delete(k)
      if (this.lastTxVertex.size >= this.cacheLimit) {
        const first = this.lastTxVertex.keys().next()
        if (first.done !== true) this.lastTxVertex.delete(first.value)
      }
      this.lastTxVertex.set(k, v)
    }
    this.rootCache = undefined
  }

  /** The round's batch was not committed: memory stays as it was before the round. */
  abortRound (): void {
    this.round = undefined
  }

  /** Vertex of the account's transaction with nonce `nonce` when it is decided (accepted), else undefined. */
  async decidedVertex (account: Uint8Array, nonce: bigint): Promise<string | undefined> {
    const acct = await this.roundAccount(account)
    if (nonce >= acct.nonce) return undefined
    if (nonce === acct.nonce - 1n) {
      const k = toHex(account)
      const v = this.round?.lastTxVertex.get(k) ?? this.lastTxVertex.get(k)
      if (v !== undefined) return v
    }
    const d = await this.store.getConflictDecision(account, nonce)
    return d === undefined ? undefined : toHex(d.vertexId)
  }

  /**
   * Applies an accepted vertex into batch `b` inside a round (beginRound). Returns the outcome of each
   * transaction. The changed records go to `b` and to the round's overlay; the committed view changes only at
   * commitRound, after the caller committed `b`.
   */
  async applyVertex (b: DagBatch, v: VertexInfo): Promise<TxOutcome[]> {
    const round = this.round
    if (round === undefined) throw new Error('applyVertex outside a decision round')
    const outcomes: TxOutcome[] = []
    const touched = new Map<string, { address: Uint8Array, rec: AccountRecord }>()
    const load = async (address: Uint8Array): Promise<AccountRecord> => {
      const k = toHex(address)
      const t = touched.get(k)
      if (t !== undefined) return t.rec
      const cur = await this.roundAccount(address)
      // deep copy: the committed record (shared with the cache and readers) is never mutated
      const rec: AccountRecord = { balance: cur.balance, nonce: cur.nonce, unproven: cur.unproven.map(c => ({ ...c })) }
      touched.set(k, { address, rec })
      return rec
    }
    const causalFrom = [v.idHex]
    let feesOfVertex = 0n
    for (const t of v.txs) {
      const sender = await load(t.account)
      if (sender.nonce !== t.tx.nonce) {
        outcomes.push({ info: t, ok: false, reason: 'nonce' })
        continue
      }
      sender.nonce += 1n
      // Credits from V itself (earlier positions) and from V's ancestors are proven; others stay unproven.
      if (sender.unproven.length > 0) {
        const ids = sender.unproven.map(c => toHex(c.vertexId))
        const proven = await this.graph.ancestorsAmong(causalFrom, ids)
        sender.unproven = sender.unproven.filter((_c, i) => !proven.has(ids[i]))
      }
      let unprovenSum = 0n
      for (const c of sender.unproven) unprovenSum += c.amount
      const available = sender.balance - unprovenSum
      const kind = requireTxKind(t.tx.kind)
      const effects = kind.effects(kind.decode(t.tx.payload), { account: t.account, nonce: t.tx.nonce })
      const need = effects.debit + t.tx.fee
      round.lastTxVertex.set(t.accountHex, v.idHex)
      if (available < need) {
        outcomes.push({ info: t, ok: false, reason: 'insufficient-balance' })
        continue
      }
      sender.balance -= need
      feesOfVertex += t.tx.fee
      for (const c of effects.credits) {
        const to = await load(c.to)
        to.balance += c.amount
        // credits of V are appended while V is applied, so one of V is always the last entry: checking only the
        // last keeps a busy account (the fee pool, credited by market settles) from being scanned per credit
        const same = to.unproven.at(-1)
        if (same !== undefined && toHex(same.vertexId) === v.idHex) same.amount += c.amount
        else to.unproven.push({ vertexId: v.id, amount: c.amount })
      }
      outcomes.push({ info: t, ok: true, reason: 'none' })
    }
    if (feesOfVertex > 0n) {
      // The fees go to the validators' fee pool (docs/chain.md "Solvency") as one credit of V after its
      // transactions: the pool is credited in nearly every vertex, so its record is never scanned per transaction.
      const pool = await load(FEE_POOL_ACCOUNT)
      pool.balance += feesOfVertex
      const last = pool.unproven.at(-1)
      if (last !== undefined && toHex(last.vertexId) === v.idHex) pool.unproven[pool.unproven.length - 1] = { vertexId: last.vertexId, amount: last.amount + feesOfVertex }
      else pool.unproven.push({ vertexId: v.id, amount: feesOfVertex })
    }
    for (const [k, entry] of touched) {
      this.store.putAccount(b, entry.address, entry.rec)
      round.accounts.set(k, entry)
    }
    return outcomes
  }

  /**
   * State root: sha256 over every account in address order, each `address(20) || balance(u128) || nonce(u64)`.
   * Equal on every node that accepted the same set of vertices.
   */
  async stateRoot (): Promise<Uint8Array> {
    if (this.rootCache !== undefined) return this.rootCache
    const gen = this.generation
    const h = sha256Stream()
    for await (const [address, rec] of this.store.allAccounts()) {
      h.update(new Writer(44).fixed(address, 20).u128(rec.balance).u64(rec.nonce).finish())
    }
    const root = h.digest()
    // a round adopted during the scan may or may not be in it: do not keep a root that might mix two states
    if (gen === this.generation) this.rootCache = root
    return root
  }

  invalidateRoot (): void { this.rootCache = undefined }
}

function sha256Stream (): { update: (b: Uint8Array) => void, digest: () => Uint8Array } {
  const parts: Uint8Array[] = []
  return { update: (b) => { parts.push(b) }, digest: () => sha256(...parts) }
}

export { fromHex }
