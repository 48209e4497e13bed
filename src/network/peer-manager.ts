import type { PeerInfo } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { HarmonyLibp2p } from './host.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'

export interface PeerManagerInit {
  /** Dial discovered peers until this many are connected. @default 16 */
  targetPeers?: number
  /** How often the DHT is asked for peers near random keys while under target. @default 2000 */
  discoveryIntervalMs?: number
  /** Dials in flight at once. @default 4 */
  maxConcurrentDials?: number
  /** Bootstrap multiaddrs, dialed again whenever the node has no peer at all. @default [] */
  bootstrap?: string[]
}

export interface PeerManagerComponents {
  libp2p: HarmonyLibp2p
  logger: Logger
}

/**
 * Keeps the node connected to `targetPeers` peers. libp2p 3 has no auto-dialer: peers found through the bootstrap
 * list and the DHT (identify pushes their addresses, DHT queries return closer peers) are dialed here while the
 * node is below its target, and a periodic DHT walk finds more.
 */
export class PeerManager implements Startable {
  private readonly components: PeerManagerComponents
  private readonly targetPeers: number
  private readonly discoveryIntervalMs: number
  private readonly maxConcurrentDials: number
  private readonly bootstrap: Multiaddr[]
  private readonly dialing = new Set<string>()
  private timer?: NodeJS.Timeout
  private walking = false
  private controller = new AbortController()
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.maybeDial(evt.detail) }

  constructor (components: PeerManagerComponents, init: PeerManagerInit = {}) {
    this.components = components
    this.targetPeers = init.targetPeers ?? 16
    this.discoveryIntervalMs = init.discoveryIntervalMs ?? 2000
    this.maxConcurrentDials = init.maxConcurrentDials ?? 4
    this.bootstrap = (init.bootstrap ?? []).map(a => multiaddr(a))
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    this.components.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.timer = setInterval(() => { void this.walk() }, this.discoveryIntervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.controller.abort()
    clearInterval(this.timer)
    this.components.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
  }

  private connectedCount (): number {
    return this.components.libp2p.getPeers().length
  }

  private maybeDial (peer: PeerInfo): void {
    const { libp2p, logger } = this.components
    const key = peer.id.toString()
    if (peer.id.equals(libp2p.peerId)) return
    if (this.connectedCount() >= this.targetPeers || this.dialing.size >= this.maxConcurrentDials) return
    if (this.dialing.has(key) || libp2p.getConnections(peer.id).length > 0) return
    this.dialing.add(key)
    libp2p.dial(peer.id, { signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(10_000)]) })
      .then(() => logger.debug({ peer: key }, 'connected to discovered peer'))
      .catch((err: Error) => logger.debug({ peer: key, err: err.message }, 'dial to discovered peer failed'))
      .finally(() => this.dialing.delete(key))
  }

  /**
   * While under target: dial known-but-unconnected peers, then ask the DHT for peers close to a random key.
   * With no peer at all (the bootstrap dial at start failed, or every peer left) the bootstrap peers are dialed
   * again, so a node whose bootstrap was briefly down or overloaded does not stay alone.
   */
  private async walk (): Promise<void> {
    const { libp2p, logger } = this.components
    if (this.walking || this.connectedCount() >= this.targetPeers) return
    this.walking = true
    try {
      if (this.connectedCount() === 0) {
        await Promise.all(this.bootstrap.map(async (addr) => {
          await libp2p.dial(addr, { signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(10_000)]) })
            .catch((err: Error) => logger.debug({ addr: addr.toString(), err: err.message }, 'bootstrap dial failed'))
        }))
        return
      }
      for (const peer of await libp2p.peerStore.all({ limit: 256 })) {
        if (peer.addresses.length > 0) this.maybeDial({ id: peer.id, multiaddrs: peer.addresses.map(a => a.multiaddr) })
      }
      const key = crypto.getRandomValues(new Uint8Array(32))
      const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(5000)])
      for await (const event of libp2p.services.dht.getClosestPeers(key, { signal })) {
        if (event.name === 'FINAL_PEER') this.maybeDial(event.peer)
        if (this.connectedCount() >= this.targetPeers) break
      }
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'DHT walk ended')
    } finally {
      this.walking = false
    }
  }
}
