import { parentPort } from 'node:worker_threads'
import { verify } from '../core/crypto.ts'

/**
 * Worker side of the verifier pool. A job is one transferred buffer of packed items, each
 * `u32 len || signature || u32 len || message || u32 len || public key`; the answer is one byte per item
 * (1 valid, 0 not), also transferred. Packing avoids structured-cloning thousands of small arrays.
 */
export interface VerifyJob {
  id: number
  count: number
  packed: ArrayBuffer
}

parentPort?.on('message', (job: VerifyJob) => {
  const out = new Uint8Array(job.count)
  const buf = new Uint8Array(job.packed)
  const view = new DataView(job.packed)
  let o = 0
  const take = (): Uint8Array => {
    const len = view.getUint32(o)
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
  parentPort?.postMessage({ id: job.id, results: out }, [out.buffer])
})
