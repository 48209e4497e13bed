import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { nativeMlDsaAvailable, verify } from '../core/crypto.ts'

/**
 * Worker side of the verifier pool, and the job format both sides share. A job is one transferred buffer of packed
 * items, each `u32 len || signature || u32 len || message || u32 len || public key`; the answer is one byte per
 * item (1 valid, 0 not), also transferred. Packing avoids structured-cloning thousands of small arrays.
 */
export interface VerifyJob {
  id: number
  count: number
  packed: ArrayBuffer
}

/** `results` on success; `error` when the job itself could not be read (the pool fails that job, not the worker). */
export interface VerifyAnswer {
  id: number
  results?: Uint8Array
  error?: string
}

/** The `workerData` the pool starts its threads with: the handler below answers jobs only in such a thread. */
export const VERIFY_WORKER_DATA = 'harmony-verify-worker'

/** Packs items for one job (the pool's side of the format). */
export function packJob (items: ReadonlyArray<{ sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array }>): ArrayBuffer {
  let size = 0
  for (const it of items) size += 12 + it.sig.length + it.msg.length + it.publicKey.length
  const packed = new ArrayBuffer(size)
  const buf = new Uint8Array(packed)
  const view = new DataView(packed)
  let o = 0
  const put = (b: Uint8Array): void => { view.setUint32(o, b.length); buf.set(b, o + 4); o += 4 + b.length }
  for (const it of items) { put(it.sig); put(it.msg); put(it.publicKey) }
  return packed
}

/** Verifies every item of a job; throws RangeError on a malformed buffer. */
export function runJob (job: VerifyJob): Uint8Array {
  const out = new Uint8Array(job.count)
  const buf = new Uint8Array(job.packed)
  const view = new DataView(job.packed)
  let o = 0
  const take = (): Uint8Array => {
    const len = view.getUint32(o)
    if (o + 4 + len > buf.length) throw new RangeError('item runs past the end of the job')
    const b = buf.subarray(o + 4, o + 4 + len)
    o += 4 + len
    return b
  }
  for (let i = 0; i < job.count; i++) {
    const sig = take()
    const msg = take()
    const publicKey = take()
    out[i] = verify(sig, msg, publicKey) ? 1 : 0
  }
  return out
}

// The pool imports this module for `packJob`; only a thread it started answers jobs (a pool built inside some
// other worker must not hijack that worker's port).
if (!isMainThread && workerData === VERIFY_WORKER_DATA) {
  // as the thread starts, not on its first job (a node's first transactions): the one-time check of which ML-DSA
  // implementation verifies here runs noble's keygen, sign and verify in cold JavaScript (40-75 ms)
  nativeMlDsaAvailable()
  const port = parentPort
  port?.on('message', (job: VerifyJob) => {
    // A malformed job is answered, not thrown: a throw here would kill the thread and every job queued on it.
    let results: Uint8Array
    try {
      results = runJob(job)
    } catch (err) {
      port.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) } satisfies VerifyAnswer)
      return
    }
    port.postMessage({ id: job.id, results } satisfies VerifyAnswer, [results.buffer as ArrayBuffer])
  })
}
