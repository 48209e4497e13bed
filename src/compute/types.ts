import { HarmonyError } from '../core/errors.ts'

/** Which engine runs tasks: a hardware GPU, a software GPU (Dawn on Mesa llvmpipe), or the CPU reference. */
export type ExecutorKind = 'gpu' | 'software' | 'cpu'

/** What an operator asks for with `--executor`. `auto` tries gpu, then software, then cpu. */
export type ExecutorChoice = 'auto' | ExecutorKind

export const EXECUTOR_CHOICES: readonly ExecutorChoice[] = ['auto', 'gpu', 'software', 'cpu']

/** Element type of a blob. All library kernels read and write f32; custom WGSL may also use u32/i32. */
export type DType = 'f32' | 'u32' | 'i32'

/** A content-addressed blob: `id` is the lowercase sha256 hex of `bytes`. */
export interface Blob {
  id: string
  bytes: Uint8Array
}

/** Library kernels. `custom` carries its own WGSL. */
export const KERNEL_NAMES = ['matmul', 'conv2d', 'elementwise', 'reduce', 'softmax', 'layernorm', 'mlp', 'custom'] as const
export type KernelName = (typeof KERNEL_NAMES)[number]

/**
 * Resource limits for one task. Checked before any GPU work starts (sizes) and enforced while it runs (time).
 * Every field is optional in a task; the executor's own limits cap what a task may ask for.
 */
export interface TaskLimits {
  /** Largest single buffer (input, output or scratch) in bytes. @default 67108864 (64 MiB) */
  maxBufferBytes: number
  /** Sum of all input bytes. @default 134217728 (128 MiB) */
  maxInputBytes: number
  /** Sum of all output bytes. @default 67108864 (64 MiB) */
  maxOutputBytes: number
  /** Workgroups in one dispatch, per dimension (WebGPU's default limit is 65535). @default 65535 */
  maxWorkgroupsPerDimension: number
  /** Workgroups in one dispatch, all dimensions multiplied. @default 1048576 */
  maxWorkgroupsTotal: number
  /** Wall-clock time from dispatch to result; past it the worker process is killed. @default 30000 */
  timeoutMs: number
}

export const DEFAULT_LIMITS: TaskLimits = {
  maxBufferBytes: 64 * 1024 * 1024,
  maxInputBytes: 128 * 1024 * 1024,
  maxOutputBytes: 64 * 1024 * 1024,
  maxWorkgroupsPerDimension: 65535,
  maxWorkgroupsTotal: 1 << 20,
  timeoutMs: 30_000
}

/**
 * A task as it travels (gossip, RPC): the kernel, its parameters, the ids of its input blobs, and for `custom`
 * the WGSL source. Parameters are validated per kernel (see `task.ts`).
 */
export interface TaskSpec {
  /** Format version. */
  v: 1
  kernel: KernelName
  params: Record<string, unknown>
  /** sha256 hex ids of the inputs, in binding order. */
  inputs: string[]
  /** WGSL source, only for `kernel: 'custom'`. */
  wgsl?: string
  /** Tighter limits than the executor's (never looser). */
  limits?: Partial<TaskLimits>
}

/** A task with its input bytes resolved, ready to run. */
export interface ComputeTask {
  spec: TaskSpec
  inputs: Blob[]
}

/** One output of a task: its bytes, element type and shape. */
export interface OutputBlob extends Blob {
  dtype: DType
  shape: number[]
}

export interface TaskResult {
  /** sha256 hex of the canonical task spec. */
  taskId: string
  outputs: OutputBlob[]
  /** sha256 over the canonical output bytes (see `verify.ts`); equal commitments mean equal outputs. */
  commitment: string
  /** Which executor produced it. */
  executor: ExecutorKind
  /** Adapter description, or `cpu-reference`. */
  adapter: string
  /** Execution profile the result was produced under (fixed reduction orders). */
  profile: string
  /** Time from dispatch to outputs read back, in the worker. */
  durationMs: number
}

export interface AdapterDescription {
  vendor: string
  architecture: string
  device: string
  description: string
  /** `vulkan`, `opengles`, ... or `none` for the CPU reference. */
  backend: string
  featureLevel: 'core' | 'compatibility' | 'none'
  isFallbackAdapter: boolean
}

/** Reported in `node_info.executor`. */
export interface ExecutorInfo {
  kind: ExecutorKind
  adapter: AdapterDescription
  /** Device limits that matter to a requester. */
  limits: {
    maxStorageBufferBindingSize: number
    maxComputeInvocationsPerWorkgroup: number
    maxComputeWorkgroupsPerDimension: number
  }
  /** Limits applied to tasks (after capping by the device). */
  taskLimits: TaskLimits
  profile: string
  kernels: KernelName[]
}

/** What every executor (GPU in a worker process, CPU reference) offers. */
export interface Executor {
  readonly kind: ExecutorKind
  info (): ExecutorInfo
  run (task: ComputeTask, options?: { signal?: AbortSignal }): Promise<TaskResult>
  close (): Promise<void>
}

/** Name of the deterministic execution profile: fixed reduction orders as documented in docs/compute.md. */
export const EXECUTION_PROFILE = 'harmony-f32-fixed-order-v1'

export type ComputeErrorCode =
  | 'INVALID_TASK'
  | 'INPUT_MISMATCH'
  | 'COMPILE_ERROR'
  | 'LIMIT_EXCEEDED'
  | 'TIMEOUT'
  | 'WORKER_CRASHED'
  | 'DEVICE_LOST'
  | 'GPU_ERROR'
  | 'NO_ADAPTER'
  | 'UNSUPPORTED'
  | 'BUSY'
  | 'ABORTED'
  | 'CLOSED'

export const COMPUTE_ERROR_CODES: readonly ComputeErrorCode[] = [
  'INVALID_TASK', 'INPUT_MISMATCH', 'COMPILE_ERROR', 'LIMIT_EXCEEDED', 'TIMEOUT', 'WORKER_CRASHED', 'DEVICE_LOST',
  'GPU_ERROR', 'NO_ADAPTER', 'UNSUPPORTED', 'BUSY', 'ABORTED', 'CLOSED'
]

/** A task or executor failure with a bounded code. The daemon reports it; it never takes the daemon down. */
export class ComputeError extends HarmonyError<ComputeErrorCode> {
  constructor (code: ComputeErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'ComputeError'
  }
}
