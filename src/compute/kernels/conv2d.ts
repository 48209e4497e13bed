import type { Conv2dParams } from '../task.ts'
import { FLAT_INDEX_WGSL, type GpuPlan, grid1d, uniformWords } from './plan.ts'

/**
 * Direct 2-D convolution (cross-correlation, as in ML frameworks), one invocation per output element.
 * x: [channels][height][width], w: [filters][channels][kernelH][kernelW], bias: [filters] -> y: [filters][outH][outW].
 * Fixed order: acc = 0; for c, for ky, for kx (skipping taps in the zero padding): acc += x * w; then + bias.
 */
const WG = 64

export const CONV2D_WGSL = /* wgsl */ `
const WG: u32 = ${WG}u;
struct Params { c: u32, h: u32, w: u32, f: u32, kh: u32, kw: u32, stride: u32, pad: u32, oh: u32, ow: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${FLAT_INDEX_WGSL};
  if (i >= p.f * p.oh * p.ow) { return; }
  let f = i / (p.oh * p.ow);
  let oy = (i / p.ow) % p.oh;
  let ox = i % p.ow;
  var acc: f32 = 0.0;
  for (var c: u32 = 0u; c < p.c; c++) {
    for (var ky: u32 = 0u; ky < p.kh; ky++) {
      let iy = i32(oy * p.stride + ky) - i32(p.pad);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      for (var kx: u32 = 0u; kx < p.kw; kx++) {
        let ix = i32(ox * p.stride + kx) - i32(p.pad);
        if (ix < 0 || ix >= i32(p.w)) { continue; }
        acc = acc + x[(c * p.h + u32(iy)) * p.w + u32(ix)] * wt[((f * p.c + c) * p.kh + ky) * p.kw + kx];
      }
    }
  }
  y[i] = acc + bias[f];
}
`

export function conv2dOutputSize (p: Conv2dParams): { outH: number, outW: number } {
  return {
    outH: Math.floor((p.height + 2 * p.padding - p.kernelH) / p.stride) + 1,
    outW: Math.floor((p.width + 2 * p.padding - p.kernelW) / p.stride) + 1
  }
}

export function conv2dPlan (p: Conv2dParams, inputs: Uint8Array[]): GpuPlan {
  const { outH, outW } = conv2dOutputSize(p)
  const total = p.filters * outH * outW
  const params = [p.channels, p.height, p.width, p.filters, p.kernelH, p.kernelW, p.stride, p.padding, outH, outW]
  return {
    buffers: [
      { bytes: inputs[0].byteLength, init: inputs[0] },
      { bytes: inputs[1].byteLength, init: inputs[1] },
      { bytes: inputs[2].byteLength, init: inputs[2] },
      { bytes: total * 4 },
      { bytes: 48, init: uniformWords(params.map(u32 => ({ u32 }))) }
    ],
    passes: [{
      wgsl: CONV2D_WGSL,
      entryPoint: 'main',
      bindings: [
        { buffer: 0, kind: 'read-only-storage' },
        { buffer: 1, kind: 'read-only-storage' },
        { buffer: 2, kind: 'read-only-storage' },
        { buffer: 3, kind: 'storage' },
        { buffer: 4, kind: 'uniform' }
      ],
      workgroups: grid1d(total, WG),
      loopIterations: p.channels * (1 + p.kernelH * (1 + p.kernelW))
    }],
    outputs: [{ buffer: 3, dtype: 'f32', shape: [p.filters, outH, outW] }],
    maxInvocations: WG
  }
}

export function conv2dReference (p: Conv2dParams, x: Float32Array, w: Float32Array, bias: Float32Array): Float32Array {
  const { outH, outW } = conv2dOutputSize(p)
  const y = new Float32Array(p.filters * outH * outW)
  const f32 = Math.fround
  for (let f = 0; f < p.filters; f++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let acc = 0
        for (let c = 0; c < p.channels; c++) {
          for (let ky = 0; ky < p.kernelH; ky++) {
            const iy = oy * p.stride + ky - p.padding
            if (iy < 0 || iy >= p.height) continue
            for (let kx = 0; kx < p.kernelW; kx++) {
              const ix = ox * p.stride + kx - p.padding
              if (ix < 0 || ix >= p.width) continue
              acc = f32(acc + f32(x[(c * p.height + iy) * p.width + ix] * w[((f * p.channels + c) * p.kernelH + ky) * p.kernelW + kx]))
            }
          }
        }
        y[(f * outH + oy) * outW + ox] = acc + bias[f]
      }
    }
  }
  return y
}
