import { fromHex, toHex, Writer } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'
import { FEE_POOL_ACCOUNT } from './fee-pool.ts'
import type { Genesis } from './genesis.ts'
import type { DagGraph } from './graph.ts'
import type { AccountRecord, DagBatch, DagStore, RejectReason } from './store.ts'
import type { TxInfo } from './tx.ts'
import { requireTxKind } from './tx-kinds.ts'
import type { VertexInfo } from './vertex.ts'

/** Accounts kept in memory (write-through): every account read by applying a vertex. */
const ACCOUNT_CACHE_LIMIT = 100_000

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
export class LedgerState {
  private readonly store: DagStore
  private readonly graph: DagGraph
  private readonly cache = new Map<string, AccountRecord>()
  /** vertex holding each account's latest applied transaction (memory; the store has the decision records) */
  private readonly lastTxVertex = new Map<string, string>()
  private rootCache: Uint8Array | undefined

  constructor (store: DagStore, graph: DagGraph) {
    this.store = store
    this.graph = graph
  }

  async initGenesis (b: DagBatch, genesis: Genesis): Promise<void> {
    for (const a of genesis.allocations) {
      const rec: AccountRecord = { balance: a.balance, nonce: 0n, unproven: [] }
      this.store.putAccount(b, a.address, rec)
      this.cache.set(toHex(a.address), rec)
    }
    this.rootCache = undefined
  }

  /** The cached record, if the account is in memory. */
  peek (address: Uint8Array): AccountRecord | undefined {
    return this.cache.get(toHex(address))
  }

  async account (address: Uint8Array): Promise<AccountRecord> {
    const key = toHex(address)
    let rec = this.cache.get(key)
    if (rec === undefined) {
      rec = (await this.store.getAccount(address)) ?? { balance: 0n, nonce: 0n, unproven: [] }
      if (this.cache.size >= ACCOUNT_CACHE_LIMIT) {
        const first = this.cache.keys().next()
        if (first.done !== true) this.cache.delete(first.value)
      }
      this.cache.set(key, rec)
    }
    return rec
  }

  /** Vertex of the account's transaction with nonce `nonce` when it is decided (accepted), else undefined. */
  async decidedVertex (account: Uint8Array, nonce: bigint): Promise<string | undefined> {
    const acct = await this.account(account)
    if (nonce >= acct.nonce) return undefined
    if (nonce === acct.nonce - 1n) {
      const v = this.lastTxVertex.get(toHex(account))
      if (v !== undefined) return v
    }
    const d = await this.store.getConflictDecision(account, nonce)
    return d === undefined ? undefined : toHex(d.vertexId)
  }

  /**
   * Applies an accepted vertex into batch `b`. Returns the outcome of each transaction. Account records are
   * updated in the cache immediately; the caller commits `b` before applying the next vertex.
   */
  async applyVertex (b: DagBatch, v: VertexInfo): Promise<TxOutcome[]> {
    const outcomes: TxOutcome[] = []
    const touched = new Map<string, { address: Uint8Array, rec: AccountRecord }>()
    const load = async (address: Uint8Array): Promise<AccountRecord> => {
      const k = toHex(address)
      const t = touched.get(k)
      if (t !== undefined) return t.rec
      const cur = await this.account(address)
      const rec: AccountRecord = { balance: cur.balance, nonce: cur.nonce, unproven: [...cur.unproven] }
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
        const proven = this.graph.ancestorsAmong(causalFrom, ids)
        sender.unproven = sender.unproven.filter((_c, i) => !proven.has(ids[i]))
      }
      let unprovenSum = 0n
      for (const c of sender.unproven) unprovenSum += c.amount
      const available = sender.balance - unprovenSum
      const kind = requireTxKind(t.tx.kind)
      const effects = kind.effects(kind.decode(t.tx.payload))
      const need = effects.debit + t.tx.fee
      this.lastTxVertex.set(t.accountHex, v.idHex)
      if (available < need) {
        outcomes.push({ info: t, ok: false, reason: 'insufficient-balance' })
        continue
      }
      sender.balance -= need
      feesOfVertex += t.tx.fee
      for (const c of effects.credits) {
        const to = await load(c.to)
        to.balance += c.amount
        const same = to.unproven.find(u => toHex(u.vertexId) === v.idHex)
        if (same !== undefined) same.amount += c.amount
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
    for (const [k, { address, rec }] of touched) {
      this.store.putAccount(b, address, rec)
      this.cache.set(k, rec)
    }
    this.rootCache = undefined
    return outcomes
  }

  /**
   * State root: sha256 over every account in address order, each `address(20) || balance(u128) || nonce(u64)`.
   * Equal on every node that accepted the same set of vertices.
   */
  async stateRoot (): Promise<Uint8Array> {
    if (this.rootCache !== undefined) return this.rootCache
    const h = sha256Stream()
    for await (const [address, rec] of this.store.allAccounts()) {
      h.update(new Writer(44).fixed(address, 20).u128(rec.balance).u64(rec.nonce).finish())
    }
    this.rootCache = h.digest()
    return this.rootCache
  }

  invalidateRoot (): void { this.rootCache = undefined }
}

function sha256Stream (): { update: (b: Uint8Array) => void, digest: () => Uint8Array } {
  const parts: Uint8Array[] = []
  return { update: (b) => { parts.push(b) }, digest: () => sha256(...parts) }
}

export { fromHex }
