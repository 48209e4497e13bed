/**
 * A local ledger network of N real libp2p nodes on loopback, each with its own datadir, peer binding, gossip
 * registry and DagService: the ledger tests and bench:ledger build on it (a bench imports no test helper, so it lives
 * here and test/helpers/dag-net.ts re-exports it).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { type ConsensusParams, type Genesis, generateGenesis } from '../../src/dag/genesis.ts'
import { gossipScoreParams } from '../../src/network/host.ts'
import { GossipMessageIds } from '../../src/network/message-id.ts'
import { noiseCrypto } from '../../src/network/noise-crypto.ts'
import { DagService, type DagServiceInit } from '../../src/dag/service.ts'
import type { Decisions } from '../../src/dag/consensus/core.ts'
import type { DagLedger } from '../../src/dag/ledger.ts'
import { registerBridgeKinds } from '../../src/bridge/kinds/index.ts'
import { GossipRegistry } from '../../src/network/gossip.ts'
import { PeerBindingService } from '../../src/network/peer-binding.ts'
import type { Logger } from '../../src/core/logger.ts'
import { buildTransfer, encodeTx } from '../../src/dag/tx.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'

export type DagLibp2p = Libp2p<{ pubsub: GossipSub }>

/**
 * A real libp2p node on loopback TCP (port 0) with noise, yamux, identify and gossipsub (StrictNoSign), with
 * harmonyd's choices where they change a message's cost: noise's crypto and the message ids (message-id.ts, with
 * the hashers its gossip registry installs: `startDagNetworking`).
 */
export async function createDagLibp2p (privateKey?: PrivateKey): Promise<DagLibp2p> {
  const messageIds = new GossipMessageIds()
  const libp2p = await createLibp2p({
    ...(privateKey !== undefined ? { privateKey } : {}),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    // every peer is 127.0.0.1: libp2p's default of 5 inbound connections a second per host refused a sixth peer's
    // dial (ECONNRESET) when a test connected seven (as host.ts does where private addresses are allowed)
    connectionManager: { inboundConnectionThreshold: 1000 },
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: messageIds.msgIdFn,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: 4 * 1024 * 1024,
        ...gossipScoreParams(true)
      })
    }
  }) as unknown as DagLibp2p
  messageIdsOf.set(libp2p, messageIds)
  return libp2p
}
/** Each libp2p's message ids, for the gossip registry `startDagNetworking` makes over it. */
const messageIdsOf = new WeakMap<DagLibp2p, GossipMessageIds>()

/** What a DagService needs from the network floor (the node gives its own; a bare libp2p gets these). */
export interface DagNetworking {
  gossip: GossipRegistry
  peerBinding: PeerBindingService
}

/** A started peer binding and a gossip registry over `libp2p`, for a DagService outside HarmonyNode. */
export async function startDagNetworking (libp2p: DagLibp2p, identity: KeyPair, logger: Logger, registry?: Registry): Promise<DagNetworking> {
  // as HarmonyNode does at composition: every ledger decodes the bridge's kinds
  registerBridgeKinds()
  const peerBinding = new PeerBindingService({ libp2p, identity: { ledgerKey: identity }, logger, ...(registry !== undefined ? { registry } : {}) })
  await peerBinding.start()
  const messageIds = messageIdsOf.get(libp2p)
  const gossip = new GossipRegistry({ pubsub: libp2p.services.pubsub, logger, ...(registry !== undefined ? { registry } : {}), ...(messageIds !== undefined ? { messageIds } : {}) })
  return { gossip, peerBinding }
}

export interface TestNode {
  index: number
  libp2p: DagLibp2p
  db: BinaryDb
  dir: string
  dag: DagService
  key: KeyPair
  registry: Registry
  peerBinding: PeerBindingService
}

export interface TestNet {
  genesis: Genesis
  validatorKeys: KeyPair[]
  faucet: KeyPair
  accounts: KeyPair[]
  nodes: TestNode[]
  dirs: string[]
  start: (i: number) => Promise<TestNode>
  stop: (i: number) => Promise<void>
  connectAll: () => Promise<void>
  close: () => Promise<void>
}

export interface TestNetInit {
  nodes: number
  accounts?: number
  accountBalance?: bigint
  consensus?: Partial<ConsensusParams>
  /** Genesis stake of each validator. @default 1 each */
  weights?: number[]
  dag?: DagServiceInit
}

/** N validators with their own datadirs, a faucet and funded accounts, all on one genesis. */
export async function createTestNet (init: TestNetInit): Promise<TestNet> {
  const validatorKeys = Array.from({ length: init.nodes }, () => generateKeyPair())
  const faucet = generateKeyPair()
  const accounts = Array.from({ length: init.accounts ?? 0 }, () => generateKeyPair())
  const genesis = generateGenesis({
    chainId: 'harmony-test',
    validatorPublicKeys: validatorKeys.map(k => k.publicKey),
    faucetPublicKey: faucet.publicKey,
    allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance: init.accountBalance ?? 10n ** 24n })),
    consensus: init.consensus ?? {},
    ...(init.weights !== undefined ? { weights: init.weights } : {})
  })
  const dirs: string[] = []
  for (let i = 0; i < init.nodes; i++) dirs.push(await mkdtemp(join(tmpdir(), `harmony-dag-${i}-`)))
  const nodes: TestNode[] = []

  const start = async (i: number): Promise<TestNode> => {
    const libp2p = await createDagLibp2p()
    const db = await openDatabase(dirs[i])
    const registry = new Registry()
    const logger = silentLogger()
    const networking = await startDagNetworking(libp2p, validatorKeys[i], logger, registry)
    const dag = new DagService({ libp2p, ...networking, db, identity: validatorKeys[i], genesis, logger, registry }, { verifier: { workers: 1 }, bodyDir: join(dirs[i], 'bodies'), ...init.dag })
    await dag.start()
    const node = { index: i, libp2p, db, dir: dirs[i], dag, key: validatorKeys[i], registry, peerBinding: networking.peerBinding }
    nodes[i] = node
    return node
  }
  const stop = async (i: number): Promise<void> => {
    const n = nodes[i]
    if (n === undefined) return
    delete nodes[i]
    await n.dag.stop()
    await n.peerBinding.stop()
    await n.libp2p.stop()
    await n.db.close()
  }
  const connectAll = async (): Promise<void> => {
    const live = nodes.filter(n => n !== undefined)
    for (const a of live) {
      for (const b of live) {
        if (a.index >= b.index) continue
        await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
      }
    }
  }
  for (let i = 0; i < init.nodes; i++) await start(i)
  await connectAll()
  return {
    genesis,
    validatorKeys,
    faucet,
    accounts,
    nodes,
    dirs,
    start,
    stop,
    connectAll,
    close: async () => {
      for (let i = 0; i < nodes.length; i++) await stop(i)
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    }
  }
}

/** Waits until `cond` holds, re-checking on an interval; fails after `timeoutMs` with `what`. */
export async function waitFor (cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export function transfer (genesis: Genesis, from: KeyPair, to: KeyPair, amount: bigint, nonce: bigint, fee = 1000n): Uint8Array {
  return encodeTx(buildTransfer({
    chainId: genesis.chainId,
    publicKey: from.publicKey,
    secretKey: from.secretKey,
    to: parseAddress(addressFromPublicKey(to.publicKey)),
    amount,
    nonce,
    fee
  }))
}

export function addressOf (k: KeyPair): string {
  return addressFromPublicKey(k.publicKey)
}

/**
 * Decides everything a one-validator ledger holds: polls every candidate successfully (its own preference is the
 * whole network's) until nothing is processing, at most `maxRounds` rounds.
 */
export async function finalizeAll (ledger: Pick<DagLedger, 'core' | 'decide'>, maxRounds = 100): Promise<void> {
  for (let i = 0; i < maxRounds && ledger.core.processingCount > 0; i++) {
    await ledger.decide(core => {
      const decisions: Decisions = { accepted: [], rejected: [] }
      for (const id of core.pollCandidates()) {
        const d = core.recordPoll(id, true)
        decisions.accepted.push(...d.accepted)
        decisions.rejected.push(...d.rejected)
      }
      return { decisions, result: undefined }
    })
  }
}
