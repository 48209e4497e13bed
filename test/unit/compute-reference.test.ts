import { readFileSync } from 'node:fs'
import test from 'ava'
import fc from 'fast-check'
import { bytesToF32, canonicalBytes, f32Blob, f32ToBytes, outputBlob, resultCommitment, sha256Hex } from '../../src/compute/blob.ts'
import { conv2dReference } from '../../src/compute/kernels/conv2d.ts'
import { elementwiseReference } from '../../src/compute/kernels/elementwise.ts'
import { matmulReference } from '../../src/compute/kernels/matmul.ts'
import { layernormReference, reduceReference, softmaxReference } from '../../src/compute/kernels/rowwise.ts'
import { argmaxRows, DIGIT_CLASSES, generateDigits } from '../../src/compute/model/digits.ts'
import { decodeMlp, encodeMlp } from '../../src/compute/model/weights.ts'
import { checkTask, parseTaskSpec, taskId } from '../../src/compute/task.ts'
import { ComputeError, DEFAULT_LIMITS } from '../../src/compute/types.ts'
import { DEFAULT_TOLERANCE, referenceResult, toleranceFor, verify } from '../../src/compute/verify.ts'
import { f32Task, randomValues } from '../helpers/compute.ts'

// The CPU references reproduce the GPU kernels' f32 operation order. Here they are checked against plain f64
// math: the only difference allowed is f32 rounding, bounded by terms · 2^-22 · (sum of |terms|).
const F32_EPS = 2 ** -23

function boundCheck (got: number, exact: number, absTermSum: number, terms: number): boolean {
  return Math.abs(got - exact) <= (terms + 2) * F32_EPS * 2 * absTermSum + 1e-30
}

test('matmul reference equals f64 math up to f32 rounding, odd sizes', t => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 19 }), fc.integer(), (m, k, n, seed) => {
    const a = randomValues(m * k, seed)
    const b = randomValues(k * n, seed + 1)
    const c = matmulReference(a, b, m, k, n)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let exact = 0
        let abs = 0
        for (let kk = 0; kk < k; kk++) { exact += a[i * k + kk] * b[kk * n + j]; abs += Math.abs(a[i * k + kk] * b[kk * n + j]) }
        if (!boundCheck(c[i * n + j], exact, abs, k)) return false
      }
    }
    return true
  }), { numRuns: 30 })
  t.pass()
})

test('conv2d reference equals f64 math, with stride and padding', t => {
  const p = { channels: 3, height: 9, width: 7, filters: 2, kernelH: 3, kernelW: 2, stride: 2, padding: 1 }
  const x = randomValues(3 * 9 * 7, 5)
  const w = randomValues(2 * 3 * 3 * 2, 6)
  const bias = randomValues(2, 7)
  const y = conv2dReference(p, x, w, bias)
  const outH = Math.floor((9 + 2 - 3) / 2) + 1
  const outW = Math.floor((7 + 2 - 2) / 2) + 1
  t.is(y.length, 2 * outH * outW)
  for (let f = 0; f < 2; f++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let exact = bias[f]
        let abs = Math.abs(bias[f])
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 2; kx++) {
              const iy = oy * 2 + ky - 1
              const ix = ox * 2 + kx - 1
              if (iy < 0 || iy >= 9 || ix < 0 || ix >= 7) continue
              const term = x[(c * 9 + iy) * 7 + ix] * w[((f * 3 + c) * 3 + ky) * 2 + kx]
              exact += term
              abs += Math.abs(term)
            }
          }
        }
        t.true(boundCheck(y[(f * outH + oy) * outW + ox], exact, abs, 18), `y[${f},${oy},${ox}]`)
      }
    }
  }
})

test('row references: sum, max, softmax, layernorm against f64 math', t => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 300 }), fc.integer(), (rows, cols, seed) => {
    const x = randomValues(rows * cols, seed, 4)
    const sum = reduceReference({ op: 'sum', rows, cols }, x)
    const max = reduceReference({ op: 'max', rows, cols }, x)
    const soft = softmaxReference({ rows, cols }, x)
    const gamma = randomValues(cols, seed + 1)
    const beta = randomValues(cols, seed + 2)
    const norm = layernormReference({ rows, cols, eps: 1e-5 }, x, gamma, beta)
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols))
      const exactSum = row.reduce((a, b) => a + b, 0)
      const absSum = row.reduce((a, b) => a + Math.abs(b), 0)
      if (!boundCheck(sum[r], exactSum, absSum, cols)) return false
      if (max[r] !== Math.max(...row)) return false
      const m = Math.max(...row)
      const z = row.reduce((a, v) => a + Math.exp(v - m), 0)
      for (let j = 0; j < cols; j++) if (Math.abs(soft[r * cols + j] - Math.exp(row[j] - m) / z) > 1e-6) return false
      const mean = exactSum / cols
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / cols
      for (let j = 0; j < cols; j++) {
        const exact = (row[j] - mean) / Math.sqrt(variance + 1e-5) * gamma[j] + beta[j]
        if (Math.abs(norm[r * cols + j] - exact) > 1e-4 * (1 + Math.abs(exact))) return false
      }
    }
    return true
  }), { numRuns: 25 })
  t.pass()
})

test('elementwise reference ops', t => {
  const x = new Float32Array([-2, -0.5, 0, 1.5, 3])
  const y = new Float32Array([1, 2, -1, 0.5, 4])
  t.deepEqual([...elementwiseReference('add', x, y)], [-1, 1.5, -1, 2, 7])
  t.deepEqual([...elementwiseReference('relu', x)], [0, 0, 0, 1.5, 3])
  t.deepEqual([...elementwiseReference('max', x, y)], [1, 2, 0, 1.5, 4])
  t.deepEqual([...elementwiseReference('abs', x)], [2, 0.5, 0, 1.5, 3])
  const sig = elementwiseReference('sigmoid', x)
  t.true(Math.abs(sig[2] - 0.5) < 1e-7 && Math.abs(sig[4] - 1 / (1 + Math.exp(-3))) < 1e-7)
})

test('task specs: unknown kernels, bad params, wrong input sizes and WGSL on library kernels are refused', t => {
  const code = (fn: () => unknown): string | undefined => {
    try { fn() } catch (err) { return err instanceof ComputeError ? err.code : 'other' }
    return undefined
  }
  t.is(code(() => parseTaskSpec({ v: 1, kernel: 'fft', params: {}, inputs: [] })), 'INVALID_TASK')
  t.is(code(() => parseTaskSpec({ v: 2, kernel: 'matmul', params: {}, inputs: [] })), 'INVALID_TASK')
  t.is(code(() => parseTaskSpec({ v: 1, kernel: 'matmul', params: {}, inputs: ['xyz'] })), 'INVALID_TASK')
  t.is(code(() => checkTask(f32Task('matmul', { m: 2, k: 3, n: 2 }, [randomValues(6, 1), randomValues(5, 2)]))), 'INVALID_TASK')
  t.is(code(() => checkTask(f32Task('matmul', { m: 0, k: 3, n: 2 }, [[], randomValues(6, 2)]))), 'INVALID_TASK')
  t.is(code(() => checkTask(f32Task('matmul', { m: 1, k: 1, n: 1, extra: 1 }, [[1], [1]]))), 'INVALID_TASK')
  t.is(code(() => checkTask(f32Task('elementwise', { op: 'add', n: 2 }, [[1, 2]]))), 'INVALID_TASK')
  t.is(code(() => checkTask(f32Task('reduce', { op: 'sum', rows: 1, cols: 2 }, [[1, 2]], { wgsl: 'fn main() {}' }))), 'INVALID_TASK')
  const task = f32Task('reduce', { op: 'sum', rows: 1, cols: 2 }, [[1, 2]])
  t.is(code(() => checkTask({ spec: task.spec, inputs: [f32Blob([1, 3])] })), 'INPUT_MISMATCH')
  t.is(code(() => checkTask({ spec: task.spec, inputs: [] })), 'INPUT_MISMATCH')
  t.is(code(() => checkTask(task)), undefined)
})

test('limits: oversized outputs, inputs and dispatches are refused before any GPU work', t => {
  const limitCode = (fn: () => unknown): string | undefined => {
    try { fn() } catch (err) { return err instanceof ComputeError ? `${err.code}:${String(err.meta.limit)}` : 'other' }
    return undefined
  }
  // 4096 x 8192 f32 output = 128 MiB > 64 MiB per buffer.
  t.is(limitCode(() => checkTask(f32Task('matmul', { m: 4096, k: 1, n: 8192 }, [new Float32Array(4096), new Float32Array(8192)]))), 'LIMIT_EXCEEDED:maxBufferBytes')
  t.is(limitCode(() => checkTask(f32Task('elementwise', { op: 'neg', n: 1024 }, [new Float32Array(1024)]), { ...DEFAULT_LIMITS, maxBufferBytes: 1000 })), 'LIMIT_EXCEEDED:maxBufferBytes')
  const custom = (workgroups: number[]): unknown => checkTask(f32Task('custom', { workgroups, outputs: [{ dtype: 'u32', shape: [1] }] }, [[0]], { wgsl: '@compute @workgroup_size(1) fn main() {}' }))
  t.is(limitCode(() => custom([70000, 1, 1])), 'LIMIT_EXCEEDED:maxWorkgroups')
  t.is(limitCode(() => custom([65535, 65535, 1])), 'LIMIT_EXCEEDED:maxWorkgroups')
  t.is(limitCode(() => custom([64, 64, 1])), undefined)
})

test('task ids are canonical: key order does not matter', t => {
  const a = taskId({ v: 1, kernel: 'matmul', params: { m: 1, k: 2, n: 3 }, inputs: [] })
  const b = taskId({ inputs: [], params: { n: 3, k: 2, m: 1 }, kernel: 'matmul', v: 1 })
  t.is(a, b)
  t.not(a, taskId({ v: 1, kernel: 'matmul', params: { m: 1, k: 2, n: 4 }, inputs: [] }))
})

test('commitments: NaN payloads canonicalised, shape and dtype committed', t => {
  const nanA = new Uint8Array(new Uint32Array([0x7fc00000, 0x3f800000]).buffer)
  const nanB = new Uint8Array(new Uint32Array([0x7f800001, 0x3f800000]).buffer)
  t.deepEqual(canonicalBytes(nanB, 'f32'), nanA)
  t.is(resultCommitment([outputBlob(nanA, 'f32', [2])]), resultCommitment([outputBlob(nanB, 'f32', [2])]))
  t.not(resultCommitment([outputBlob(nanA, 'f32', [2])]), resultCommitment([outputBlob(nanA, 'f32', [1, 2])]))
  t.not(resultCommitment([outputBlob(nanA, 'f32', [2])]), resultCommitment([outputBlob(nanA, 'u32', [2])]))
  // u32 data is not rewritten even when its bits look like a NaN.
  t.deepEqual(canonicalBytes(nanB, 'u32'), nanB)
  t.is(outputBlob(nanA, 'f32', [2]).id, sha256Hex(nanA))
})

test('verify: equal, within tolerance, mismatch, and disagreement with the reference', t => {
  const out = (values: number[]): { outputs: Array<{ bytes: Uint8Array, dtype: 'f32', shape: number[] }> } =>
    ({ outputs: [{ bytes: f32ToBytes(values), dtype: 'f32', shape: [values.length] }] })
  const a = out([1, 2, 3, 1000])
  t.is(verify(a, out([1, 2, 3, 1000])), 'equal')
  t.is(verify(a, out([1, 2, 3 + 3e-4, 1000])), 'within-tolerance')
  t.is(verify(a, out([1, 2, 3.5, 1000])), 'mismatch')
  t.is(verify(a, out([1, 2, 3])), 'mismatch')
  t.is(verify(a, out([1, 2, Number.NaN, 1000])), 'mismatch')
  t.is(verify(out([Number.NaN, Infinity]), out([Number.NaN, Infinity])), 'equal')
  // Two equal results that disagree with the reference are both wrong.
  t.is(verify(out([1, 2, 4, 1000]), out([1, 2, 4, 1000]), a), 'mismatch')
  t.is(verify(a, out([1, 2, 3 + 3e-4, 1000]), a), 'within-tolerance')
  // The tolerance grows with accumulation depth.
  const deep = toleranceFor({ v: 1, kernel: 'matmul', params: { m: 1, k: 4096, n: 1 }, inputs: [] })
  t.true(deep.atol > DEFAULT_TOLERANCE.atol)
})

test('verify: perturbing one element beyond the rule is always a mismatch (property)', t => {
  fc.assert(fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }), fc.nat(), (values, pick) => {
    const i = pick % values.length
    const base = { outputs: [{ bytes: f32ToBytes(values), dtype: 'f32' as const, shape: [values.length] }] }
    const changed = Float32Array.from(values)
    changed[i] = changed[i] + 1 + Math.abs(changed[i]) * 0.01
    const other = { outputs: [{ bytes: f32ToBytes(changed), dtype: 'f32' as const, shape: [values.length] }] }
    return verify(base, other) === 'mismatch' && verify(base, base) === 'equal'
  }), { numRuns: 200 })
  t.pass()
})

test('MLP weights file: round trip, and malformed files are refused with INVALID_TASK', t => {
  const model = decodeMlp(new Uint8Array(readFileSync('models/digits-mlp.hmlp')))
  t.deepEqual(model.layers.map(l => [l.inDim, l.outDim, l.activation]), [[256, 64, 'relu'], [64, 10, 'none']])
  const encoded = encodeMlp(model)
  t.deepEqual(encoded, new Uint8Array(readFileSync('models/digits-mlp.hmlp')))
  for (const bad of [encoded.slice(0, 10), encoded.slice(0, encoded.length - 4), new Uint8Array(encoded.length)]) {
    const err = t.throws(() => decodeMlp(bad), { instanceOf: ComputeError })
    t.is(err?.code, 'INVALID_TASK')
  }
  const wrongChain = encoded.slice()
  new DataView(wrongChain.buffer).setUint32(24, 63, true) // layer 1 inDim != layer 0 outDim
  t.throws(() => decodeMlp(wrongChain), { message: /does not match/ })
})

test('the shipped digit model classifies held-out generated digits (CPU reference)', t => {
  const meta = JSON.parse(readFileSync('models/digits-mlp.json', 'utf8')) as { sha256: string, heldOut: { accuracy: number } }
  const bytes = new Uint8Array(readFileSync('models/digits-mlp.hmlp'))
  t.is(sha256Hex(bytes), meta.sha256)
  // A fresh seed the training script never used.
  const set = generateDigits(500, 777)
  const task = { spec: { v: 1 as const, kernel: 'mlp' as const, params: { batch: 500 }, inputs: [sha256Hex(bytes), f32Blob(set.images).id] }, inputs: [{ id: sha256Hex(bytes), bytes }, f32Blob(set.images)] }
  const result = referenceResult(task)
  const predicted = argmaxRows(bytesToF32(result.outputs[0].bytes), 500, DIGIT_CLASSES)
  const correct = predicted.filter((p, i) => p === set.labels[i]).length
  t.log(`reference accuracy on 500 fresh digits: ${(correct / 5).toFixed(1)}% (training script reported ${(meta.heldOut.accuracy * 100).toFixed(1)}% held-out)`)
  t.true(correct / 500 > 0.85)
})
