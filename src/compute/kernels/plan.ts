import type { DType } from '../types.ts'

/**
 * A GPU plan: the buffers a task needs and the compute passes that run over them, in order, in one command
 * encoder. Kernels build plans from validated tasks; the device runner (`gpu-runner.ts`) executes them. Plans
 * are plain data so a kernel's dispatch geometry can be checked without a GPU.
 */
export interface PlanBuffer {
  bytes: number
  /** Initial contents (inputs, weights); zero-filled otherwise. */
  init?: Uint8Array
}

export type BindingKind = 'read-only-storage' | 'storage' | 'uniform'

export interface PlanBinding {
  /** Index into `buffers`. */
  buffer: number
  kind: BindingKind
}

export interface PlanPass {
  /** WGSL source; pipelines are cached by source and entry point. */
  wgsl: string
  entryPoint: string
  /** Binding i of group 0 is `bindings[i]`. */
  bindings: PlanBinding[]
  workgroups: [number, number, number]
  /** Loop iterations one invocation runs (all loops together), when the kernel knows it. */
  loopIterations?: number
}

export interface PlanOutput {
  buffer: number
  dtype: DType
  shape: number[]
}

export interface GpuPlan {
  buffers: PlanBuffer[]
  passes: PlanPass[]
  outputs: PlanOutput[]
  /** Largest workgroup (invocations) any pass uses; the device is asked for at least this. */
  maxInvocations: number
}

/** 1-D work spread over a 2-D grid of workgroups when it needs more than 65535 of them. */
export function grid1d (items: number, workgroupSize: number, maxPerDimension = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(items / workgroupSize))
  const x = Math.min(groups, maxPerDimension)
  const y = Math.ceil(groups / x)
  return [x, y, 1]
}

/** WGSL snippet: the flat invocation index for `grid1d` (needs `wid`, `lid`, `nwg` builtins and WG constant). */
export const FLAT_INDEX_WGSL = '(wid.y * nwg.x + wid.x) * WG + lid.x'

/** A uniform buffer of u32/f32 words (16-byte padded, as uniform structs need). */
export function uniformWords (words: Array<{ u32: number } | { f32: number }>): Uint8Array {
  const padded = Math.ceil(Math.max(words.length, 1) / 4) * 4
  const out = new Uint8Array(padded * 4)
  const view = new DataView(out.buffer)
  words.forEach((word, i) => {
    if ('u32' in word) view.setUint32(i * 4, word.u32, true)
    else view.setFloat32(i * 4, word.f32, true)
  })
  return out
}
