import type { NodeRpcSource, RpcResultOf } from '../api/index.ts'
import type { LifecycleState } from '../core/lifecycle.ts'
import { VERSION } from '../core/version.ts'
import type { AnnouncementService } from '../network/announce.ts'
import type { HarmonyLibp2p } from '../network/host.ts'
import type { PeerBindingService } from '../network/peer-binding.ts'
import type { NodeConfig } from './config.ts'
import { ledgerKeyFingerprint, type NodeIdentity } from '../core/keys/identity.ts'

/** Fields of node_info that other floors supply (ledger address, chain id, executor, EVM key, capability). */
export type NodeInfoExtension = () => Partial<RpcResultOf<'node_info'>>

/** The parts of HarmonyNode the node's RPC methods read (named here so this file does not import node.ts back). */
export interface NodeRpcParts {
  readonly state: LifecycleState
  readonly config: Pick<NodeConfig, 'network'>
  readonly identity: Pick<NodeIdentity, 'ledgerKey'>
  readonly libp2p: Pick<HarmonyLibp2p, 'peerId' | 'getPeers' | 'getConnections'>
  readonly peerBinding: Pick<PeerBindingService, 'verifiedPeers' | 'ledgerKeyOf'>
  readonly announcements: Pick<AnnouncementService, 'publish' | 'recent' | 'onAnnouncement'>
  readonly rpc: { readonly url: string }
  listenAddrs: () => string[]
  uptimeSeconds: () => number
}

/** node_health's `consensus` (the ledger's liveness), when the node runs a ledger. */
export type ConsensusHealthSource = () => RpcResultOf<'node_health'>['consensus']

/** The node's own RPC source (src/api/node.ts) over a running HarmonyNode. */
export function nodeRpcSource (node: NodeRpcParts, extension: NodeInfoExtension = () => ({}), consensus: ConsensusHealthSource = () => undefined): NodeRpcSource {
  // the identity does not change while the node runs; hashing the 1,952-byte key per call showed in profiles
  let ledgerKey: string | undefined
  return {
    info: () => ({
      peerId: node.libp2p.peerId.toString(),
      ledgerKey: ledgerKey ??= ledgerKeyFingerprint(node.identity.ledgerKey.publicKey),
      version: VERSION,
      network: node.config.network,
      listenAddrs: node.listenAddrs(),
      rpc: node.rpc.url,
      ...extension()
    }),
    health: () => {
      const c = consensus()
      return {
        state: node.state,
        uptimeSeconds: node.uptimeSeconds(),
        peers: node.libp2p.getPeers().length,
        boundPeers: node.peerBinding.verifiedPeers().length,
        ...(c === undefined ? {} : { consensus: c })
      }
    },
    peers: () => {
      const out: RpcResultOf<'net_peers'> = []
      const seen = new Set<string>()
      for (const connection of node.libp2p.getConnections()) {
        const id = connection.remotePeer.toString()
        if (seen.has(id)) continue
        seen.add(id)
        const ledgerKey = node.peerBinding.ledgerKeyOf(connection.remotePeer)
        out.push({
          peerId: id,
          addrs: [connection.remoteAddr.toString()],
          direction: connection.direction,
          bound: ledgerKey !== undefined,
          ...(ledgerKey === undefined ? {} : { ledgerKey: ledgerKeyFingerprint(ledgerKey) })
        })
      }
      return out
    },
    announcements: node.announcements
  }
}
