/**
 * The market's node side, composed by registration after `MarketService` (the ledger side): the blob store and
 * `/harmony/blob/1.0.0`, the requester flow (task_submit) with its sealed-inputs notices on `harmony/1/inputs`,
 * the provider agent and its heartbeats when `provider.enabled`, and the market's RPC methods. Started in that
 * order by one LifecycleRunner, stopped in reverse.
 */
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { registerMarketRpc, type LocalProviderStatus } from '../api/index.ts'
import { addressFromPublicKey } from '../core/address.ts'
import { BoundedCache, BoundedSet } from '../core/bounded-set.ts'
import { LifecycleRunner, startable, type Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import { sublevel, type BinaryDb } from '../core/storage.ts'
import type { DagService } from '../dag/index.ts'
import type { HarmonyLibp2p } from '../network/host.ts'
import type { GossipRegistry } from '../network/gossip.ts'
import type { PeerBindingService } from '../network/peer-binding.ts'
import { GOSSIP_TOPICS } from '../network/protocols.ts'
import type { RpcRegistry } from '../rpc/registry.ts'
import type { ComputeService } from '../compute/index.ts'
import { BlobCollector, BlobService, BlobStore, generateKemKeyPair, type KemKeyPair, taskKeySeed } from '../market/blobs/index.ts'
import { assertFaultInjectionAllowed, challengeServices, networkBlobs, parseProviderConfig, ProviderAgent, ProviderHeartbeats, type ProviderBlobs, type ProviderSettings, type ProviderTaskKeys, reexecute } from '../market/provider/index.ts'
import { envelopeAccess } from '../market/envelope-access.ts'
import { InputChecker } from '../market/input-checker.ts'
import { Requester } from '../market/requester.ts'
import { SealedInputFetch } from '../market/sealed-input-fetch.ts'
import { offerIfAssigned, SealedInputsBoard, sealedInputsTopic } from '../market/sealed-inputs-board.ts'
import { encodeNotice, type NoticeSigner, type SealedInputsNotice } from '../market/sealed-inputs.ts'
import type { MarketService } from '../market/service.ts'
import type { ResultView, TaskView } from '../market/state/reader.ts'

const PROVIDER_KEM_DOMAIN = 'HARMONY/market/provider-kem/v1'
/**
 * How long a provider waits at most for a sealed-inputs notice that gives a private task's input (and at most half
 * the time left before its deadline, so that an input claim can still be in time).
 */
const PRIVATE_INPUT_WAIT_MS = 30_000

export interface MarketNodeComponents {
  libp2p: HarmonyLibp2p
  gossip: GossipRegistry
  peerBinding: Pick<PeerBindingService, 'ledgerKeyOf' | 'verifiedPeers' | 'provenKey'>
  db: BinaryDb
  dag: DagService
  market: MarketService
  compute: ComputeService
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  /** The node's libp2p private key: signs its sealed-inputs notices (the holder is its peer id). */
  p2pKey: NoticeSigner
  api: RpcRegistry
  logger: Logger
  registry?: Registry
}

export interface MarketNodeInit {
  provider: ProviderSettings
}

/**
 * The provider's ML-KEM-768 key pair, derived from the node's ledger secret key (domain-separated SHA-512 → the
 * 64-byte seed): stable across restarts, so inputs sealed before a restart still open, with no second key file.
 */
export function providerKemKey (ledgerSecretKey: Uint8Array): { publicKey: Uint8Array, secretKey: Uint8Array } {
  return generateKemKeyPair(new Uint8Array(createHash('sha512').update(PROVIDER_KEM_DOMAIN).update(ledgerSecretKey).digest()))
}

/** Outputs of private tasks this node's provider stored, remembered as its own (envelope-access.ts): a few minutes of work at 100 tasks/s. */
const OWN_OUTPUTS_KEPT = 16_384
/** How long a blob request waits for its peer's binding check under way before it is refused (a peer that just dialled). */
const PROVEN_KEY_WAIT_MS = 5000

/** Private tasks whose key pair a provider keeps derived (one past it costs a KeyGen again, nothing more). */
const TASK_KEYS_CACHED = 256

/**
 * The provider's key for each private task (s44, blobs/seal.ts `taskKeySeed`): its bid reveals the public key, the
 * inputs are sealed to it, and its seed goes into an input claim once envelopes fetched for the task did not open
 * (`unopened`: the sealed-inputs board found a notice bad).
 */
function providerTaskKeys (kemSecretKey: Uint8Array, unopened: (taskId: string) => boolean): ProviderTaskKeys & { pair: (taskId: string) => KemKeyPair } {
  // a KeyGen costs ~0.3 ms (bench:blobs task_key_derive): the reveal and each input's open of a task share one
  const pairs = new BoundedCache<KemKeyPair>(TASK_KEYS_CACHED)
  const pair = (taskId: string): KemKeyPair => {
    let p = pairs.get(taskId)
    if (p === undefined) pairs.set(taskId, p = generateKemKeyPair(taskKeySeed(kemSecretKey, taskId)))
    return p
  }
  return {
    pair,
    publicKey: (taskId) => pair(taskId).publicKey,
    seedToReveal: (taskId) => unopened(taskId) ? taskKeySeed(kemSecretKey, taskId) : undefined
  }
}

export class MarketNode implements Startable {
  private readonly c: MarketNodeComponents
  private readonly init: MarketNodeInit
  private readonly runner: LifecycleRunner
  readonly address: string
  agent?: ProviderAgent
  private inputs?: ProviderBlobs

  constructor (components: MarketNodeComponents, init: MarketNodeInit) {
    this.c = components
    this.init = init
    this.runner = new LifecycleRunner({ logger: components.logger })
    this.address = addressFromPublicKey(components.identity.publicKey)
  }

  async start (): Promise<void> {
    const { c } = this
    const log = c.logger
    try {
      const store = new BlobStore({ db: sublevel(c.db, 'blobs'), logger: log.child({ module: 'blob-store' }), ...(c.registry === undefined ? {} : { metricsRegistry: c.registry }) })
      await this.runner.start('blob-store', store)
      // outputs this node's provider sealed for private tasks: served to anyone (market/envelope-access.ts)
      const ownOutputs = new BoundedSet(OWN_OUTPUTS_KEPT)
      const blobService = new BlobService({
        libp2p: c.libp2p,
        store,
        logger: log,
        // a peer that served bytes that do not match their id lied (a slow or busy one is not reported): drop it
        onPeerFault: (peer, code) => {
          log.warn({ peer: peer.toString(), code }, 'a peer served a bad blob: closing its connections')
          void c.libp2p.hangUp(peer).catch(() => {})
        },
        // a private task's sealed inputs only to its validators and providers
        mayServe: envelopeAccess({
          store,
          taskRecord: async (id) => await c.market.state.taskRecord(id),
          validatorKeys: () => c.dag.reader.validatorKeys(),
          provenKey: async (connection) => await c.peerBinding.provenKey(connection, PROVEN_KEY_WAIT_MS),
          ownOutput: (id) => ownOutputs.has(id)
        }),
        ...(c.registry === undefined ? {} : { metricsRegistry: c.registry })
      })
      await this.runner.start('blob-service', blobService)
      const reader = c.market.reader
      // every node collects a task's blobs some time after the task is settled, refunded, expired or cancelled
      await this.runner.start('blob-collector', new BlobCollector({ db: sublevel(c.db, 'blobs'), store, tasks: reader, logger: log }))
      const config = parseProviderConfig(this.init.provider)
      // a fault injection is refused outside a devnet whether or not this node provides (`false-input-verdict` acts
      // on its validator side)
      assertFaultInjectionAllowed(config, c.dag.ledger.genesis.chainId)
      const kem = providerKemKey(c.identity.secretKey)

      // sealed-inputs notices: every node checks that the holder signed it (else reject: the sender's score drops)
      // and relays it; a provider keeps a few distinct ones of its own and tries each, a validator keeps everyone's
      const chainId = c.dag.ledger.genesis.chainId
      const connected = (holder: string): boolean => c.libp2p.getPeers().some(p => p.toString() === holder)
      // a validator keeps every assigned provider's notices of the tasks open here: it may have to check an input
      // claim on one
      const board = new SealedInputsBoard({
        keeps: (n) => (config.enabled && n.provider === this.address) || (c.dag.reader.isValidator && c.market.state.isOpen(n.taskId)),
        reachable: connected
      })
      const offerNotice = (n: SealedInputsNotice): void => {
        if (n.provider === this.address || !c.dag.reader.isValidator) board.offer(n)
        else void offerIfAssigned(board, n, async (id) => await reader.task(id)).catch(() => false)
      }
      const unregister = c.gossip.register(sealedInputsTopic(chainId, { offer: offerNotice }))
      this.runner.adopt('sealed-inputs', startable(async () => { unregister() }))

      const requester = new Requester({
        db: sublevel(c.db, 'market'),
        blobs: store,
        submitTransaction: async (encoded) => await c.dag.submitTransaction(encoded, { client: true }),
        reader,
        publishNotice: async (notice) => {
          // this node may be the provider too (a requester submitting to its own provider node), or a validator
          offerNotice(notice)
          return await c.gossip.publish(GOSSIP_TOPICS.inputs, await encodeNotice(notice, chainId, c.p2pKey)).catch(() => 0)
        },
        peerId: c.libp2p.peerId.toString(),
        badEnvelopes: config.faultInjection === 'bad-envelopes',
        logger: log.child({ module: 'requester' })
      })
      await this.runner.start('requester', requester)

      const peers = (): PeerId[] => c.libp2p.getPeers()
      const taskKeys = providerTaskKeys(kem.secretKey, (taskId) => board.hasBad(taskId, this.address))
      const sealed = new SealedInputFetch({ board, service: blobService, store, peers, logger: log })
      // each distinct notice for this task in turn (a forged one fails to open or to match), until one gives the input;
      // none within half the time left before the deadline (30 s at most): the provider claims the inputs unavailable
      const openPrivateInput = async (taskId: string, id: string, signal?: AbortSignal, deadlineMs?: number): Promise<Uint8Array> => {
        const task = await reader.task(taskId)
        const index = task?.inputs.indexOf(id) ?? -1
        if (index < 0) throw new Error(`input ${id} is not an input of task ${taskId}`)
        const waitMs = Math.min(PRIVATE_INPUT_WAIT_MS, deadlineMs === undefined ? Infinity : (deadlineMs - Date.now()) / 2)
        return await sealed.openInput({ taskId, provider: this.address, index, id }, taskKeys.pair(taskId).secretKey, waitMs, signal)
      }
      const network = networkBlobs({ store, service: blobService, peers, openPrivateInput })
      const blobs: ProviderBlobs = {
        input: network.input,
        output: async (task, bytes) => {
          const id = await network.output(task, bytes)
          if (task.private) ownOutputs.add(id)
          return id
        }
      }
      this.inputs = blobs
      // every node validates, relays and remembers providers' heartbeats (market_providers shows the last one);
      // a provider also publishes its own
      const heartbeats = new ProviderHeartbeats({
        gossip: c.gossip,
        chainId: c.dag.ledger.genesis.chainId,
        isProvider: async (address) => (await reader.provider(address)) !== undefined
      })
      heartbeats.start()
      this.runner.adopt('provider-heartbeats', startable(async () => { heartbeats.stop() }))
      // benchmark challenges: a provider answers them, a validator issues them and attests the verdict on the DAG
      for (const [name, service] of challengeServices({
        libp2p: c.libp2p,
        peerBinding: c.peerBinding,
        market: reader,
        ledger: c.dag.reader,
        submit: async (tx) => await c.dag.submitTransaction(tx),
        chainId: c.dag.ledger.genesis.chainId,
        keys: c.identity,
        executor: () => c.compute.executor(),
        logger: log,
        ...(c.registry === undefined ? {} : { registry: c.registry })
      }, { provider: config.enabled })) await this.runner.start(name, service)
      // input claims: a validator in turn fetches the claimed inputs itself, keeps them (tagged with the task, so it
      // serves them) and records its verdict (market/input-checker.ts)
      if (c.dag.reader.isValidator) {
        await this.runner.start('input-checker', new InputChecker({
          state: c.market.state,
          ledger: c.dag.reader,
          fetchInput: async (taskId, id, signal) => {
            await blobs.input({ taskId, private: false }, id, signal)
            await store.tag(id, [taskId])
          },
          fetchSealed: async (taskId, provider, signal, opens) => await sealed.fetchAll(taskId, provider, signal, opens === undefined ? undefined : { kemSecretKey: generateKemKeyPair(opens.keySeed).secretKey, ids: opens.ids }),
          submit: async (tx) => await c.dag.submitTransaction(tx),
          chainId,
          keys: c.identity,
          logger: log,
          lie: config.faultInjection === 'false-input-verdict'
        }))
      }
      if (config.enabled) {
        this.agent = new ProviderAgent({
          market: reader,
          ledger: c.dag.reader,
          chainId: c.dag.ledger.genesis.chainId,
          fee: c.dag.ledger.genesis.minFee,
          submit: async (tx) => await c.dag.submitTransaction(tx),
          // a validator admits, and a forwarding node forwards, one account's transactions in the order submitted
          submitInOrder: true,
          ...(c.dag.ledger.isValidator ? { txLost: async (txId: string) => await c.dag.getTx(txId) === undefined } : {}),
          keys: c.identity,
          kemPublicKey: kem.publicKey,
          taskKeys,
          executor: () => c.compute.executor(),
          blobs,
          db: sublevel(c.db, 'market'),
          heartbeats,
          vertices: c.dag.ledger,
          logger: log.child({ module: 'provider' }),
          ...(c.registry === undefined ? {} : { registry: c.registry })
        }, { config })
        await this.runner.start('provider-agent', this.agent)
      }

      // the output of a task: this node's copy, else fetched from the provider's node (found by its ledger key)
      const output = async (task: TaskView, result: ResultView): Promise<Uint8Array | undefined> => {
        if (!(await store.has(result.outputBlob))) {
          const holder = peers().find(p => {
            const key = c.peerBinding.ledgerKeyOf(p)
            return key !== undefined && addressFromPublicKey(key) === result.provider
          })
          const candidates = holder === undefined ? peers() : [holder, ...peers().filter(p => p !== holder)]
          for (const peer of candidates.slice(0, 8)) {
            try {
              await blobService.fetch(peer, result.outputBlob, { tags: [task.taskId] })
              break
            } catch {
              // not there: the next peer
            }
          }
        }
        return await store.get(result.outputBlob).catch(() => undefined)
      }
      const localProvider = (): LocalProviderStatus => {
        const status = this.agent?.status()
        return {
          address: this.address,
          enabled: config.enabled,
          pricing: status?.pricing ?? (config.enabled ? { perGflop: config.pricePerGflop, minimum: config.minPrice, capacity: config.capacity } : null),
          active: status?.active ?? [],
          skipped: status?.skipped ?? [],
          ...(status?.registrationWait === undefined ? {} : { registrationWait: status.registrationWait })
        }
      }
      registerMarketRpc(c.api, { reader, requester, output, localProvider, lastHeartbeatMs: (address) => heartbeats.liveness(address)?.lastSeenMs, auctionSealed: async (id) => await c.market.auctionSealed(id), onTaskChanged: (listener) => {
          reader.on('task:changed', listener)
          this.runner.adopt('task-status-topic', startable(async () => { reader.off('task:changed', listener) }))
        } })
    } catch (err) {
      await this.runner.stopAll()
      throw err
    }
  }

  async stop (): Promise<void> {
    await this.runner.stopAll()
    this.inputs = undefined
  }

  /**
   * The coordinator's dispute hook: re-runs a public task honestly on this node's executor (inputs from this
   * node's store or its peers) and returns the commitment. A private task's inputs are sealed to its providers
   * only, so a validator cannot re-run it: its disputes settle `unresolved` and never come here (rules/settle.ts).
   */
  async reexecute (task: TaskView): Promise<string> {
    const inputs = this.inputs
    if (inputs === undefined) throw new Error('the market node is not running')
    if (task.private) throw new Error(`task ${task.taskId} is private: its inputs are sealed to its providers`)
    const bytes = await Promise.all(task.inputs.map(async id => await inputs.input({ taskId: task.taskId, private: false }, id)))
    const announced = { taskId: task.taskId, kernel: task.spec.kernel, params: task.spec.params, inputs: task.inputs, outputLimitBytes: task.outputLimitBytes }
    return (await reexecute(this.c.compute.executor(), announced, bytes)).commitment
  }
}
