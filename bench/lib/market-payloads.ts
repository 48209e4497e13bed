// Market payloads the benches and the tests share: a small matmul announce, a CPU provider's registration, and a
// made-up history's signing, cut entries and queue records.
import { toHex } from '../../src/core/codec.ts'
import { type KeyPair, sha256 } from '../../src/core/crypto.ts'
import type { CutTx } from '../../src/dag/cut-parts.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import { type FinalRecord, requireTxKind } from '../../src/dag/tx-kinds.ts'
import type { ProviderRegisterPayload, SignedBy, TaskAnnouncePayload } from '../../src/market/index.ts'

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

/**
 * Signs a made-up market history: consecutive nonces per key (the transactions then have distinct ids; the market's
 * rules read no nonce, that is the ledger's). `next` is the nonce the next one would get, used up.
 */
export function historySigner (chainId: string): { by: (k: KeyPair) => SignedBy, next: (k: KeyPair) => bigint } {
  const nonces = new Map<KeyPair, bigint>()
  const by = (k: KeyPair): SignedBy => {
    const nonce = nonces.get(k) ?? 0n
    nonces.set(k, nonce + 1n)
    return { chainId, keys: k, nonce, fee: 1000n }
  }
  return { by, next: (k) => by(k).nonce }
}

/** A final market transaction at market time `timeMs`, as a state cut lists it (its vertex named by its own hash). */
export function cutTxAt (tx: Transaction, timeMs: number): CutTx {
  const info = txInfo(encodeTx(tx))
  return { tx: info, vertexId: toHex(sha256(info.id)), vertexTimeMs: BigInt(timeMs) }
}

/** The market queue's records of `x` when the ledger finalizes it at acceptance `seq` (its kind's `finalRecords`). */
export function queueRecordsOf (x: CutTx, seq: bigint): FinalRecord[] {
  return requireTxKind(x.tx.tx.kind).finalRecords?.({ idHex: x.tx.idHex, vertexIdHex: x.vertexId, vertexTimeMs: x.vertexTimeMs, seq, position: 0, encoded: x.tx.encoded, payload: x.tx.tx.payload }) ?? []
}
