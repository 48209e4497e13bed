import { z } from 'zod'
import { paramSchemas } from '../../compute/task.ts'

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
}

// Per-element operation counts of the row-wise kernels (src/compute/kernels/rowwise.ts): softmax = max, subtract,
// exp, sum, divide; layernorm = mean, subtract, square, sum, scale, shift, plus the rsqrt per row.
const SOFTMAX_FLOPS_PER_ELEMENT = 5n
const LAYERNORM_FLOPS_PER_ELEMENT = 8n

/** The work of a task, or undefined when its kernel or parameters give none (then the provider does not bid). */
export function estimateWork (kernel: string, params: unknown): TaskWork | undefined {
  const parse = <S extends z.ZodType>(schema: S): z.output<S> | undefined => {
    const parsed = schema.safeParse(params)
    return parsed.success ? parsed.data : undefined
  }
  const big = (...xs: number[]): bigint => xs.reduce((acc, x) => acc * BigInt(x), 1n)
  switch (kernel) {
    case 'matmul': {
      const p = parse(paramSchemas.matmul)
      if (p === undefined) return undefined
      return { flops: 2n * big(p.m, p.k, p.n), bytes: 4 * (p.m * p.k + p.k * p.n + p.m * p.n) }
    }
    case 'conv2d': {
      const p = parse(paramSchemas.conv2d)
      if (p === undefined) return undefined
      const outH = Math.floor((p.height + 2 * p.padding - p.kernelH) / p.stride) + 1
      const outW = Math.floor((p.width + 2 * p.padding - p.kernelW) / p.stride) + 1
      if (outH < 1 || outW < 1) return undefined
      return {
        flops: 2n * big(p.filters, outH, outW, p.channels, p.kernelH, p.kernelW),
        bytes: 4 * (p.channels * p.height * p.width + p.filters * p.channels * p.kernelH * p.kernelW + p.filters + p.filters * outH * outW)
      }
    }
    case 'elementwise': {
      const p = parse(paramSchemas.elementwise)
      if (p === undefined) return undefined
      const binary = ['add', 'sub', 'mul', 'div', 'max', 'min'].includes(p.op)
      return { flops: big(p.n), bytes: 4 * p.n * (binary ? 3 : 2) }
    }
    case 'reduce': {
      const p = parse(paramSchemas.reduce)
      if (p === undefined) return undefined
      return { flops: big(p.rows, p.cols), bytes: 4 * (p.rows * p.cols + p.rows) }
    }
    case 'softmax': {
      const p = parse(paramSchemas.softmax)
      if (p === undefined) return undefined
      return { flops: SOFTMAX_FLOPS_PER_ELEMENT * big(p.rows, p.cols), bytes: 8 * p.rows * p.cols }
    }
    case 'layernorm': {
      const p = parse(paramSchemas.layernorm)
      if (p === undefined) return undefined
      return { flops: LAYERNORM_FLOPS_PER_ELEMENT * big(p.rows, p.cols), bytes: 4 * (2 * p.rows * p.cols + 2 * p.cols) }
    }
    default:
      return undefined
  }
}

/** GFLOP of a work estimate, as a float for limits and logs (prices use the exact bigint). */
export function gflopOf (work: TaskWork): number {
  return Number(work.flops) / 1e9
}
