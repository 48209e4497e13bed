import { bytesToF32 } from '../blob.ts'
import { ACTIVATIONS, type Activation, type MlpModel } from '../model/weights.ts'
import type { MatmulParams } from '../task.ts'
import { type GpuPlan, type PlanPass, uniformWords } from './plan.ts'

/**
 * Tiled, register-blocked f32 matmul C[m][n] = A[m][k] · B[k][n] (+ bias[n], then an activation: the dense
 * layer of an MLP). A workgroup of 8x8 invocations computes a 32x32 tile of C; each invocation a 4x4 block,
 * held as four vec4 accumulators, with 32x32 tiles of A and B staged in workgroup memory. (On llvmpipe this is
 * 5-8x faster than one output per invocation in 16x16 tiles, measured at 256 and 512.)
 *
 * Fixed order (part of the execution profile): each output is one accumulator, summed in k order 0, 1, ...,
 * k-1, one rounded multiply and one rounded add per step, then, when k is not a multiple of the tile, `+ 0`
 * for the zero padding (which only turns -0 into +0). Then bias, then the activation.
 */
export const MATMUL_TILE = 32
const BLOCK = 4
const THREADS = MATMUL_TILE / BLOCK // 8 x 8 invocations

export const MATMUL_WGSL = /* wgsl */ `
const T: u32 = ${MATMUL_TILE}u;
struct Params { m: u32, k: u32, n: u32, flags: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
// As: [32 rows][32 k]; Bs: [32 k][8 vec4 columns]
var<workgroup> As: array<f32, ${MATMUL_TILE * MATMUL_TILE}>;
var<workgroup> Bs: array<vec4<f32>, ${(MATMUL_TILE * MATMUL_TILE) / 4}>;

fn epilogue(row: u32, col: u32, acc: f32) {
  if (row >= p.m || col >= p.n) { return; }
  var v = acc;
  if ((p.flags & 1u) != 0u) { v = v + bias[col]; }
  let act = p.flags >> 8u;
  if (act == 1u) { v = max(v, 0.0); }
  else if (act == 2u) { v = tanh(v); }
  else if (act == 3u) { v = 1.0 / (1.0 + exp(-v)); }
  c[row * p.n + col] = v;
}

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * ${THREADS}u + lid.x;
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let tiles = (p.k + T - 1u) / T;
  for (var t: u32 = 0u; t < tiles; t++) {
    for (var e: u32 = 0u; e < ${(MATMUL_TILE * MATMUL_TILE) / (THREADS * THREADS)}u; e++) {
      let idx = e * ${THREADS * THREADS}u + tid;
      let r = idx / T;
      let q = idx % T;
      let ak = t * T + q;
      var av: f32 = 0.0;
      if (row0 + r < p.m && ak < p.k) { av = a[(row0 + r) * p.k + ak]; }
      As[idx] = av;
      let bk = t * T + r;
      var bv: f32 = 0.0;
      if (bk < p.k && col0 + q < p.n) { bv = b[bk * p.n + col0 + q]; }
      Bs[r * ${THREADS}u + q / 4u][q % 4u] = bv;
    }
    workgroupBarrier();
    for (var kk: u32 = 0u; kk < T; kk++) {
      let bv = Bs[kk * ${THREADS}u + lid.x];
      let ar = lid.y * 4u * T + kk;
      acc0 = acc0 + As[ar] * bv;
      acc1 = acc1 + As[ar + T] * bv;
      acc2 = acc2 + As[ar + 2u * T] * bv;
      acc3 = acc3 + As[ar + 3u * T] * bv;
    }
    workgroupBarrier();
  }
  let row = row0 + lid.y * 4u;
  let col = col0 + lid.x * 4u;
  for (var j: u32 = 0u; j < 4u; j++) {
    epilogue(row, col + j, acc0[j]);
    epilogue(row + 1u, col + j, acc1[j]);
    epilogue(row + 2u, col + j, acc2[j]);
    epilogue(row + 3u, col + j, acc3[j]);
  }
}
`

function densePass (a: number, b: number, bias: number, c: number, m: number, k: number, n: number, uniform: number): PlanPass {
  return {
    wgsl: MATMUL_WGSL,
    entryPoint: 'main',
    bindings: [
      { buffer: a, kind: 'read-only-storage' },
      { buffer: b, kind: 'read-only-storage' },
      { buffer: bias, kind: 'read-only-storage' },
      { buffer: c, kind: 'storage' },
      { buffer: uniform, kind: 'uniform' }
    ],
    workgroups: [Math.ceil(n / MATMUL_TILE), Math.ceil(m / MATMUL_TILE), 1],
    loopIterations: Math.ceil(k / MATMUL_TILE) * (MATMUL_TILE + (MATMUL_TILE * MATMUL_TILE) / (THREADS * THREADS)) + BLOCK
  }
}

function flagsFor (hasBias: boolean, activation: Activation): number {
  return (hasBias ? 1 : 0) | (ACTIVATIONS.indexOf(activation) << 8)
}

export function matmulPlan (p: MatmulParams, inputs: Uint8Array[]): GpuPlan {
  const { m, k, n } = p
  return {
    buffers: [
      { bytes: m * k * 4, init: inputs[0] },
      { bytes: k * n * 4, init: inputs[1] },
      { bytes: 4 }, // no bias
      { bytes: m * n * 4 },
      { bytes: 16, init: uniformWords([{ u32: m }, { u32: k }, { u32: n }, { u32: flagsFor(false, 'none') }]) }
    ],
    passes: [densePass(0, 1, 2, 3, m, k, n, 4)],
    outputs: [{ buffer: 3, dtype: 'f32', shape: [m, n] }],
    maxInvocations: THREADS * THREADS
  }
}

/** One dense pass per layer, activations chained through scratch buffers, all in one submission. */
export function mlpPlan (model: MlpModel, batch: number, x: Uint8Array): GpuPlan {
  const buffers: GpuPlan['buffers'] = [{ bytes: x.byteLength, init: x }]
  const passes: PlanPass[] = []
  let current = 0
  for (const layer of model.layers) {
    const w = buffers.push({ bytes: layer.weights.byteLength, init: new Uint8Array(layer.weights.buffer, layer.weights.byteOffset, layer.weights.byteLength) }) - 1
    const b = buffers.push({ bytes: layer.bias.byteLength, init: new Uint8Array(layer.bias.buffer, layer.bias.byteOffset, layer.bias.byteLength) }) - 1
    const out = buffers.push({ bytes: batch * layer.outDim * 4 }) - 1
    const u = buffers.push({ bytes: 16, init: uniformWords([{ u32: batch }, { u32: layer.inDim }, { u32: layer.outDim }, { u32: flagsFor(true, layer.activation) }]) }) - 1
    passes.push(densePass(current, w, b, out, batch, layer.inDim, layer.outDim, u))
    current = out
  }
  const outDim = model.layers[model.layers.length - 1].outDim
  return { buffers, passes, outputs: [{ buffer: current, dtype: 'f32', shape: [batch, outDim] }], maxInvocations: THREADS * THREADS }
}

/** CPU reference with the kernel's exact operation order (f32 rounding after every operation). */
export function matmulReference (a: Float32Array, b: Float32Array, m: number, k: number, n: number, bias?: Float32Array, activation: Activation = 'none'): Float32Array {
  const c = new Float32Array(m * n)
  const padded = k % MATMUL_TILE !== 0
  for (let i = 0; i < m; i++) {
    // Row accumulators in a Float32Array: every store rounds to f32, as the GPU's f32 register does.
    const acc = c.subarray(i * n, (i + 1) * n)
    for (let kk = 0; kk < k; kk++) {
      const av = a[i * k + kk]
      const bRow = kk * n
      for (let j = 0; j < n; j++) acc[j] = acc[j] + Math.fround(av * b[bRow + j])
    }
    for (let j = 0; j < n; j++) {
      let v = padded ? Math.fround(acc[j] + 0) : acc[j]
      if (bias !== undefined) v = Math.fround(v + bias[j])
      acc[j] = activate(v, activation)
    }
  }
  return c
}

export function activate (v: number, activation: Activation): number {
  switch (activation) {
    case 'none': return v
    case 'relu': return Math.max(v, 0)
    case 'tanh': return Math.fround(Math.tanh(v))
    case 'sigmoid': return Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-v))))
  }
}

export function mlpReference (model: MlpModel, batch: number, x: Float32Array): Float32Array {
  let current = x
  for (const layer of model.layers) {
    current = matmulReference(current, layer.weights, batch, layer.inDim, layer.outDim, layer.bias, layer.activation)
  }
  return current
}

export function matmulReferenceFromBytes (p: MatmulParams, inputs: Uint8Array[]): Float32Array {
  return matmulReference(bytesToF32(inputs[0]), bytesToF32(inputs[1]), p.m, p.k, p.n)
}
