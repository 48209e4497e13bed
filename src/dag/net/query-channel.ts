import type { Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { Reader, Writer } from '../../core/codec.ts'
import { DagError } from '../errors.ts'

/**
 * A long-lived multiplexed request/response channel over one libp2p stream: frames are `u32 request id || body`,
 * answered in any order. Avalanche queries use it so a poll costs one frame each way instead of a new stream
 * (stream set-up and protocol negotiation dominated a poll's cost when measured).
 */

/** Requests a server handles at once on one channel; further frames wait (back-pressure on the stream). */
const MAX_INFLIGHT_PER_CHANNEL = 64
const MAX_FRAME_BYTES = 64 * 1024

export class QueryChannelClient {
  private readonly lp: LengthPrefixedStream<Stream>
  private readonly stream: Stream
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void, reject: (e: Error) => void }>()
  private nextId = 1
  private writeChain: Promise<void> = Promise.resolve()
  closed = false

  /** `maxFrameBytes`: the largest answer accepted (a sync answer carries vertices). @default 65536 */
  constructor (stream: Stream, hello: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES) {
    this.stream = stream
    this.lp = lpStream(stream, { maxDataLength: maxFrameBytes })
    this.enqueueWrite(hello)
    void this.readLoop()
  }

  private enqueueWrite (frame: Uint8Array): Promise<void> {
    const next = this.writeChain.then(async () => { await this.lp.write(frame) })
    this.writeChain = next.catch(() => undefined)
    return next
  }

  private async readLoop (): Promise<void> {
    try {
      while (!this.closed) {
        const frame = (await this.lp.read()).subarray()
        const r = new Reader(frame, 'channel frame')
        const id = r.u32()
        const p = this.pending.get(id)
        if (p !== undefined) {
          this.pending.delete(id)
          p.resolve(frame.subarray(4))
        }
      }
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)))
    }
  }

  async request (body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw new DagError('PROTOCOL_ERROR', 'query channel closed')
    const id = this.nextId++
    if (this.nextId > 0xffffffff) this.nextId = 1
    const frame = new Writer(4 + body.length).u32(id).raw(body).finish()
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new DagError('PROTOCOL_ERROR', 'request on the channel timed out'))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (b) => { clearTimeout(timer); resolve(b) },
        reject: (e) => { clearTimeout(timer); reject(e) }
      })
      this.enqueueWrite(frame).catch((err: unknown) => { this.close(err instanceof Error ? err : new Error(String(err))) })
    })
  }

  close (err?: Error): void {
    if (this.closed) return
    this.closed = true
    for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(err ?? new DagError('PROTOCOL_ERROR', 'query channel closed')) }
    this.stream.abort(err ?? new Error('closed'))
  }
}

/** Serves a channel opened by a peer until it closes: each frame is answered by `handler`, concurrently. */
export async function serveQueryChannel (stream: Stream, lp: LengthPrefixedStream<Stream>, handler: (body: Uint8Array) => Promise<Uint8Array>, signal: AbortSignal): Promise<void> {
  let writeChain: Promise<void> = Promise.resolve()
  let inflight = 0
  let slotFreed: (() => void) | undefined
  try {
    while (!signal.aborted) {
      while (inflight >= MAX_INFLIGHT_PER_CHANNEL) await new Promise<void>(resolve => { slotFreed = resolve })
      const frame = (await lp.read({ signal })).subarray()
      const r = new Reader(frame, 'channel frame')
      const id = r.u32()
      inflight++
      void handler(frame.subarray(4)).then(async (res) => {
        const out = new Writer(4 + res.length).u32(id).raw(res).finish()
        writeChain = writeChain.then(async () => { await lp.write(out, { signal }) }).catch(() => undefined)
        await writeChain
      }).catch(() => undefined).finally(() => {
        inflight--
        slotFreed?.()
        slotFreed = undefined
      })
    }
  } catch {
    stream.abort(new Error('query channel ended'))
  }
}
