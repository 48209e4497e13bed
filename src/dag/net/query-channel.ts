import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { DagError } from '../errors.ts'

/**
 * A long-lived multiplexed request/response channel over one libp2p stream: frames are `u32 request id || body`,
 * answered in any order. Avalanche queries use it so a poll costs one frame each way instead of a new stream
 * (stream set-up and protocol negotiation dominated a poll's cost when measured).
 *
 * On the wire each frame is unsigned-varint length-prefixed, as `@libp2p/utils`' `lpStream` writes them (the first
 * frame is the channel's one-byte hello). The channel reads and writes the stream's events itself rather than through
 * `lpStream`: that reads a frame's length one byte at a time, two or three awaits per frame, and decodes the varint
 * by throwing a RangeError until it is complete, a stack trace per frame of 128 bytes or more (profiled: the
 * largest part of a poll's CPU on an idle devnet; docs/ledger-profile.md, s19).
 */

/** Requests a server handles at once on one channel; further frames wait (the stream is paused). */
const MAX_INFLIGHT_PER_CHANNEL = 64
const MAX_FRAME_BYTES = 64 * 1024
/** A varint of more bytes than this cannot be a frame length the channel accepts (2^35 > any limit). */
const MAX_PREFIX_BYTES = 5

/** `body` with its length prefix and, when given, a u32 request id before it: one buffer, one `send`. */
export function encodeFrame (id: number | undefined, body: Uint8Array): Uint8Array {
  const len = body.length + (id === undefined ? 0 : 4)
  let prefix = 1
  for (let n = len; n >= 0x80; n = Math.floor(n / 0x80)) prefix++
  const out = new Uint8Array(prefix + len)
  let o = 0
  for (let n = len; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) { out[o++] = n; break }
    out[o++] = (n & 0x7f) | 0x80
  }
  if (id !== undefined) {
    new DataView(out.buffer, out.byteOffset + o, 4).setUint32(0, id)
    o += 4
  }
  out.set(body, o)
  return out
}

/**
 * Splits a byte stream into length-prefixed frames as bytes arrive. A partial prefix or body waits for more; a
 * length over `maxFrameBytes` or an overlong prefix is a protocol error. A frame's body is copied only when it spans
 * several received chunks.
 */
export class FrameDecoder {
  private readonly buf = new Uint8ArrayList()
  /** the length of the frame whose prefix was read (and consumed), until its body is complete */
  private bodyLength: number | undefined
  private readonly maxFrameBytes: number

  constructor (maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes held for a frame still incomplete. */
  get buffered (): number { return this.buf.byteLength }

  push (data: Uint8Array | Uint8ArrayList, onFrame: (frame: Uint8Array) => void): void {
    this.buf.append(data)
    for (;;) {
      if (this.bodyLength === undefined) {
        const prefix = this.readPrefix()
        if (prefix === undefined) return
        this.bodyLength = prefix
      }
      if (this.buf.byteLength < this.bodyLength) return
      const frame = this.buf.subarray(0, this.bodyLength)
      this.buf.consume(this.bodyLength)
      this.bodyLength = undefined
      onFrame(frame)
    }
  }

  /** The next frame's length, consuming its prefix; undefined while the prefix is incomplete. */
  private readPrefix (): number | undefined {
    let len = 0
    const n = Math.min(this.buf.byteLength, MAX_PREFIX_BYTES)
    for (let i = 0; i < n; i++) {
      const b = this.buf.get(i)
      len += (b & 0x7f) * 2 ** (7 * i)
      if (b < 0x80) {
        if (len > this.maxFrameBytes) throw new DagError('PROTOCOL_ERROR', `channel frame of ${len} bytes exceeds ${this.maxFrameBytes}`)
        this.buf.consume(i + 1)
        return len
      }
    }
    if (n === MAX_PREFIX_BYTES) throw new DagError('PROTOCOL_ERROR', 'channel frame length prefix too long')
    return undefined
  }
}

/**
 * Frames out, in order, honouring the stream's back-pressure: once `send` says the stream's buffer is full, later
 * frames wait here until it drains. Callers bound what they send (requests in flight; answers per channel).
 */
class FrameSender {
  private readonly stream: Stream
  private readonly queue: Uint8Array[] = []
  private readonly onError: (err: Error) => void

  constructor (stream: Stream, onError: (err: Error) => void) {
    this.stream = stream
    this.onError = onError
    stream.addEventListener('drain', () => { this.flush() })
  }

  send (frame: Uint8Array): void {
    if (this.queue.length > 0 || this.stream.writableNeedsDrain) { this.queue.push(frame); return }
    this.write(frame)
  }

  private flush (): void {
    while (this.queue.length > 0 && !this.stream.writableNeedsDrain) this.write(this.queue.shift() as Uint8Array)
  }

  private write (frame: Uint8Array): void {
    try {
      this.stream.send(frame)
    } catch (err) {
      this.queue.length = 0
      this.onError(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

function channelError (what: string, err?: Error): DagError {
  return new DagError('PROTOCOL_ERROR', what, {}, err === undefined ? undefined : { cause: err })
}

export class QueryChannelClient {
  private readonly stream: Stream
  private readonly decoder: FrameDecoder
  private readonly sender: FrameSender
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void, reject: (e: Error) => void }>()
  private nextId = 1
  closed = false

  /** `maxFrameBytes`: the largest answer accepted (a sync answer carries vertices). @default 65536 */
  constructor (stream: Stream, hello: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES) {
    this.stream = stream
    this.decoder = new FrameDecoder(maxFrameBytes)
    this.sender = new FrameSender(stream, (err) => { this.close(channelError('query channel write failed', err)) })
    stream.addEventListener('message', (evt) => {
      try {
        this.decoder.push(evt.data, (frame) => { this.onAnswer(frame) })
      } catch (err) {
        this.close(err instanceof Error ? err : new Error(String(err)))
      }
    })
    stream.addEventListener('close', (evt) => { this.close(channelError('query channel closed', evt.error)) })
    stream.addEventListener('remoteCloseWrite', () => { this.close(channelError('the peer closed the query channel')) })
    this.sender.send(encodeFrame(undefined, hello))
  }

  private onAnswer (frame: Uint8Array): void {
    if (frame.length < 4) throw channelError('channel frame shorter than its request id')
    const id = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0)
    const p = this.pending.get(id)
    if (p === undefined) return // answered after its request timed out
    this.pending.delete(id)
    p.resolve(frame.subarray(4))
  }

  async request (body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw channelError('query channel closed')
    const id = this.nextId++
    if (this.nextId > 0xffffffff) this.nextId = 1
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(channelError('request on the channel timed out'))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (b) => { clearTimeout(timer); resolve(b) },
        reject: (e) => { clearTimeout(timer); reject(e) }
      })
      this.sender.send(encodeFrame(id, body))
    })
  }

  close (err?: Error): void {
    if (this.closed) return
    this.closed = true
    const reason = err ?? channelError('query channel closed')
    for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(reason) }
    try { this.stream.abort(reason) } catch { /* already closed */ }
  }
}

export interface ServeChannelInit {
  /** The one-byte hello the channel must open with. */
  hello: number
  /** The largest request frame accepted. */
  maxFrameBytes: number
  /** How long the opener has to send its hello. */
  helloTimeoutMs: number
  /** Told why the channel ended when it ended on an error (the server logs it at debug). @default none */
  onError?: (err: Error) => void
}

/**
 * Serves a channel opened by a peer until it closes: the first frame must be the hello, then each frame is answered
 * by `handler`, concurrently, at most MAX_INFLIGHT_PER_CHANNEL at once (the stream is paused meanwhile). A request
 * whose handler fails gets no answer (the client's request times out). Resolves when the stream has closed.
 */
export async function serveQueryChannel (stream: Stream, init: ServeChannelInit, handler: (body: Uint8Array) => Promise<Uint8Array>, signal: AbortSignal): Promise<void> {
  const decoder = new FrameDecoder(init.maxFrameBytes)
  const end = Promise.withResolvers<void>()
  const fail = (err: unknown): void => {
    const error = err instanceof Error ? err : new Error(String(err))
    init.onError?.(error)
    try { stream.abort(error) } catch { /* already closed */ }
  }
  // Pausing and resuming can write (yamux sends a window update on resume), and throw once the connection under the
  // stream has closed: an error here ends the channel, never escapes (it killed a node in a kill -9 campaign, s19).
  const setPaused = (paused: boolean): void => {
    try {
      if (paused && stream.readStatus === 'readable') stream.pause()
      else if (!paused && stream.readStatus === 'paused') stream.resume()
    } catch (err) {
      fail(err)
    }
  }
  const sender = new FrameSender(stream, fail)
  const backlog: Uint8Array[] = []
  let helloSeen = false
  let inflight = 0
  let remoteDone = false

  const helloTimer = setTimeout(() => { fail(channelError('no hello on the channel in time')) }, init.helloTimeoutMs)
  const onAbort = (): void => { fail(channelError('query channel ended')) }
  signal.addEventListener('abort', onAbort)
  if (signal.aborted) onAbort()

  const finishIfDone = (): void => {
    if (remoteDone && inflight === 0 && backlog.length === 0) stream.close().catch(fail)
  }
  const dispatch = (): void => {
    while (backlog.length > 0 && inflight < MAX_INFLIGHT_PER_CHANNEL) {
      const frame = backlog.shift() as Uint8Array
      const id = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0)
      inflight++
      void handler(frame.subarray(4)).then((res) => {
        if (stream.status === 'open') sender.send(encodeFrame(id, res))
      }, () => undefined).finally(() => {
        inflight--
        if (stream.status !== 'open') return
        if (inflight < MAX_INFLIGHT_PER_CHANNEL) setPaused(false)
        dispatch()
        finishIfDone()
      })
    }
    if (backlog.length > 0) setPaused(true)
  }
  const onFrame = (frame: Uint8Array): void => {
    if (!helloSeen) {
      if (frame.length !== 1 || frame[0] !== init.hello) throw channelError('unknown request type')
      helloSeen = true
      clearTimeout(helloTimer)
      return
    }
    if (frame.length < 4) throw channelError('channel frame shorter than its request id')
    backlog.push(frame)
  }

  stream.addEventListener('message', (evt) => {
    try {
      decoder.push(evt.data, onFrame)
    } catch (err) {
      fail(err)
      return
    }
    dispatch()
  })
  stream.addEventListener('remoteCloseWrite', () => { remoteDone = true; finishIfDone() })
  stream.addEventListener('close', () => {
    clearTimeout(helloTimer)
    signal.removeEventListener('abort', onAbort)
    backlog.length = 0
    end.resolve()
  })
  if (stream.status !== 'open') end.resolve()
  await end.promise
}
