import { join, isAbsolute } from 'node:path'
import { EventEmitter } from 'node:events'
import { Registry, collectDefaultMetrics, Gauge } from 'prom-client'
import type { BinaryDb } from '../core/storage.ts'
import { BODIES_DIR, lockDatadir, releaseDatadir, removeRpcUrl, writeRpcUrl } from './datadir.ts'
import { StartupError, errorMessage } from '../core/errors.ts'
import { loadIdentity, ledgerKeyFingerprint, type NodeIdentity } from '../core/keys/identity.ts'
import { createHost, type HarmonyLibp2p } from '../network/host.ts'
import { GossipMessageIds } from '../network/message-id.ts'
import type { Logger } from '../core/logger.ts'
import type { NodeConfig } from './config.ts'
import { LifecycleRunner, startable, type LifecycleState, type Startable } from '../core/lifecycle.ts'
import { PeerBindingService } from '../network/peer-binding.ts'
import { PeerManager } from '../network/peer-manager.ts'
import { AnnouncementService } from '../network/announce.ts'
import { GossipRegistry } from '../network/gossip.ts'
import { RpcRegistry } from '../rpc/registry.ts'
import { RpcServer } from '../rpc/server.ts'
import { SubscriptionHub } from '../rpc/subscriptions.ts'
import { registerDagRpc, registerNodeRpc, registerStateProofRpc, registerWebhookRpc, taskToRpc } from '../api/index.ts'
import { drainLedgerEvents, WebhookService } from '../webhooks/index.ts'
import { nodeRpcSource } from './rpc-source.ts'
import { VERSION } from '../core/version.ts'
import { ComputeService } from '../compute/index.ts'
import { DagService, loadGenesis, addressFromPublicKey, type Genesis } from '../dag/index.ts'
import { readCapability } from './capability.ts'
import type { ChainService } from '../chain/service.ts'
import { registerBridge } from '../bridge/register.ts'
import type { DagBridge } from '../bridge/dag-bridge.ts'
import { MarketService, registerMarket } from '../market/index.ts'
import type { TaskView } from '../market/state/reader.ts'
import type { FinalRecord } from '../dag/tx-kinds.ts'
import { MarketNode } from './market-node.ts'
import { stat } from 'node:fs/promises'
import { JWT_SECRET_FILE, loadOrCreateJwtSecret } from '../core/keys/jwt-secret.ts'
import { API_KEYS_FILE, ApiKeyStore } from '../rpc/api-keys.ts'
import { RpcAuth } from '../rpc/auth.ts'
import { isLoopbackHost } from '../rpc/access.ts'

export interface HarmonyNodeInit {
  datadir: string
  config: NodeConfig
  logger: Logger
  /** Opens an encrypted `keys/ledger.key` (docs/keystore.md). @default undefined (the key is plain) */
  keyPassword?: string
}

/**
 * The daemon: opens the datadir, loads keys, then starts its services in dependency order (network, identity
 * binding, discovery, gossip, ledger, RPC) under one AbortSignal, and stops them in reverse.
 * It composes by registration (geth's node.Node, Lodestar's BeaconNode.init) and knows no service's internals:
 * - lifecycle: every service is added to one `LifecycleRunner` (`add`), stopped in reverse;
 * - api: each domain registers its RPC methods, topics and error codes into `api` (src/api);
 * - gossip: each gossip user registers its topic into `gossip` (src/network/gossip.ts);
 * - storage: every service gets the one database; its prefixes are listed in src/core/storage.ts.
 * States: created -> starting -> running -> stopping -> stopped (or failed).
 */
export class HarmonyNode extends EventEmitter<{ state: [LifecycleState] }> {
  readonly datadir: string
  readonly config: NodeConfig
  readonly logger: Logger
  private keyPassword?: string
  readonly metrics = new Registry()
  /** What the RPC server serves: every domain registers its methods, topics and error codes here (src/api). */
  readonly api: RpcRegistry
  readonly startedAtMs = Date.now()
  private readonly controller = new AbortController()
  private readonly services: LifecycleRunner
  private currentState: LifecycleState = 'created'
  private db?: BinaryDb
  private identityValue?: NodeIdentity
  private libp2pValue?: HarmonyLibp2p
  // node_info answers from this; libp2p's address manager rebuilds the list on every read
  private listenAddrsCache?: string[]
  private bindingValue?: PeerBindingService
  private gossipValue?: GossipRegistry
  private announcementsValue?: AnnouncementService
  private rpcValue?: RpcServer
  private computeValue?: ComputeService
  private dagValue?: DagService
  private chainValue?: ChainService
  private bridgeValue?: DagBridge
  private webhooksValue?: WebhookService
  private marketValue?: MarketService

  constructor (init: HarmonyNodeInit) {
    super()
    this.datadir = init.datadir
    this.config = init.config
    this.logger = init.logger
    this.keyPassword = init.keyPassword
    this.services = new LifecycleRunner({ logger: init.logger, signal: this.controller.signal })
    this.api = new RpcRegistry({ hub: new SubscriptionHub({ logger: init.logger }) })
    collectDefaultMetrics({ register: this.metrics, prefix: 'harmony_process_' })
    const stateGauge = new Gauge({ name: 'harmony_node_running', help: '1 while the node is running', registers: [this.metrics] })
    this.on('state', s => stateGauge.set(s === 'running' ? 1 : 0))
  }

  get state (): LifecycleState { return this.currentState }
  /** Aborted when the node stops; every long wait in a service takes it. */
  get signal (): AbortSignal { return this.controller.signal }
  get identity (): NodeIdentity { return this.need(this.identityValue, 'identity') }
  get libp2p (): HarmonyLibp2p { return this.need(this.libp2pValue, 'libp2p') }
  get peerBinding (): PeerBindingService { return this.need(this.bindingValue, 'peer binding') }
  /** Every gossip user registers its topic here (src/network/gossip.ts). */
  get gossip (): GossipRegistry { return this.need(this.gossipValue, 'gossip') }
  get announcements (): AnnouncementService { return this.need(this.announcementsValue, 'announcements') }
  get rpc (): RpcServer { return this.need(this.rpcValue, 'rpc') }
  get compute (): ComputeService { return this.need(this.computeValue, 'compute') }
  get dag (): DagService { return this.need(this.dagValue, 'dag') }
  /** The EVM chain client; undefined when no contracts file is configured. */
  get chain (): ChainService | undefined { return this.chainValue }
  /** The compute market's ledger side (state, coordinator); its `reader` is what the API reads. */
  get market (): MarketService { return this.need(this.marketValue, 'market') }
  get database (): BinaryDb { return this.need(this.db, 'database') }
  /** Signed HTTP deliveries of domain events; a domain hands its events to `webhooks.publish(kind, payload)`. */
  get webhooks (): WebhookService { return this.need(this.webhooksValue, 'webhooks') }

  /** A path from the config, resolved against the datadir when relative. */
  dataPath (path: string): string {
    return isAbsolute(path) ? path : join(this.datadir, path)
  }

  private need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} is not available before the node has started`)
    return value
  }

  private setState (state: LifecycleState): void {
    this.currentState = state
    this.emit('state', state)
  }

  private async add (name: string, service: Startable): Promise<void> {
    await this.services.start(name, service)
  }

  async start (): Promise<void> {
    if (this.currentState !== 'created') throw new Error(`cannot start a node in state ${this.currentState}`)
    this.setState('starting')
    try {
      await this.startServices()
      this.setState('running')
      this.logger.info({ peerId: this.libp2p.peerId.toString(), listen: this.listenAddrs(), rpc: this.rpc.url }, 'harmonyd running')
    } catch (err) {
      this.setState('failed')
      await this.stopServices()
      throw err
    }
  }

  private async startServices (): Promise<void> {
    const { config, logger } = this
    // checked before anything starts: an RPC open to the network without auth would let anyone spend or administer
    if (config['rpc-auth'] === 'off' && !isLoopbackHost(config['rpc-host'])) {
      throw new StartupError('RPC_AUTH_REQUIRED', `refusing to serve JSON-RPC on ${config['rpc-host']} with --rpc-auth off: every method would be open to the network; turn auth on or use --rpc-host 127.0.0.1`, { host: config['rpc-host'] })
    }
    // storage: the datadir lock and its one database (every sublevel and prefix is listed in src/core/storage.ts)
    this.db = await lockDatadir(this.datadir)
    const db = this.db
    this.services.adopt('datadir', startable(async () => { await releaseDatadir(this.datadir, db) }))
    // keys and genesis
    this.identityValue = await loadIdentity(this.datadir, { password: this.keyPassword })
    this.keyPassword = undefined // needed once; do not keep it for the life of the process
    const genesis = await this.loadGenesis()
    logger.info({ peerId: this.identityValue.peerId.toString(), ledgerKey: ledgerKeyFingerprint(this.identityValue.ledgerKey.publicKey) }, 'identity loaded')

    // network: the host, then the services on it; every gossip user registers its topic into `gossip`
    const messageIds = new GossipMessageIds()
    try {
      this.libp2pValue = await createHost({
        privateKey: this.identityValue.p2pKey,
        messageIds,
        listenHost: config['p2p-host'],
        listenPort: config['p2p-port'],
        announce: config.announce,
        bootstrap: config.bootstrap,
        allowPrivateAddresses: config['allow-private-addrs'],
        maxConnections: config['max-connections'],
        metricsRegistry: this.metrics,
        agentVersion: `harmonyd/${VERSION}`,
        start: false
      })
    } catch (err) {
      throw this.portError(err, 'p2p', config['p2p-host'], config['p2p-port'], '--p2p-port')
    }
    const libp2p = this.libp2pValue
    libp2p.addEventListener('self:peer:update', () => { this.listenAddrsCache = undefined })
    this.services.adopt('libp2p', startable(async () => { await libp2p.stop() }))
    try {
      await libp2p.start()
    } catch (err) {
      throw this.portError(err, 'p2p', config['p2p-host'], config['p2p-port'], '--p2p-port')
    }

    const child = (module: string): Logger => logger.child({ module })
    this.gossipValue = new GossipRegistry({ pubsub: libp2p.services.pubsub, logger, registry: this.metrics, messageIds })
    this.bindingValue = new PeerBindingService({ libp2p, identity: this.identityValue, logger: child('peer-binding'), registry: this.metrics })
    await this.add('peer-binding', this.bindingValue)
    await this.add('peer-manager', new PeerManager({ libp2p, logger: child('peers') }, { targetPeers: config['target-peers'], bootstrap: config.bootstrap }))
    this.announcementsValue = new AnnouncementService({ libp2p, gossip: this.gossipValue, logger: child('announce') })
    await this.add('announcements', this.announcementsValue)

    // domains: each registers its RPC methods, topics and error codes into `api` once constructed
    // the ledger's protocols are registered before the slower services start, so peers that connect early can bind to it
    const { ledgerKey } = this.identityValue
    // every node decodes the bridge's kinds in vertices, with or without an EVM chain
    registerBridge()
    registerMarket()
    // webhooks: every decision records its events in its own batch (an outbox the service drains), so none is lost to a kill -9
    const webhooks = this.webhooksValue = new WebhookService({ db: this.db, logger: child('webhooks'), registry: this.metrics }, { allowPrivateTargets: config['allow-private-webhooks'], maxQueuePerHook: config['webhook-queue'] })
    this.dagValue = new DagService({
      libp2p,
      gossip: this.gossipValue,
      peerBinding: this.bindingValue,
      db: this.db,
      identity: { publicKey: ledgerKey.publicKey, secretKey: ledgerKey.secretKey },
      genesis,
      logger: child('dag'),
      registry: this.metrics
    }, { syncWrites: syncWritesFor(config['sync-writes'], genesis, ledgerKey.publicKey), bodyDir: join(this.datadir, BODIES_DIR), txDecisionRecords: (tx, decision) => webhooks.txDecisionRecords(tx, decision), admissionControl: { targetLatencyMs: config['latency-target-ms'] } })
    // webhooks start before the ledger so no decision made during its start-up goes unannounced
    await this.add('webhooks', this.webhooksValue)
    drainLedgerEvents(this.dagValue, this.webhooksValue)
    registerWebhookRpc(this.api, this.webhooksValue)
    // --state-sync: an empty ledger starts from the last checkpoint anchored on chain (src/node/state-sync.ts)
    // (--resync: also a datadir whose ledger is behind what its peers keep)
    // (it reads the chain: loaded only then, as chain-part.ts is)
    if (config['state-sync']) await (await import('./state-sync.ts')).syncFromCheckpoint({ libp2p, dag: this.dagValue, db: this.db, contractsPath: this.dataPath(config.contracts), chainRpc: config['chain-rpc'], logger: child('state-sync') }, { resync: config.resync })
    else if (config.resync) child('state-sync').warn('--resync does nothing without --state-sync')
    // the market's ledger side: final market transactions → its state; validators award, settle and slash in turn.
    // Built before the ledger starts: under the commit rule the ledger checks decisions with the market's order checks
    // (registered at construction), and a slot carrying one waits for them
    // disputes re-run on the market node's executor and inputs (it starts right after the ledger side)
    let marketNode: MarketNode | undefined
    const reexecute = async (task: TaskView): Promise<string> => { if (marketNode === undefined) throw new Error('market node not started'); return await marketNode.reexecute(task) }
    // webhooks: a `task` event for each change of a task, matched by its requester and the providers it awarded,
    // written to the outbox in the batch that commits the change and queued right after
    const taskChangeRecords = (task: TaskView): FinalRecord[] => {
      const accounts = new Set([task.requester, ...task.awards.flatMap(a => [...a.winners, ...(a.checker === undefined ? [] : [a.checker])])])
      return webhooks.eventRecords('task', taskToRpc(task), { accounts: [...accounts] })
    }
    this.marketValue = new MarketService({ dag: this.dagValue, db: this.db, identity: { publicKey: ledgerKey.publicKey, secretKey: ledgerKey.secretKey }, logger: child('market'), registry: this.metrics, reexecute, taskChangeRecords, vertices: this.dagValue.ledger })
    this.marketValue.reader.on('task:changed', () => { webhooks.drainOutbox() })
    await this.add('dag', this.dagValue)
    registerDagRpc(this.api, this.dagValue)
    // balance proofs come from the chain bridge's state cuts; without a chain there are none
    registerStateProofRpc(this.api, { stateProof: async (address) => await this.bridgeValue?.stateProof(address) ?? null })

    // the executor runs in its own child process (Dawn is loaded there, never in the daemon)
    this.computeValue = new ComputeService({ logger: child('compute'), registry: this.metrics }, { executor: config.executor })
    await this.add('compute', this.computeValue)
    const compute = this.computeValue
    const capability = await readCapability(this.datadir, child('capability'))
    await this.add('market', this.marketValue)
    // the market's node side: blobs, requester flow, provider agent (provider.enabled), its RPC methods
    marketNode = new MarketNode({ libp2p, gossip: this.gossipValue, peerBinding: this.bindingValue, db: this.db, dag: this.dagValue, market: this.marketValue, compute, identity: { publicKey: ledgerKey.publicKey, secretKey: ledgerKey.secretKey }, p2pKey: this.identityValue.p2pKey, api: this.api, logger: child('market-node'), registry: this.metrics }, { provider: config.provider })
    await this.add('market-node', marketNode)

    this.chainValue = await this.startChain(genesis.validators.map((v) => v.publicKey))

    const address = addressFromPublicKey(ledgerKey.publicKey)
    registerNodeRpc(this.api, nodeRpcSource(this, () => ({
      address,
      chainId: genesis.chainId,
      executor: { ...compute.info() },
      evmAddress: this.chainValue?.evmAddress ?? null,
      ...(capability === undefined ? {} : { capability: { ...capability } })
    }), () => {
      const { live, reachableStake, quorumStake, totalStake, halted, historyGap } = this.dag.consensusHealth()
      return { live, reachableStake, quorumStake, totalStake, ...(halted === undefined ? {} : { halted }), ...(historyGap === undefined ? {} : { historyGap }) }
    }))

    // the RPC server serves whatever the floors registered in `api` (methods, topics, error codes)
    const auth = config['rpc-auth'] === 'off'
      ? undefined
      : new RpcAuth({ jwtSecret: await loadOrCreateJwtSecret(join(this.datadir, JWT_SECRET_FILE)), apiKeys: new ApiKeyStore(join(this.datadir, API_KEYS_FILE)) })
    this.rpcValue = new RpcServer({
      auth,
      registry: this.api,
      logger,
      metrics: this.metrics,
      health: () => ({ ok: this.currentState === 'running' || this.currentState === 'starting', state: this.currentState }),
      ready: () => {
        if (this.currentState !== 'running') return { ok: false, reason: `node is ${this.currentState}` }
        if (libp2p.getPeers().length === 0 && config.bootstrap.length > 0) return { ok: false, reason: 'no peers yet' }
        // a ledger that stopped, or that cannot catch up (its peers pruned what it lacks), serves stale state
        const { halted, historyGap } = this.dag.consensusHealth()
        if (halted !== undefined) return { ok: false, reason: `ledger halted: ${halted}` }
        if (historyGap !== undefined) return { ok: false, reason: `history gap: ${historyGap}` }
        return { ok: true }
      }
    }, {
      host: config['rpc-host'],
      port: config['rpc-port'],
      access: { vhosts: config['rpc-vhosts'].split(',').map((h) => h.trim()), rateLimit: { ratePerSecond: config['rpc-rate-limit'], operatorRatePerSecond: config['rpc-operator-rate-limit'] } }
    })
    await this.add('rpc', this.rpcValue)
    const url = this.rpcValue.url
    await this.add('rpc-url-file', startable(async () => { await removeRpcUrl(this.datadir) }, async () => { await writeRpcUrl(this.datadir, url) }))
  }

  /** Starts the chain client when a contracts file exists (testnets pass --contracts, devnets write one). */
  private async startChain (genesisValidatorKeys: Uint8Array[]): Promise<ChainService | undefined> {
    const path = this.dataPath(this.config.contracts)
    if (!(await stat(path).then(() => true, () => false))) {
      this.logger.info({ contracts: path }, 'no contracts file: running without the EVM chain client')
      return undefined
    }
    // loaded only here: a node without a chain never loads the chain client (ethers; chain-part.ts)
    const { startChainPart } = await import('./chain-part.ts')
    const { chain, bridge } = await startChainPart({
      config: this.config,
      datadir: this.datadir,
      db: this.database,
      dag: this.dag,
      gossip: this.gossip,
      libp2p: this.libp2p,
      identity: this.identity,
      api: this.api,
      logger: this.logger,
      registry: this.metrics,
      add: async (name, service) => { await this.add(name, service) }
    }, path, genesisValidatorKeys)
    this.bridgeValue = bridge
    return chain
  }

  private async loadGenesis (): Promise<Genesis> {
    const path = this.dataPath(this.config.genesis)
    try {
      return await loadGenesis(path)
    } catch (err) {
      throw new StartupError('DATADIR_INVALID', `genesis ${path} cannot be used: ${errorMessage(err)}; pass --genesis with the network's genesis file`, { path })
    }
  }

  /** A libp2p/RPC listen failure as an operator-facing message. */
  private portError (err: unknown, what: string, host: string, port: number, flag: string): Error {
    const text = `${errorMessage(err)} ${String((err as { code?: string }).code ?? '')}`
    if (/EADDRINUSE|address already in use/i.test(text)) {
      return new StartupError('PORT_IN_USE', `${what} port ${host}:${port} is already in use; stop the other process or pass ${flag}`, { host, port })
    }
    return err instanceof Error ? err : new Error(text)
  }

  async stop (): Promise<void> {
    if (this.currentState === 'stopped' || this.currentState === 'stopping') return
    this.setState('stopping')
    await this.stopServices()
    this.setState('stopped')
  }

  private async stopServices (): Promise<void> {
    this.controller.abort()
    await this.services.stopAll()
  }

  listenAddrs (): string[] {
    if (this.libp2pValue === undefined) return []
    this.listenAddrsCache ??= this.libp2pValue.getMultiaddrs().map(a => a.toString())
    return [...this.listenAddrsCache]
  }

  uptimeSeconds (): number {
    return Math.floor((Date.now() - this.startedAtMs) / 1000)
  }
}

/** `sync-writes`: explicit, or (auto) on for a genesis validator, whose reported finality others rely on. */
function syncWritesFor (setting: NodeConfig['sync-writes'], genesis: Genesis, ledgerPublicKey: Uint8Array): boolean {
  if (setting !== 'auto') return setting === 'true'
  return genesis.validators.some(v => v.publicKey.length === ledgerPublicKey.length && v.publicKey.every((b, i) => b === ledgerPublicKey[i]))
}
