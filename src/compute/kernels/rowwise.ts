import type { LayernormParams, ReduceParams, SoftmaxParams } from '../task.ts'
import { type GpuPlan, grid1d, uniformWords } from './plan.ts'

/**
 * Row-wise kernels (reduce sum/max, softmax, layer norm) over a [rows][cols] f32 matrix, one workgroup per row.
 *
 * Fixed reduction order (part of the execution profile, reproduced exactly by the references below): lane
 * l of LANES = 64 folds elements l, l+64, l+128, ... of its row in increasing order starting from the identity
 * (0 for sum, -inf for max); then a pairwise tree: for s = 32, 16, ..., 1, lane l < s takes
 * op(v[l], v[l+s]). IEEE f32 add is correctly rounded, so a sum is bit-identical on every conforming adapter.
 */
export const LANES = 64
const NEG_INF_BITS = 0xff800000

const PRELUDE = /* wgsl */ `
const LANES: u32 = ${LANES}u;
struct Params { rows: u32, cols: u32, eps: f32, negInf: f32 }
// Two scratch slots: a kernel's second reduction writes slot 1 so it can never overwrite the result of the
// first. (On Mesa llvmpipe, reusing one slot gave wrong layer-norm variances: the first result was read after
// the second reduction had started writing.)
var<workgroup> scratch: array<f32, ${2 * LANES}>;

fn treeSum(lane: u32, v: f32, slot: u32) -> f32 {
  let o = slot * LANES;
  scratch[o + lane] = v;
  workgroupBarrier();
  for (var s: u32 = LANES / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) { scratch[o + lane] = scratch[o + lane] + scratch[o + lane + s]; }
    workgroupBarrier();
  }
  let r = scratch[o];
  workgroupBarrier();
  return r;
}

fn treeMax(lane: u32, v: f32, slot: u32) -> f32 {
  let o = slot * LANES;
  scratch[o + lane] = v;
  workgroupBarrier();
  for (var s: u32 = LANES / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) { scratch[o + lane] = max(scratch[o + lane], scratch[o + lane + s]); }
    workgroupBarrier();
  }
  let r = scratch[o];
  workgroupBarrier();
  return r;
}
`

const ENTRY = '@compute @workgroup_size(64)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {\n  let row = wid.y * nwg.x + wid.x;\n  if (row >= p.rows) { return; }\n  let lane = lid.x;\n  let base = row * p.cols;\n'

export const REDUCE_SUM_WGSL = `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${ENTRY}
  var acc: f32 = 0.0;
  for (var j = lane; j < p.cols; j += LANES) { acc = acc + x[base + j]; }
  let r = treeSum(lane, acc, 0u);
  if (lane == 0u) { y[row] = r; }
}
`

export const REDUCE_MAX_WGSL = `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${ENTRY}
  var acc: f32 = p.negInf;
  for (var j = lane; j < p.cols; j += LANES) { acc = max(acc, x[base + j]); }
  let r = treeMax(lane, acc, 0u);
  if (lane == 0u) { y[row] = r; }
}
`

export const SOFTMAX_WGSL = `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
${ENTRY}
  var m: f32 = p.negInf;
  for (var j = lane; j < p.cols; j += LANES) { m = max(m, x[base + j]); }
  let rowMax = treeMax(lane, m, 0u);
  var s: f32 = 0.0;
  for (var j = lane; j < p.cols; j += LANES) { s = s + exp(x[base + j] - rowMax); }
  let total = treeSum(lane, s, 1u);
  for (var j = lane; j < p.cols; j += LANES) { y[base + j] = exp(x[base + j] - rowMax) / total; }
}
`

export const LAYERNORM_WGSL = `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
${ENTRY}
  let n = f32(p.cols);
  var s: f32 = 0.0;
  for (var j = lane; j < p.cols; j += LANES) { s = s + x[base + j]; }
  let mean = treeSum(lane, s, 0u) / n;
  var q: f32 = 0.0;
  for (var j = lane; j < p.cols; j += LANES) { let d = x[base + j] - mean; q = q + d * d; }
  let variance = treeSum(lane, q, 1u) / n;
  let inv = inverseSqrt(variance + p.eps);
  for (var j = lane; j < p.cols; j += LANES) { y[base + j] = (x[base + j] - mean) * inv * gamma[j] + beta[j]; }
}
`

function params (rows: number, cols: number, eps = 0): Uint8Array {
  const out = uniformWords([{ u32: rows }, { u32: cols }, { f32: eps }, { u32: 0 }])
  new DataView(out.buffer).setUint32(12, NEG_INF_BITS, true)
  return out
}

function rowPlan (wgsl: string, rows: number, cols: number, inputs: Uint8Array[], outFloats: number, passesOverRow: number, eps?: number): GpuPlan {
  const buffers: GpuPlan['buffers'] = inputs.map(init => ({ bytes: init.byteLength, init }))
  const out = buffers.push({ bytes: outFloats * 4 }) - 1
  const uniform = buffers.push({ bytes: 16, init: params(rows, cols, eps) }) - 1
  return {
    buffers,
    passes: [{
      wgsl,
      entryPoint: 'main',
      bindings: [
        ...inputs.map((_, i) => ({ buffer: i, kind: 'read-only-storage' as const })),
        { buffer: out, kind: 'storage' },
        { buffer: uniform, kind: 'uniform' }
      ],
      workgroups: grid1d(rows, 1),
      loopIterations: passesOverRow * (Math.ceil(cols / LANES) + Math.log2(LANES))
    }],
    outputs: [{ buffer: out, dtype: 'f32', shape: outFloats === rows ? [rows] : [rows, cols] }],
    maxInvocations: LANES
  }
}

export function reducePlan (p: ReduceParams, inputs: Uint8Array[]): GpuPlan {
  return rowPlan(p.op === 'sum' ? REDUCE_SUM_WGSL : REDUCE_MAX_WGSL, p.rows, p.cols, inputs, p.rows, 1)
}

export function softmaxPlan (p: SoftmaxParams, inputs: Uint8Array[]): GpuPlan {
  return rowPlan(SOFTMAX_WGSL, p.rows, p.cols, inputs, p.rows * p.cols, 3)
}

export function layernormPlan (p: LayernormParams, inputs: Uint8Array[]): GpuPlan {
  return rowPlan(LAYERNORM_WGSL, p.rows, p.cols, inputs, p.rows * p.cols, 3, p.eps)
}

// ---- CPU references: the same lanes and tree, f32 rounding after every operation ----

const f32 = Math.fround

function laneFold (x: Float32Array, base: number, cols: number, init: number, op: (acc: number, v: number) => number): Float64Array {
  const lanes = new Float64Array(LANES).fill(init)
  for (let lane = 0; lane < LANES; lane++) {
    let acc = init
    for (let j = lane; j < cols; j += LANES) acc = op(acc, x[base + j])
    lanes[lane] = acc
  }
  return lanes
}

function tree (lanes: Float64Array, op: (a: number, b: number) => number): number {
  for (let s = LANES / 2; s > 0; s >>= 1) {
    for (let lane = 0; lane < s; lane++) lanes[lane] = op(lanes[lane], lanes[lane + s])
  }
  return lanes[0]
}

const add = (a: number, b: number): number => f32(a + b)
const max = (a: number, b: number): number => Math.max(a, b)

export function reduceReference (p: ReduceParams, x: Float32Array): Float32Array {
  const out = new Float32Array(p.rows)
  for (let r = 0; r < p.rows; r++) {
    out[r] = p.op === 'sum'
      ? tree(laneFold(x, r * p.cols, p.cols, 0, add), add)
      : tree(laneFold(x, r * p.cols, p.cols, -Infinity, max), max)
  }
  return out
}

export function softmaxReference (p: SoftmaxParams, x: Float32Array): Float32Array {
  const out = new Float32Array(p.rows * p.cols)
  for (let r = 0; r < p.rows; r++) {
    const base = r * p.cols
    const rowMax = tree(laneFold(x, base, p.cols, -Infinity, max), max)
    const total = tree(laneFold(x, base, p.cols, 0, (acc, v) => f32(acc + f32(Math.exp(f32(v - rowMax))))), add)
    for (let j = 0; j < p.cols; j++) out[base + j] = f32(Math.exp(f32(x[base + j] - rowMax))) / total
  }
  return out
}

export function layernormReference (p: LayernormParams, x: Float32Array, gamma: Float32Array, beta: Float32Array): Float32Array {
  const out = new Float32Array(p.rows * p.cols)
  const n = f32(p.cols)
  const eps = f32(p.eps)
  for (let r = 0; r < p.rows; r++) {
    const base = r * p.cols
    const mean = f32(tree(laneFold(x, base, p.cols, 0, add), add) / n)
    const variance = f32(tree(laneFold(x, base, p.cols, 0, (acc, v) => { const d = f32(v - mean); return f32(acc + f32(d * d)) }), add) / n)
    const inv = f32(1 / Math.sqrt(f32(variance + eps)))
    for (let j = 0; j < p.cols; j++) out[base + j] = f32(f32(f32(x[base + j] - mean) * inv) * gamma[j]) + beta[j]
  }
  return out
}
