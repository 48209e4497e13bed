import type { GpuPlan } from './plan.ts'

/**
 * An ALU-bound kernel for the capability benchmark: every invocation runs PEAK_ITERATIONS iterations of 8
 * independent vec4 multiply-adds in registers (no memory traffic), so its rate is the device's achievable fp32
 * peak. The iteration count stays under llvmpipe's 65535-iteration loop cap.
 */
export const PEAK_ITERATIONS = 1024
const WG = 64
// Per invocation: iterations x 8 vec4 multiply-adds x 4 lanes x 2 flops.
export const PEAK_FLOPS_PER_INVOCATION = PEAK_ITERATIONS * 8 * 4 * 2

const PEAK_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let seed = f32(gid.x) * 1e-7;
  var a0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
  var a1 = a0 + 0.01;
  var a2 = a0 + 0.02;
  var a3 = a0 + 0.03;
  var a4 = a0 + 0.04;
  var a5 = a0 + 0.05;
  var a6 = a0 + 0.06;
  var a7 = a0 + 0.07;
  let m = vec4<f32>(0.9999);
  let c = vec4<f32>(0.0001);
  for (var i: u32 = 0u; i < ${PEAK_ITERATIONS}u; i++) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
  }
  out[gid.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
`

/** The most workgroups one dispatch of the peak kernel may use (one grid dimension). */
export const MAX_PEAK_WORKGROUPS = 65_535

/** `workgroups` groups of 64 invocations (at most MAX_PEAK_WORKGROUPS). */
export function peakPlan (workgroups: number): GpuPlan {
  return {
    buffers: [{ bytes: workgroups * WG * 16 }],
    passes: [{ wgsl: PEAK_WGSL, entryPoint: 'main', bindings: [{ buffer: 0, kind: 'storage' }], workgroups: [workgroups, 1, 1], loopIterations: PEAK_ITERATIONS }],
    outputs: [],
    maxInvocations: WG
  }
}

export function peakFlops (workgroups: number): number {
  return workgroups * WG * PEAK_FLOPS_PER_INVOCATION
}

/** The same multiply-add chains in TypeScript on one CPU core: the benchmark's baseline. */
export function cpuPeakGflops (iterations = 2_000_000): number {
  let a0 = 0.1; let a1 = 0.2; let a2 = 0.3; let a3 = 0.4; let a4 = 0.5; let a5 = 0.6; let a6 = 0.7; let a7 = 0.8
  const m = 0.9999
  const c = 0.0001
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c
  }
  const ms = performance.now() - started
  // Keep the result observable so the loop cannot be removed.
  if (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 === 42) throw new Error('unreachable')
  return (iterations * 8 * 2) / ms / 1e6
}
