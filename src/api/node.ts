import { z } from 'zod'
import { RpcErrorCode, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import { MAX_ANNOUNCEMENT_CHARS } from '../network/announce.ts'
import { ledgerKeyFingerprint } from '../core/keys/identity.ts'
import { VERSION } from '../core/version.ts'
import type { HarmonyNode } from '../node/node.ts'

const noParams = z.union([z.tuple([]), z.object({}).strict()]).optional()

const peerSchema = z.object({
  peerId: z.string(),
  addrs: z.array(z.string()),
  direction: z.enum(['inbound', 'outbound']),
  /** True when the peer proved its ML-DSA ledger key. */
  bound: z.boolean(),
  ledgerKey: z.string().optional(),
  latencyMs: z.number().optional()
})

/** Extra fields other subsystems add to node_info (executor, ledger address, chain). */
export type NodeInfoExtension = () => Record<string, unknown>

/** The node's own RPC methods: node_info, node_health, net_peers, net_announce, net_announcements. */
export function registerNodeRpc (registry: RpcRegistry, node: HarmonyNode, extensions: NodeInfoExtension[] = []): void {
  registry.register({
    name: 'node_info',
    summary: 'Identity, version, listen addresses and executor of this node',
    params: noParams,
    result: z.object({
      peerId: z.string(),
      ledgerKey: z.string(),
      version: z.string(),
      network: z.string(),
      listenAddrs: z.array(z.string()),
      rpc: z.string()
    }).loose(),
    handler: () => {
      const info: Record<string, unknown> = {
        peerId: node.libp2p.peerId.toString(),
        ledgerKey: ledgerKeyFingerprint(node.identity.ledgerKey.publicKey),
        version: VERSION,
        network: node.config.network,
        listenAddrs: node.listenAddrs(),
        rpc: node.rpc.url
      }
      for (const extension of extensions) Object.assign(info, extension())
      return info
    }
  })

  registry.register({
    name: 'node_health',
    summary: 'Lifecycle state, uptime and peer count',
    params: noParams,
    result: z.object({ state: z.string(), uptimeSeconds: z.number(), peers: z.number(), boundPeers: z.number() }),
    handler: () => ({
      state: node.state,
      uptimeSeconds: node.uptimeSeconds(),
      peers: node.libp2p.getPeers().length,
      boundPeers: node.peerBinding.verifiedPeers().length
    })
  })

  registry.register({
    name: 'net_peers',
    summary: 'Connected peers, with whether each proved its ledger key',
    params: noParams,
    result: z.array(peerSchema),
    handler: async () => {
      const out: Array<z.infer<typeof peerSchema>> = []
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
    }
  })

  registry.register({
    name: 'net_announce',
    summary: 'Publish an operator announcement to the network over gossip',
    params: z.union([
      z.tuple([z.string().max(MAX_ANNOUNCEMENT_CHARS)]),
      z.object({ text: z.string().max(MAX_ANNOUNCEMENT_CHARS) }).strict()
    ]),
    result: z.object({ recipients: z.number() }),
    handler: async (params) => {
      const text = Array.isArray(params) ? params[0] : params.text
      try {
        return { recipients: await node.announcements.publish(text) }
      } catch (err) {
        throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, `announcement not published: ${(err as Error).message}`)
      }
    }
  })

  registry.register({
    name: 'net_announcements',
    summary: 'Announcements received from the network, newest first',
    params: z.union([
      z.tuple([]),
      z.tuple([z.number().int().min(1).max(256)]),
      z.object({ limit: z.number().int().min(1).max(256).optional() }).strict()
    ]).optional(),
    result: z.array(z.object({ origin: z.string(), text: z.string(), sentAtMs: z.number(), receivedAtMs: z.number(), via: z.string() })),
    handler: (params) => {
      const limit = Array.isArray(params) ? params[0] : params?.limit
      return node.announcements.recent(limit ?? 256)
    }
  })
}

export { VERSION }
