/**
 * The compute engine a provider node sells: WGSL kernels on the GPU through Dawn, a software GPU and the CPU
 * reference as fallbacks, limits, verifiable results. See docs/compute.md.
 */

export { type BenchRow, formatBenchTable, type GpuBenchOptions, type GpuBenchReport, type GpuCapability, runGpuBench } from './bench.ts'
export { bytesToF32, f32Blob, f32ToBytes, makeBlob, resultCommitment, sha256Hex } from './blob.ts'
export { type CreateExecutorOptions, createExecutor, parseExecutorChoice } from './device.ts'
export { argmaxRows, DIGIT_CLASSES, DIGIT_PIXELS, DIGIT_SIZE, generateDigits } from './model/digits.ts'
export { decodeMlp, encodeMlp, type MlpModel } from './model/weights.ts'
export { WorkerExecutor, type WorkerExecutorComponents, type WorkerExecutorInit } from './sandbox.ts'
export { executorInfoSchema, gpuCapabilitySchema } from './schema.ts'
export { ComputeService, type ComputeServiceComponents, type ComputeServiceInit } from './service.ts'
export { checkTask, parseTaskSpec, taskId, taskSpecSchema } from './task.ts'
export * from './types.ts'
export { DEFAULT_TOLERANCE, referenceResult, type Tolerance, toleranceFor, type Verdict, verify, withinTolerance } from './verify.ts'
