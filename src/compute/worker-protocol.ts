import type { ComputeErrorCode, ComputeTask, ExecutorInfo, ExecutorKind, TaskLimits, TaskResult } from './types.ts'

/** Messages between `WorkerExecutor` (parent) and `worker.ts` (child), over Node's IPC with structured clone. */
export type ParentMessage =
  | { type: 'init', kind: ExecutorKind, limits: TaskLimits }
  | { type: 'run', id: number, task: ComputeTask, limits: TaskLimits }
  | { type: 'microbench', id: number, what: MicrobenchKind, size: number, reps: number, minMs: number }
  | { type: 'destroy-device' }

/** matmul: square matmul of `size`; bandwidth: copy of `size` floats; dispatch: tiny kernel; peak: ALU-bound kernel over `size` workgroups. */
export type MicrobenchKind = 'matmul' | 'bandwidth' | 'dispatch' | 'peak'

export interface MicrobenchResult {
  msPerRep: number
}

export type WorkerMessage =
  | { type: 'ready', info: ExecutorInfo }
  | { type: 'init-failed', code: ComputeErrorCode, message: string }
  | { type: 'result', id: number, result: TaskResult, generation: number }
  | { type: 'microbench-result', id: number, result: MicrobenchResult }
  | { type: 'error', id: number, code: ComputeErrorCode, message: string, meta: Record<string, unknown> }
  | { type: 'device-lost', reason: string, message: string }
