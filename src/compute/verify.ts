import { bytesToF32, outputBlob, resultCommitment } from './blob.ts'
import { referenceOutputs } from './kernels/index.ts'
import { decodeMlp } from './model/weights.ts'
import { checkTask, taskId } from './task.ts'
import { type ComputeTask, type DType, EXECUTION_PROFILE, type TaskLimits, type TaskResult, type TaskSpec } from './types.ts'

/**
 * Comparing results. Two runs on one adapter give equal bytes (fixed reduction orders, no atomics), so equal
 * commitments are the normal case. Across adapters, results may differ in the last bits (fused multiply-add,
 * transcendental functions with WGSL's ULP bounds, flushed subnormals); the tolerance rule below decides
 * whether such a difference is rounding or a wrong answer. The rule is documented in docs/compute.md.
 */

export type Verdict = 'equal' | 'within-tolerance' | 'mismatch'

/**
 * f32 values x (candidate) and y (other/reference) agree when both are NaN, or x === y (this covers
 * infinities and ±0), or both are finite and |x - y| <= rtol * max(|x|, |y|) + atol * scale, where `scale` is
 * the largest finite |value| of the output being compared (of the reference when one is given).
 */
export interface Tolerance {
  /** Relative part. */
  rtol: number
  /** Absolute part, as a fraction of the output's largest magnitude. */
  atol: number
}

// 2^-13 ≈ 1.2e-4: ignore the 10 lowest of f32's 23 mantissa bits. Covers WGSL's accuracy bounds for exp, tanh,
// inverseSqrt and division at the magnitudes the kernels see.
const RTOL = 2 ** -13
// Per accumulated term, twice f32's unit roundoff: an n-term sum reordered or fused differs by about n·u·scale.
const ATOL_PER_TERM = 2 ** -22
// Transcendentals near 0 (tanh through exp differences) lose a few absolute ULPs of 1.
const MIN_TERMS = 8

export const DEFAULT_TOLERANCE: Tolerance = { rtol: RTOL, atol: MIN_TERMS * ATOL_PER_TERM }

/** The tolerance for a task: grows with the number of terms each output accumulates. */
export function toleranceFor (spec: TaskSpec, inputs?: Uint8Array[]): Tolerance {
  const p = spec.params
  const num = (key: string): number => (typeof p[key] === 'number' ? p[key] : 1)
  let terms = 1
  switch (spec.kernel) {
    case 'matmul': terms = num('k'); break
    case 'conv2d': terms = num('channels') * num('kernelH') * num('kernelW'); break
    case 'reduce': case 'softmax': case 'layernorm': terms = num('cols'); break
    case 'mlp': {
      // Errors compound through layers: sum the fan-in of every layer.
      if (inputs?.[0] !== undefined) {
        try { terms = decodeMlp(inputs[0]).layers.reduce((s, l) => s + l.inDim, 0) } catch { terms = 1 }
      }
      break
    }
    default: terms = 1
  }
  return { rtol: RTOL, atol: Math.max(terms, MIN_TERMS) * ATOL_PER_TERM }
}

export interface ComparableOutput {
  bytes: Uint8Array
  dtype: DType
  shape: number[]
}

export interface Comparable {
  outputs: ComparableOutput[]
}

function sameLayout (a: Comparable, b: Comparable): boolean {
  if (a.outputs.length !== b.outputs.length) return false
  return a.outputs.every((o, i) => {
    const other = b.outputs[i]
    return o.dtype === other.dtype && o.bytes.byteLength === other.bytes.byteLength &&
      o.shape.length === other.shape.length && o.shape.every((d, j) => d === other.shape[j])
  })
}

function maxFinite (values: Float32Array): number {
  let max = 0
  for (const v of values) if (Number.isFinite(v) && Math.abs(v) > max) max = Math.abs(v)
  return max
}

/** Element-wise check of the tolerance rule; non-f32 outputs must be byte-equal. */
export function withinTolerance (candidate: Comparable, other: Comparable, tolerance: Tolerance = DEFAULT_TOLERANCE, scaleFrom?: Comparable): boolean {
  if (!sameLayout(candidate, other)) return false
  return candidate.outputs.every((output, i) => {
    if (output.dtype !== 'f32') return Buffer.from(output.bytes).equals(other.outputs[i].bytes)
    const x = bytesToF32(output.bytes)
    const y = bytesToF32(other.outputs[i].bytes)
    const scale = scaleFrom === undefined
      ? Math.max(maxFinite(x), maxFinite(y))
      : maxFinite(bytesToF32(scaleFrom.outputs[i].bytes))
    const atol = tolerance.atol * scale
    for (let j = 0; j < x.length; j++) {
      const a = x[j]
      const b = y[j]
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue
      if (!Number.isFinite(a) || !Number.isFinite(b)) return false
      if (Math.abs(a - b) > tolerance.rtol * Math.max(Math.abs(a), Math.abs(b)) + atol) return false
    }
    return true
  })
}

/**
 * `equal` when the canonical outputs are identical (equal commitments); `within-tolerance` when they differ
 * only as the tolerance rule allows; else `mismatch`. With a reference (e.g. the CPU reference result), both
 * results must also be within tolerance of it: two results that agree with each other but not with the
 * reference are a mismatch.
 */
export function verify (a: Comparable, b: Comparable, reference?: Comparable, tolerance: Tolerance = DEFAULT_TOLERANCE): Verdict {
  if (!sameLayout(a, b)) return 'mismatch'
  if (reference !== undefined) {
    if (!withinTolerance(a, reference, tolerance, reference) || !withinTolerance(b, reference, tolerance, reference)) return 'mismatch'
  }
  if (resultCommitment(a.outputs) === resultCommitment(b.outputs)) return 'equal'
  return withinTolerance(a, b, tolerance) ? 'within-tolerance' : 'mismatch'
}

/**
 * The CPU reference result of a library task, computed in this process (for spot checks of small tasks; large
 * ones belong on a `cpu` WorkerExecutor so they do not block the event loop).
 */
export function referenceResult (task: ComputeTask, limits?: TaskLimits): TaskResult {
  const checked = checkTask(task, limits)
  const started = performance.now()
  const outputs = referenceOutputs(checked).map((bytes, i) => outputBlob(bytes, checked.outputs[i].dtype, checked.outputs[i].shape))
  return {
    taskId: taskId(task.spec),
    outputs,
    commitment: resultCommitment(outputs),
    executor: 'cpu',
    adapter: 'cpu-reference',
    profile: EXECUTION_PROFILE,
    durationMs: performance.now() - started
  }
}
