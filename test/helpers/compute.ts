import { f32Blob } from '../../src/compute/blob.ts'
import { createExecutor } from '../../src/compute/device.ts'
import type { WorkerExecutor } from '../../src/compute/sandbox.ts'
import type { ComputeTask, KernelName, TaskSpec } from '../../src/compute/types.ts'
import { silentLogger } from '../../src/core/logger.ts'

/**
 * Opens a WebGPU executor for the tests: a hardware GPU if there is one, else the software GPU (Dawn on Mesa
 * llvmpipe). Returns the reason when neither is available.
 */
export async function openGpuExecutor (): Promise<{ executor: WorkerExecutor } | { reason: string }> {
  const reasons: string[] = []
  for (const kind of ['gpu', 'software'] as const) {
    try {
      return { executor: await createExecutor({ executor: kind, logger: silentLogger() }) }
    } catch (err) {
      reasons.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return { reason: reasons.join('; ') }
}

/** A task over f32 inputs. */
export function f32Task (kernel: KernelName, params: Record<string, unknown>, inputs: ArrayLike<number>[], extra: Partial<TaskSpec> = {}): ComputeTask {
  const blobs = inputs.map(values => f32Blob(values))
  return { spec: { v: 1, kernel, params, inputs: blobs.map(b => b.id), ...extra }, inputs: blobs }
}

/** Seeded uniform values in [-scale, scale). */
export function randomValues (count: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    out[i] = ((state / 4294967296) * 2 - 1) * scale
  }
  return out
}
