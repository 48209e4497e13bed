import { parentPort } from 'node:worker_threads'
import { verify } from './crypto.ts'

/** Worker side of the verifier pool: verifies a batch and answers with one byte per item (1 valid, 0 not). */
export interface VerifyJob {
  id: number
  items: Array<{ sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array }>
}

parentPort?.on('message', (job: VerifyJob) => {
  const out = new Uint8Array(job.items.length)
  for (let i = 0; i < job.items.length; i++) {
    const it = job.items[i]
    out[i] = verify(it.sig, it.msg, it.publicKey) ? 1 : 0
  }
  parentPort?.postMessage({ id: job.id, results: out }, [out.buffer])
})
