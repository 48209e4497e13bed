// Market payloads the benches and the tests share: a small matmul announce, a CPU provider's registration.
import type { ProviderRegisterPayload, TaskAnnouncePayload } from '../../src/market/index.ts'

/** A small public matmul task with verification none; override any field. */
export function matmulAnnounce (over: Partial<TaskAnnouncePayload> = {}): TaskAnnouncePayload {
  return {
    spec: { kernel: 'matmul', paramsJson: '{"k":2,"m":2,"n":2}' },
    inputs: [new Uint8Array(32).fill(7), new Uint8Array(32).fill(8)],
    outputLimitBytes: 1024,
    budget: 1000n,
    redundancy: 1,
    k: 1,
    verification: 'none',
    bidWindowMs: 2000,
    revealWindowMs: 2000,
    executionDeadlineMs: 10_000,
    requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false },
    private: false,
    reannounce: false,
    ...over
  }
}

/** A CPU provider's registration with `bond`; the ML-KEM key is a fixed pattern (never used to seal here). */
export function cpuProvider (bond: bigint, over: Partial<ProviderRegisterPayload['capability']> = {}): ProviderRegisterPayload {
  return { bond, kemPublicKey: new Uint8Array(1184).fill(4), capability: { executor: 'cpu', adapter: 'llvmpipe', memoryMiB: 2048, gflopsMilli: 12_500, profile: 'cpu-ref-v1', ...over } }
}
