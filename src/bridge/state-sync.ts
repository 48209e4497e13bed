/**
 * State sync over `/harmony/state/2.0.0` (docs/protocol.md "State sync"): a node serves the state cuts of the
 * recent checkpoint epochs it holds (state-cuts.ts); a new node asks its peers for the cut of the last checkpoint
 * anchored on chain and keeps only bytes whose sync digest is that checkpoint's `dagRoot` and whose state root is
 * its `stateRoot`. The contract accepted both under ≥ 2/3 of the bonded stake's signatures, so a peer can withhold
 * the cut but never make a node start from another one.
 *
 * The encoded cut travels in chunks, one request each, so no message is larger than a chunk however large the cut
 * (version 1 sent it whole, up to 256 MiB in one message), and the encoding of an epoch's cut is canonical, so the
 * chunks of one download may come from different peers: a peer that fails mid-way is replaced by the next from
 * where it stopped. A download whose digest does not match is refused, and then each peer is asked for the whole
 * cut alone, so a liar's chunks (or its length) cannot keep an honest peer's cut from being taken.
 *
 *   request  = u8 version (2) ‖ u64 epoch ‖ u64 offset
 *   response = u8 status (0: a chunk follows, 1: not held here, 2: offset past the end)
 *              ‖ [u64 total ‖ chunk]   (status 0: the encoded cut's length and its bytes from offset on, at least one)
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { Reader, Writer } from '../core/codec.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import { DagError } from '../dag/errors.ts'
import { cutTree, decodeCut, encodeCut, type StateCut, syncDigestOfBytes } from '../dag/state-cut.ts'
import { PROTOCOLS } from '../network/protocols.ts'
import { requestOnce, respondOnce } from '../network/request.ts'

const VERSION = 2
const STATUS_OK = 0
const STATUS_NOT_HELD = 1
const STATUS_PAST_END = 2
/** An encoded cut of a million accounts with a few credits each is ~100 MiB; anything larger is refused. */
export const MAX_CUT_BYTES = 256 * 1024 * 1024
/** The largest chunk a node serves or accepts. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024
/** What a node serves per request unless told otherwise. */
const DEFAULT_CHUNK_BYTES = 1024 * 1024
/** A chunk shorter than this that does not end the cut is refused: a peer cannot make a download take millions of requests. */
const DEFAULT_MIN_CHUNK_BYTES = 64 * 1024
const REQUEST_BYTES = 17
const RESPONSE_HEAD_BYTES = 9

/** A checkpoint as the settlement contract holds it (0x-hex roots). */
export interface AnchoredCheckpoint { epoch: bigint, dagRoot: string, stateRoot: string }

export interface StateSyncServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** The cut of an epoch while this node holds it (DagBridge.stateCut). */
  cuts: { stateCut: (epoch: bigint) => Promise<StateCut | undefined> }
  logger: Logger
}

export interface StateSyncServerInit {
  /** Bytes served per request (1 … MAX_CHUNK_BYTES). @default 1048576 */
  chunkBytes?: number
}

/**
 * Serves the cuts this node holds, a chunk per request. One encoded cut is kept for the requests that follow
 * (joiners ask for the same epoch, chunk after chunk).
 */
export class StateSyncServer implements Startable {
  private readonly c: StateSyncServerComponents
  private readonly chunkBytes: number
  private abort = new AbortController()
  private last: { epoch: bigint, bytes: Uint8Array } | undefined

  constructor (components: StateSyncServerComponents, init: StateSyncServerInit = {}) {
    this.c = components
    this.chunkBytes = Math.min(MAX_CHUNK_BYTES, Math.max(1, Math.floor(init.chunkBytes ?? DEFAULT_CHUNK_BYTES)))
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    // a request is one chunk; encoding the cut the first time is the slow part: few at once
    await this.c.libp2p.handle(PROTOCOLS.stateSync, (stream: Stream) => {
      void respondOnce(stream, async (req) => await this.answer(req), { timeoutMs: 60_000, signal: this.abort.signal, maxRequestBytes: REQUEST_BYTES, log: this.c.logger })
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
    const offset = r.u64()
    r.end()
    if (this.last?.epoch !== epoch) {
      const cut = await this.c.cuts.stateCut(epoch)
      if (cut === undefined) return Uint8Array.of(STATUS_NOT_HELD)
      this.last = { epoch, bytes: encodeCut(cut) }
    }
    const { bytes } = this.last
    if (offset >= BigInt(bytes.length)) return Uint8Array.of(STATUS_PAST_END)
    const chunk = bytes.subarray(Number(offset), Number(offset) + this.chunkBytes)
    return new Writer(RESPONSE_HEAD_BYTES + chunk.length).u8(STATUS_OK).u64(BigInt(bytes.length)).raw(chunk).finish()
  }
}

export interface FetchCutOptions {
  /** Per chunk request: dial, ask and receive. @default 30000 */
  timeoutMs?: number
  signal?: AbortSignal
  /** The shortest chunk accepted unless it ends the cut. @default 65536 */
  minChunkBytes?: number
}

type ChunkAnswer = { status: 'ok', total: number, chunk: Uint8Array } | { status: 'not-held' } | { status: 'failed', err: unknown }

/** One chunk of `epoch`'s cut from `peer`, from `offset` on; a malformed answer is `failed`. */
async function fetchChunk (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, epoch: bigint, offset: number, options: FetchCutOptions): Promise<ChunkAnswer> {
  try {
    const body = new Writer(REQUEST_BYTES).u8(VERSION).u64(epoch).u64(BigInt(offset)).finish()
    const res = await requestOnce(libp2p, peer, PROTOCOLS.stateSync, body, { timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal ?? new AbortController().signal, maxResponseBytes: RESPONSE_HEAD_BYTES + MAX_CHUNK_BYTES })
    const r = new Reader(res, 'state sync answer')
    const status = r.u8()
    if (status === STATUS_NOT_HELD || status === STATUS_PAST_END) { r.end(); return { status: 'not-held' } }
    if (status !== STATUS_OK) r.fail('unknown status')
    const total = r.u64()
    // a view: it is copied into the download buffer at once
    const chunk = r.fixedView(r.remaining)
    if (total > BigInt(MAX_CUT_BYTES)) throw new DagError('TOO_LARGE', `the peer's cut is ${total} bytes, more than ${MAX_CUT_BYTES}`)
    const left = Number(total) - offset
    if (chunk.length === 0 || chunk.length > left) r.fail('a chunk outside the cut')
    if (chunk.length < Math.min(left, options.minChunkBytes ?? DEFAULT_MIN_CHUNK_BYTES)) r.fail('a chunk too short')
    return { status: 'ok', total: Number(total), chunk }
  } catch (err) {
    return { status: 'failed', err }
  }
}

/**
 * Downloads `epoch`'s encoded cut from `peers`, each taking over where the one before failed (one peer: the whole cut
 * from it). Undefined when no peer got it to the end.
 */
async function downloadCut (libp2p: Pick<Libp2p, 'dialProtocol'>, peers: PeerId[], epoch: bigint, log: Logger, options: FetchCutOptions): Promise<{ bytes: Uint8Array, sources: PeerId[] } | undefined> {
  let buf: Uint8Array | undefined
  let filled = 0
  const sources: PeerId[] = []
  for (const peer of peers) {
    while (buf === undefined || filled < buf.length) {
      const a = await fetchChunk(libp2p, peer, epoch, filled, options)
      if (a.status !== 'ok') {
        if (a.status === 'failed') log.debug({ err: a.err, peer: peer.toString() }, 'state sync: peer did not answer')
        else log.debug({ peer: peer.toString() }, 'state sync: peer does not hold the cut')
        break
      }
      // the first chunk sets the length; a peer that says otherwise holds another encoding, so not this cut
      if (buf === undefined) buf = new Uint8Array(a.total)
      else if (a.total !== buf.length) { log.debug({ peer: peer.toString() }, 'state sync: peer\'s cut has another length'); break }
      buf.set(a.chunk, filled)
      filled += a.chunk.length
      if (!sources.some(p => p.equals(peer))) sources.push(peer)
    }
    if (buf !== undefined && filled === buf.length) return { bytes: buf, sources }
  }
  return undefined
}

/**
 * Asks `peers` for `checkpoint`'s cut and returns one that matches it (digest, then state root): chunks from one
 * peer after another, each resuming where the last stopped; when that download does not match or complete, each
 * peer is asked for the whole cut alone. Throws SYNC_FAILED when no cut matches; `refused` counts the
 * downloads that did not match (a lying or broken peer), `peer` is the first that served the cut taken.
 */
export async function fetchCheckpointCut (libp2p: Pick<Libp2p, 'dialProtocol'>, peers: PeerId[], checkpoint: AnchoredCheckpoint, log: Logger, options: FetchCutOptions = {}): Promise<{ cut: StateCut, peer: PeerId, refused: number }> {
  const want = checkpoint.dagRoot.toLowerCase().replace(/^0x/, '')
  let refused = 0
  const check = (got: { bytes: Uint8Array, sources: PeerId[] }): StateCut | undefined => {
    const who = got.sources.map(p => p.toString())
    if (syncDigestOfBytes(got.bytes) !== want) {
      refused++
      log.warn({ peers: who, epoch: checkpoint.epoch.toString() }, 'state sync: refused a cut that does not match the anchored checkpoint')
      return undefined
    }
    const cut = decodeCut(got.bytes)
    if (cutTree(cut).root.toLowerCase() !== checkpoint.stateRoot.toLowerCase()) {
      // the validators signed a digest and a root of different cuts: nothing to start from
      refused++
      log.warn({ peers: who, epoch: checkpoint.epoch.toString() }, 'state sync: the cut matches the checkpoint\'s dagRoot but not its stateRoot')
      return undefined
    }
    return cut
  }
  const got = await downloadCut(libp2p, peers, checkpoint.epoch, log, options)
  const cut = got === undefined ? undefined : check(got)
  if (got !== undefined && cut !== undefined) return { cut, peer: got.sources[0], refused }
  // it did not match, or did not complete (a first peer may have set a length the others do not have): any peer
  // may have lied, so each is asked for the whole cut alone (not again the one whose whole cut was just refused)
  const refusedAlone = got?.sources.length === 1 ? got.sources[0] : undefined
  for (const peer of peers) {
    if (refusedAlone?.equals(peer) === true) continue
    const alone = await downloadCut(libp2p, [peer], checkpoint.epoch, log, options)
    const cutAlone = alone === undefined ? undefined : check(alone)
    if (cutAlone !== undefined) return { cut: cutAlone, peer, refused }
  }
  throw new DagError('SYNC_FAILED', `no peer of ${peers.length} served epoch ${checkpoint.epoch}'s cut matching the anchored checkpoint (${refused} refused)`, { refused, epoch: checkpoint.epoch.toString() })
}
