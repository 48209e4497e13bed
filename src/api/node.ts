import { RpcErrorCode, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import type { RpcResultOf, RpcTopicEventOf } from './definitions.ts'
import { registerMethod, registerTopic } from './method.ts'

/** The node's subscription topics. */
export const NODE_RPC_TOPICS = ['net_announcements'] as const

/** One announcement as the network floor reports it. */
export type NodeAnnouncement = RpcTopicEventOf<'net_announcements'>

/** What the node's own methods read; src/node/rpc-source.ts builds it over HarmonyNode. */
export interface NodeRpcSource {
  /** Identity, version, listen addresses, and what other floors add (executor, ledger address, chain). */
  info: () => RpcResultOf<'node_info'>
  health: () => RpcResultOf<'node_health'>
  /** One entry per connected peer. */
  peers: () => RpcResultOf<'net_peers'>
  announcements: {
    /** Resolves with the number of peers it was sent to. */
    publish: (text: string) => Promise<number>
    /** Newest first, at most `limit`. */
    recent: (limit: number) => NodeAnnouncement[]
    onAnnouncement: (listener: (announcement: NodeAnnouncement) => void) => unknown
  }
}

/** The node's own RPC methods (node_info, node_health, net_peers, net_announce, net_announcements) and topic. */
export function registerNodeRpc (registry: RpcRegistry, node: NodeRpcSource): void {
  registerMethod(registry, 'node_info', () => node.info())
  registerMethod(registry, 'node_health', () => node.health())
  registerMethod(registry, 'net_peers', () => node.peers())
  registerMethod(registry, 'net_announce', async (params) => {
    const text = Array.isArray(params) ? params[0] : params.text
    try {
      return { recipients: await node.announcements.publish(text) }
    } catch (err) {
      throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, `announcement not published: ${(err as Error).message}`)
    }
  })
  registerMethod(registry, 'net_announcements', (params) => {
    const limit = Array.isArray(params) ? params[0] : params?.limit
    return node.announcements.recent(limit ?? 256)
  })

  const announcements = registerTopic(registry, 'net_announcements')
  node.announcements.onAnnouncement((a) => { announcements(a) })
}
