// One job, past 400 lines: the ledger's facade, the one place that holds its lock and calls the consensus core,
// the decision writer, the history and the stores in order; the parts themselves live in their own files.
import { EventEmitter } from 'node:events'
import type { BinaryDb } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import { addressFromPublicKey } from '../core/address.ts'
import { bytesEqual, fromHex, toHex } from '../core/codec.ts'
import { AvalancheCore } from './consensus/avalanche-core.ts'
import { COMMIT_GC_DEPTH, CommitCore, type RoundView } from './consensus/commit-core.ts'
import type { ConsensusCore, Decisions } from './consensus/core.ts'
import { VertexAdmission } from './admission.ts'
import { AdmissionControl, type AdmissionControlInit, type AdmissionView } from './admission-control.ts'
import { type DecisionRecordsInit, DecisionWriter } from './decisions.ts'
import { DagError } from './errors.ts'
import { ExternalValidity } from './external-validity.ts'
import { type Genesis, genesisId } from './genesis.ts'
import { OrderCheckers, orderWiring } from './order-checkers.ts'
import { DagGraph } from './graph.ts'
import { loadGraph } from './graph-loader.ts'
import { DagHistory, type DagHistoryInit, DEFAULT_HISTORY_WINDOW } from './history.ts'
import { LedgerState } from './ledger-state.ts'
import { Mempool } from './mempool.ts'
import type { DagMetrics } from './metrics.ts'
import { ProcessingIndex } from './processing.ts'
import { DagStore } from './store.ts'
import { VertexBodyLog } from './body-log.ts'
import { TxAdmission } from './tx-admission.ts'
import { txStatus, type TxStatusView } from './tx-status.ts'
import type { TxInfo } from './tx.ts'
import type { SignatureVerifier } from './verify-pool.ts'
import { MAX_VERTEX_TXS, vertexAuthor, type VertexInfo } from './vertex.ts'
import { VertexBuilder } from './vertex-builder.ts'
import { RoundGuard } from './round-guard.ts'
import type { LedgerEvents } from './events.ts'

export interface DagLedgerInit extends DecisionRecordsInit, DagHistoryInit {
  /** Transactions per vertex this node builds. @default 128 (MAX_VERTEX_TXS) */
  maxBatch?: number
  /** Client transactions waiting for a vertex. @default 20000 */
  mempoolSize?: number
  /** Vertices from the future beyond this are ignored (clock skew allowance). @default 10000 */
  maxFutureMs?: number
  /** Undecided vertices held before new ones are refused (back-pressure). @default 5000 */
  maxProcessing?: number
  /**
   * Commit consensus decisions with fsync so that what was reported final survives a power loss (a process kill
   * never loses it either way). The node turns it on for validators unless `sync-writes` says otherwise.
   * @default false
   */
  syncWrites?: boolean
  /** Committed account records kept in memory. @default 100000 (ACCOUNT_CACHE_LIMIT) */
  accountCacheSize?: number
  /** Admission control of new client transactions (BUSY past capacity); see AdmissionControlInit for defaults. */
  admissionControl?: AdmissionControlInit
  /** A directory for the vertex body log (body-log.ts); without one, bodies are stored in the LevelDB. */
  bodyDir?: string
}

export interface DagLedgerComponents {
  db: BinaryDb
  genesis: Genesis
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  verifier: SignatureVerifier
  logger: Logger
  metrics?: DagMetrics
}

/**
 * The ledger without its network, composed of one part per job: admission (standalone checks, nonce chaining),
 * processing indexes, decision persistence (with state application), mempool admission and vertex building. Every
 * mutation runs under one async lock so LevelDB batches and the in-memory graph change in the same order.
 */
export type { LedgerEvents, TxStatusView }

export class DagLedger extends EventEmitter<LedgerEvents> {
  readonly genesis: Genesis
  readonly genesisIdHex: string
  /** Genesis validator key (hex) → its index (a u16 on disk): the author a vertex's graph record keeps. */
  private readonly validatorIndex: Map<string, number>
  readonly store: DagStore
  readonly graph: DagGraph
  readonly core: ConsensusCore
  /** Set under `consensus.rule: 'commit'` (the same object as `core`). */
  readonly commit: CommitCore | undefined
  /** Under the commit rule: the highest round this key built in, kept across a resync (round-guard.ts). */
  private readonly roundGuard: RoundGuard | undefined
  private readonly avalanche: AvalancheCore | undefined
  readonly state: LedgerState
  readonly mempool: Mempool
  /** The graph index on disk: decided history below the window leaves memory and is read from here. */
  readonly history: DagHistory
  loadStats = { loaded: 0, decoded: 0, ms: 0 } // what the last start placed in memory and decoded, and its wall time
  /** Outside validity: Avalanche's holds (`external`: the bridge's deposit checks), the commit rule's order checks (the market's). */
  readonly external: ExternalValidity
  readonly orderChecks: OrderCheckers
  private readonly identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  readonly verifier: SignatureVerifier
  private readonly log: Logger
  private readonly metrics?: DagMetrics
  readonly maxBatch: number
  private readonly maxProcessing: number
  private readonly processing = new ProcessingIndex()
  private readonly admission: VertexAdmission
  private readonly decisions: DecisionWriter
  /** Client transactions' admission (its state checks are registered by the parts owning kinds: DagService). */
  readonly txAdmission: TxAdmission
  private readonly builder: VertexBuilder
  private readonly admissionControl: AdmissionControl
  private lock: Promise<unknown> = Promise.resolve()
  private started = false

  constructor (components: DagLedgerComponents, init: DagLedgerInit = {}) {
    super()
    const { genesis, verifier } = components
    this.genesis = genesis
    this.genesisIdHex = toHex(genesisId(genesis))
    this.validatorIndex = new Map(genesis.validators.slice(0, 0x10000).map((v, i) => [toHex(v.publicKey), i]))
    this.identity = components.identity
    this.verifier = verifier
    this.log = components.logger.child({ module: 'dag' })
    if (components.metrics !== undefined) this.metrics = components.metrics
    this.maxBatch = Math.min(init.maxBatch ?? MAX_VERTEX_TXS, MAX_VERTEX_TXS)
    this.maxProcessing = init.maxProcessing ?? 5000
    const store = this.store = new DagStore(components.db, init.bodyDir === undefined ? undefined : new VertexBodyLog(init.bodyDir))
    const graph = this.graph = new DagGraph(this.genesisIdHex)
    const commit = genesis.consensus.rule === 'commit'
    this.commit = commit ? new CommitCore(graph, genesis.validators, genesis.consensus, id => { const a = this.processing.get(id)?.vertex.author; return a === undefined ? undefined : toHex(a) }, { gcDepth: COMMIT_GC_DEPTH }) : undefined
    this.avalanche = commit ? undefined : new AvalancheCore(graph, genesis.consensus)
    this.roundGuard = commit ? new RoundGuard(components.db, genesisId(genesis), this.identity.publicKey) : undefined
    const core: ConsensusCore = this.core = (this.commit ?? this.avalanche) as ConsensusCore
    // the commit rule restarts from the accepted rounds it keeps: they must still be in memory (history.ts window)
    const historyInit = commit ? { ...init, historyWindow: Math.max(init.historyWindow ?? DEFAULT_HISTORY_WINDOW, 4 * COMMIT_GC_DEPTH) } : init
    const history = this.history = new DagHistory(store, graph, historyInit, this.metrics)
    graph.history = history
    const order = orderWiring(genesis, this.orderChecks = new OrderCheckers(this.log), () => this.decisions.finalClock.sealedThroughMs(), id => this.processing.get(id)?.txs)
    const state = this.state = new LedgerState(store, graph, init.accountCacheSize, undefined, order?.rules)
    const mempool = this.mempool = new Mempool(init.mempoolSize ?? 20000, { onAdded: info => { this.emit('tx:queued', info) }, onTaken: waitMs => { this.metrics?.finalityPhaseSeconds.observe({ phase: 'mempool' }, waitMs / 1000) } })
    this.external = new ExternalValidity(core, this.log, {}, this.metrics)
    const processing = this.processing
    this.admission = new VertexAdmission({ genesis, verifier, store, graph, core, state }, init)
    this.decisions = new DecisionWriter({ store, state, core, processing, mempool, events: this, logger: this.log, syncWrites: init.syncWrites === true, onFinality: ms => { this.admissionControl.observeFinality(ms) }, validators: genesis.validators.map(v => v.publicKey), txDecisionRecords: init.txDecisionRecords, ...(order !== undefined ? { orderReady: order.ready } : {}), ...(this.metrics !== undefined ? { metrics: this.metrics } : {}) })
    this.decisions.lastAccepted = this.genesisIdHex
    this.txAdmission = new TxAdmission({ genesis, verifier, admission: this.admission, state, core, mempool, processing })
    this.builder = new VertexBuilder({ genesis, identity: this.identity, store, graph, core, state, mempool, events: this })
    // the age rule skips held vertices: they wait on purpose (a deposit waiting for its chain confirmation)
    const oldestPendingMs = (): number | undefined => [mempool.oldestAddedMs(), processing.oldestSeenMs(id => core.isHeld(id))].reduce((a, b) => (b === undefined || (a !== undefined && a <= b) ? a : b))
    const load = { pendingTxs: () => mempool.size + processing.txCount, oldestPendingMs, finalTxs: () => Number(this.decisions.counters.finalTxs), isPending: (id: string) => mempool.has(id) || processing.hasTx(id) }
    this.admissionControl = new AdmissionControl(load, init.admissionControl, reason => { this.metrics?.busyRefusals.inc({ reason }) })
    this.on('tx:queued', () => { this.commit?.txQueued() })
    this.on('tx:final', info => { this.admissionControl.decided(info.idHex, true) }).on('tx:rejected', info => { this.admissionControl.decided(info.idHex, false) })
  }

  /** Admission control's figures now: pending transactions, its bound, the measured finalization rate. */
  admissionView (): AdmissionView { return this.admissionControl.view() }
  /** New transactions refused as BUSY since start (dag_stats), without recomputing admission control's figures. */
  get busyRefusals (): number { return this.admissionControl.refusals }
  /** Median vertex finality latency of the last 10 s, ms (0 when none): what `harmonyd devnet` shows live. */
  finalityP50Ms (): number { return this.admissionControl.finalityP50Ms() }
  /** How far every validator's final vertices reach in signed time (final-clock.ts); undefined until all have one. */
  sealedThroughMs (): bigint | undefined { return this.decisions.finalClock.sealedThroughMs() }
  /** Transactions of `kinds` in the vertices this node holds undecided, with those vertices' signed times. */
  undecidedOf (kinds: ReadonlySet<number>): Array<{ tx: TxInfo, stampMs: bigint }> { return this.processing.ofKinds(kinds) }
  /** Set when a decision could not be committed: the ledger decides nothing more until restarted. */
  get halted (): DagError | undefined { return this.decisions.halted }
  // fixed by the genesis and the identity: computed once (hex of a 1,952-byte key per submit was 5% of ingest)
  private validatorSelf: boolean | undefined
  get isValidator (): boolean { return (this.validatorSelf ??= this.admission.isValidator(this.identity.publicKey)) }
  get chainId (): string { return this.genesis.chainId }
  /** This node's undecided vertices: how many, and when the oldest was inserted (the proposer's batching rule). */
  ownUndecided (): { count: number, oldestMs: number | undefined } { return this.processing.ownUndecided() }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return await run
  }

  /** `exclusive` for changes: a decision that could not be committed left the core ahead of disk, change nothing. */
  private async mutate<T> (fn: () => Promise<T>): Promise<T> {
    return await this.exclusive(async () => {
      if (this.decisions.halted !== undefined) throw this.decisions.halted
      return await fn()
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    const stored = await this.store.getGenesisId()
    const gid = fromHex(this.genesisIdHex)
    if (stored === undefined) {
      const b = this.store.batch()
      this.store.putGenesisId(b, gid)
      this.history.putCut(b, { id: this.genesisIdHex, height: 0 })
      await this.state.initGenesis(b, this.genesis)
      this.store.putCounters(b, this.decisions.counters)
      await b.commit()
    } else if (!bytesEqual(stored, gid)) {
      throw new DagError('GENESIS_INVALID', 'this datadir holds a ledger for a different genesis; use the genesis it was created with or a new datadir')
    } else if (await this.store.upgradeAccounts() > 0) this.log.info('account records upgraded: unproven credits moved out of them (store.ts)')
    await this.decisions.load()
    this.graph.syncBase = await this.history.readSyncBase() // a ledger started from a checkpoint cut (state-sync.ts)
    await this.loadGraph()
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    this.orderChecks.close()
    this.external.stop()
    await this.exclusive(async () => undefined)
    await this.store.bodyLog?.close()
  }

  /** Under the commit rule, after a restart or a state sync: the rule goes on after the last committed leader. */
  private async resumeCommitRule (): Promise<void> {
    if (this.commit === undefined) return
    const synced = await this.history.readSyncedAuthors()
    const keys = this.genesis.validators.map(v => toHex(v.publicKey))
    // the author from the graph record (a synced band's from the cut); a record from before s31, or one whose index
    // names no validator, from the body
    await this.commit.resumeFromGraph(async id => {
      const i = synced.get(id) ?? (await this.history.record(id))?.author
      const key = i === undefined ? undefined : keys[i]
      if (key !== undefined) return key
      const bytes = await this.store.getVertex(fromHex(id))
      return bytes === undefined ? undefined : toHex(vertexAuthor(bytes))
    })
    // a validator never builds again in a round its key built in, even one this ledger lost (a resync)
    if (this.roundGuard === undefined || !this.isValidator) return
    const guarded = this.commit.builtThrough = await this.roundGuard.load()
    // a plain restart holds its own last vertex (stored in the batch that moved the guard): nothing was lost then
    if (guarded >= this.commit.nextRound().round && !this.commit.hasVertexOf(this.selfHex, guarded)) this.log.warn({ round: guarded }, 'this validator built a vertex in a round this ledger does not hold (a resync, or a ledger lost): it builds again only above that round')
  }

  private async loadGraph (): Promise<void> {
    const t0 = performance.now()
    const r = await loadGraph({ store: this.store, graph: this.graph, history: this.history, logger: this.log, registerProcessing: async info => await this.registerProcessing(info), placed: async () => { await this.resumeCommitRule() } })
    if (r.lastAccepted !== undefined) this.decisions.lastAccepted = r.lastAccepted
    await this.decisions.persist(r.decisions)
    this.loadStats = { loaded: r.loaded, decoded: r.decoded, ms: Math.round(performance.now() - t0) }
    this.log.info({ vertices: this.graph.size, decoded: r.decoded, processing: this.core.processingCount, cutHeight: this.graph.cutHeight, ms: this.loadStats.ms }, 'ledger loaded')
  }

  /** Adds a processing vertex to the consensus and the in-memory indexes. */
  private async registerProcessing (info: VertexInfo): Promise<Decisions> {
    // A decided (account, nonce) consumed the nonce (Avalanche rejects the vertex at once; the commit rule's order settles it)
    const lost = new Set<string>()
    for (const t of this.commit === undefined ? info.txs : []) {
      if (this.core.preferredInstance(t.conflictKey) !== undefined) continue
      if ((await this.state.account(t.account)).nonce > t.tx.nonce) lost.add(t.conflictKey)
    }
    this.processing.add(info, Date.now())
    // commit rule: an own vertex never ordered gives its transactions back, after a restart too (mark by author)
    if (this.commit !== undefined && bytesEqual(info.vertex.author, this.identity.publicKey)) this.processing.markOwn(info.idHex)
    const decisions = this.core.add(info.idHex, info.txs.map(t => ({ conflictKey: t.conflictKey, txIdHex: t.idHex })), lost)
    this.external.onProcessing(info)
    return decisions
  }

  // ---------------------------------------------------------------- ingestion

  /** True when the vertex is in memory (recent or undecided); `knowsVertex` also finds decided history on disk. */
  hasVertex (idHex: string): boolean { return this.graph.has(idHex) }

  /** True when the vertex was ever inserted here, in memory or on disk only (`parents`: history.known). */
  async knowsVertex (idHex: string, parents?: readonly string[]): Promise<boolean> { return idHex === this.genesisIdHex || await this.history.known(idHex, parents) }

  async getVertexBytes (idHex: string): Promise<Uint8Array | undefined> { return idHex === this.genesisIdHex ? undefined : await this.store.getVertex(fromHex(idHex)) }
  /** Parent ids of `info` that this node does not have (in memory or on disk). */
  async missingParents (info: VertexInfo): Promise<string[]> {
    const missing: string[] = []
    for (const p of info.parentHex) if (!await this.knowsVertex(p)) missing.push(p)
    return missing
  }

  /** Checks that need no DAG: author, timestamp, signatures (vertex and every transaction, in the pool). */
  async checkStandalone (info: VertexInfo): Promise<void> { await this.admission.checkStandalone(info) }

  /**
   * Inserts a vertex whose standalone checks passed and whose parents are present. Returns false when it was
   * already known. Throws PARENT_MISSING, NONCE_UNCHAINED (invalid: a peer sending it is penalised).
   */
  async insertVertex (info: VertexInfo): Promise<boolean> {
    return await this.mutate(async () => await this.insertLocked(info))
  }

  /** `ownRound`: a vertex this node built, in that round of the commit rule (recorded by the round guard before it is sent). */
  private async insertLocked (info: VertexInfo, ownRound?: number): Promise<boolean> {
    if (this.graph.has(info.idHex)) return false
    // decided and evicted from memory: known, never inserted twice (parents placing it at or above the cut: not so)
    if (!this.graph.placesAtOrAboveCut(info.parentHex) && await this.history.record(info.idHex) !== undefined) return false
    // evicted parents come back into memory: consensus and the time rule read their status and timestamp
    const missing: string[] = []
    for (const p of info.parentHex) if (await this.history.faultIn(p) === undefined && p !== this.genesisIdHex) missing.push(p)
    if (missing.length > 0) throw new DagError('PARENT_MISSING', `${missing.length} parents unknown`, { missing })
    if (this.core.processingCount >= this.maxProcessing) throw new DagError('QUEUE_FULL', 'too many undecided vertices')
    // the round rules (a late vertex of a collected round is stored and rejected: later vertices may name it)
    const authorHex = toHex(info.vertex.author)
    this.commit?.roundOf(info.idHex, authorHex, info.parentHex)
    this.admission.checkTimeOrder(info)
    await this.admission.checkNonceChain(info)
    const b = this.store.batch()
    this.store.putVertex(b, info.id, info.encoded, info.vertex.parents)
    const height = 1 + Math.max(...info.parentHex.map(p => this.graph.get(p)?.height ?? 0))
    const author = this.validatorIndex.get(authorHex)
    this.history.putInserted(b, info.id, { height, timestampMs: info.vertex.timestampMs, parents: info.parentHex, underCut: false, ...(author !== undefined ? { author } : {}) })
    for (const t of info.txs) this.store.putTxInstance(b, t.account, t.tx.nonce, info.id, t.id)
    // the round guard is written before the vertex is sent: a kill keeps it, and so does a power loss once the next
    // fsync'd decision batch is written (most often this insert's own, below); an fsync here cost the loaded p50 more
    if (ownRound !== undefined) this.roundGuard?.put(b, ownRound)
    await b.commit()
    if (ownRound !== undefined) this.roundGuard?.written(ownRound)
    this.graph.add(info.idHex, info.parentHex, 'processing', info.vertex.timestampMs)
    this.history.inserted(info.idHex)
    const decisions = await this.registerProcessing(info)
    this.metrics?.verticesInserted.inc()
    this.emit('vertex:inserted', info)
    await this.decisions.persist(decisions)
    // under the commit rule an insert is what decides: the window moves here (under Avalanche, after a poll's decision)
    await this.sweepAfter(decisions)
    return true
  }

  /** After decisions that accepted vertices, moves the history window (under the ledger's lock). */
  private async sweepAfter (decisions: Decisions): Promise<void> {
    // an optimisation: a failed sweep keeps the vertices in memory and is tried again after the next decision
    if (decisions.accepted.length > 0) await this.history.sweep().catch(err => { this.log.warn({ err }, 'history sweep failed') })
  }

  // ---------------------------------------------------------------- consensus

  isStronglyPreferred (idHex: string): boolean { return this.core.isStronglyPreferred(idHex) }
  pollCandidates (): string[] { return this.avalanche?.pollCandidates() ?? [] }

  /**
   * Runs one consensus step on the core under the ledger's lock and persists its decisions in one batch (the
   * poller's round ends here). Returns the step's own result.
   */
  async decide<T> (step: (core: AvalancheCore) => { decisions: Decisions, result: T }): Promise<T> {
    const core = this.avalanche
    if (core === undefined) throw new DagError('NOT_RUNNING', 'polls decide nothing under the commit rule')
    return await this.mutate(async () => {
      const { decisions, result } = step(core)
      await this.decisions.persist(decisions)
      await this.sweepAfter(decisions)
      return result
    })
  }

  /** Refreshes the consensus and admission gauges (processing vertices, conflict sets, pending transactions). */
  consensusGauges (): void {
    this.metrics?.processing.set(this.core.processingCount)
    this.metrics?.conflicts.set(this.core.conflictsSeen)
    if (this.commit !== undefined) this.metrics?.equivocations.set(this.commit.equivocationsSeen)
    const a = this.admissionControl.view()
    const m = this.metrics
    for (const [g, v] of [[m?.pendingTxs, a.pendingTxs], [m?.pendingBoundTxs, a.boundTxs], [m?.clientLatencySeconds, a.latencyMs / 1000], [m?.clientPendingLimit, a.clientLimitTxs], [m?.memoryVertices, this.graph.size], [m?.historyCutHeight, this.graph.cutHeight], [m?.mempoolStalledTxs, this.commit?.queueStalled === true ? this.mempool.size : 0]] as const) g?.set(v)
  }

  /** A query's answer: `queried` first when preferred (accepted history too), the preferred frontier, the accepted tips
   *  (avalanchego's accepted edge: a node deciding late in a quiet network would never hear of the winner again). */
  async preferredFrontier (queried: string, max: number): Promise<string[]> {
    const frontier = [...this.pollCandidates(), ...this.graph.tips().filter(n => n.status === 'accepted').map(n => n.id)]
    const preferred = this.core.isStronglyPreferred(queried) || (!this.graph.has(queried) && await this.history.status(queried) === 'accepted')
    return (preferred ? [queried, ...frontier.filter(f => f !== queried)] : frontier).slice(0, max)
  }

  // ---------------------------------------------------------------- transactions from clients

  /** Validates a transaction and queues it for this node's next vertex; `client`: see AdmissionControl.check. Returns its id (hex). */
  async submitTransaction (encoded: Uint8Array, client = false): Promise<string> {
    if (!this.started) throw new DagError('NOT_RUNNING', 'ledger is not running')
    // Only validators issue vertices; a transaction queued elsewhere would wait forever.
    if (!this.isValidator) throw new DagError('NOT_VALIDATOR', 'this node is not a validator of the network and cannot issue transactions; send it to a validator node')
    // before the signature check: a refusal must cost less than the work it refuses
    this.admissionControl.check(Date.now(), client)
    return await this.txAdmission.admit(encoded).then(id => { if (client) this.admissionControl.admitted(id); return id })
  }

  /**
   * Builds, signs and inserts one vertex from the mempool (up to maxBatch transactions), referencing the
   * preferred tips. Returns undefined when there is nothing to issue.
   */
  async buildVertex (opts: { empty?: boolean } = {}): Promise<VertexInfo | undefined> {
    if (!this.isValidator || (this.mempool.size === 0 && opts.empty !== true)) return undefined
    return await this.mutate(async () => {
      if (this.core.processingCount >= this.maxProcessing) return undefined
      // the commit rule: the next round's parents, once per round (a second vertex would be an equivocation)
      const round = this.commit?.nextParents(this.selfHex, opts.empty === true)
      if (round === null) return undefined
      const queuedAtChoice = this.commit?.queuedCount ?? 0
      const built = await this.builder.build(this.maxBatch, this.decisions.lastAccepted, round)
      if (built === undefined) return undefined
      const { info, chosen } = built
      // a queue none of which could be taken is not work for the rounds until more is queued (CommitCore)
      if (this.commit?.mempoolStalled(chosen.length === 0 && this.mempool.size > 0, queuedAtChoice) === true && this.commit.queueStalled) {
        this.log.info({ queued: this.mempool.size }, 'no queued transaction can go in a vertex (their earlier nonces are in none this node holds): the queue waits for a vertex or a transaction that brings them')
      }
      this.processing.markOwn(info.idHex)
      await this.insertLocked(info, round?.round)
      // only now: until the vertex is registered, submits must still see these nonces as pending
      for (const t of chosen) this.mempool.take(t.idHex)
      return info
    })
  }

  /** The highest round this validator built a vertex in from this datadir (its round guard; 0: none, or Avalanche). */
  get builtRound (): number { return this.roundGuard?.round ?? 0 }

  /** The commit rule's rounds for this node's pacing (round-proposer.ts); undefined under Avalanche. */
  roundView (): RoundView | undefined {
    return this.commit === undefined || !this.isValidator ? undefined : this.commit.view(this.selfHex, this.mempool.size, this.maxBatch)
  }

  private get selfHex (): string { return (this.selfHexMemo ??= toHex(this.identity.publicKey)) }
  private selfHexMemo: string | undefined

  // ---------------------------------------------------------------- queries

  async getTx (idHex: string): Promise<TxStatusView | undefined> {
    return await txStatus({ store: this.store, history: this.history, mempool: this.mempool, processing: this.processing }, idHex)
  }

  /** Deletes decided bodies below `cutId` (an anchored checkpoint's vertex; DagHistory.pruneBelow); not on an archive. */
  async pruneBelow (cutId: string): Promise<number> {
    return (await this.history.status(cutId)) !== 'accepted' ? 0 : await this.history.pruneBelow(cutId)
  }

  async getAccount (address: Uint8Array): Promise<{ balance: bigint, nonce: bigint }> {
    return await this.state.account(address).then(a => ({ balance: a.balance, nonce: a.nonce }))
  }

  tips (): string[] { return this.graph.tips().map(t => t.id) }

  vertexStatus (idHex: string): 'processing' | 'accepted' | 'rejected' | undefined { return this.graph.get(idHex)?.status }

  /** Vertices in memory against the history cut (what flat memory is measured by). */
  memoryView (): { graphVertices: number, cutHeight: number, frontierHeight: number, evicted: number } {
    return { graphVertices: this.graph.size, cutHeight: this.graph.cutHeight, frontierHeight: this.graph.maxAcceptedHeight, evicted: this.history.evicted }
  }

  async stats (): Promise<{ vertices: number, finalized: number, rejected: number, processing: number, finalTxs: number, stateRoot: string, mempool: number }> {
    return await this.exclusive(async () => ({
      // every vertex this node holds, decided history on disk included
      vertices: Number(this.decisions.counters.acceptedVertices + this.decisions.counters.rejectedVertices) + this.core.processingCount,
      finalized: Number(this.decisions.counters.acceptedVertices),
      rejected: Number(this.decisions.counters.rejectedVertices),
      processing: this.core.processingCount,
      finalTxs: Number(this.decisions.counters.finalTxs),
      stateRoot: `0x${toHex(await this.state.stateRoot())}`,
      mempool: this.mempool.size
    }))
  }

  get address (): string { return addressFromPublicKey(this.identity.publicKey) }
}
