/**
 * State sync over `/harmony/state/1.0.0` (docs/protocol.md "State sync"): a node serves the state cuts of the
 * recent checkpoint epochs it holds (state-cuts.ts); a new node asks its peers for the cut of the last checkpoint
 * anchored on chain and keeps only bytes whose sync digest is that checkpoint's `dagRoot` and whose state root is
 * its `stateRoot`. The contract accepted both under ≥ 2/3 of the bonded stake's signatures, so a peer can withhold
 * the cut but never make a node start from another one.
 *
 *   request  = u8 version (1) ‖ u64 epoch
 *   response = u8 status (0: the cut follows, 1: not held here) ‖ encodeCut(cut) (state-cut.ts)
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { Reader, Writer } from '../core/codec.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import { DagError } from '../dag/errors.ts'
import { cutTree, decodeCut, encodeCut, type StateCut, syncDigestOfBytes } from '../dag/state-cut.ts'
import { PROTOCOLS } from '../network/protocols.ts'
import { requestOnce, respondOnce } from '../network/request.ts'

const VERSION = 1
const STATUS_OK = 0
const STATUS_NOT_HELD = 1
/** An encoded cut of a million accounts with a few credits each is ~100 MiB; anything larger is refused. */
export const MAX_CUT_BYTES = 256 * 1024 * 1024
const REQUEST_BYTES = 9

/** A checkpoint as the settlement contract holds it (0x-hex roots). */
export interface AnchoredCheckpoint { epoch: bigint, dagRoot: string, stateRoot: string }

export interface StateSyncServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** The cut of an epoch while this node holds it (DagBridge.stateCut). */
  cuts: { stateCut: (epoch: bigint) => Promise<StateCut | undefined> }
  logger: Logger
}

/** Serves the cuts this node holds. One encoded cut is kept for repeated asks (joiners ask for the same epoch). */
export class StateSyncServer implements Startable {
  private readonly c: StateSyncServerComponents
  private abort = new AbortController()
  private last: { epoch: bigint, bytes: Uint8Array } | undefined

  constructor (components: StateSyncServerComponents) {
    this.c = components
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    // a cut may be large: few at once
    await this.c.libp2p.handle(PROTOCOLS.stateSync, (stream: Stream) => {
      void respondOnce(stream, async (req) => await this.answer(req), { timeoutMs: 120_000, signal: this.abort.signal, maxRequestBytes: REQUEST_BYTES, log: this.c.logger })
    }, { maxInboundStreams: 4 })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    this.last = undefined
    await this.c.libp2p.unhandle(PROTOCOLS.stateSync)
  }

  private async answer (req: Uint8Array): Promise<Uint8Array> {
    const r = new Reader(req, 'state sync request')
    if (r.u8() !== VERSION) r.fail('unknown version')
    const epoch = r.u64()
    r.end()
    if (this.last?.epoch !== epoch) {
      const cut = await this.c.cuts.stateCut(epoch)
      if (cut === undefined) return Uint8Array.of(STATUS_NOT_HELD)
      this.last = { epoch, bytes: encodeCut(cut) }
    }
    const out = new Uint8Array(1 + this.last.bytes.length)
    out[0] = STATUS_OK
    out.set(this.last.bytes, 1)
    return out
  }
}

export interface FetchCutOptions {
  /** Per peer: dial, ask and receive. @default 60000 */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * Asks `peers` in turn for `checkpoint`'s cut and returns the first that matches it (digest, then state root).
 * Throws SYNC_FAILED when none does; `refused` counts the peers whose cut did not match (a lying or broken peer).
 */
export async function fetchCheckpointCut (libp2p: Pick<Libp2p, 'dialProtocol'>, peers: PeerId[], checkpoint: AnchoredCheckpoint, log: Logger, options: FetchCutOptions = {}): Promise<{ cut: StateCut, peer: PeerId, refused: number }> {
  const want = checkpoint.dagRoot.toLowerCase().replace(/^0x/, '')
  const body = new Writer(REQUEST_BYTES).u8(VERSION).u64(checkpoint.epoch).finish()
  let refused = 0
  for (const peer of peers) {
    let res: Uint8Array
    try {
      res = await requestOnce(libp2p, peer, PROTOCOLS.stateSync, body, { timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal ?? new AbortController().signal, maxResponseBytes: MAX_CUT_BYTES + 1 })
    } catch (err) {
      log.debug({ err, peer: peer.toString() }, 'state sync: peer did not answer')
      continue
    }
    if (res.length === 0 || res[0] !== STATUS_OK) { log.debug({ peer: peer.toString() }, 'state sync: peer does not hold the cut'); continue }
    const bytes = res.subarray(1)
    if (syncDigestOfBytes(bytes) !== want) {
      refused++
      log.warn({ peer: peer.toString(), epoch: checkpoint.epoch.toString() }, 'state sync: refused a cut that does not match the anchored checkpoint')
      continue
    }
    const cut = decodeCut(bytes)
    if (cutTree(cut).root.toLowerCase() !== checkpoint.stateRoot.toLowerCase()) {
      // the validators signed a digest and a root of different cuts: nothing to start from
      refused++
      log.warn({ peer: peer.toString(), epoch: checkpoint.epoch.toString() }, 'state sync: the cut matches the checkpoint\'s dagRoot but not its stateRoot')
      continue
    }
    return { cut, peer, refused }
  }
  throw new DagError('SYNC_FAILED', `no peer of ${peers.length} served epoch ${checkpoint.epoch}'s cut matching the anchored checkpoint (${refused} refused)`, { refused, epoch: checkpoint.epoch.toString() })
}
