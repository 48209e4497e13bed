import { EventEmitter } from 'node:events'
import type { Libp2p } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { type BinaryDb, sublevel } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import { LifecycleRunner, type Startable } from '../core/lifecycle.ts'
import type { GossipRegistry } from '../network/gossip.ts'
import type { BoundPeers } from '../network/peer-binding.ts'
import { addressFromPublicKey, parseAddress } from '../core/address.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { nativeMlDsaAvailable } from '../core/crypto.ts'
import { DagError } from './errors.ts'
import { type Genesis, orderCheckContextOf, quorumOf } from './genesis.ts'
import { DagLedger, type DagLedgerInit, type TxStatusView } from './ledger.ts'
import { createDagMetrics } from './metrics.ts'
import { AntiEntropy, type AntiEntropyInit } from './net/anti-entropy.ts'
import { type ForwardingInit, TxForwarding } from './net/forwarding.ts'
import { type ConsensusHealth, Poller, type PollerInit } from './net/poller.ts'
import { Proposer, type ProposerInit } from './net/proposer.ts'
import { RoundProposer, type RoundProposerInit } from './net/round-proposer.ts'
import { AvalancheQuery, type QueryInit } from './net/query.ts'
import { DagSync } from './net/sync.ts'
import { ValidatorPeers } from './net/validator-peers.ts'
import { VertexGossip } from './net/vertex-gossip.ts'
import type { ExternalChecker } from './external-validity.ts'
import type { OrderChecker } from './order-checkers.ts'
import type { StateCheck } from './tx-admission.ts'
import type { FinalPlace } from './tx-kinds.ts'
import type { AcceptedVertexView, LedgerReader, LedgerRegistration } from './reader.ts'
import { encodeTx, type Transaction, type TxInfo, txToJSON } from './tx.ts'
import { VerifyPool, type VerifyPoolInit } from './verify-pool.ts'
import { vertexAuthor, vertexInfo } from './vertex.ts'

export interface DagComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  /** The node's gossip registry: the vertex topic registers here. */
  gossip: GossipRegistry
  /** The node's one peer binding: tells which peers are which validators. */
  peerBinding: BoundPeers
  db: BinaryDb
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  genesis: Genesis
  logger: Logger
  registry: Registry
}

export interface DagServiceInit extends DagLedgerInit, PollerInit, QueryInit, ProposerInit, RoundProposerInit, AntiEntropyInit, ForwardingInit {
  /** Vertices fetched in one catch-up walk. @default 20000 */
  maxFetchPerWalk?: number
  /** Signature verifier pool options. */
  verifier?: VerifyPoolInit
}

export interface DagServiceEvents {
  /** A transaction became final and its effects are applied (the market and chain listen to this). */
  'tx:final': [{ id: string, vertexId: string, tx: TxInfo, at: FinalPlace }]
  'tx:rejected': [{ id: string, reason: string, tx: TxInfo }]
}

export interface DagStats {
  vertices: number
  finalized: number
  rejected: number
  processing: number
  finalTxs: number
  stateRoot: string
  mempool: number
  peers: number
  /** Median vertex finality latency (first seen to committed) over the last 10 s, ms; 0 when nothing was finalized. */
  finalityP50Ms: number
  /** New transactions this node refused as BUSY (admission control) since it started. */
  busyRefusals: number
}

/**
 * The QuDAG ledger service the node composes: verifier pool, ledger (store, consensus state, accounts), then its
 * network parts, one job each (validator peers, sync, vertex gossip, Avalanche queries, forwarding, poller,
 * proposer, anti-entropy). Started in that order and stopped in reverse by one LifecycleRunner.
 */
export class DagService extends EventEmitter<DagServiceEvents> implements Startable, LedgerRegistration {
  readonly ledger: DagLedger
  /** The narrow read interface the DAG's neighbours use. */
  readonly reader: LedgerReader
  readonly verifier: VerifyPool
  /** Genesis validators this node is bound to (through the peer binding). */
  readonly validatorPeers: ValidatorPeers
  readonly sync: DagSync
  private readonly poller: Poller
  private readonly forwarding: TxForwarding
  private readonly services: Array<[string, Startable]>
  private readonly log: Logger
  private runner: LifecycleRunner | undefined
  private running = false

  constructor (components: DagComponents, init: DagServiceInit = {}) {
    super()
    const metrics = createDagMetrics(components.registry)
    this.log = components.logger.child({ module: 'dag' })
    this.verifier = new VerifyPool(init.verifier ?? {}, components.registry)
    this.ledger = new DagLedger({ db: components.db, genesis: components.genesis, identity: components.identity, verifier: this.verifier, logger: components.logger, metrics }, init)
    const { libp2p, logger } = components
    const ledger = this.ledger
    this.reader = ledgerReader(ledger)
    this.validatorPeers = new ValidatorPeers({ binding: components.peerBinding, genesis: components.genesis, publicKey: components.identity.publicKey })
    const peers = this.validatorPeers
    this.sync = new DagSync({ libp2p, ledger, logger }, { requestTimeoutMs: init.queryTimeoutMs, maxFetchPerWalk: init.maxFetchPerWalk })
    const sync = this.sync
    const gossip = new VertexGossip({ gossip: components.gossip, ledger, sync, logger, metrics })
    const query = new AvalancheQuery({ libp2p, ledger, sync, gossip, logger, metrics }, init)
    this.forwarding = new TxForwarding({ libp2p, ledger, peers, logger, metrics, store: sublevel(components.db, 'dagForwarded') }, { requestTimeoutMs: init.queryTimeoutMs, ...(init.forwarded !== undefined ? { forwarded: init.forwarded } : {}) })
    peers.on('validator:unbound', (peer) => { query.forget(peer) })
    this.poller = new Poller({ ledger, query, peers, logger, metrics }, init)
    // the liveness gauges move only when a validator binds or unbinds, under either rule (the poller does not run
    // under the commit rule, where they once stayed unset)
    const liveness = (): void => {
      const h = this.poller.health()
      metrics.live.set(h.live ? 1 : 0)
      metrics.reachableStakeRatio.set(h.totalStake === 0 ? 0 : h.reachableStake / h.totalStake)
    }
    peers.on('validator:bound', liveness)
    peers.on('validator:unbound', liveness)
    liveness()
    // the commit rule decides from the DAG's shape: no polls, and vertices paced by rounds (its health still
    // reads the poller's view of the stake this node reaches)
    const commit = ledger.commit !== undefined
    // a validator with no record of its rounds (a new datadir, or one lost with its key kept) builds once it holds
    // all the validators it reaches hold: its own earlier vertices among them (round-proposer.ts `ready`)
    const antiEntropy = new AntiEntropy({ sync, peers, logger, quorumStake: quorumOf(peers.totalWeight, components.genesis.consensus) }, init)
    this.services = [
      ['verifier', this.verifier],
      ['ledger', ledger],
      ['validator-peers', peers],
      ['sync', sync],
      ['vertex-gossip', gossip],
      ['query', query],
      ['forwarding', this.forwarding],
      ...(commit ? [] : [['poller', this.poller] as [string, Startable]]),
      ['proposer', commit ? new RoundProposer({ ledger, gossip, logger, metrics, ready: () => ledger.builtRound > 0 || antiEntropy.caughtUp }, init) : new Proposer({ ledger, gossip, logger }, init)],
      ['anti-entropy', antiEntropy]
    ]
    this.ledger.on('tx:final', (tx, vertexId, at) => { this.emit('tx:final', { id: `0x${tx.idHex}`, vertexId: `0x${vertexId}`, tx, at }) })
    this.ledger.on('tx:rejected', (tx, reason) => { this.emit('tx:rejected', { id: `0x${tx.idHex}`, reason, tx }) })
  }

  async start (): Promise<void> {
    if (this.running) return
    // which ML-DSA implementation signs here is found out once per thread by a real sign and verify with each (noble's
    // in cold JavaScript: 40-75 ms): here, not in the first vertex a validator builds under its first transactions. The
    // verifier's threads do the same as they start (verify-worker.ts). On a 4-process devnet loaded as it started, the
    // first second's finality p50 at 1,000 tx/s went from 522-831 to 296-419 ms (docs/ledger-profile.md, s51)
    nativeMlDsaAvailable()
    const runner = new LifecycleRunner({ logger: this.log })
    this.runner = runner
    try {
      for (const [name, service] of this.services) await runner.start(name, service)
    } catch (err) {
      await runner.stopAll()
      throw err
    }
    this.running = true
    this.log.info({ address: this.ledger.address, validator: this.ledger.isValidator }, 'dag started')
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.runner?.stopAll()
  }

  setExternalChecker (kind: number, checker: ExternalChecker | undefined): void {
    this.ledger.external.setChecker(kind, checker)
  }

  recheckExternal (kinds: ReadonlySet<number>): void {
    this.ledger.external.recheckNow(kinds)
  }

  setOrderChecker (kind: number, checker: OrderChecker | undefined): void {
    this.ledger.orderChecks.set(kind, checker)
  }

  setStateCheck (kind: number, check: StateCheck | undefined): void {
    this.ledger.txAdmission.setStateCheck(kind, check)
  }

  /**
   * Validates (encoding, signature, fee, nonce, balance) and queues a signed transaction. Returns its 0x id. `client`:
   * a client's transaction (RPC, a task announce), held to admission control's latency rule; the node's own
   * transactions for work under way are not (AdmissionControl.check). A non-validator forwards either kind.
   */
  async submitTransaction (tx: Transaction | Uint8Array, opts: { client?: boolean } = {}): Promise<string> {
    if (!this.running) throw new DagError('NOT_RUNNING', 'the ledger is not running')
    const encoded = tx instanceof Uint8Array ? tx : encodeTx(tx)
    if (!this.ledger.isValidator) return `0x${await this.forwarding.forwardTransaction(encoded)}`
    return `0x${await this.ledger.submitTransaction(encoded, opts.client === true)}`
  }

  /** A node outside the validator set: transactions it forwarded that no vertex here holds yet (sent again while so). */
  get forwardedHeld (): number { return this.forwarding.heldCount }

  async getBalance (address: string): Promise<bigint> {
    return (await this.ledger.getAccount(parseAddress(address))).balance
  }

  async getNonce (address: string): Promise<bigint> {
    return (await this.ledger.getAccount(parseAddress(address))).nonce
  }

  /**
   * Pruning (a node that is not an archive): deletes the bodies of decided vertices in the causal past of
   * `cutVertexId`, the vertex of the last checkpoint anchored on chain. Returns the bodies deleted.
   */
  async pruneHistory (cutVertexId: string): Promise<number> {
    return await this.ledger.pruneBelow(toHex(fromHex(cutVertexId, 'vertex id')))
  }

  async getTx (id: string): Promise<TxStatusView | undefined> {
    return await this.ledger.getTx(toHex(fromHex(id, 'transaction id')))
  }

  /** JSON view of a vertex, or undefined. */
  async getVertex (id: string): Promise<Record<string, unknown> | undefined> {
    const idHex = toHex(fromHex(id, 'vertex id'))
    const bytes = await this.ledger.getVertexBytes(idHex)
    if (bytes === undefined) return undefined
    const info = vertexInfo(bytes)
    const place = await this.ledger.history.place(idHex)
    return {
      id: `0x${info.idHex}`,
      status: place?.status ?? 'processing',
      height: place?.height ?? null,
      author: addressFromPublicKey(info.vertex.author),
      timestampMs: Number(info.vertex.timestampMs),
      parents: info.parentHex.map(p => `0x${p}`),
      transactions: info.txs.map(t => txToJSON(t))
    }
  }

  tips (): string[] { return this.ledger.tips().map(t => `0x${t}`) }

  async stats (): Promise<DagStats> {
    return { ...(await this.ledger.stats()), peers: this.validatorPeers.size, finalityP50Ms: this.ledger.finalityP50Ms(), busyRefusals: this.ledger.busyRefusals }
  }

  /** Whether this node can finalize: the stake it reaches against the quorum (node_health's `consensus`). */
  consensusHealth (): ConsensusHealth {
    const health = this.poller.health()
    const halted = this.ledger.halted
    // a halted ledger (its storage failed) finalizes nothing, whatever stake it reaches
    if (halted !== undefined) return { ...health, live: false, halted: halted.message }
    // nor does one whose peers pruned the ancestors it lacks: nothing new can be placed on them
    const gap = this.sync.historyGap
    if (gap === undefined) return health
    const since = new Date(gap.sinceMs).toISOString()
    return { ...health, live: false, historyGap: `since ${since}, peers pruned ancestors this node lacks (e.g. vertex ${gap.vertex}, peer ${gap.peer}): start again from the last anchored checkpoint with harmonyd start --state-sync --resync` }
  }

  get chainId (): string { return this.ledger.chainId }
  get address (): string { return this.ledger.address }
}

/** The read interface of a ledger that its neighbours get (DagService.reader); benches build cuts with it. */
export function ledgerReader (ledger: DagLedger): LedgerReader {
  let validatorIndex: Map<string, number> | undefined
  let syncedAuthors: Map<string, number> | undefined
  return {
    get chainId () { return ledger.chainId },
    get consensusRule () { return ledger.genesis.consensus.rule ?? 'avalanche' },
    orderQuorum: () => orderCheckContextOf(ledger.genesis),
    get isValidator () { return ledger.isValidator },
    validatorKeys: () => ledger.genesis.validators.map(v => v.publicKey),
    account: async (address) => await ledger.getAccount(address),
    finalTx: async (txIdHex) => {
      const view = await ledger.getTx(txIdHex)
      if (view?.status !== 'final' || view.vertexId === undefined || view.tx === undefined) return undefined
      return { vertexId: view.vertexId, tx: view.tx }
    },
    conflictDecision: async (account, nonce) => {
      const d = await ledger.store.getConflictDecision(account, nonce)
      return d === undefined ? undefined : { vertexId: toHex(d.vertexId), txId: toHex(d.txId) }
    },
    isAncestor: async (ancestor, of) => await ledger.graph.isAncestorOrSelf(ancestor, [of]),
    ancestorsAmong: async (from, targets) => await ledger.graph.ancestorsAmong(from, targets),
    vertexRecord: async (vertexId) => ledger.graph.get(vertexId) ?? await ledger.history.record(vertexId),
    acceptedVertex: async (vertexId) => {
      if (vertexId === ledger.graph.genesisId || (await ledger.history.status(vertexId)) !== 'accepted') return undefined
      const bytes = await ledger.getVertexBytes(vertexId)
      if (bytes === undefined) return undefined
      const v = vertexInfo(bytes)
      const txs: AcceptedVertexView['txs'] = []
      for (const tx of v.txs) {
        const rec = await ledger.store.getTxRecord(tx.id)
        txs.push({ tx, status: rec?.status ?? 'pending', reason: rec?.reason, recordVertexId: rec === undefined ? undefined : toHex(rec.vertexId) })
      }
      return { parents: v.parentHex, txs }
    },
    vertexDecision: async (vertexId) => {
      const d = await ledger.store.getDecision(fromHex(vertexId))
      return d === undefined ? undefined : { status: d.status, ...(d.slot !== undefined ? { slot: d.slot } : {}) }
    },
    slotLeaders: async (after, through, limit) => await ledger.store.slotLeaders(after, through, limit),
    vertexAuthorIndex: async (vertexId) => {
      const bytes = await ledger.getVertexBytes(vertexId)
      // the band of the commit-rule cut this ledger synced from has no bodies: its authors came with the cut
      if (bytes === undefined) return (syncedAuthors ??= await ledger.history.readSyncedAuthors()).get(vertexId)
      validatorIndex ??= new Map(ledger.genesis.validators.map((v, i) => [toHex(v.publicKey), i]))
      return validatorIndex.get(toHex(vertexAuthor(bytes)))
    },
    genesisState: () => ({ vertexId: ledger.graph.genesisId, accounts: ledger.genesis.allocations.map(a => ({ address: a.address, balance: a.balance })) }),
    sealedThroughMs: () => ledger.sealedThroughMs(),
    undecidedOf: (kinds) => ledger.undecidedOf(kinds),
    isHeld: (vertexId) => ledger.core.isHeld(vertexId),
    heldCount: () => ledger.external.heldCount()
  }
}
