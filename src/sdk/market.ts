/**
 * The compute market from a requester's side, over `HarmonyClient`: submit a client-signed announce with its
 * inputs, wait for a task to reach a state, fetch (and for a private task open) its output. The requester's keys
 * never leave the client: the announce and the cancel are signed here, and a private output is opened here with
 * the requester's ML-KEM-768 key, derived from the wallet key so there is no second secret to keep.
 */
import { createHash } from 'node:crypto'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import type { RpcResultOf } from '../api/definitions.ts'
import { open } from '../market/blobs/seal.ts'
import { outputContext } from '../market/seal-contexts.ts'
import type { HarmonyClient, Unsubscribe } from './client.ts'
import { RpcTransportError, TaskOutputError } from './errors.ts'

export type TaskRecord = NonNullable<RpcResultOf<'task_get'>>
export type TaskState = TaskRecord['state']

/** States a task never leaves. */
export const FINAL_TASK_STATES: readonly TaskState[] = ['settled', 'refunded', 'expired', 'cancelled']

const KEM_SEED_DOMAIN = 'HARMONY/market/requester-kem/v1'

/**
 * The requester's ML-KEM-768 key pair, derived from its wallet's ML-DSA secret key (domain-separated SHA-512 →
 * the 64-byte ML-KEM seed): the same wallet always opens its own private outputs, and nothing else is stored.
 */
export function requesterKemKey (walletSecretKey: Uint8Array): { publicKey: Uint8Array, secretKey: Uint8Array } {
  const seed = createHash('sha512').update(KEM_SEED_DOMAIN).update(walletSecretKey).digest()
  return ml_kem768.keygen(new Uint8Array(seed))
}

/** Submits a signed task-announce (0x hex) and its input blobs; resolves with the task and transaction ids. */
export async function submitTask (client: HarmonyClient, announce: string, inputs: readonly Uint8Array[]): Promise<RpcResultOf<'task_submit'>> {
  return await client.call('task_submit', [{ announce, inputs: inputs.map(b => Buffer.from(b).toString('base64')) }])
}

export interface WaitForTaskOptions {
  /** Give up after this long. @default 120000 */
  timeoutMs?: number
  /** Between polls. @default 250 */
  intervalMs?: number
  /**
   * Follow the task's `task_status` events instead of polling (a read every few seconds stays, in case an event is
   * lost to a reconnect); a node without the topic, or out of a WebSocket's reach, is polled. Over HTTP this opens the client's WebSocket, which
   * stays open until `client.close()`. @default true for a ws:// client, false for an http:// one
   */
  push?: boolean
  signal?: AbortSignal
}

/** With `push`, the longest wait between two reads of the task (a lost event costs at most this). */
const PUSH_SAFETY_READ_MS = 5000

/**
 * Resolves with the task's record once it is in one of `states` (by default a final one), pushed by the node or
 * read with task_get. Rejects with `RpcTransportError('RPC_TIMEOUT')` once `timeoutMs` passes.
 */
export async function waitForTask (client: HarmonyClient, taskId: string, states: readonly TaskState[] = FINAL_TASK_STATES, options: WaitForTaskOptions = {}): Promise<TaskRecord> {
  const timeoutMs = options.timeoutMs ?? 120_000
  const deadline = Date.now() + timeoutMs
  let pushed: TaskRecord | undefined
  let wake: (() => void) | undefined
  let unsubscribe: Unsubscribe | undefined
  if (options.push ?? client.transport === 'ws') {
    // subscribed before the first read: a change between the two is not missed
    try {
      unsubscribe = await client.subscribe('task_status', { id: taskId }, (task) => {
        if (states.includes(task.state)) { pushed = task; wake?.() }
      }, { signal: options.signal })
    } catch {
      options.signal?.throwIfAborted()
      // a node without the topic, or no WebSocket to it (a proxy that passes only HTTP): polls, as before push
    }
  }
  try {
    let last: TaskRecord | null = null
    for (;;) {
      options.signal?.throwIfAborted()
      if (pushed !== undefined) return pushed
      last = await client.call('task_get', [taskId], { signal: options.signal })
      if (last !== null && states.includes(last.state)) return last
      if (pushed !== undefined) return pushed // it came during the read
      if (Date.now() > deadline) {
        throw new RpcTransportError('RPC_TIMEOUT', `task ${taskId} is ${last?.state ?? 'unknown'} after ${timeoutMs / 1000} s (waiting for ${states.join(' | ')})`, { taskId })
      }
      const waitMs = Math.min(unsubscribe === undefined ? options.intervalMs ?? 250 : PUSH_SAFETY_READ_MS, Math.max(1, deadline - Date.now() + 1))
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, waitMs)
        wake = () => { clearTimeout(timer); resolve() }
      })
      wake = undefined
    }
  } finally {
    await unsubscribe?.().catch(() => undefined)
  }
}

/**
 * The output bytes of a task with a verified result, or null while there is none. A private task's output comes
 * sealed to the requester's ML-KEM-768 key (bound to the task): pass `kemSecretKey` (`requesterKemKey`) to open it
 * here; the node never could. Without it, a private output rejects with `TaskOutputError('OUTPUT_KEY_REQUIRED')`;
 * with a key that does not open it, with the envelope's `BlobError('SEAL_OPEN_FAILED')`.
 */
export async function fetchTaskOutput (client: HarmonyClient, taskId: string, kemSecretKey?: Uint8Array): Promise<Uint8Array | null> {
  const result = await client.call('task_result', [taskId])
  if (result === null) return null
  const bytes = new Uint8Array(Buffer.from(result.data, 'base64'))
  if (result.encoding === 'plain') return bytes
  if (kemSecretKey === undefined) {
    throw new TaskOutputError('OUTPUT_KEY_REQUIRED', `task ${taskId} is private: its output is sealed to the requester's ML-KEM key; pass the key (requesterKemKey of the requester's wallet key) to open it`, { taskId })
  }
  return open(bytes, kemSecretKey, { context: outputContext(taskId.replace(/^0x/, '').toLowerCase()) })
}
