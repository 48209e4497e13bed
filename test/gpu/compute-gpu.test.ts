import { readFileSync } from 'node:fs'
import test from 'ava'
import fc from 'fast-check'
import { runGpuBench } from '../../src/compute/bench.ts'
import { bytesToF32, f32Blob, makeBlob, sha256Hex } from '../../src/compute/blob.ts'
import { argmaxRows, DIGIT_CLASSES, generateDigits } from '../../src/compute/model/digits.ts'
import { BINARY_OPS, UNARY_OPS } from '../../src/compute/task.ts'
import { ComputeError, type ComputeTask, type TaskResult } from '../../src/compute/types.ts'
import { referenceResult, toleranceFor, verify } from '../../src/compute/verify.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { f32Task, openGpuExecutor, randomValues } from '../helpers/compute.ts'

// WebGPU tests, on the machine's GPU or on the software GPU (Dawn + Mesa llvmpipe). With CI=true a missing
// adapter fails the run; elsewhere these tests are skipped with the reason printed.
const opened = await openGpuExecutor()
const ci = process.env.CI === 'true'
const gpuTest = 'executor' in opened || ci ? test.serial : test.serial.skip
if (!('executor' in opened)) {
  if (ci) {
    test('a WebGPU adapter is available (CI=true)', t => {
      t.fail(`no WebGPU adapter: ${opened.reason}`)
    })
  } else {
    console.warn(`compute-gpu tests skipped: no WebGPU adapter (${opened.reason})`)
  }
}

function executor (): NonNullable<Extract<typeof opened, { executor: unknown }>['executor']> {
  if (!('executor' in opened)) throw new Error(`no WebGPU adapter: ${opened.reason}`)
  return opened.executor
}

test.after.always(async () => {
  if ('executor' in opened) await opened.executor.close()
})

/** Runs a task on the executor and on the CPU reference; the verdict must not be a mismatch. */
async function againstReference (task: ComputeTask): Promise<{ gpu: TaskResult, verdict: string }> {
  const gpu = await executor().run(task)
  const ref = referenceResult(task)
  const verdict = verify(gpu, ref, ref, toleranceFor(task.spec, task.inputs.map(b => b.bytes)))
  return { gpu, verdict }
}

gpuTest('reports its adapter', t => {
  const info = executor().info()
  t.true(info.kind === 'gpu' || info.kind === 'software')
  t.truthy(info.adapter.description)
  t.log(`${info.kind}: ${info.adapter.description} (${info.adapter.backend}, ${info.adapter.featureLevel})`)
})

gpuTest('matmul matches the CPU reference on random odd shapes', async t => {
  const verdicts: string[] = []
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer(), async (m, k, n, seed) => {
    const { verdict } = await againstReference(f32Task('matmul', { m, k, n }, [randomValues(m * k, seed), randomValues(k * n, seed ^ 1)]))
    verdicts.push(verdict)
    return verdict !== 'mismatch'
  }), { numRuns: 12 })
  t.log(`verdicts: ${verdicts.join(', ')}`)
  const { verdict } = await againstReference(f32Task('matmul', { m: 129, k: 67, n: 33 }, [randomValues(129 * 67, 3), randomValues(67 * 33, 4)]))
  t.not(verdict, 'mismatch')
})

gpuTest('conv2d matches the CPU reference with padding and stride', async t => {
  await fc.assert(fc.asyncProperty(
    fc.record({
      channels: fc.integer({ min: 1, max: 4 }),
      height: fc.integer({ min: 3, max: 19 }),
      width: fc.integer({ min: 3, max: 17 }),
      filters: fc.integer({ min: 1, max: 5 }),
      kernelH: fc.integer({ min: 1, max: 3 }),
      kernelW: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 2 }),
      padding: fc.integer({ min: 0, max: 1 })
    }),
    fc.integer(),
    async (p, seed) => {
      const x = randomValues(p.channels * p.height * p.width, seed)
      const w = randomValues(p.filters * p.channels * p.kernelH * p.kernelW, seed ^ 1)
      const b = randomValues(p.filters, seed ^ 2)
      const { verdict } = await againstReference(f32Task('conv2d', p, [x, w, b]))
      return verdict !== 'mismatch'
    }), { numRuns: 8 })
  t.pass()
})

gpuTest('elementwise ops match the CPU reference', async t => {
  for (const op of [...UNARY_OPS, ...BINARY_OPS]) {
    // 1001: the scalar kernel with a partial last workgroup; 1004: the vec4 kernel.
    for (const n of [1001, 1004]) {
      const inputs = (BINARY_OPS as readonly string[]).includes(op)
        ? [randomValues(n, op.length, 5), randomValues(n, 99, 5).map(v => (Math.abs(v) < 0.1 ? 0.5 : v))]
        : [randomValues(n, op.length, 5)]
      const { verdict } = await againstReference(f32Task('elementwise', { op, n }, inputs))
      t.not(verdict, 'mismatch', `${op} n=${n}`)
    }
  }
})

gpuTest('reductions: sum and max in fixed order are bit-identical to the reference', async t => {
  for (const [rows, cols] of [[1, 1], [3, 63], [5, 65], [2, 1000], [17, 129]]) {
    for (const op of ['sum', 'max'] as const) {
      const { gpu, verdict } = await againstReference(f32Task('reduce', { op, rows, cols }, [randomValues(rows * cols, rows * 31 + cols, 10)]))
      // IEEE f32 add and max are exact operations; with one fixed order every conforming adapter gives equal bits.
      t.is(verdict, 'equal', `${op} ${rows}x${cols}`)
      t.deepEqual(gpu.outputs[0].shape, [rows])
    }
  }
})

gpuTest('softmax and layernorm match the CPU reference', async t => {
  for (const [rows, cols] of [[1, 7], [4, 64], [3, 257], [9, 33]]) {
    const x = randomValues(rows * cols, rows + cols, 6)
    const soft = await againstReference(f32Task('softmax', { rows, cols }, [x]))
    t.not(soft.verdict, 'mismatch', `softmax ${rows}x${cols}`)
    const probabilities = bytesToF32(soft.gpu.outputs[0].bytes)
    const rowSum = probabilities.subarray(0, cols).reduce((a, b) => a + b, 0)
    t.true(Math.abs(rowSum - 1) < 1e-5)
    const norm = await againstReference(f32Task('layernorm', { rows, cols, eps: 1e-5 }, [x, randomValues(cols, 1), randomValues(cols, 2)]))
    t.not(norm.verdict, 'mismatch', `layernorm ${rows}x${cols}`)
  }
})

gpuTest('the digit MLP: predictions on the executor equal the CPU reference and classify held-out digits', async t => {
  const weights = makeBlob(new Uint8Array(readFileSync('models/digits-mlp.hmlp')))
  const batch = 300
  const set = generateDigits(batch, 4242)
  const images = f32Blob(set.images)
  const task: ComputeTask = { spec: { v: 1, kernel: 'mlp', params: { batch }, inputs: [weights.id, images.id] }, inputs: [weights, images] }
  const { gpu, verdict } = await againstReference(task)
  t.not(verdict, 'mismatch')
  const ref = referenceResult(task)
  const gpuPredictions = argmaxRows(bytesToF32(gpu.outputs[0].bytes), batch, DIGIT_CLASSES)
  const refPredictions = argmaxRows(bytesToF32(ref.outputs[0].bytes), batch, DIGIT_CLASSES)
  t.deepEqual(gpuPredictions, refPredictions)
  const correct = gpuPredictions.filter((p, i) => p === set.labels[i]).length
  t.log(`executor accuracy on ${batch} held-out digits: ${(100 * correct / batch).toFixed(1)}%, verdict vs reference: ${verdict}`)
  t.true(correct / batch > 0.85)
})

gpuTest('the result commitment is stable across runs and across worker restarts', async t => {
  const task = f32Task('matmul', { m: 37, k: 45, n: 29 }, [randomValues(37 * 45, 8), randomValues(45 * 29, 9)])
  const first = await executor().run(task)
  const second = await executor().run(task)
  t.is(first.commitment, second.commitment)
  t.is(first.taskId, second.taskId)
  // A task that times out kills the worker; the next run happens on a fresh process and device.
  const pid = executor().workerPid()
  await t.throwsAsync(executor().run(runawayTask(500)), { instanceOf: ComputeError, message: /wall-clock/ })
  const third = await executor().run(task)
  t.not(executor().workerPid(), pid)
  t.is(third.commitment, first.commitment)
})

gpuTest('custom WGSL runs with inputs and outputs bound in order', async t => {
  const input = makeBlob(new Uint8Array(new Uint32Array([1, 2, 3, 4, 5]).buffer))
  const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(8) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&src)) { dst[id.x] = src[id.x] * src[id.x] + 1u; }
}`
  const result = await executor().run({
    spec: { v: 1, kernel: 'custom', params: { workgroups: [1, 1, 1], outputs: [{ dtype: 'u32', shape: [5] }] }, inputs: [input.id], wgsl },
    inputs: [input]
  })
  const out = result.outputs[0]
  t.deepEqual([...new Uint32Array(out.bytes.slice().buffer)], [2, 5, 10, 17, 26])
  t.is(out.id, sha256Hex(out.bytes))
})

gpuTest('invalid WGSL is refused with the compiler message', async t => {
  const input = f32Blob([1])
  const err = await t.throwsAsync(executor().run({
    spec: {
      v: 1,
      kernel: 'custom',
      params: { workgroups: [1, 1, 1], outputs: [{ dtype: 'f32', shape: [1] }] },
      inputs: [input.id],
      wgsl: '@group(0) @binding(0) var<storage, read> a: array<f32>;\n@compute @workgroup_size(1) fn main() {\n  let x: f32 = 1u;\n}'
    },
    inputs: [input]
  }), { instanceOf: ComputeError })
  t.is(err?.code, 'COMPILE_ERROR')
  t.regex(err?.message ?? '', /3:\d+: cannot initialize 'let' of type 'f32' with value of type 'u32'/)
  // A missing entry point is the device's refusal, with its message.
  const missing = await t.throwsAsync(executor().run({
    spec: { v: 1, kernel: 'custom', params: { entryPoint: 'nope', workgroups: [1, 1, 1], outputs: [{ dtype: 'f32', shape: [1] }] }, inputs: [input.id], wgsl: '@compute @workgroup_size(1) fn main() {}' },
    inputs: [input]
  }), { instanceOf: ComputeError })
  t.is(missing?.code, 'INVALID_TASK')
  t.regex(missing?.message ?? '', /nope/)
})

gpuTest('too-large buffers and dispatches are refused; the executor keeps working', async t => {
  const big = await t.throwsAsync(executor().run(f32Task('matmul', { m: 4096, k: 1, n: 8192 }, [new Float32Array(4096), new Float32Array(8192)])), { instanceOf: ComputeError })
  t.is(big?.code, 'LIMIT_EXCEEDED')
  const dispatch = await t.throwsAsync(executor().run(runawayTask(1000, [70000, 1, 1])), { instanceOf: ComputeError })
  t.is(dispatch?.code, 'LIMIT_EXCEEDED')
  const tight = f32Task('elementwise', { op: 'neg', n: 300 }, [randomValues(300, 1)], { limits: { maxBufferBytes: 1024 } })
  t.is((await t.throwsAsync(executor().run(tight), { instanceOf: ComputeError }))?.code, 'LIMIT_EXCEEDED')
  const ok = await executor().run(f32Task('elementwise', { op: 'neg', n: 3 }, [[1, -2, 3]]))
  t.deepEqual([...bytesToF32(ok.outputs[0].bytes)], [-1, 2, -3])
})

/**
 * A kernel that never terminates: every invocation adds 2 until it reaches an odd number. On a hardware GPU the
 * loop is endless. Mesa's llvmpipe stops any invocation after 65535 loop iterations, so the task also dispatches
 * 65535 x 16 workgroups of 64 invocations: about 7e13 iterations, days of work for a software GPU.
 */
function runawayTask (timeoutMs: number, workgroups: [number, number, number] = [65535, 16, 1]): ComputeTask {
  const input = makeBlob(new Uint8Array(new Uint32Array([2]).buffer))
  return {
    spec: {
      v: 1,
      kernel: 'custom',
      params: { workgroups, outputs: [{ dtype: 'u32', shape: [1] }] },
      inputs: [input.id],
      wgsl: `
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64) fn main() {
  var i: u32 = 0u;
  loop {
    loop {
      loop {
        i = i + step[0];
        if (i == 0xffffffffu) { break; }
      }
      if (i == 0xfffffffdu) { break; }
    }
    if (i == 0xfffffffbu) { break; }
  }
  if (i == 7u) { out[0] = i; }
}`,
      limits: { timeoutMs }
    },
    inputs: [input]
  }
}

gpuTest('a kernel that runs forever is killed at its time limit; a crashed worker is reported; the caller lives on', async t => {
  const err = await t.throwsAsync(executor().run(runawayTask(1500)), { instanceOf: ComputeError })
  t.is(err?.code, 'TIMEOUT')
  t.deepEqual(err?.meta, { timeoutMs: 1500 })
  // The worker process dies (here: killed from outside) while a task runs: the task fails, the caller does not.
  const running = executor().run(runawayTask(60_000))
  let pid = executor().runningTaskPid()
  while (pid === undefined) {
    await new Promise(resolve => setImmediate(resolve))
    pid = executor().runningTaskPid()
  }
  process.kill(pid, 'SIGKILL')
  const crash = await t.throwsAsync(running, { instanceOf: ComputeError })
  t.is(crash?.code, 'WORKER_CRASHED')
  const after = await executor().run(f32Task('reduce', { op: 'sum', rows: 1, cols: 4 }, [[1, 2, 3, 4]]))
  t.deepEqual([...bytesToF32(after.outputs[0].bytes)], [10])
})

gpuTest('device loss: the running task fails, the device is re-acquired, later tasks succeed', async t => {
  const task = f32Task('matmul', { m: 200, k: 200, n: 200 }, [randomValues(40000, 1), randomValues(40000, 2)])
  const before = await executor().run(task)
  const generation = executor().deviceGeneration
  const during = executor().run(f32Task('matmul', { m: 190, k: 190, n: 190 }, [randomValues(190 * 190, 1), randomValues(190 * 190, 2)]))
  await new Promise(resolve => setImmediate(resolve))
  executor().destroyDevice()
  const outcome = await during.then(() => 'ok', (err: unknown) => (err instanceof ComputeError ? err.code : 'other'))
  t.log(`task in flight during the loss: ${outcome}`)
  t.true(outcome === 'DEVICE_LOST' || outcome === 'ok')
  const after = await executor().run(task)
  t.is(after.commitment, before.commitment)
  t.true(executor().deviceGeneration > generation)
})

gpuTest('long reductions: refused on the software GPU (llvmpipe truncates long loops), exact elsewhere', async t => {
  // 64 lanes x 70000 elements each: every invocation loops 70000 times.
  const cols = 64 * 70_000
  const task = f32Task('reduce', { op: 'max', rows: 1, cols }, [randomValues(cols, 11)])
  if (executor().info().kind === 'software') {
    const err = await t.throwsAsync(executor().run(task), { instanceOf: ComputeError })
    t.is(err?.code, 'LIMIT_EXCEEDED')
    t.regex(err?.message ?? '', /software GPU stops loops after 65535/)
  } else {
    const { verdict } = await againstReference(task)
    t.is(verdict, 'equal')
  }
})

gpuTest('the capability benchmark measures the executor against same-run baselines', async t => {
  const report = await runGpuBench({ running: executor(), logger: silentLogger(), sizes: [40], bandwidthFloats: 1 << 16, dispatches: 10, peakWorkgroups: 8, minMs: 20 })
  t.deepEqual(report.rows.map(r => r.metric), ['matmul_40_gflops', 'memory_bandwidth', 'dispatch_rate', 'fp32_peak_gflops', 'matmul_best_gflops'])
  for (const row of report.rows) t.true(row.value > 0 && row.baseline_value > 0, row.metric)
  t.true(report.capability.fp32PeakGflops > 0 && report.capability.memoryBandwidthGBps > 0)
  // The executor is still usable afterwards (the bench ran through its queue, it did not close it).
  const after = await executor().run(f32Task('elementwise', { op: 'abs', n: 2 }, [[-1, 2]]))
  t.deepEqual([...bytesToF32(after.outputs[0].bytes)], [1, 2])
})
