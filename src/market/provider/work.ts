import { z } from 'zod'
import { paramSchemas, staticShapeOf } from '../../compute/task.ts'

/**
 * The work a library task asks for, from its parameters alone (before any input is fetched): floating-point
 * operations (what a provider prices) and input plus output bytes (what it must hold). Kernels whose work depends
 * on their inputs (`mlp`: the weights decide the layers; `custom`: arbitrary WGSL) have no estimate, so a
 * provider cannot price them before it has bid and does not bid on them.
 */
export interface TaskWork {
  /** Floating-point operations (a multiply-add counts two). */
  flops: bigint
  /** Input plus output bytes. */
  bytes: number
  /** The inputs the kernel takes and its output's bytes, as its parameters fix them (compute `staticShapeOf`). */
  shape?: { inputs: number, outputBytes: number }
}

// Per-element operation counts of the row-wise kernels (src/compute/kernels/rowwise.ts): softmax = max, subtract,
// exp, sum, divide; layernorm = mean, subtract, square, sum, scale, shift, plus the rsqrt per row.
const SOFTMAX_FLOPS_PER_ELEMENT = 5n
const LAYERNORM_FLOPS_PER_ELEMENT = 8n

/** The work of a task, or undefined when its kernel or parameters give none (then the provider does not bid). */
export function estimateWork (kernel: string, params: unknown): TaskWork | undefined {
  // the kernels whose parameters fix their shapes (compute/task.ts) are the ones whose work can be priced
  const shape = staticShapeOf(kernel, params)
  const flops = shape === undefined ? undefined : flopsOf(kernel, params)
  if (shape === undefined || flops === undefined) return undefined
  return { flops, bytes: shape.inputBytes.reduce((a, b) => a + b, 0) + shape.outputBytes, shape: { inputs: shape.inputBytes.length, outputBytes: shape.outputBytes } }
}

function flopsOf (kernel: string, params: unknown): bigint | undefined {
  const parse = <S extends z.ZodType>(schema: S): z.output<S> | undefined => {
    const parsed = schema.safeParse(params)
    return parsed.success ? parsed.data : undefined
  }
  const big = (...xs: number[]): bigint => xs.reduce((acc, x) => acc * BigInt(x), 1n)
  switch (kernel) {
    case 'matmul': {
      const p = parse(paramSchemas.matmul)
      return p === undefined ? undefined : 2n * big(p.m, p.k, p.n)
    }
    case 'conv2d': {
      const p = parse(paramSchemas.conv2d)
      if (p === undefined) return undefined
      const outH = Math.floor((p.height + 2 * p.padding - p.kernelH) / p.stride) + 1
      const outW = Math.floor((p.width + 2 * p.padding - p.kernelW) / p.stride) + 1
      return 2n * big(p.filters, outH, outW, p.channels, p.kernelH, p.kernelW)
    }
    case 'elementwise': {
      const p = parse(paramSchemas.elementwise)
      return p === undefined ? undefined : big(p.n)
    }
    case 'reduce': {
      const p = parse(paramSchemas.reduce)
      return p === undefined ? undefined : big(p.rows, p.cols)
    }
    case 'softmax': {
      const p = parse(paramSchemas.softmax)
      return p === undefined ? undefined : SOFTMAX_FLOPS_PER_ELEMENT * big(p.rows, p.cols)
    }
    case 'layernorm': {
      const p = parse(paramSchemas.layernorm)
      return p === undefined ? undefined : LAYERNORM_FLOPS_PER_ELEMENT * big(p.rows, p.cols)
    }
    default:
      return undefined
  }
}

/** GFLOP of a work estimate, as a float for limits and logs (prices use the exact bigint). */
export function gflopOf (work: TaskWork): number {
  return Number(work.flops) / 1e9
}
