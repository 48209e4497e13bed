import type { NodeRpcSource, RpcResultOf } from '../api/index.ts'
import { VERSION } from '../core/version.ts'
import { ledgerKeyFingerprint } from './identity.ts'
import type { HarmonyNode } from './node.ts'

/** Fields of node_info that other floors supply (ledger address, chain id, executor, EVM key, capability). */
export type NodeInfoExtension = () => Partial<RpcResultOf<'node_info'>>

/** The node's own RPC source (src/api/node.ts) over a running HarmonyNode. */
export function nodeRpcSource (node: HarmonyNode, extension: NodeInfoExtension = () => ({})): NodeRpcSource {
  return {
    info: () => ({
      peerId: node.libp2p.peerId.toString(),
      ledgerKey: ledgerKeyFingerprint(node.identity.ledgerKey.publicKey),
      version: VERSION,
      network: node.config.network,
      listenAddrs: node.listenAddrs(),
      rpc: node.rpc.url,
      ...extension()
    }),
    health: () => ({
      state: node.state,
      uptimeSeconds: node.uptimeSeconds(),
      peers: node.libp2p.getPeers().length,
      boundPeers: node.peerBinding.verifiedPeers().length
    }),
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
