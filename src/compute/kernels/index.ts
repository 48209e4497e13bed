import { bytesToF32, f32ToBytes } from '../blob.ts'
import type { CheckedTask } from '../task.ts'
import { ComputeError } from '../types.ts'
import { conv2dPlan, conv2dReference } from './conv2d.ts'
import { elementwisePlan, elementwiseReference, isBinary } from './elementwise.ts'
import { matmulPlan, matmulReference, mlpPlan, mlpReference } from './matmul.ts'
import type { GpuPlan } from './plan.ts'
import { layernormPlan, layernormReference, reducePlan, reduceReference, softmaxPlan, softmaxReference } from './rowwise.ts'

/** The GPU plan of a library kernel. Custom WGSL tasks are planned by the device runner. */
export function libraryPlan (task: CheckedTask): GpuPlan {
  switch (task.kernel) {
    case 'matmul': return matmulPlan(task.params, task.inputs)
    case 'conv2d': return conv2dPlan(task.params, task.inputs)
    case 'elementwise': return elementwisePlan(task.params, task.inputs)
    case 'reduce': return reducePlan(task.params, task.inputs)
    case 'softmax': return softmaxPlan(task.params, task.inputs)
    case 'layernorm': return layernormPlan(task.params, task.inputs)
    case 'mlp': return mlpPlan(task.model, task.params.batch, task.inputs[1])
    case 'custom': throw new ComputeError('UNSUPPORTED', 'custom WGSL has no library plan')
  }
}

/** Output bytes of a library kernel computed by its CPU reference. Custom WGSL cannot run on the CPU. */
export function referenceOutputs (task: CheckedTask): Uint8Array[] {
  const x = (i: number): Float32Array => bytesToF32(task.inputs[i])
  switch (task.kernel) {
    case 'matmul': return [f32ToBytesView(matmulReference(x(0), x(1), task.params.m, task.params.k, task.params.n))]
    case 'conv2d': return [f32ToBytesView(conv2dReference(task.params, x(0), x(1), x(2)))]
    case 'elementwise': return [f32ToBytesView(elementwiseReference(task.params.op, x(0), isBinary(task.params.op) ? x(1) : undefined))]
    case 'reduce': return [f32ToBytesView(reduceReference(task.params, x(0)))]
    case 'softmax': return [f32ToBytesView(softmaxReference(task.params, x(0)))]
    case 'layernorm': return [f32ToBytesView(layernormReference(task.params, x(0), x(1), x(2)))]
    case 'mlp': return [f32ToBytesView(mlpReference(task.model, task.params.batch, x(1)))]
    case 'custom': throw new ComputeError('UNSUPPORTED', 'custom WGSL tasks need a GPU executor (gpu or software); the CPU reference cannot run them')
  }
}

function f32ToBytesView (values: Float32Array): Uint8Array {
  return values.byteOffset === 0 && values.byteLength === values.buffer.byteLength
    ? new Uint8Array(values.buffer)
    : f32ToBytes(values)
}
