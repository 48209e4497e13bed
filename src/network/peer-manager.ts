import type { PeerInfo } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { HarmonyLibp2p } from './host.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'

export interface PeerManagerInit {
  /** Dial discovered peers until this many are connected. @default 16 */
  targetPeers?: number
  /**
   * How often the DHT is asked for peers near random keys while under target. Each walk that connects no new peer
   * doubles the wait, up to `maxDiscoveryIntervalMs`; a peer connecting or leaving brings it back. @default 2000
   */
  discoveryIntervalMs?: number
  /** The longest wait between walks in a network that has nothing new to find. @default 60000 */
  maxDiscoveryIntervalMs?: number
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
  private readonly maxDiscoveryIntervalMs: number
  /** The wait before the next walk: discoveryIntervalMs, doubled after each walk that found no one new. */
  private intervalMs: number
  private nextWalkAt = 0
  /** A peer connected or left since the last walk began. */
  private peersChanged = false
  private readonly maxConcurrentDials: number
  private readonly bootstrap: Multiaddr[]
  private readonly dialing = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private walking = false
  private controller = new AbortController()
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.maybeDial(evt.detail) }
  // a peer that comes or goes changes what a walk can find: walk again soon
  private readonly onPeerChange = (): void => {
    this.peersChanged = true
    this.intervalMs = this.discoveryIntervalMs
    if (this.nextWalkAt - Date.now() > this.intervalMs) this.schedule()
  }

  constructor (components: PeerManagerComponents, init: PeerManagerInit = {}) {
    this.components = components
    this.targetPeers = init.targetPeers ?? 16
    this.discoveryIntervalMs = init.discoveryIntervalMs ?? 2000
    this.maxDiscoveryIntervalMs = Math.max(this.discoveryIntervalMs, init.maxDiscoveryIntervalMs ?? 60_000)
    this.intervalMs = this.discoveryIntervalMs
    this.maxConcurrentDials = init.maxConcurrentDials ?? 4
    this.bootstrap = (init.bootstrap ?? []).map(a => multiaddr(a))
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    const { libp2p } = this.components
    libp2p.addEventListener('peer:discovery', this.onDiscovery)
    libp2p.addEventListener('peer:connect', this.onPeerChange)
    libp2p.addEventListener('peer:disconnect', this.onPeerChange)
    this.schedule()
  }

  async stop (): Promise<void> {
    this.controller.abort()
    clearTimeout(this.timer)
    this.timer = undefined
    const { libp2p } = this.components
    libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    libp2p.removeEventListener('peer:connect', this.onPeerChange)
    libp2p.removeEventListener('peer:disconnect', this.onPeerChange)
  }

  /** The wait before the walk after this one: what this node saw between two walks decides it. */
  get nextWalkInMs (): number {
    return this.intervalMs
  }

  private schedule (): void {
    if (this.controller.signal.aborted) return
    clearTimeout(this.timer)
    this.nextWalkAt = Date.now() + this.intervalMs
    this.timer = setTimeout(() => {
      // a walk after which no peer came or went doubles the wait; one that did keeps it short (onPeerChange)
      this.peersChanged = false
      void this.walk().finally(() => {
        if (!this.peersChanged) this.intervalMs = Math.min(this.maxDiscoveryIntervalMs, this.intervalMs * 2)
        this.schedule()
      })
    }, this.intervalMs)
    this.timer.unref()
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
