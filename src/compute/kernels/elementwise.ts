import { BINARY_OPS, type ElementwiseOp, type ElementwiseParams } from '../task.ts'
import { FLAT_INDEX_WGSL, type GpuPlan, grid1d, uniformWords } from './plan.ts'

/**
 * Elementwise f32 ops, one invocation per element, or per vec4 of elements when n is a multiple of 4 (on
 * llvmpipe the vec4 form moves memory about 5x faster; each component is still computed on its own, so the
 * two forms give equal bits). Exact ops (add, sub, mul, max, min, relu, neg, abs) are bit-equal to the
 * reference on IEEE adapters; div, exp, tanh and sigmoid carry WGSL's stated ULP error.
 */
const WG = 64

const EXPRESSIONS: Record<ElementwiseOp, string> = {
  add: 'x[i] + y[i]',
  sub: 'x[i] - y[i]',
  mul: 'x[i] * y[i]',
  div: 'x[i] / y[i]',
  max: 'max(x[i], y[i])',
  min: 'min(x[i], y[i])',
  relu: 'max(x[i], T(0.0))',
  sigmoid: '1.0 / (1.0 + exp(-x[i]))',
  tanh: 'tanh(x[i])',
  exp: 'exp(x[i])',
  neg: '-x[i]',
  abs: 'abs(x[i])'
}

export function isBinary (op: ElementwiseOp): boolean {
  return (BINARY_OPS as readonly string[]).includes(op)
}

export function elementwiseWgsl (op: ElementwiseOp, vec4 = false): string {
  const binary = isBinary(op)
  return /* wgsl */ `
alias T = ${vec4 ? 'vec4<f32>' : 'f32'};
const WG: u32 = ${WG}u;
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<T>;
${binary ? '@group(0) @binding(1) var<storage, read> y: array<T>;' : ''}
@group(0) @binding(${binary ? 2 : 1}) var<storage, read_write> out: array<T>;
@group(0) @binding(${binary ? 3 : 2}) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${FLAT_INDEX_WGSL};
  if (i < p.n) { out[i] = ${EXPRESSIONS[op]}; }
}
`
}

export function elementwisePlan (p: ElementwiseParams, inputs: Uint8Array[]): GpuPlan {
  const binary = isBinary(p.op)
  const vec4 = p.n % 4 === 0
  const items = vec4 ? p.n / 4 : p.n
  const buffers: GpuPlan['buffers'] = inputs.map(init => ({ bytes: init.byteLength, init }))
  const out = buffers.push({ bytes: p.n * 4 }) - 1
  const uniform = buffers.push({ bytes: 16, init: uniformWords([{ u32: items }]) }) - 1
  const bindings: GpuPlan['passes'][number]['bindings'] = [{ buffer: 0, kind: 'read-only-storage' }]
  if (binary) bindings.push({ buffer: 1, kind: 'read-only-storage' })
  bindings.push({ buffer: out, kind: 'storage' }, { buffer: uniform, kind: 'uniform' })
  return {
    buffers,
    passes: [{ wgsl: elementwiseWgsl(p.op, vec4), entryPoint: 'main', bindings, workgroups: grid1d(items, WG) }],
    outputs: [{ buffer: out, dtype: 'f32', shape: [p.n] }],
    maxInvocations: WG
  }
}

export function elementwiseReference (op: ElementwiseOp, x: Float32Array, y?: Float32Array): Float32Array {
  const out = new Float32Array(x.length)
  const f = Math.fround
  const b = y ?? x
  for (let i = 0; i < x.length; i++) {
    const a = x[i]
    switch (op) {
      case 'add': out[i] = a + b[i]; break
      case 'sub': out[i] = a - b[i]; break
      case 'mul': out[i] = a * b[i]; break
      case 'div': out[i] = a / b[i]; break
      case 'max': out[i] = Math.max(a, b[i]); break
      case 'min': out[i] = Math.min(a, b[i]); break
      case 'relu': out[i] = Math.max(a, 0); break
      case 'sigmoid': out[i] = 1 / f(1 + f(Math.exp(-a))); break
      case 'tanh': out[i] = Math.tanh(a); break
      case 'exp': out[i] = Math.exp(a); break
      case 'neg': out[i] = -a; break
      case 'abs': out[i] = Math.abs(a); break
    }
  }
  return out
}
