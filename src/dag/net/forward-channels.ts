import type { Libp2p, PeerId } from '@libp2p/interface'
import { PROTOCOLS } from '../../network/protocols.ts'
import { QueryChannelClient } from './query-channel.ts'

/** The one-byte hello that opens a forwarding channel (`/harmony/dag/tx/2.0.0`). */
export const TX_CHANNEL_HELLO = 4
/** Past this many remembered peers, those known to speak only 1.0.0 are forgotten too (asked again). */
const MAX_CHANNEL_ENTRIES = 256

/**
 * A forwarding node's channels to validators (`/harmony/dag/tx/2.0.0`): one per validator, opened on first use and
 * again once closed (its connection dropped); null for a validator that does not speak 2.0.0 (an older node), which
 * gets a stream per transaction on 1.0.0. A stream per transaction cost 1.0–3.4 ms of set-up and negotiation on
 * loopback, a frame on an open channel 0.3 ms. Bounded by the validator set (closed channels leave as new ones open).
 */
export class ForwardChannels {
  private readonly libp2p: Pick<Libp2p, 'dialProtocol'>
  private readonly channels = new Map<string, QueryChannelClient | null>()
  /** Channels being opened, by peer: at most one dial per validator at a time. */
  private readonly opening = new Map<string, Promise<QueryChannelClient | null>>()

  constructor (libp2p: Pick<Libp2p, 'dialProtocol'>) {
    this.libp2p = libp2p
  }

  /** The validator's channel, or null when it speaks only 1.0.0. Throws when it cannot be reached in `timeoutMs`. */
  async get (peer: PeerId, timeoutMs: number, signal: AbortSignal): Promise<QueryChannelClient | null> {
    const key = peer.toString()
    const existing = this.channels.get(key)
    if (existing === null || (existing !== undefined && !existing.closed)) return existing
    // requests that find no channel wait for the one being opened: one stream per validator (it takes 2 at most)
    let opening = this.opening.get(key)
    if (opening === undefined) {
      opening = this.open(peer, key, timeoutMs, signal).finally(() => { this.opening.delete(key) })
      this.opening.set(key, opening)
    }
    return await opening
  }

  closeAll (): void {
    for (const ch of this.channels.values()) ch?.close()
    this.channels.clear()
  }

  private async open (peer: PeerId, key: string, timeoutMs: number, signal: AbortSignal): Promise<QueryChannelClient | null> {
    let stream
    try {
      stream = await this.libp2p.dialProtocol(peer, PROTOCOLS.dagTxChannel, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })
    } catch (err) {
      if ((err as { name?: string }).name === 'UnsupportedProtocolError') {
        this.channels.set(key, null)
        return null
      }
      throw err
    }
    const ch = new QueryChannelClient(stream, new Uint8Array([TX_CHANNEL_HELLO]))
    // a validator that restarts comes back under a new peer id: closed channels leave as new ones open
    for (const [k, c] of this.channels) if (c?.closed === true || (c === null && this.channels.size > MAX_CHANNEL_ENTRIES)) this.channels.delete(k)
    this.channels.set(key, ch)
    return ch
  }
}
