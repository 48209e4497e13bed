import { fromHex, toHex, Writer } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'
import { FEE_POOL_ACCOUNT } from './fee-pool.ts'
import type { Genesis } from './genesis.ts'
import type { DagGraph } from './graph.ts'
import { DagError } from './errors.ts'
import type { OrderRules } from './order-checkers.ts'
import { type AccountRecord, type DagBatch, type DagStore, ORDER_REFUSALS, type RejectReason, type UnprovenCredit } from './store.ts'
import type { TxInfo } from './tx.ts'
import { requireTxKind } from './tx-kinds.ts'
import type { VertexInfo } from './vertex.ts'

/** Committed account records kept in memory (and as many last-transaction vertices); the rest is read from disk. */
export const ACCOUNT_CACHE_LIMIT = 100_000
/**
 * Unproven-credit lists kept in memory (committed, as on disk): those of at most CACHED_CREDITS_MAX credits (an
 * account that sends often), for at most CREDITS_CACHE_LIMIT accounts. A longer list (the fee pool between epoch
 * closes, an account that only receives) is read from disk when its account debits, which is when it is needed.
 */
export const CREDITS_CACHE_LIMIT = 20_000
export const CACHED_CREDITS_MAX = 16

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
interface RoundAccount { address: Uint8Array, rec: AccountRecord }

/** Writes of the decision round being applied: visible to the round only, adopted when its batch commits. */
interface RoundOverlay {
  /** records the round changed (its own objects: changed in place) */
  accounts: Map<string, RoundAccount>
  /** whole unproven-credit lists the round holds (read for a debit, or empty before its credits): its own arrays */
  credits: Map<string, UnprovenCredit[]>
  /** credits the round added to accounts whose list it did not read (those stay on disk) */
  appended: Map<string, UnprovenCredit[]>
  lastTxVertex: Map<string, string>
  /** transactions an order check refused in this round (ids, hex) */
  refusedByOrder: Set<string>
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
  /** committed unproven-credit lists of accounts with 1..CACHED_CREDITS_MAX credits (bounded) */
  private readonly credits = new Map<string, readonly UnprovenCredit[]>()
  private round: RoundOverlay | undefined
  /**
   * Bumped each time a round's records are adopted. A read that missed the cache went to disk before the bump may
   * hold an older record than the one just adopted: it must not put it in the cache (the cause of a divergence
   * after kill -9 campaigns: an RPC read during catch-up re-cached a stale account, the next vertex built on it).
   */
  private generation = 0
  private rootCache: Uint8Array | undefined
  private readonly cacheLimit: number

  private readonly creditsLimit: number
  /** Set under the commit rule: the kinds' `orderCheck`s run, with these validators and this quorum, and the parts' checkers. */
  private readonly order: OrderRules | undefined

  /**
   * `creditsLimit`: accounts whose credit lists are kept in memory (0: none, every debit reads them from disk).
   * `order`: the commit rule's validity from the order (TxKind.orderCheck); undefined under Avalanche.
   */
  constructor (store: DagStore, graph: DagGraph, cacheLimit = ACCOUNT_CACHE_LIMIT, creditsLimit = CREDITS_CACHE_LIMIT, order?: OrderRules) {
    this.store = store
    this.graph = graph
    this.cacheLimit = Math.max(1, cacheLimit)
    this.creditsLimit = creditsLimit
    this.order = order
  }

  /** Writes the genesis allocations into `b`; the cache fills from disk once `b` is committed. */
  async initGenesis (b: DagBatch, genesis: Genesis): Promise<void> {
    for (const a of genesis.allocations) {
      this.store.putAccount(b, a.address, { balance: a.balance, nonce: 0n, unprovenCount: 0 })
    }
    this.store.putAccountsFormat(b)
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
    const rec = (await this.store.getAccount(address)) ?? { balance: 0n, nonce: 0n, unprovenCount: 0 }
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
    boundedSet(this.cache, key, rec, this.cacheLimit)
  }

  /** Starts a decision round: applyVertex writes go to the round's overlay until commitRound or abortRound. */
  beginRound (): void {
    this.round = { accounts: new Map(), credits: new Map(), appended: new Map(), lastTxVertex: new Map(), refusedByOrder: new Set() }
  }

  /** The round's batch is committed: its records become the committed view. */
  commitRound (): void {
    const r = this.round
    this.round = undefined
    if (r === undefined) return
    this.generation++
    for (const [k, { rec }] of r.accounts) this.cacheSet(k, rec)
    for (const [k, v] of r.lastTxVertex) boundedSet(this.lastTxVertex, k, v, this.cacheLimit)
    for (const [k, list] of r.credits) this.cacheCredits(k, list)
    for (const [k, added] of r.appended) {
      const cached = this.credits.get(k)
      if (cached !== undefined) this.cacheCredits(k, [...cached, ...added])
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
    const touched = new Map<string, RoundAccount>()
    // V's credit to each account: credits of one vertex merge, and are written once V is applied
    const ofV = new Map<string, UnprovenCredit>()
    const load = async (address: Uint8Array, k: string): Promise<RoundAccount> => {
      let e = touched.get(k) ?? round.accounts.get(k)
      if (e === undefined) {
        // a copy: the committed record (shared with the cache and readers) is never changed
        e = { address, rec: { ...await this.account(address) } }
        round.accounts.set(k, e)
      }
      touched.set(k, e)
      return e
    }
    const credit = async (address: Uint8Array, amount: bigint): Promise<void> => {
      const k = toHex(address)
      const to = await load(address, k)
      to.rec.balance += amount
      const same = ofV.get(k)
      if (same !== undefined) { same.amount += amount; return }
      const c = { vertexId: v.id, amount }
      ofV.set(k, c)
      let list = round.credits.get(k)
      if (list === undefined && !round.appended.has(k)) {
        // the whole list when it is known (none yet, or in memory): it then stays in memory after the round
        const known = to.rec.unprovenCount === 0 ? [] : this.credits.get(k)
        if (known !== undefined) round.credits.set(k, list = [...known])
      }
      if (list !== undefined) list.push(c)
      else {
        let added = round.appended.get(k)
        if (added === undefined) round.appended.set(k, added = [])
        added.push(c)
      }
      to.rec.unprovenCount++
    }
    const causalFrom = [v.idHex]
    let feesOfVertex = 0n
    for (const t of v.txs) {
      const sender = await load(t.account, t.accountHex)
      if (sender.rec.nonce !== t.tx.nonce) {
        outcomes.push({ info: t, ok: false, reason: 'nonce' })
        continue
      }
      const kind = requireTxKind(t.tx.kind)
      const payload = kind.decode(t.tx.payload)
      if (this.order !== undefined && (kind.orderCheck !== undefined || kind.externalCheck === true)) {
        // the same transaction refused earlier in the order stays refused (a transaction id has one decision): it
        // is no outcome here, as a second copy of a final one is not (decisions.ts)
        if (round.refusedByOrder.has(t.idHex) || await this.refusedByOrder(t.id)) {
          outcomes.push({ info: t, ok: false, reason: 'nonce' })
          continue
        }
        // refused by the order: the nonce stays unused, so a valid transaction (signed again: another id) can take
        // it later
        const reason = kind.orderCheck !== undefined
          ? await kind.orderCheck(payload, { ...this.order, signer: t.tx.publicKey, nonceOf: async (a) => (await this.roundAccount(a)).nonce })
          : await this.partCheck(t, v)
        if (reason !== undefined) {
          round.refusedByOrder.add(t.idHex)
          outcomes.push({ info: t, ok: false, reason })
          continue
        }
      }
      sender.rec.nonce += 1n
      // Credits from V itself (earlier positions) and from V's ancestors are proven; others stay unproven.
      const unprovenSum = sender.rec.unprovenCount === 0 ? 0n : await this.prove(b, t.accountHex, sender, causalFrom, ofV)
      const available = sender.rec.balance - unprovenSum
      const effects = kind.effects(payload, { account: t.account, nonce: t.tx.nonce })
      const need = effects.debit + t.tx.fee
      round.lastTxVertex.set(t.accountHex, v.idHex)
      if (available < need) {
        outcomes.push({ info: t, ok: false, reason: 'insufficient-balance' })
        continue
      }
      sender.rec.balance -= need
      feesOfVertex += t.tx.fee
      for (const c of effects.credits) await credit(c.to, c.amount)
      outcomes.push({ info: t, ok: true, reason: 'none' })
    }
    // The fees go to the validators' fee pool (docs/chain.md "Solvency") as one credit of V after its
    // transactions: an epoch close (the pool's only spender) sweeps only fees in its causal past.
    if (feesOfVertex > 0n) await credit(FEE_POOL_ACCOUNT, feesOfVertex)
    for (const [k, c] of ofV) this.store.putCredit(b, (touched.get(k) as RoundAccount).address, c)
    for (const e of touched.values()) this.store.putAccount(b, e.address, e.rec)
    return outcomes
  }

  /**
   * Under the commit rule, whether a committed decision refused this transaction where the order reached it (its
   * order check, ORDER_REFUSALS: its nonce was left unused, so only this tells its bytes, ordered again, from a
   * transaction never seen). Always false under Avalanche.
   */
  async refusedByOrder (txId: Uint8Array): Promise<boolean> {
    if (this.order === undefined) return false
    const rec = await this.store.getTxRecord(txId)
    return rec?.status === 'rejected' && ORDER_REFUSALS.has(rec.reason)
  }

  /**
   * The check a part registered for a kind flagged `externalCheck` (order-checkers.ts), at the vertex's signed time;
   * the ledger made the part's state ready for this slot before the round (DecisionWriter).
   */
  private async partCheck (t: TxInfo, v: VertexInfo): Promise<'order-check' | undefined> {
    const checker = this.order?.checkers?.get(t.tx.kind)
    if (checker === undefined) throw new DagError('STORAGE_FAILED', `no order check registered for kind ${t.tx.kind}: the slot was applied before its part was ready`)
    return (await checker.check(t, { vertexTimeMs: v.vertex.timestampMs, sealedThroughMs: this.order?.sealedThroughMs?.() })) === undefined ? undefined : 'order-check'
  }

  /**
   * Drops the account's credits that lie in the causal past of `causalFrom` (they may now be spent) and returns the
   * sum of those that stay unproven. Reads the whole list once a round: from memory, or from disk plus the round's
   * additions.
   */
  private async prove (b: DagBatch, k: string, e: RoundAccount, causalFrom: string[], ofV: Map<string, UnprovenCredit>): Promise<bigint> {
    const round = this.round as RoundOverlay
    let list = round.credits.get(k)
    if (list === undefined) {
      list = [...await this.committedCredits(k, e.address), ...round.appended.get(k) ?? []]
      round.appended.delete(k)
    }
    if (list.length !== e.rec.unprovenCount) {
      throw new DagError('STORAGE_FAILED', `account ${k}: ${list.length} unproven credits stored, its record counts ${e.rec.unprovenCount}`)
    }
    const ids = list.map(c => toHex(c.vertexId))
    const proven = await this.graph.ancestorsAmong(causalFrom, ids)
    const kept: UnprovenCredit[] = []
    let sum = 0n
    for (let i = 0; i < list.length; i++) {
      const c = list[i]
      if (!proven.has(ids[i])) {
        kept.push(c)
        sum += c.amount
        continue
      }
      this.store.deleteCredit(b, e.address, c.vertexId)
      if (ofV.get(k) === c) ofV.delete(k)
    }
    round.credits.set(k, kept)
    e.rec.unprovenCount = kept.length
    return sum
  }

  /** The committed credits of an account whose record counts some. Called inside a round only (no commit races it). */
  private async committedCredits (k: string, address: Uint8Array): Promise<readonly UnprovenCredit[]> {
    const cached = this.credits.get(k)
    if (cached !== undefined) return cached
    const list = await this.store.getCredits(address)
    this.cacheCredits(k, list)
    return list
  }

  private cacheCredits (k: string, list: readonly UnprovenCredit[]): void {
    if (list.length === 0 || list.length > CACHED_CREDITS_MAX || this.creditsLimit < 1) this.credits.delete(k)
    else boundedSet(this.credits, k, list, this.creditsLimit)
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

/** Sets `k` as the newest entry of `m`, dropping the oldest once `m` holds `limit`. */
function boundedSet<V> (m: Map<string, V>, k: string, v: V, limit: number): void {
  m.delete(k)
  if (m.size >= limit) {
    const first = m.keys().next()
    if (first.done !== true) m.delete(first.value)
  }
  m.set(k, v)
}

function sha256Stream (): { update: (b: Uint8Array) => void, digest: () => Uint8Array } {
  const parts: Uint8Array[] = []
  return { update: (b) => { parts.push(b) }, digest: () => sha256(...parts) }
}

export { fromHex }
