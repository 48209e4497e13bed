import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { PrivateKey, ComponentLogger } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { GOSSIP_TOPICS, MAX_GOSSIP_BYTES, PROTOCOLS } from './protocols.ts'
import { gossipMessageId, type GossipMessageIds } from './message-id.ts'
import { noiseCrypto } from './noise-crypto.ts'

export type HarmonyServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

export type HarmonyLibp2p = Libp2p<HarmonyServices>

export interface HostInit {
  privateKey: PrivateKey
  /** @default '0.0.0.0' */
  listenHost?: string
  /** 0 picks a free port. @default 9400 */
  listenPort?: number
  /** Multiaddrs announced instead of the listen addresses. @default [] */
  announce?: string[]
  /** Multiaddrs with /p2p/<peerId>. @default [] */
  bootstrap?: string[]
  /** Keep loopback/private addresses in the DHT (devnets, private testnets). @default false */
  allowPrivateAddresses?: boolean
  /** @default 128 */
  maxConnections?: number
  /** Registry for libp2p's own metrics; none when omitted. */
  metricsRegistry?: Registry
  /** Message ids with the topic owners' hashers (the gossip registry installs them); the plain rule when omitted. */
  messageIds?: GossipMessageIds
  /** Gossipsub overrides (tests, benches). */
  gossip?: Partial<GossipsubOpts>
  /** Agent version announced by identify. */
  agentVersion?: string
  /** Start listening immediately. @default true */
  start?: boolean
}

/**
 * Scoring: a peer whose messages fail validation (reject) loses score and is eventually graylisted. Every Harmony
 * topic, the ledger's `harmony/1/vertex` included, is scored the same way.
 */
export function gossipScoreParams (sharedHostsExpected: boolean): Pick<GossipsubOpts, 'scoreParams' | 'scoreThresholds'> {
  const topics: GossipsubOpts['scoreParams']['topics'] = {}
  for (const topic of Object.values(GOSSIP_TOPICS)) {
    topics[topic] = {
      topicWeight: 1,
      timeInMeshWeight: 0.01,
      timeInMeshQuantum: 1000,
      timeInMeshCap: 100,
      firstMessageDeliveriesWeight: 1,
      firstMessageDeliveriesDecay: 0.9,
      firstMessageDeliveriesCap: 100,
      meshMessageDeliveriesWeight: 0,
      meshMessageDeliveriesDecay: 0.9,
      meshMessageDeliveriesCap: 0,
      meshMessageDeliveriesThreshold: 0,
      meshMessageDeliveriesWindow: 10,
      meshMessageDeliveriesActivation: 5000,
      meshFailurePenaltyWeight: 0,
      meshFailurePenaltyDecay: 0.9,
      // each rejected message costs its square times this weight: 3 bad messages put a peer below gossipThreshold
      invalidMessageDeliveriesWeight: -10,
      invalidMessageDeliveriesDecay: 0.99
    }
  }
  return {
    // devnets put every peer on 127.0.0.1: gossipsub's IP co-location penalty (-5 per peer past 10 on one IP)
    // would keep a 16-node devnet from ever forming a mesh; public networks keep the library's defence
    scoreParams: sharedHostsExpected ? { topics, IPColocationFactorWeight: 0 } : { topics },
    // Lodestar-like thresholds, scaled to the topic weights above
    scoreThresholds: { gossipThreshold: -50, publishThreshold: -100, graylistThreshold: -200, acceptPXThreshold: 10, opportunisticGraftThreshold: 2 }
  }
}

export async function createHost (init: HostInit): Promise<HarmonyLibp2p> {
  const host = init.listenHost ?? '0.0.0.0'
  const port = init.listenPort ?? 9400
  const family = host.includes(':') ? 'ip6' : 'ip4'
  const bootstrapList = init.bootstrap ?? []
  return createLibp2p({
    start: init.start ?? true,
    privateKey: init.privateKey,
    addresses: {
      listen: [`/${family}/${host}/tcp/${port}`],
      announce: init.announce ?? []
    },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: init.maxConnections ?? 128,
      maxIncomingPendingConnections: 32,
      // devnets and private testnets run many nodes behind one address: the per-host inbound rate limit
      // (5 connections/s by default) would stall their discovery
      inboundConnectionThreshold: init.allowPrivateAddresses === true ? 1000 : 5,
      maxParallelDials: 32
    },
    // devnet/private testnets must dial loopback and private addresses; the default gater refuses nothing, but
    // the DHT mapper below decides which addresses spread
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 100 })] : [],
    nodeInfo: { userAgent: init.agentVersion ?? 'harmonyd' },
    metrics: init.metricsRegistry === undefined ? undefined : prometheusMetrics({ registry: init.metricsRegistry, preserveExistingMetrics: true, collectDefaultMetrics: false }),
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: PROTOCOLS.kad,
        clientMode: false,
        peerInfoMapper: init.allowPrivateAddresses === true ? passthroughMapper : removePrivateAddressesMapper,
        allowQueryWithZeroPeers: true,
        initialQuerySelfInterval: 200,
        querySelfInterval: 30_000
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: init.messageIds?.msgIdFn ?? gossipMessageId,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        allowedTopics: Object.values(GOSSIP_TOPICS),
        maxInboundDataLength: MAX_GOSSIP_BYTES,
        emitSelf: false,
        ...gossipScoreParams(init.allowPrivateAddresses === true),
        ...init.gossip
      })
    }
  })
}

export type { ComponentLogger }
