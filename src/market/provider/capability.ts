import { totalmem } from 'node:os'
import { EXECUTION_PROFILE, type ExecutorInfo } from '../../compute/types.ts'

/**
 * What a provider registers (kind 32, docs/market.md): the executor kind, the adapter, the memory a task may use,
 * the measured matmul GFLOP/s and the execution profile its results are produced under. The figure is measured at
 * start by the same path a benchmark challenge takes (challenge.ts), so an honest claim passes a challenge.
 */
export interface CapabilityRecord {
  executor: 'cpu' | 'webgpu'
  /** The adapter's description, at most ADAPTER_MAX_BYTES of UTF-8. */
  adapter: string
  /** Memory a task may use, MiB. */
  memoryMiB: number
  /** Measured matmul throughput, GFLOP/s × 1000 (an integer on the ledger). */
  gflopsMilli: number
  /** Execution profile (EXECUTION_PROFILE): results of one profile compare bitwise. */
  profile: string
}

/** Field bounds of the record on the ledger (docs/market.md, kind 32). */
export const ADAPTER_MAX_BYTES = 64
export const PROFILE_MAX_BYTES = 32
const MIB = 1024 * 1024
const U32_MAX = 0xffffffff

/** The ledger's executor kind: a GPU through Dawn (hardware or software) sells as `webgpu`. */
export function marketExecutorKind (info: Pick<ExecutorInfo, 'kind'>): CapabilityRecord['executor'] {
  return info.kind === 'cpu' ? 'cpu' : 'webgpu'
}

/** The adapter name as registered: the description cut to ADAPTER_MAX_BYTES of UTF-8 on a character boundary. */
export function adapterName (info: Pick<ExecutorInfo, 'adapter'>): string {
  return cutUtf8(info.adapter.description === '' ? 'unknown adapter' : info.adapter.description, ADAPTER_MAX_BYTES)
}

/**
 * Memory a task may use: what the executor's task limits let one task hold (inputs + outputs), capped by the
 * machine's memory and, on a GPU, by the largest storage buffer times the bindings a kernel uses.
 */
export function taskMemoryMiB (info: Pick<ExecutorInfo, 'kind' | 'taskLimits' | 'limits'>, machineBytes = totalmem()): number {
  let bytes = Math.min(info.taskLimits.maxInputBytes + info.taskLimits.maxOutputBytes, machineBytes)
  if (info.kind !== 'cpu') bytes = Math.min(bytes, 8 * info.limits.maxStorageBufferBindingSize)
  return Math.min(U32_MAX, Math.floor(bytes / MIB))
}

/** GFLOP/s as the ledger's integer (× 1000), clamped to u32. */
export function gflopsToMilli (gflops: number): number {
  if (!Number.isFinite(gflops) || gflops <= 0) return 0
  return Math.min(U32_MAX, Math.round(gflops * 1000))
}

/** The record for this executor with a measured throughput. */
export function capabilityRecord (info: ExecutorInfo, measuredGflops: number): CapabilityRecord {
  return {
    executor: marketExecutorKind(info),
    adapter: adapterName(info),
    memoryMiB: taskMemoryMiB(info),
    gflopsMilli: gflopsToMilli(measuredGflops),
    profile: cutUtf8(info.profile === '' ? EXECUTION_PROFILE : info.profile, PROFILE_MAX_BYTES)
  }
}

function cutUtf8 (text: string, maxBytes: number): string {
  const encoder = new TextEncoder()
  if (encoder.encode(text).length <= maxBytes) return text
  let out = ''
  for (const ch of text) {
    if (encoder.encode(out + ch).length > maxBytes) break
    out += ch
  }
  return out
}
