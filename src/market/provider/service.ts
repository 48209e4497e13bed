import type { Libp2p } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { addressFromPublicKey } from '../../core/address.ts'
import { LifecycleRunner, startable, type Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import type { BinarySublevel } from '../../core/storage.ts'
import type { LedgerReader } from '../../dag/reader.ts'
import type { Transaction } from '../../dag/tx.ts'
import type { GossipRegistry } from '../../network/gossip.ts'
import type { PeerBindingService } from '../../network/peer-binding.ts'
import type { KemKeyPair } from '../blobs/seal.ts'
import type { BlobService } from '../blobs/service.ts'
import type { BlobStore } from '../blobs/store.ts'
import type { MarketReader } from '../state/reader.ts'
import { ProviderAgent } from './agent.ts'
import type { ProviderAgentInit, ProviderStatus } from './agent-types.ts'
import { Attester, type AttesterInit } from './attester.ts'
import { networkBlobs, type NetworkBlobsComponents } from './blobs.ts'
import { type ChallengeExecutor, ChallengeResponder, Challenger, type ChallengerInit, type ProviderKeys } from './challenge.ts'
import { assertFaultInjectionAllowed, type ProviderConfig } from './config.ts'
import { ProviderHeartbeats, type ProviderLiveness } from './heartbeat.ts'

export interface ProviderServiceInit {
  config: ProviderConfig
  agent?: Omit<ProviderAgentInit, 'config'>
  attester?: AttesterInit
  challenger?: ChallengerInit
}

export interface ProviderServiceComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'>
  gossip: Pick<GossipRegistry, 'register' | 'publish'>
  peerBinding: Pick<PeerBindingService, 'verifiedPeers'>
  market: MarketReader
  ledger: Pick<LedgerReader, 'account' | 'validatorKeys' | 'isValidator'>
  submit: (tx: Transaction) => Promise<string>
  chainId: string
  /** Fee of the agent's own transactions (the genesis minimum). */
  fee: bigint
  /** The node's ML-DSA ledger key: the provider account signs its bids and results, a validator its attestations. */
  keys: ProviderKeys
  kem: KemKeyPair
  executor: () => ChallengeExecutor
  blobStore: BlobStore
  blobService: BlobService
  openPrivateInput?: NetworkBlobsComponents['openPrivateInput']
  /** The `market` sublevel. */
  db: BinarySublevel
  logger: Logger
  registry?: Registry
}

/**
 * The provider side on one node, composed (docs/market.md "Providers"): every node validates and relays heartbeats;
 * a node with `provider.enabled` answers challenges and runs the agent; a validator challenges providers and records
 * the verdicts. The market service adds it as one Startable.
 */
export class ProviderService implements Startable {
  readonly heartbeats: ProviderHeartbeats
  readonly agent: ProviderAgent | undefined
  private readonly c: ProviderServiceComponents
  private readonly init: ProviderServiceInit
  private readonly runner: LifecycleRunner

  constructor (components: ProviderServiceComponents, init: ProviderServiceInit) {
    this.c = components
    this.init = init
    // refused at construction, before anything is announced: a lying provider only ever runs on a devnet
    assertFaultInjectionAllowed(init.config, components.chainId)
    this.runner = new LifecycleRunner({ logger: components.logger })
    this.heartbeats = new ProviderHeartbeats({
      gossip: components.gossip,
      chainId: components.chainId,
      isProvider: async (address) => (await components.market.provider(address)) !== undefined
    })
    if (init.config.enabled) {
      this.agent = new ProviderAgent({
        market: components.market,
        ledger: components.ledger,
        chainId: components.chainId,
        fee: components.fee,
        submit: components.submit,
        keys: components.keys,
        kemPublicKey: components.kem.publicKey,
        executor: components.executor,
        blobs: networkBlobs({ store: components.blobStore, service: components.blobService, peers: () => components.libp2p.getPeers(), openPrivateInput: components.openPrivateInput }),
        db: components.db,
        heartbeats: this.heartbeats,
        logger: components.logger,
        registry: components.registry
      }, { ...init.agent, config: init.config })
    }
  }

  async start (): Promise<void> {
    const c = this.c
    const log = c.logger.child({ module: 'provider' })
    await this.runner.start('provider-heartbeats', startable(async () => { this.heartbeats.stop() }, async () => { this.heartbeats.start() }))
    if (this.agent !== undefined) {
      await this.runner.start('challenge-responder', new ChallengeResponder({ libp2p: c.libp2p, keys: c.keys, chainId: c.chainId, executor: c.executor, logger: log }))
      await this.runner.start('provider-agent', this.agent)
    }
    if (c.ledger.isValidator) {
      const challenger = new Challenger({ libp2p: c.libp2p, chainId: c.chainId, logger: log }, this.init.challenger)
      await this.runner.start('provider-attester', new Attester({
        market: c.market,
        ledger: c.ledger,
        challenger,
        peerOf: (address) => {
          const peer = c.peerBinding.verifiedPeers().find(p => addressFromPublicKey(p.ledgerPublicKey) === address)
          return peer === undefined ? undefined : { peerId: peer.peerId, publicKey: peer.ledgerPublicKey }
        },
        submit: c.submit,
        chainId: c.chainId,
        keys: c.keys,
        logger: c.logger,
        registry: c.registry
      }, this.init.attester))
    }
  }

  async stop (): Promise<void> {
    await this.runner.stopAll()
  }

  /** What `provider_status` shows of this node's own provider side; undefined when it does not sell compute. */
  status (): ProviderStatus | undefined {
    return this.agent?.status()
  }

  /** The last heartbeat heard from a provider (market_providers' liveness). */
  liveness (address: string): ProviderLiveness | undefined {
    return this.heartbeats.liveness(address)
  }
}
