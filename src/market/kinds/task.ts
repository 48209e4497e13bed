/**
 * `task-announce` (34): a requester's signed task; its effects lock budget × replicas in the task's escrow
 * account (taskId from the announce's own account and nonce, so the effects need no state). `task-cancel` (41):
 * the requester asks for its escrow back before an award (the coordinator settles it with a refund).
 */
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { canonicalJson } from '../../compute/task.ts'
import { KERNEL_NAMES, type KernelName } from '../../compute/types.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { escrowAccount, taskIdOf } from '../accounts.ts'
import { readBool, readEnum, readList, readOptional, readText, writeEnum, writeList, writeOptional, writeText } from './fields.ts'
import { BUDGET_LIMIT, MAX_DEADLINE_MS, MAX_REDUNDANCY, MAX_WINDOW_MS, REQUIRED_EXECUTORS, type RequiredExecutor, TX_KIND_TASK_ANNOUNCE, TX_KIND_TASK_CANCEL, VERIFICATION_MODES, type VerificationMode } from './ids.ts'
import { ML_KEM768_PUBLIC_KEY_BYTES, TASK_ID_BYTES } from './provider.ts'

export const BLOB_ID_BYTES = 32
/** Parameters (canonical JSON) of a task's kernel. */
export const MAX_PARAMS_BYTES = 1024
export const MAX_INPUTS = 8
const MAX_KERNEL_NAME_BYTES = 32

export interface TaskSpecRecord {
  /** A library kernel of `compute`, or `custom` with the WGSL in a blob. */
  kernel: KernelName
  /** The kernel's parameters as canonical JSON (object keys sorted, no whitespace), ≤ 1 KiB. */
  paramsJson: string
  /** The blob holding the custom WGSL source (kernel `custom` only). */
  wgslBlob?: Uint8Array
}

export interface TaskRequirements {
  executor: RequiredExecutor
  minGflopsMilli: number
  minMemoryMiB: number
  attested: boolean
}

export interface TaskAnnouncePayload {
  spec: TaskSpecRecord
  /** Input ids, ≤ 8: sha256 of each input's bytes (the plaintext's for a private task too). */
  inputs: Uint8Array[]
  outputLimitBytes: number
  /** Base units per replica; the most a winner can be paid. */
  budget: bigint
  /** Providers that each run the task (1..5). */
  redundancy: number
  /** Agreeing results needed (1..redundancy). */
  k: number
  verification: VerificationMode
  bidWindowMs: number
  revealWindowMs: number
  executionDeadlineMs: number
  requirements: TaskRequirements
  /** Inputs and outputs sealed to the winner's ML-KEM-768 key; results sealed back to `requesterKemKey`. */
  private: boolean
  requesterKemKey?: Uint8Array
  /** With no valid bid, the coordinator re-runs the auction once instead of refunding. */
  reannounce: boolean
}

/** Escrowed replicas: r, plus the checker for spot-check. */
export function replicasOf (p: Pick<TaskAnnouncePayload, 'redundancy' | 'verification'>): number {
  return p.redundancy + (p.verification === 'spot-check' ? 1 : 0)
}

/** The escrow an announce locks. */
export function escrowOf (p: Pick<TaskAnnouncePayload, 'budget' | 'redundancy' | 'verification'>): bigint {
  return p.budget * BigInt(replicasOf(p))
}

export const taskAnnounceKind: TxKind<TaskAnnouncePayload> = {
  id: TX_KIND_TASK_ANNOUNCE,
  name: 'task-announce',
  maxPayloadBytes: 4 + MAX_KERNEL_NAME_BYTES + 4 + MAX_PARAMS_BYTES + 1 + BLOB_ID_BYTES + 1 + MAX_INPUTS * BLOB_ID_BYTES + 4 + 16 + 3 + 12 + 9 + 1 + 1 + ML_KEM768_PUBLIC_KEY_BYTES + 1,
  encode (p) {
    const w = new Writer(2048)
    writeText(w, p.spec.kernel)
    writeText(w, p.spec.paramsJson)
    writeOptional(w, p.spec.wgslBlob, BLOB_ID_BYTES)
    writeList(w, p.inputs, BLOB_ID_BYTES)
    w.u32(p.outputLimitBytes).u128(p.budget).u8(p.redundancy).u8(p.k)
    writeEnum(w, VERIFICATION_MODES, p.verification)
    w.u32(p.bidWindowMs).u32(p.revealWindowMs).u32(p.executionDeadlineMs)
    writeEnum(w, REQUIRED_EXECUTORS, p.requirements.executor)
    w.u32(p.requirements.minGflopsMilli).u32(p.requirements.minMemoryMiB).u8(p.requirements.attested ? 1 : 0)
    w.u8(p.private ? 1 : 0)
    if (p.private) w.fixed(p.requesterKemKey ?? new Uint8Array(0), ML_KEM768_PUBLIC_KEY_BYTES)
    return w.u8(p.reannounce ? 1 : 0).finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'task-announce payload')
    const kernelText = readText(r, MAX_KERNEL_NAME_BYTES, 'kernel')
    if (!(KERNEL_NAMES as readonly string[]).includes(kernelText)) r.fail(`unknown kernel ${JSON.stringify(kernelText)}`)
    const kernel = kernelText as KernelName
    const paramsJson = readText(r, MAX_PARAMS_BYTES, 'params')
    checkCanonicalParams(r, paramsJson)
    const wgslBlob = readOptional(r, BLOB_ID_BYTES, 'wgsl flag')
    if ((kernel === 'custom') !== (wgslBlob !== undefined)) r.fail('a custom kernel, and only a custom kernel, names a WGSL blob')
    const inputs = readList(r, BLOB_ID_BYTES, MAX_INPUTS, 'inputs')
    const outputLimitBytes = r.u32()
    const budget = r.u128()
    const redundancy = r.u8()
    const k = r.u8()
    const verification = readEnum(r, VERIFICATION_MODES, 'verification mode')
    const bidWindowMs = r.u32()
    const revealWindowMs = r.u32()
    const executionDeadlineMs = r.u32()
    const executor = readEnum(r, REQUIRED_EXECUTORS, 'required executor')
    const minGflopsMilli = r.u32()
    const minMemoryMiB = r.u32()
    const attested = readBool(r, 'attested')
    const isPrivate = readBool(r, 'private')
    const requesterKemKey = isPrivate ? r.fixed(ML_KEM768_PUBLIC_KEY_BYTES) : undefined
    const reannounce = readBool(r, 're-announce')
    r.end()
    if (outputLimitBytes === 0) r.fail('output limit must be positive')
    if (budget === 0n || budget >= BUDGET_LIMIT) r.fail('budget must be positive and below 2^120')
    if (redundancy < 1 || redundancy > MAX_REDUNDANCY) r.fail(`redundancy must be 1..${MAX_REDUNDANCY}`)
    if (k < 1 || k > redundancy) r.fail('k must be 1..redundancy')
    if (verification === 'none' && (redundancy !== 1 || k !== 1)) r.fail('verification none runs one replica (r = k = 1)')
    if (verification === 'redundancy' && (redundancy < 2 || k < 2)) r.fail('redundancy verification needs r ≥ 2 and k ≥ 2')
    if (verification === 'spot-check' && k !== 1) r.fail('spot-check verification has k = 1 (the checker agrees with each winner)')
    if (bidWindowMs < 1 || bidWindowMs > MAX_WINDOW_MS || revealWindowMs < 1 || revealWindowMs > MAX_WINDOW_MS) r.fail(`bid and reveal windows must be 1..${MAX_WINDOW_MS} ms`)
    if (executionDeadlineMs < 1 || executionDeadlineMs > MAX_DEADLINE_MS) r.fail(`execution deadline must be 1..${MAX_DEADLINE_MS} ms`)
    return {
      spec: { kernel, paramsJson, ...(wgslBlob !== undefined ? { wgslBlob } : {}) },
      inputs,
      outputLimitBytes,
      budget,
      redundancy,
      k,
      verification,
      bidWindowMs,
      revealWindowMs,
      executionDeadlineMs,
      requirements: { executor, minGflopsMilli, minMemoryMiB, attested },
      private: isPrivate,
      ...(requesterKemKey !== undefined ? { requesterKemKey } : {}),
      reannounce
    }
  },
  effects (p, tx) {
    const amount = escrowOf(p)
    return { debit: amount, credits: [{ to: escrowAccount(taskIdOf(tx.account, tx.nonce)), amount }] }
  },
  toJSON (p) { return announceToJSON(p) }
}

/** JSON view of an announce's fields (RPC, explanations). */
export function announceToJSON (p: TaskAnnouncePayload): Record<string, unknown> {
  return {
    spec: { kernel: p.spec.kernel, params: JSON.parse(p.spec.paramsJson) as unknown, ...(p.spec.wgslBlob !== undefined ? { wgslBlob: toHex(p.spec.wgslBlob) } : {}) },
    inputs: p.inputs.map(i => toHex(i)),
    outputLimitBytes: p.outputLimitBytes,
    budget: p.budget.toString(),
    redundancy: p.redundancy,
    k: p.k,
    verification: p.verification,
    bidWindowMs: p.bidWindowMs,
    revealWindowMs: p.revealWindowMs,
    executionDeadlineMs: p.executionDeadlineMs,
    requirements: { executor: p.requirements.executor, minGflops: p.requirements.minGflopsMilli / 1000, minMemoryMiB: p.requirements.minMemoryMiB, attested: p.requirements.attested },
    private: p.private,
    ...(p.requesterKemKey !== undefined ? { requesterKemKey: `0x${toHex(p.requesterKemKey)}` } : {}),
    reannounce: p.reannounce,
    escrow: escrowOf(p).toString()
  }
}

function checkCanonicalParams (r: Reader, json: string): void {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    r.fail('params are not JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) r.fail('params must be a JSON object')
  // one encoding per value: the announce's id and signature must not depend on key order or whitespace
  if (canonicalJson(value) !== json) r.fail('params must be canonical JSON (sorted keys, no whitespace)')
}

export interface TaskCancelPayload {
  taskId: Uint8Array
}

export const taskCancelKind: TxKind<TaskCancelPayload> = {
  id: TX_KIND_TASK_CANCEL,
  name: 'task-cancel',
  maxPayloadBytes: TASK_ID_BYTES,
  encode (p) { return new Writer(32).fixed(p.taskId, TASK_ID_BYTES).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'task-cancel payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    r.end()
    return { taskId }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}` } }
}

