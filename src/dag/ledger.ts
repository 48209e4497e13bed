import { EventEmitter } from 'node:events'
import type { BinaryDb } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import { addressFromPublicKey } from './address.ts'
import { bytesEqual, fromHex, toHex } from './codec.ts'
import { AvalancheCore, type Decisions } from './consensus/avalanche-core.ts'
import { DagError } from './errors.ts'
import { ExternalValidity } from './external-validity.ts'
import { type Genesis, genesisId } from './genesis.ts'
import { DagGraph } from './graph.ts'
import { LedgerState } from './ledger-state.ts'
import { Mempool } from './mempool.ts'
import type { DagMetrics } from './metrics.ts'
import { type DagBatch, DagStore, type TxRecord } from './store.ts'
import { decodeTx, type TxInfo, txInfo, txSigningMessageFromEncoded } from './tx.ts'
import { requireTxKind, type TxKind } from './tx-kinds.ts'
import type { SignatureVerifier, VerifyItem } from './verify-pool.ts'
import { buildVertex, encodeVertex, MAX_PARENTS, MAX_VERTEX_TXS, type VertexInfo, vertexInfo, vertexSigningMessageFromEncoded } from './vertex.ts'

export interface DagLedgerInit {
  /** Transactions per vertex this node builds. @default 128 (MAX_VERTEX_TXS) */
  maxBatch?: number
  /** Client transactions waiting for a vertex. @default 20000 */
  mempoolSize?: number
  /** Vertices from the future beyond this are ignored (clock skew allowance). @default 10000 */
  maxFutureMs?: number
  /** Undecided vertices held before new ones are refused (back-pressure). @default 5000 */
  maxProcessing?: number
}

export interface DagLedgerComponents {
  db: BinaryDb
  genesis: Genesis
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  verifier: SignatureVerifier
  logger: Logger
  metrics?: DagMetrics
}

export interface TxStatusView {
  status: 'pending' | 'final' | 'rejected'
  vertexId?: string
  reason?: string
  tx?: TxInfo
}

export interface LedgerEvents {
  'tx:final': [TxInfo, string]
  'tx:rejected': [TxInfo, string]
  'vertex:accepted': [string]
  'vertex:inserted': [VertexInfo]
}

/**
 * The ledger without its network: validation, storage, consensus state and account state. Every mutation runs
 * under one async lock so LevelDB batches and the in-memory graph change in the same order.
 */
export class DagLedger extends EventEmitter<LedgerEvents> {
  readonly genesis: Genesis
  readonly genesisIdHex: string
  readonly store: DagStore
  readonly graph: DagGraph
  readonly core: AvalancheCore
  readonly state: LedgerState
  readonly mempool: Mempool
  /** Outside validity checks (deposit credits against the EVM chain): the chain bridge registers the checkers. */
  readonly external: ExternalValidity
  private readonly identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  readonly verifier: SignatureVerifier
  private readonly log: Logger
  private readonly metrics?: DagMetrics
  readonly maxBatch: number
  private readonly maxFutureMs: number
  private readonly maxProcessing: number
  private readonly validators: Set<string>
  /** decoded processing vertices */
  private readonly processingInfo = new Map<string, VertexInfo>()
  /** tx id -> vertex of a processing instance */
  private readonly processingTx = new Map<string, string>()
  /** account -> nonce -> debit of processing transactions, for submit-time balance checks */
  private readonly pendingDebits = new Map<string, Map<bigint, bigint>>()
  private readonly receivedAt = new Map<string, number>()
  private readonly ownVertices = new Set<string>()
  private lastAccepted: string
  private lock: Promise<unknown> = Promise.resolve()
  private seq = 0n
  private counters = { acceptedVertices: 0n, rejectedVertices: 0n, finalTxs: 0n, rejectedTxs: 0n }
  private started = false

  constructor (components: DagLedgerComponents, init: DagLedgerInit = {}) {
    super()
    this.genesis = components.genesis
    this.genesisIdHex = toHex(genesisId(components.genesis))
    this.identity = components.identity
    this.verifier = components.verifier
    this.log = components.logger.child({ module: 'dag' })
    if (components.metrics !== undefined) this.metrics = components.metrics
    this.maxBatch = Math.min(init.maxBatch ?? MAX_VERTEX_TXS, MAX_VERTEX_TXS)
    this.maxFutureMs = init.maxFutureMs ?? 10_000
    this.maxProcessing = init.maxProcessing ?? 5000
    this.store = new DagStore(components.db)
    this.graph = new DagGraph(this.genesisIdHex)
    this.core = new AvalancheCore(this.graph, components.genesis.consensus)
    this.state = new LedgerState(this.store, this.graph)
    this.mempool = new Mempool(init.mempoolSize ?? 20000)
    this.external = new ExternalValidity(this.core, this.log)
    this.validators = new Set(components.genesis.validators.map(v => toHex(v.publicKey)))
    this.lastAccepted = this.genesisIdHex
  }

  get isValidator (): boolean { return this.validators.has(toHex(this.identity.publicKey)) }
  get chainId (): string { return this.genesis.chainId }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return await run
  }

  async start (): Promise<void> {
    if (this.started) return
    const stored = await this.store.getGenesisId()
    const gid = fromHex(this.genesisIdHex)
    if (stored === undefined) {
      const b = this.store.batch()
      this.store.putGenesisId(b, gid)
      await this.state.initGenesis(b, this.genesis)
      this.store.putCounters(b, this.counters)
      await b.commit()
    } else if (!bytesEqual(stored, gid)) {
      throw new DagError('GENESIS_INVALID', 'this datadir holds a ledger for a different genesis; use the genesis it was created with or a new datadir')
    }
    this.counters = await this.store.getCounters()
    this.seq = this.counters.acceptedVertices
    await this.loadGraph()
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    this.external.stop()
    await this.exclusive(async () => undefined)
  }

  private async loadGraph (): Promise<void> {
    const decisions = await this.store.allDecisions()
    const infos = new Map<string, VertexInfo>()
    for await (const [, bytes] of this.store.allVertices()) {
      const info = vertexInfo(bytes)
      infos.set(info.idHex, info)
    }
    let lastSeq = -1n
    const pending = [...infos.values()]
    const rejectedNow: string[] = []
    while (pending.length > 0) {
      const before = pending.length
      for (let i = pending.length - 1; i >= 0; i--) {
        const info = pending[i]
        if (!info.parentHex.every(p => this.graph.has(p))) continue
        pending.splice(i, 1)
        const d = decisions.get(info.idHex)
        this.graph.add(info.idHex, info.parentHex, d?.status ?? 'processing')
        if (d?.status === 'accepted' && d.seq > lastSeq) { lastSeq = d.seq; this.lastAccepted = info.idHex }
        if (d === undefined) {
          const r = await this.registerProcessing(info)
          rejectedNow.push(...r.rejected)
        }
      }
      if (pending.length === before) {
        this.log.warn({ orphans: pending.length }, 'stored vertices with missing parents ignored')
        break
      }
    }
    if (rejectedNow.length > 0) await this.persistDecisions({ accepted: [], rejected: rejectedNow })
    this.log.info({ vertices: this.graph.size, processing: this.core.processingCount }, 'ledger loaded')
  }

  /** Adds a processing vertex to the consensus and the in-memory indexes. */
  private async registerProcessing (info: VertexInfo): Promise<Decisions> {
    // A decided (account, nonce) has consumed the nonce: the account's nonce is past it.
    const lost = new Set<string>()
    for (const t of info.txs) {
      if (this.core.preferredInstance(t.conflictKey) !== undefined) continue
      if ((await this.state.account(t.account)).nonce > t.tx.nonce) lost.add(t.conflictKey)
    }
    this.processingInfo.set(info.idHex, info)
    this.receivedAt.set(info.idHex, Date.now())
    for (const t of info.txs) {
      this.processingTx.set(t.idHex, info.idHex)
      let m = this.pendingDebits.get(t.accountHex)
      if (m === undefined) { m = new Map(); this.pendingDebits.set(t.accountHex, m) }
      const kind = requireTxKind(t.tx.kind)
      m.set(t.tx.nonce, kind.effects(kind.decode(t.tx.payload)).debit + t.tx.fee)
    }
    const decisions = this.core.add(info.idHex, info.txs.map(t => ({ conflictKey: t.conflictKey, txIdHex: t.idHex })), lost)
    this.external.onProcessing(info)
    return decisions
  }

  /** Fee and signer rules of a transaction's kind (stateless: the genesis fixes them). */
  private checkKindRules (kind: TxKind, tx: { fee: bigint, publicKey: Uint8Array }): void {
    if (kind.validatorOnly === true && !this.validators.has(toHex(tx.publicKey))) {
      throw new DagError('AUTHOR_UNKNOWN', `a ${kind.name} transaction must be signed by a genesis validator`)
    }
    if (kind.feeExempt !== true && tx.fee < this.genesis.minFee) {
      throw new DagError('FEE_TOO_LOW', `fee ${tx.fee} is below the minimum ${this.genesis.minFee}`)
    }
  }

  // ---------------------------------------------------------------- ingestion

  hasVertex (idHex: string): boolean { return this.graph.has(idHex) }

  async getVertexBytes (idHex: string): Promise<Uint8Array | undefined> {
    if (idHex === this.genesisIdHex) return undefined
    return await this.store.getVertex(fromHex(idHex))
  }

  /** Parent ids of `info` that this node does not have. */
  missingParents (info: VertexInfo): string[] {
    return info.parentHex.filter(p => !this.graph.has(p))
  }

  /** Checks that need no DAG: author, timestamp, signatures (vertex and every transaction, in the pool). */
  async checkStandalone (info: VertexInfo): Promise<void> {
    if (!this.validators.has(toHex(info.vertex.author))) throw new DagError('AUTHOR_UNKNOWN', 'vertex author is not a validator of this network')
    if (info.vertex.timestampMs > BigInt(Date.now() + this.maxFutureMs)) throw new DagError('TIMESTAMP_FUTURE', 'vertex timestamp is too far in the future')
    const keys = new Set<string>()
    for (const t of info.txs) {
      if (keys.has(t.conflictKey)) throw new DagError('TX_CONFLICT', 'vertex holds two transactions of one account with one nonce')
      keys.add(t.conflictKey)
      this.checkKindRules(requireTxKind(t.tx.kind), t.tx)
    }
    const items: VerifyItem[] = [{ sig: info.vertex.signature, msg: vertexSigningMessageFromEncoded(this.chainId, info.encoded), publicKey: info.vertex.author }]
    for (const t of info.txs) items.push({ sig: t.tx.signature, msg: txSigningMessageFromEncoded(this.chainId, t.encoded), publicKey: t.tx.publicKey })
    const ok = await this.verifier.verifyBatch(items)
    const bad = ok.indexOf(false)
    if (bad === 0) throw new DagError('SIGNATURE_INVALID', 'vertex signature invalid')
    if (bad > 0) throw new DagError('SIGNATURE_INVALID', `transaction ${bad - 1} signature invalid`)
  }

  /**
   * Inserts a vertex whose standalone checks passed and whose parents are present. Returns false when it was
   * already known. Throws PARENT_MISSING, NONCE_UNCHAINED (invalid: a peer sending it is penalised).
   */
  async insertVertex (info: VertexInfo): Promise<boolean> {
    return await this.exclusive(async () => await this.insertLocked(info))
  }

  private async insertLocked (info: VertexInfo): Promise<boolean> {
    if (this.graph.has(info.idHex)) return false
    const missing = this.missingParents(info)
    if (missing.length > 0) throw new DagError('PARENT_MISSING', `${missing.length} parents unknown`, { missing })
    if (this.core.processingCount >= this.maxProcessing) throw new DagError('QUEUE_FULL', 'too many undecided vertices')
    // Nonce chaining: (A, n-1) must be earlier in this vertex or in its causal past. Memory first (the
    // processing sets and the account's latest decided vertex), the store's instance index as the fallback.
    const inVertex = new Set<string>()
    for (const t of info.txs) {
      if (t.tx.nonce > 0n && !inVertex.has(`${t.accountHex}:${t.tx.nonce - 1n}`)) {
        const prevKey = `${t.accountHex}:${t.tx.nonce - 1n}`
        const candidates = this.core.instanceVertices(prevKey)
        const decided = await this.state.decidedVertex(t.account, t.tx.nonce - 1n)
        if (decided !== undefined) candidates.push(decided)
        if (this.graph.ancestorsAmong(info.parentHex, candidates).size === 0) {
          const stored = (await this.store.txInstances(t.account, t.tx.nonce - 1n)).map(p => toHex(p.vertexId))
          if (this.graph.ancestorsAmong(info.parentHex, stored).size === 0) {
            throw new DagError('NONCE_UNCHAINED', 'a transaction\'s previous nonce is not in the vertex\'s causal past')
          }
        }
      }
      inVertex.add(t.conflictKey)
    }
    const b = this.store.batch()
    this.store.putVertex(b, info.id, info.encoded, info.vertex.parents)
    for (const t of info.txs) this.store.putTxInstance(b, t.account, t.tx.nonce, info.id, t.id)
    await b.commit()
    this.graph.add(info.idHex, info.parentHex, 'processing')
    const decisions = await this.registerProcessing(info)
    this.metrics?.verticesInserted.inc()
    this.emit('vertex:inserted', info)
    await this.persistDecisions(decisions)
    return true
  }

  // ---------------------------------------------------------------- consensus

  isStronglyPreferred (idHex: string): boolean { return this.core.isStronglyPreferred(idHex) }
  pollCandidates (): string[] { return this.core.pollCandidates() }

  /**
   * Runs one consensus step on the core under the ledger's lock and persists its decisions in one batch (the
   * poller's round ends here). Returns the step's own result.
   */
  async decide<T> (step: (core: AvalancheCore) => { decisions: Decisions, result: T }): Promise<T> {
    return await this.exclusive(async () => {
      const { decisions, result } = step(this.core)
      await this.persistDecisions(decisions)
      return result
    })
  }

  /** Refreshes the consensus gauges (processing vertices, conflict sets). */
  consensusGauges (): void {
    this.metrics?.processing.set(this.core.processingCount)
    this.metrics?.conflicts.set(this.core.conflictsSeen)
  }

  /** This node's answer to a query about `queried`: its preferred frontier, those covering `queried` first. */
  preferredFrontier (queried: string, max: number): string[] {
    const frontier = this.core.pollCandidates()
    if (!this.core.isStronglyPreferred(queried)) return frontier.slice(0, max)
    return [queried, ...frontier.filter(f => f !== queried)].slice(0, max)
  }

  /**
   * Persists one round of consensus decisions as ONE LevelDB batch: for each accepted vertex (in order) its
   * decision, the account changes and the transaction outcomes; for each rejected vertex its decision and the
   * transactions that lost their conflict. Events fire and memory is pruned only after the commit, so nothing is
   * reported final before it is on disk.
   */
  private async persistDecisions (d: Decisions): Promise<void> {
    if (d.accepted.length === 0 && d.rejected.length === 0) return
    const b = this.store.batch()
    const after: Array<() => void> = []
    for (const id of d.accepted) await this.applyAccepted(b, id, after)
    for (const id of d.rejected) await this.applyRejected(b, id, after)
    this.store.putCounters(b, this.counters)
    await b.commit()
    this.state.invalidateRoot()
    for (const fn of after) fn()
  }

  private async applyAccepted (b: DagBatch, idHex: string, after: Array<() => void>): Promise<void> {
    const info = this.processingInfo.get(idHex)
    if (info === undefined) return
    const now = Date.now()
    this.seq++
    this.store.putDecision(b, info.id, { status: 'accepted', seq: this.seq })
    const outcomes = await this.state.applyVertex(b, info)
    for (const o of outcomes) {
      this.store.putConflictDecision(b, o.info.account, o.info.tx.nonce, info.id, o.info.id)
      const rec: TxRecord = { status: o.ok ? 'final' : 'rejected', vertexId: info.id, reason: o.reason, decidedAtMs: BigInt(now) }
      this.store.putTxRecord(b, o.info.id, rec)
      if (o.ok) this.counters.finalTxs++
      else this.counters.rejectedTxs++
    }
    this.counters.acceptedVertices++
    this.lastAccepted = idHex
    const received = this.receivedAt.get(idHex)
    after.push(() => {
      this.dropProcessing(info)
      this.receivedAt.delete(idHex)
      this.metrics?.verticesAccepted.inc()
      if (received !== undefined) this.metrics?.finalitySeconds.observe((Date.now() - received) / 1000)
      for (const o of outcomes) {
        this.mempool.remove(o.info.idHex)
        this.core.prune(o.info.conflictKey)
        if (o.ok) this.emit('tx:final', o.info, idHex)
        else this.emit('tx:rejected', o.info, o.reason)
      }
      this.metrics?.txsFinal.inc(outcomes.filter(o => o.ok).length)
      this.emit('vertex:accepted', idHex)
    })
  }

  private async applyRejected (b: DagBatch, idHex: string, after: Array<() => void>): Promise<void> {
    const info = this.processingInfo.get(idHex)
    if (info === undefined) return
    this.store.putDecision(b, info.id, { status: 'rejected', seq: 0n })
    const lost: TxInfo[] = []
    const reissue: TxInfo[] = []
    for (const t of info.txs) {
      // The winner of this (account, nonce), if decided: the consensus core still holds the set (pruning
      // happens after this batch), and a decision always consumes the account's nonce.
      let winner = this.core.decidedTxId(t.conflictKey)
      if (winner === undefined && (await this.state.account(t.account)).nonce > t.tx.nonce) {
        // decided in an earlier, committed batch and pruned from memory since
        const d = await this.store.getConflictDecision(t.account, t.tx.nonce)
        if (d !== undefined) winner = toHex(d.txId)
      }
      if (winner !== undefined && winner !== t.idHex) {
        this.store.putTxRecord(b, t.id, { status: 'rejected', vertexId: info.id, reason: 'conflict', decidedAtMs: BigInt(Date.now()) })
        lost.push(t)
        this.counters.rejectedTxs++
      } else if (winner === undefined && this.ownVertices.has(idHex)) {
        reissue.push(t)
      }
    }
    this.counters.rejectedVertices++
    after.push(() => {
      this.dropProcessing(info)
      this.receivedAt.delete(idHex)
      this.metrics?.verticesRejected.inc()
      for (const t of reissue) {
        try { this.mempool.add(t) } catch { /* mempool full: the client resubmits */ }
      }
      for (const t of lost) {
        this.mempool.remove(t.idHex)
        this.emit('tx:rejected', t, 'conflict')
      }
    })
  }

  private dropProcessing (info: VertexInfo): void {
    this.processingInfo.delete(info.idHex)
    this.ownVertices.delete(info.idHex)
    for (const t of info.txs) {
      if (this.processingTx.get(t.idHex) === info.idHex) this.processingTx.delete(t.idHex)
      const m = this.pendingDebits.get(t.accountHex)
      if (m !== undefined) {
        m.delete(t.tx.nonce)
        if (m.size === 0) this.pendingDebits.delete(t.accountHex)
      }
    }
  }

  // ---------------------------------------------------------------- transactions from clients

  /** Validates a client transaction and queues it for this node's next vertex. Returns its id (hex). */
  async submitTransaction (encoded: Uint8Array): Promise<string> {
    if (!this.started) throw new DagError('NOT_RUNNING', 'ledger is not running')
    // Only validators issue vertices; a transaction queued elsewhere would wait forever.
    if (!this.isValidator) throw new DagError('NOT_VALIDATOR', 'this node is not a validator of the network and cannot issue transactions; send it to a validator node')
    const tx = decodeTx(encoded)
    const info = txInfo(encoded, tx)
    this.checkKindRules(requireTxKind(tx.kind), tx)
    const [ok] = await this.verifier.verifyBatch([{ sig: tx.signature, msg: txSigningMessageFromEncoded(this.chainId, encoded), publicKey: tx.publicKey }])
    if (ok !== true) throw new DagError('SIGNATURE_INVALID', 'transaction signature does not verify for its public key on this chain')
    // Load the account, then check and queue synchronously: no other ledger operation can interleave with the
    // synchronous part, so it needs no lock (a final transaction's nonce is below the account's: NONCE_TOO_LOW).
    let acct = await this.state.account(info.account)
    while (this.state.peek(info.account) !== acct) acct = await this.state.account(info.account)
    {
      if (this.mempool.has(info.idHex) || this.processingTx.has(info.idHex)) {
        throw new DagError('TX_KNOWN', 'transaction already known')
      }
      if (tx.nonce < acct.nonce) throw new DagError('NONCE_TOO_LOW', `nonce ${tx.nonce} already used; the account's next nonce is ${acct.nonce}`, { expected: acct.nonce.toString() })
      const pending = this.pendingDebits.get(info.accountHex)
      let next = acct.nonce
      let pendingDebit = 0n
      for (const [n, debit] of pending ?? []) { if (n >= acct.nonce) { pendingDebit += debit; if (n + 1n > next) next = n + 1n } }
      for (const t of this.mempool.forAccount(info.accountHex)) {
        const k = requireTxKind(t.tx.kind)
        pendingDebit += k.effects(k.decode(t.tx.payload)).debit + t.tx.fee
        if (t.tx.nonce + 1n > next) next = t.tx.nonce + 1n
      }
      if (tx.nonce > next) throw new DagError('NONCE_GAP', `nonce ${tx.nonce} is ahead of the account's next nonce ${next}`, { expected: next.toString() })
      // A competitor is allowed only against instances this node's outside check found invalid (ExternalValidity).
      const replacesVetoed = tx.nonce === acct.nonce && this.mempool.forAccount(info.accountHex).length === 0 && this.core.onlyVetoedLive(info.conflictKey)
      if (tx.nonce < next && !replacesVetoed) throw new DagError('TX_CONFLICT', `nonce ${tx.nonce} is already used by a pending transaction of this account`)
      const kind = requireTxKind(tx.kind)
      const need = kind.effects(kind.decode(tx.payload)).debit + tx.fee
      if (acct.balance - pendingDebit < need) {
        throw new DagError('INSUFFICIENT_BALANCE', `balance ${acct.balance - pendingDebit} (after pending transactions) is below amount + fee ${need}`)
      }
      this.mempool.add(info)
      return info.idHex
    }
  }

  /**
   * Builds, signs and inserts one vertex from the mempool (up to maxBatch transactions), referencing the
   * preferred tips. Returns undefined when there is nothing to issue.
   */
  async buildVertex (): Promise<VertexInfo | undefined> {
    if (!this.isValidator || this.mempool.size === 0) return undefined
    return await this.exclusive(async () => {
      if (this.core.processingCount >= this.maxProcessing) return undefined
      const memo = new Map<string, boolean>()
      const tips = this.graph.tips()
        .filter(t => t.status === 'accepted' || this.core.isStronglyPreferred(t.id, memo))
        .sort((a, b) => b.height - a.height)
      const parents = tips.slice(0, MAX_PARENTS - 2).map(t => t.id)
      if (parents.length === 0) parents.push(this.lastAccepted)
      const chosen: TxInfo[] = []
      const chosenKeys = new Set<string>()
      for (const accountHex of this.mempool.accounts()) {
        if (chosen.length >= this.maxBatch) break
        const acct = await this.state.account(fromHex(accountHex))
        for (const t of this.mempool.forAccount(accountHex)) {
          if (chosen.length >= this.maxBatch) break
          const n = t.tx.nonce
          if (n < acct.nonce) {
            const rec = await this.store.getTxRecord(t.id)
            this.mempool.remove(t.idHex)
            if (rec === undefined) {
              const b = this.store.batch()
              this.store.putTxRecord(b, t.id, { status: 'rejected', vertexId: new Uint8Array(32), reason: 'conflict', decidedAtMs: BigInt(Date.now()) })
              await b.commit()
              this.emit('tx:rejected', t, 'conflict')
            }
            continue
          }
          if (this.core.liveTxIds(t.conflictKey).includes(t.idHex)) { this.mempool.remove(t.idHex); continue }
          if (chosenKeys.has(t.conflictKey)) continue
          if (n > 0n && !chosenKeys.has(`${accountHex}:${n - 1n}`)) {
            const pref = this.core.preferredInstance(`${accountHex}:${n - 1n}`)
            let prev = pref !== undefined && this.core.isStronglyPreferred(pref.vertexId, memo) ? pref.vertexId : undefined
            prev ??= await this.state.decidedVertex(t.account, n - 1n)
            if (prev === undefined) break
            if (!this.graph.isAncestorOrSelf(prev, parents)) {
              if (parents.length >= MAX_PARENTS) break
              parents.push(prev)
            }
          }
          chosen.push(t)
          chosenKeys.add(t.conflictKey)
        }
      }
      if (chosen.length === 0) return undefined
      const vertex = buildVertex(this.chainId, {
        author: this.identity.publicKey,
        secretKey: this.identity.secretKey,
        parents: parents.map(p => fromHex(p)),
        txs: chosen.map(t => t.encoded),
        timestampMs: BigInt(Date.now())
      })
      const info = vertexInfo(encodeVertex(vertex), vertex)
      this.ownVertices.add(info.idHex)
      await this.insertLocked(info)
      // only now: until the vertex is registered, submits must still see these nonces as pending
      for (const t of chosen) this.mempool.remove(t.idHex)
      return info
    })
  }

  // ---------------------------------------------------------------- queries

  async getTx (idHex: string): Promise<TxStatusView | undefined> {
    const rec = await this.store.getTxRecord(fromHex(idHex))
    if (rec !== undefined) {
      const vid = toHex(rec.vertexId)
      return { status: rec.status, vertexId: vid, ...(rec.reason !== 'none' ? { reason: rec.reason } : {}), ...(await this.txFromVertex(vid, idHex)) }
    }
    const inMempool = this.mempool.get(idHex)
    if (inMempool !== undefined) return { status: 'pending', tx: inMempool }
    const v = this.processingTx.get(idHex)
    if (v !== undefined) {
      const tx = this.processingInfo.get(v)?.txs.find(t => t.idHex === idHex)
      return { status: 'pending', vertexId: v, ...(tx !== undefined ? { tx } : {}) }
    }
    return undefined
  }

  private async txFromVertex (vertexIdHex: string, txIdHex: string): Promise<{ tx?: TxInfo }> {
    const bytes = await this.getVertexBytes(vertexIdHex)
    if (bytes === undefined) return {}
    const tx = vertexInfo(bytes).txs.find(t => t.idHex === txIdHex)
    return tx !== undefined ? { tx } : {}
  }

  async getAccount (address: Uint8Array): Promise<{ balance: bigint, nonce: bigint }> {
    const a = await this.state.account(address)
    return { balance: a.balance, nonce: a.nonce }
  }

  tips (): string[] { return this.graph.tips().map(t => t.id) }

  vertexStatus (idHex: string): 'processing' | 'accepted' | 'rejected' | undefined {
    return this.graph.get(idHex)?.status
  }

  async stats (): Promise<{ vertices: number, finalized: number, rejected: number, processing: number, finalTxs: number, stateRoot: string, mempool: number }> {
    return await this.exclusive(async () => ({
      vertices: this.graph.size,
      finalized: Number(this.counters.acceptedVertices),
      rejected: Number(this.counters.rejectedVertices),
      processing: this.core.processingCount,
      finalTxs: Number(this.counters.finalTxs),
      stateRoot: `0x${toHex(await this.state.stateRoot())}`,
      mempool: this.mempool.size
    }))
  }

  get address (): string { return addressFromPublicKey(this.identity.publicKey) }
}
