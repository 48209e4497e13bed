import { makeBlob, outputBlob, resultCommitment, sha256Hex } from '../../compute/blob.ts'
import { inputFault } from '../../compute/task.ts'
import { ComputeError, type ComputeTask, type Executor, type KernelName, type OutputBlob, type TaskLimits, type TaskResult, type TaskSpec } from '../../compute/types.ts'
import { concatBytes, fromHex } from '../../core/codec.ts'
import type { Logger } from '../../core/logger.ts'
import type { TaskView } from '../state/reader.ts'
import type { ProviderBlobs } from './blobs.ts'
import type { FaultInjection } from './config.ts'

/**
 * Running an awarded task: its compute spec from the announce, the run on the executor, the output as one blob
 * and its commitment. `reexecute` is the same run without any fault: the dispute hook a coordinator is given.
 */

/** The task's description as the announce gives it (TaskView.spec and inputs). */
export interface AnnouncedTask {
  /** The announce's task id (hex). */
  taskId: string
  kernel: KernelName
  params: unknown
  /** Input blob ids, in binding order (sha256 of the plaintext). */
  inputs: string[]
  outputLimitBytes: number
}

/** The compute spec of an announced task: its kernel, parameters and inputs, its output capped by the announce. */
export function computeSpec (task: AnnouncedTask, inputIds: string[], timeoutMs?: number): TaskSpec {
  if (task.params === null || typeof task.params !== 'object' || Array.isArray(task.params)) {
    throw new ComputeError('INVALID_TASK', 'the announced parameters are not an object')
  }
  const limits: Partial<TaskLimits> = { maxOutputBytes: task.outputLimitBytes }
  if (timeoutMs !== undefined) limits.timeoutMs = Math.max(1, Math.floor(timeoutMs))
  return { v: 1, kernel: task.kernel, params: task.params as Record<string, unknown>, inputs: inputIds, limits }
}

/** The outputs as one blob: their canonical bytes, concatenated in order (their shapes are fixed by the spec). */
export function outputBytes (outputs: readonly OutputBlob[]): Uint8Array {
  if (outputs.length === 1) return outputs[0].bytes
  const total = outputs.reduce((sum, o) => sum + o.bytes.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const o of outputs) { out.set(o.bytes, at); at += o.bytes.length }
  return out
}

/**
 * What a lying provider returns (`provider.faultInjection: 'wrong-result'`, devnet genesis only): each output's
 * first f32 value plus one, committed to and served as if right, so verification must catch it by comparison.
 */
export function injectFault (result: TaskResult, fault: FaultInjection): TaskResult {
  if (fault !== 'wrong-result') return result
  const outputs = result.outputs.map(o => {
    const bytes = o.bytes.slice()
    const view = new DataView(bytes.buffer)
    if (bytes.length >= 4) view.setFloat32(0, view.getFloat32(0, true) + 1, true)
    return outputBlob(bytes, o.dtype, o.shape)
  })
  return { ...result, outputs, commitment: resultCommitment(outputs) }
}

/**
 * The profile of a result that reports an input fault: the requester's inputs do not fit its task's kernel,
 * parameters or output limit (compute `inputFault`, the same on every node). Such a result carries no output
 * (`outputBytes` 0, the empty blob's id) and commits to `inputFaultCommitment(taskId)`, so providers that find the
 * fault agree, and a re-execution that finds it agrees with them: the task settles as work done, where before its
 * winners could only miss the deadline and lose their bonds to the requester.
 */
export const INPUT_FAULT_PROFILE = 'input-fault'

const INPUT_FAULT_DOMAIN = new TextEncoder().encode('HARMONY/market/input-fault/v1')

/**
 * Why the inputs cannot be the announced task's (compute `inputFault`: its kernel, parameters and output limit
 * against the inputs' bytes; undefined when they fit). A custom kernel's WGSL travels in a blob this spec does not
 * carry: its inputs are judged where it runs.
 */
export function announcedInputFault (spec: TaskSpec, inputs: Uint8Array[]): string | undefined {
  return spec.kernel === 'custom' ? undefined : inputFault(spec, inputs)
}

/** What a result reporting an input fault of `taskId` commits to (hex). */
export function inputFaultCommitment (taskId: string): string {
  return sha256Hex(concatBytes(INPUT_FAULT_DOMAIN, fromHex(taskId)))
}

/** The id of the empty blob: the output of an input-fault result. */
export const EMPTY_OUTPUT_ID = sha256Hex(new Uint8Array(0))

export interface Reexecution {
  /** `resultCommitment` of the outputs, or `inputFaultCommitment` (hex). */
  commitment: string
  /** The run's result; absent when the inputs do not fit the task (`fault` says why). */
  result?: TaskResult
  fault?: string
}

/**
 * The dispute re-execution hook (docs/market.md "Verification and settlement"): runs an announced task on this
 * node's executor, honestly, and returns its commitment. A coordinator that holds the inputs compares it with the
 * results' commitments (bitwise within one profile) or their outputs (within tolerance across profiles).
 */
export async function reexecute (executor: Pick<Executor, 'run'>, task: AnnouncedTask, inputs: readonly Uint8Array[], options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<Reexecution> {
  const blobs = inputs.map(bytes => makeBlob(bytes))
  const compute: ComputeTask = { spec: computeSpec(task, blobs.map(b => b.id), options.timeoutMs), inputs: blobs }
  const fault = announcedInputFault(compute.spec, blobs.map(b => b.bytes))
  if (fault !== undefined) return { commitment: inputFaultCommitment(task.taskId), fault }
  const result = await executor.run(compute, options.signal === undefined ? {} : { signal: options.signal })
  return { commitment: result.commitment, result }
}

/** What an awarded run produced: the output blob, stored to be served, and what the provider's result commits to. */
export interface AwardedOutput {
  commitment: string
  outputId: string
  bytes: number
  profile: string
  durationMs: number
  /** Why the inputs do not fit the task (an input-fault result, INPUT_FAULT_PROFILE); absent for a run. */
  fault?: string
}

export interface AwardedRunParts {
  executor: Pick<Executor, 'run'>
  blobs: ProviderBlobs
  fault: FaultInjection
  log: Logger
}

/**
 * Runs an awarded task: fetches its inputs, runs it on the executor with the announce's output limit and what is
 * left of the deadline (`signal` aborts at it), stores the output blob. Throws when the deadline passed meanwhile.
 */
export async function runAwarded (parts: AwardedRunParts, view: TaskView, deadlineMs: number, signal: AbortSignal): Promise<AwardedOutput> {
  parts.log.info({ taskId: view.taskId, inputs: view.inputs.length }, 'fetching inputs')
  const inputs = []
  for (const id of view.inputs) inputs.push(makeBlob(await parts.blobs.input({ taskId: view.taskId, private: view.private, deadlineMs }, id, signal)))
  const spec = computeSpec({ taskId: view.taskId, kernel: view.spec.kernel, params: view.spec.params, inputs: view.inputs, outputLimitBytes: view.outputLimitBytes }, inputs.map(b => b.id), deadlineMs - Date.now())
  const fault = announcedInputFault(spec, inputs.map(b => b.bytes))
  if (fault !== undefined) {
    // nothing to run: the result says so (INPUT_FAULT_PROFILE), and the fault is not this provider's
    parts.log.warn({ taskId: view.taskId, fault }, 'the task\'s inputs do not fit it: an input fault is reported instead of a result')
    return { commitment: inputFaultCommitment(view.taskId), outputId: EMPTY_OUTPUT_ID, bytes: 0, profile: INPUT_FAULT_PROFILE, durationMs: 0, fault }
  }
  parts.log.info({ taskId: view.taskId, kernel: spec.kernel }, 'running')
  const result = injectFault(await parts.executor.run({ spec, inputs }, { signal }), parts.fault)
  const bytes = outputBytes(result.outputs)
  const outputId = await parts.blobs.output(view, bytes)
  if (Date.now() > deadlineMs) throw new Error('the execution deadline passed before the result')
  return { commitment: result.commitment, outputId, bytes: bytes.length, profile: result.profile, durationMs: result.durationMs }
}
