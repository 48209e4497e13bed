import type { PeerId } from '@libp2p/interface'
import { GossipValidationError, type GossipRegistry } from './gossip.ts'
import type { HarmonyLibp2p } from './host.ts'
import { GOSSIP_TOPICS } from './protocols.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'

/** Longest announcement text, in UTF-16 code units. */
export const MAX_ANNOUNCEMENT_CHARS = 1024
const MAX_ANNOUNCEMENT_BYTES = 4 * MAX_ANNOUNCEMENT_CHARS + 256

export interface Announcement {
  /** Peer id of the node that published it (self-declared, as gossip is StrictNoSign). */
  origin: string
  text: string
  /** Publisher's clock, ms since epoch. */
  sentAtMs: number
  /** Our clock when it arrived. */
  receivedAtMs: number
  /** The peer it came from. */
  via: string
}

export interface AnnouncementInit {
  /** Received announcements kept for `net_announcements`. @default 256 */
  keep?: number
}

export interface AnnouncementComponents {
  /** For this node's peer id, the announcements' origin. */
  libp2p: Pick<HarmonyLibp2p, 'peerId'>
  /** The topic is registered here: validation and its metrics are the registry's. */
  gossip: GossipRegistry
  logger: Logger
}

type Decoded = { origin: string, text: string, sentAtMs: number }

export function encodeAnnouncement (a: Decoded): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([1, a.origin, a.sentAtMs, a.text]))
}

/** Strict decode: version 1, a peer id string, a safe integer time, bounded text. Undefined when malformed. */
export function decodeAnnouncement (data: Uint8Array): Decoded | undefined {
  if (data.length > MAX_ANNOUNCEMENT_BYTES) return undefined
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data))
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || value.length !== 4 || value[0] !== 1) return undefined
  const [, origin, sentAtMs, text] = value as [number, unknown, unknown, unknown]
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 128) return undefined
  if (typeof sentAtMs !== 'number' || !Number.isSafeInteger(sentAtMs) || sentAtMs < 0) return undefined
  if (typeof text !== 'string' || text.length > MAX_ANNOUNCEMENT_CHARS) return undefined
  return { origin, sentAtMs, text }
}

/**
 * Operator announcements on `harmony/1/announce`: the simplest gossip the network carries, used by operators
 * ("upgrading at 14:00") and by the network smoke tests and gossip bench. Registered in the gossip registry:
 * malformed messages are rejected (code MALFORMED) so gossipsub lowers the sender's score.
 */
export class AnnouncementService implements Startable {
  private readonly components: AnnouncementComponents
  private readonly keep: number
  private readonly received: Announcement[] = []
  private readonly listeners = new Set<(a: Announcement) => void>()
  private unregister?: () => void

  constructor (components: AnnouncementComponents, init: AnnouncementInit = {}) {
    this.components = components
    this.keep = init.keep ?? 256
  }

  async start (): Promise<void> {
    if (this.unregister !== undefined) return
    this.unregister = this.components.gossip.register<Decoded>({
      topic: GOSSIP_TOPICS.announce,
      maxBytes: MAX_ANNOUNCEMENT_BYTES,
      decode: (data) => {
        const decoded = decodeAnnouncement(data)
        if (decoded === undefined) throw new GossipValidationError('reject', 'MALFORMED')
        return decoded
      },
      // a well-formed announcement is all there is to check (the origin is self-declared: StrictNoSign)
      validate: () => 'accept',
      onAccepted: (decoded, from: PeerId) => { this.record({ ...decoded, receivedAtMs: Date.now(), via: from.toString() }) }
    })
  }

  async stop (): Promise<void> {
    this.unregister?.()
    this.unregister = undefined
  }

  /** Publishes an announcement; returns how many peers it was sent to directly. */
  async publish (text: string): Promise<number> {
    const { libp2p, gossip } = this.components
    const data = encodeAnnouncement({ origin: libp2p.peerId.toString(), sentAtMs: Date.now(), text })
    return await gossip.publish(GOSSIP_TOPICS.announce, data)
  }

  /** Most recent first, at most `limit`. */
  recent (limit = this.keep): Announcement[] {
    return this.received.slice(-limit).reverse()
  }

  onAnnouncement (listener: (a: Announcement) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private record (a: Announcement): void {
    this.received.push(a)
    if (this.received.length > this.keep) this.received.splice(0, this.received.length - this.keep)
    for (const listener of this.listeners) listener(a)
  }
}
