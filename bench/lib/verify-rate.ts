// The ML-DSA-65 verification limit of this machine, measured in the run that reports against it: bench:ledger's part
// (1) and bench:market's signature floor. Signatures over transaction-sized messages (5,400 bytes), a few keys.
import { availableParallelism } from 'node:os'
import { generateKeyPair, nodeSign, verify } from '../../src/core/crypto.ts'
import { type VerifyItem, VerifyPool } from '../../src/dag/verify-pool.ts'

export const VERIFY_ITEMS: VerifyItem[] = (() => {
  const keys = Array.from({ length: 8 }, () => generateKeyPair())
  return Array.from({ length: 512 }, (_, i) => {
    const msg = new Uint8Array(5400).fill(i & 0xff)
    const k = keys[i % keys.length]
    return { sig: nodeSign(msg, k.secretKey), msg, publicKey: k.publicKey }
  })
})()

/** Signatures per second verified on this thread for `ms`. */
export function singleCoreRate (ms: number): number {
  const start = performance.now()
  let n = 0
  while (performance.now() - start < ms) {
    const item = VERIFY_ITEMS[n % VERIFY_ITEMS.length]
    verify(item.sig, item.msg, item.publicKey)
    n++
  }
  return n / ((performance.now() - start) / 1000)
}

/**
 * Signatures per second through `p` for `ms`, and the CPU time of the whole process (workers included) per signature:
 * load on the machine stretches wall time, far less the CPU a unit of work takes, so a CPU cost per unit of work
 * measured against this says what the work can reach when CPU-bound.
 */
export async function poolRate (p: Pick<VerifyPool, 'verifyBatch'>, ms: number): Promise<{ rate: number, cpuUsPerSig: number }> {
  const cores = availableParallelism()
  let verified = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  while (performance.now() - start < ms) {
    await Promise.all(Array.from({ length: cores * 2 }, async () => await p.verifyBatch(VERIFY_ITEMS)))
    verified += VERIFY_ITEMS.length * cores * 2
  }
  const rate = verified / ((performance.now() - start) / 1000)
  const cpu = process.cpuUsage(cpu0)
  return { rate, cpuUsPerSig: (cpu.user + cpu.system) / verified }
}

/** A pool of one worker per core, warmed, measured for `ms`, stopped: the rate on all cores and its CPU per signature. */
export async function measureVerifyLimit (ms: number): Promise<{ rate: number, cpuUsPerSig: number }> {
  const pool = new VerifyPool({ workers: availableParallelism() })
  await pool.start()
  try {
    await pool.verifyBatch(VERIFY_ITEMS) // warm the workers and their key caches
    return await poolRate(pool, ms)
  } finally {
    await pool.stop()
  }
}
