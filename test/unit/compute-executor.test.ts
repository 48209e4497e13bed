import test from 'ava'
import { Registry } from 'prom-client'
import { runGpuBench } from '../../src/compute/bench.ts'
import { bytesToF32, f32Blob } from '../../src/compute/blob.ts'
import { createExecutor, parseExecutorChoice } from '../../src/compute/device.ts'
import { executorInfoSchema, gpuCapabilitySchema } from '../../src/compute/schema.ts'
import { ComputeService } from '../../src/compute/service.ts'
import { ComputeError, type ComputeTask } from '../../src/compute/types.ts'
import { referenceResult, verify } from '../../src/compute/verify.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { f32Task, randomValues } from '../helpers/compute.ts'

// The CPU reference executor (in its worker process), executor selection, and the queue's behaviour. These
// tests need no GPU.

test.serial('the cpu executor runs library kernels in its worker with the reference results', async t => {
  const executor = await createExecutor({ executor: 'cpu', logger: silentLogger() })
  try {
    const info = executor.info()
    t.is(info.kind, 'cpu')
    t.is(info.adapter.backend, 'none')
    t.false(info.kernels.includes('custom'))
    for (const task of [
      f32Task('matmul', { m: 17, k: 33, n: 9 }, [randomValues(17 * 33, 1), randomValues(33 * 9, 2)]),
      f32Task('conv2d', { channels: 2, height: 7, width: 6, filters: 3, kernelH: 3, kernelW: 3, padding: 1 }, [randomValues(84, 3), randomValues(54, 4), randomValues(3, 5)]),
      f32Task('softmax', { rows: 3, cols: 70 }, [randomValues(210, 6)])
    ]) {
      const result = await executor.run(task)
      const reference = referenceResult(task)
      t.is(result.commitment, reference.commitment)
      t.is(verify(result, reference, reference), 'equal')
      t.is(result.executor, 'cpu')
    }
    const custom = await t.throwsAsync(executor.run({ spec: { v: 1, kernel: 'custom', params: { workgroups: [1, 1, 1], outputs: [{ dtype: 'u32', shape: [1] }] }, inputs: [f32Blob([1]).id], wgsl: '@compute @workgroup_size(1) fn main() {}' }, inputs: [f32Blob([1])] }), { instanceOf: ComputeError })
    t.is(custom?.code, 'UNSUPPORTED')
  } finally {
    await executor.close()
  }
})

test.serial('bad input is refused with a typed error and never reaches the worker', async t => {
  const registry = new Registry()
  const executor = await createExecutor({ executor: 'cpu', logger: silentLogger(), registry })
  try {
    const pid = executor.workerPid()
    const bad = [
      { spec: { v: 1, kernel: 'matmul', params: { m: 2, k: 2, n: 2 }, inputs: ['00'] }, inputs: [] },
      { spec: { v: 1, kernel: 'nope', params: {}, inputs: [] }, inputs: [] },
      { spec: null, inputs: [] }
    ]
    for (const task of bad) {
      // Deliberately malformed, as it could arrive from outside.
      const err = await t.throwsAsync(executor.run(task as unknown as ComputeTask), { instanceOf: ComputeError })
      t.is(err?.code, 'INVALID_TASK')
    }
    t.is(executor.workerPid(), pid)
    const metrics = await registry.getSingleMetricAsString('harmony_compute_tasks_total')
    t.regex(metrics, /outcome="invalid_task"/)
  } finally {
    await executor.close()
  }
})

test.serial('the queue is bounded, aborts are honoured, close rejects what is pending', async t => {
  const executor = await createExecutor({ executor: 'cpu', logger: silentLogger(), maxQueue: 2 })
  // Each of these takes the CPU reference a noticeable time, so later ones wait in the queue.
  const slow = (seed: number): ReturnType<typeof f32Task> => f32Task('matmul', { m: 160, k: 160, n: 160 }, [randomValues(25600, seed), randomValues(25600, seed + 1)])
  const first = executor.run(slow(1))
  const second = executor.run(slow(2))
  const controller = new AbortController()
  const third = executor.run(slow(3), { signal: controller.signal })
  const busy = await t.throwsAsync(executor.run(slow(4)), { instanceOf: ComputeError })
  t.is(busy?.code, 'BUSY')
  controller.abort()
  t.is((await t.throwsAsync(third, { instanceOf: ComputeError }))?.code, 'ABORTED')
  t.truthy((await first).commitment)
  const pending = executor.run(slow(5))
  await executor.close()
  const outcomes = await Promise.allSettled([second, pending])
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') t.is((outcome.reason as ComputeError).code, 'CLOSED')
  }
  t.is(outcomes[1].status, 'rejected')
  t.is((await t.throwsAsync(executor.run(slow(6)), { instanceOf: ComputeError }))?.code, 'CLOSED')
})

test.serial('auto selects the best available executor and the service reports it', async t => {
  const service = new ComputeService({ logger: silentLogger(), registry: new Registry() }, { executor: 'auto' })
  await service.start()
  try {
    const info = service.info()
    t.true(['gpu', 'software', 'cpu'].includes(info.kind))
    t.true(executorInfoSchema.safeParse(info).success)
    t.log(`auto chose ${info.kind}: ${info.adapter.description}`)
    const task = f32Task('reduce', { op: 'sum', rows: 2, cols: 3 }, [[1, 2, 3, 4, 5, 6]])
    t.deepEqual([...bytesToF32((await service.executor().run(task)).outputs[0].bytes)], [6, 15])
  } finally {
    await service.stop()
  }
  t.throws(() => service.info(), { instanceOf: ComputeError })
  t.is(parseExecutorChoice('software'), 'software')
  t.throws(() => parseExecutorChoice('tpu'), { message: /--executor must be one of auto, gpu, software, cpu/ })
})

test.serial('the capability benchmark returns figures with same-run baselines', async t => {
  const report = await runGpuBench({ executor: 'cpu', logger: silentLogger(), sizes: [48] })
  t.is(report.rows.length, 1)
  const [matmul] = report.rows
  t.is(matmul.metric, 'matmul_48_gflops')
  t.true(matmul.value > 0 && matmul.baseline_value > 0)
  t.is(report.capability.kind, 'cpu')
  t.true(gpuCapabilitySchema.safeParse(report.capability).success)
  t.true(report.capability.matmulGflops > 0)
})
