import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Registry } from 'prom-client'
import { Counter, Gauge } from 'prom-client'
import type { Startable } from '../core/lifecycle.ts'
import { verify } from '../core/crypto.ts'
import { DagError } from './errors.ts'

export interface VerifyItem {
  sig: Uint8Array
  msg: Uint8Array
  publicKey: Uint8Array
}

/** Anything that checks ML-DSA-65 signatures in bulk (the pool, or an in-thread verifier in tests and tools). */
export interface SignatureVerifier {
  verifyBatch (items: VerifyItem[]): Promise<boolean[]>
}

export interface VerifyPoolInit {
  /** Worker threads. @default os.availableParallelism() */
  workers?: number
  /** Signatures waiting or in flight before `verifyBatch` refuses with QUEUE_FULL. @default 20000 */
  maxQueued?: number
  /** Signatures per message to a worker: large enough to amortise the message, small enough to spread. @default 32 */
  chunkSize?: number
}

interface Pending {
  resolve: (r: Uint8Array) => void
  reject: (e: Error) => void
  size: number
}

interface PoolWorker {
  worker: Worker
  inflight: number
}

/** Verifies on the calling thread; for small tools and for comparing against the pool. */
export class InlineVerifier implements SignatureVerifier {
  async verifyBatch (items: VerifyItem[]): Promise<boolean[]> {
    return items.map(i => verify(i.sig, i.msg, i.publicKey))
  }
}

/**
 * A `worker_threads` pool verifying ML-DSA-65 signatures on every core (node:crypto where the runtime has ML-DSA,
 * noble otherwise). Batches are split into chunks handed to the least busy worker. Bounded queue.
 */
export class VerifyPool implements SignatureVerifier, Startable {
  private readonly size: number
  private readonly maxQueued: number
  private readonly chunkSize: number
  private readonly workers: PoolWorker[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private queued = 0
  private readonly waiting: Array<{ items: VerifyItem[], resolve: (r: boolean[]) => void, reject: (e: Error) => void }> = []
  private waitingCount = 0
  private flushTimer: NodeJS.Immediate | undefined
  private readonly verified?: Counter
  private readonly depth?: Gauge

  constructor (init: VerifyPoolInit = {}, registry?: Registry) {
    this.size = Math.max(1, init.workers ?? availableParallelism())
    this.maxQueued = init.maxQueued ?? 20000
    this.chunkSize = init.chunkSize ?? 32
    if (registry !== undefined) {
      this.verified = new Counter({ name: 'harmony_dag_signatures_verified_total', help: 'ML-DSA-65 signatures verified by the pool', labelNames: ['result'], registers: [registry] })
      this.depth = new Gauge({ name: 'harmony_dag_verify_queue_depth', help: 'signatures queued or in flight in the verifier pool', registers: [registry] })
    }
  }

  async start (): Promise<void> {
    if (this.workers.length > 0) return
    const url = new URL('./verify-worker.ts', import.meta.url)
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(url)
      worker.unref()
      const w: PoolWorker = { worker, inflight: 0 }
      worker.on('message', (m: { id: number, results: Uint8Array }) => {
        const p = this.pending.get(m.id)
        if (p === undefined) return
        this.pending.delete(m.id)
        w.inflight -= p.size
        this.queued -= p.size
        this.depth?.set(this.queued)
        p.resolve(m.results)
      })
      worker.on('error', (err) => {
        // A crashed worker fails everything; callers treat that as "could not verify" (ignore, not reject).
        for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(err) }
      })
      this.workers.push(w)
    }
  }

  async stop (): Promise<void> {
    const ws = this.workers.splice(0)
    if (this.flushTimer !== undefined) { clearImmediate(this.flushTimer); this.flushTimer = undefined }
    for (const w of this.waiting.splice(0)) w.reject(new DagError('NOT_RUNNING', 'verifier pool stopped'))
    this.waitingCount = 0
    for (const [id, p] of this.pending) { this.pending.delete(id); p.reject(new DagError('NOT_RUNNING', 'verifier pool stopped')) }
    this.queued = 0
    await Promise.all(ws.map(async w => await w.worker.terminate()))
  }

  get queueDepth (): number { return this.queued }
  get workerCount (): number { return this.size }

  async verifyBatch (items: VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return []
    if (this.workers.length === 0) throw new DagError('NOT_RUNNING', 'verifier pool is not started')
    if (this.queued + items.length > this.maxQueued) throw new DagError('QUEUE_FULL', `verifier queue full (${this.queued} signatures waiting)`)
    let out: boolean[]
    if (items.length < this.chunkSize) {
      out = await this.coalesce(items)
    } else {
      const chunks: Array<Promise<Uint8Array>> = []
      for (let i = 0; i < items.length; i += this.chunkSize) {
        chunks.push(this.send(items.slice(i, i + this.chunkSize)))
      }
      const results = await Promise.all(chunks)
      out = []
      for (const r of results) for (const b of r) out.push(b === 1)
    }
    let valid = 0
    for (const o of out) if (o) valid++
    this.verified?.inc({ result: 'valid' }, valid)
    this.verified?.inc({ result: 'invalid' }, out.length - valid)
    return out
  }

  /**
   * Small batches (single client transactions) arriving in the same turn of the event loop travel to a worker
   * together: one message per chunk instead of one per signature.
   */
  private coalesce (items: VerifyItem[]): Promise<boolean[]> {
    return new Promise<boolean[]>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject })
      this.waitingCount += items.length
      if (this.waitingCount >= this.chunkSize) this.flush()
      else if (this.flushTimer === undefined) this.flushTimer = setImmediate(() => { this.flush() })
    })
  }

  private flush (): void {
    if (this.flushTimer !== undefined) { clearImmediate(this.flushTimer); this.flushTimer = undefined }
    const batch = this.waiting.splice(0)
    this.waitingCount = 0
    if (batch.length === 0) return
    const all: VerifyItem[] = []
    for (const b of batch) all.push(...b.items)
    this.send(all).then(res => {
      let o = 0
      for (const b of batch) {
        b.resolve(Array.from(res.subarray(o, o + b.items.length), x => x === 1))
        o += b.items.length
      }
    }, (err: Error) => { for (const b of batch) b.reject(err) })
  }

  private async send (items: VerifyItem[]): Promise<Uint8Array> {
    let best = this.workers[0]
    for (const w of this.workers) if (w.inflight < best.inflight) best = w
    const id = this.nextId++
    best.inflight += items.length
    this.queued += items.length
    this.depth?.set(this.queued)
    let size = 0
    for (const it of items) size += 12 + it.sig.length + it.msg.length + it.publicKey.length
    const packed = new ArrayBuffer(size)
    const buf = new Uint8Array(packed)
    const view = new DataView(packed)
    let o = 0
    const put = (b: Uint8Array): void => { view.setUint32(o, b.length); buf.set(b, o + 4); o += 4 + b.length }
    for (const it of items) { put(it.sig); put(it.msg); put(it.publicKey) }
    return await new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, size: items.length })
      best.worker.postMessage({ id, count: items.length, packed }, [packed])
    })
  }
}
