/**
 * The compute worker process. Started by `WorkerExecutor` (sandbox.ts) with an IPC channel; holds the one Dawn
 * instance of its process (or runs the CPU reference) and executes one task at a time. If a kernel hangs or the
 * driver crashes, only this process dies: the parent kills it on timeout and starts a new one.
 */
import { cpus } from 'node:os'
import { outputBlob, resultCommitment } from './blob.ts'
import { GpuDevice } from './gpu-runner.ts'
import { elementwisePlan } from './kernels/elementwise.ts'
import { libraryPlan, referenceOutputs } from './kernels/index.ts'
import { matmulPlan, matmulReference } from './kernels/matmul.ts'
import { peakPlan } from './kernels/peak.ts'
import { checkTask, taskId } from './task.ts'
import {
  ComputeError, type ComputeTask, EXECUTION_PROFILE, type ExecutorInfo, type ExecutorKind,KERNEL_NAMES, 
  type KernelName, type TaskLimits, type TaskResult
} from './types.ts'
import type { MicrobenchKind, MicrobenchResult, ParentMessage, WorkerMessage } from './worker-protocol.ts'

let kind: ExecutorKind = 'cpu'
let device: GpuDevice | undefined
let limits: TaskLimits

function send (message: WorkerMessage): void {
  process.send?.(message)
}

function errorMessage (id: number, err: unknown): WorkerMessage {
  if (err instanceof ComputeError) return { type: 'error', id, code: err.code, message: err.message, meta: err.meta }
  return { type: 'error', id, code: 'GPU_ERROR', message: err instanceof Error ? err.message : String(err), meta: {} }
}

function info (): ExecutorInfo {
  if (device === undefined) {
    return {
      kind: 'cpu',
      adapter: {
        vendor: '',
        architecture: process.arch,
        device: cpus()[0]?.model ?? 'unknown CPU',
        description: 'CPU reference executor',
        backend: 'none',
        featureLevel: 'none',
        isFallbackAdapter: false
      },
      limits: { maxStorageBufferBindingSize: limits.maxBufferBytes, maxComputeInvocationsPerWorkgroup: 1, maxComputeWorkgroupsPerDimension: limits.maxWorkgroupsPerDimension },
      taskLimits: limits,
      profile: EXECUTION_PROFILE,
      kernels: KERNEL_NAMES.filter((k): k is Exclude<KernelName, 'custom'> => k !== 'custom')
    }
  }
  const l = device.limits()
  return {
    kind,
    adapter: device.adapterDescription(),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension
    },
    taskLimits: {
      ...limits,
      maxBufferBytes: Math.min(limits.maxBufferBytes, l.maxStorageBufferBindingSize),
      maxWorkgroupsPerDimension: Math.min(limits.maxWorkgroupsPerDimension, l.maxComputeWorkgroupsPerDimension)
    },
    profile: EXECUTION_PROFILE,
    kernels: [...KERNEL_NAMES]
  }
}

async function runTask (task: ComputeTask, taskLimits: TaskLimits): Promise<TaskResult> {
  const checked = checkTask(task, taskLimits)
  let outputs: Uint8Array[]
  let durationMs: number
  if (device === undefined) {
    const started = performance.now()
    outputs = referenceOutputs(checked)
    durationMs = performance.now() - started
  } else {
    const plan = checked.kernel === 'custom'
      ? device.customPlan(checked.params, checked.wgsl, checked.inputs)
      : libraryPlan(checked)
    const ran = await device.run(plan, taskLimits)
    outputs = ran.outputs
    durationMs = ran.durationMs
  }
  const blobs = checked.outputs.map((o, i) => outputBlob(outputs[i], o.dtype, o.shape))
  const adapter = info().adapter
  return {
    taskId: taskId(task.spec),
    outputs: blobs,
    commitment: resultCommitment(blobs),
    executor: kind,
    adapter: device === undefined ? 'cpu-reference' : adapter.description,
    profile: EXECUTION_PROFILE,
    durationMs
  }
}

async function microbench (what: MicrobenchKind, size: number, reps: number, minMs: number): Promise<MicrobenchResult> {
  if (device === undefined) {
    if (what !== 'matmul') throw new ComputeError('UNSUPPORTED', `${what} is measured on GPU executors only`)
    const a = new Float32Array(size * size).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5)
    const started = performance.now()
    for (let i = 0; i < reps; i++) matmulReference(a, a, size, size, size)
    return { msPerRep: (performance.now() - started) / reps }
  }
  if (what === 'matmul') {
    const bytes = new Uint8Array(size * size * 4)
    return { msPerRep: await device.timeDispatches(matmulPlan({ m: size, k: size, n: size }, [bytes, bytes]), reps, minMs) }
  }
  if (what === 'peak') return { msPerRep: await device.timeDispatches(peakPlan(size), reps, minMs) }
  // bandwidth: a copy-like kernel over `size` floats (reads 4 bytes and writes 4 bytes per element);
  // dispatch: the same kernel over 64 floats, so the time is the submit-to-done round trip.
  const n = what === 'bandwidth' ? size : 64
  return { msPerRep: await device.timeDispatches(elementwisePlan({ op: 'neg', n }, [new Uint8Array(n * 4)]), reps, minMs) }
}

async function handle (message: ParentMessage): Promise<void> {
  switch (message.type) {
    case 'init': {
      kind = message.kind
      limits = message.limits
      try {
        if (kind !== 'cpu') {
          device = new GpuDevice(kind)
          device.onLost = (reason, text) => { send({ type: 'device-lost', reason, message: text }) }
          await device.open()
        }
        send({ type: 'ready', info: info() })
      } catch (err) {
        const e = err instanceof ComputeError ? err : new ComputeError('NO_ADAPTER', err instanceof Error ? err.message : String(err))
        send({ type: 'init-failed', code: e.code, message: e.message })
      }
      return
    }
    case 'run': {
      try {
        const result = await runTask(message.task, message.limits)
        send({ type: 'result', id: message.id, result, generation: device?.generation ?? 0 })
      } catch (err) {
        send(errorMessage(message.id, err))
      }
      return
    }
    case 'microbench': {
      try {
        const result = await microbench(message.what, message.size, message.reps, message.minMs)
        send({ type: 'microbench-result', id: message.id, result })
      } catch (err) {
        send(errorMessage(message.id, err))
      }
      return
    }
    case 'destroy-device': {
      device?.destroyDevice()
      return
    }
  }
}

process.on('message', (message: ParentMessage) => { void handle(message) })
// The parent going away (crash, kill -9) must not leave an orphan holding a GPU.
process.on('disconnect', () => {
  device?.close()
  process.exit(0)
})
