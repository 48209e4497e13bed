/**
 * The kinds that decide a task: `task-award` (37) and `task-settle` (39) are validator-signed and act for the
 * task's escrow account (nonce = the escrow's next nonce: its decisions form one chain, and consensus lets one
 * transaction per (escrow, nonce) become final); every validator recomputes them from its own market state before
 * it votes (externalCheck, src/market/coordinator.ts). `task-result` (38) is the provider's signed commitment to
 * its output.
 */
import { ADDRESS_BYTES, formatAddress } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { FEE_POOL_ACCOUNT } from '../../dag/fee-pool.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { escrowAccount } from '../accounts.ts'
import { readEnum, readList, readOptional, readText, writeEnum, writeList, writeOptional, writeText } from './fields.ts'
import { SETTLE_OUTCOMES, type SettleOutcome, TX_KIND_TASK_AWARD, TX_KIND_TASK_RESULT, TX_KIND_TASK_SETTLE } from './ids.ts'
import { MAX_PROFILE_BYTES, systemValidate, TASK_ID_BYTES } from './provider.ts'
import { MAX_REDUNDANCY } from './ids.ts'
import { BLOB_ID_BYTES } from './task.ts'

/** Reveals an award may list: 64 × 32 bytes keeps the payload well under the 4 KiB transaction bound. */
export const MAX_CONSIDERED_REVEALS = 64
/** Award rounds of one task (the first award, then one per replacement). */
export const MAX_AWARD_ROUNDS = 16
/** Payouts of one settle: every winner of every round plus the checker is bounded by this. */
export const MAX_PAYOUTS = 16

export interface TaskAwardPayload {
  taskId: Uint8Array
  /** 0 for the first award, +1 per replacement round. */
  round: number
  /** Ids of the in-time valid bid-reveals considered (32 bytes each). */
  considered: Uint8Array[]
  /** Providers awarded this round, ranked. Empty: no valid bid (the coordinator then refunds or re-announces). */
  winners: Uint8Array[]
  /** The spot-checker (spot-check mode, first round). */
  checker?: Uint8Array
}

export const taskAwardKind: TxKind<TaskAwardPayload> = {
  id: TX_KIND_TASK_AWARD,
  name: 'task-award',
  maxPayloadBytes: TASK_ID_BYTES + 1 + 1 + MAX_CONSIDERED_REVEALS * 32 + 1 + MAX_REDUNDANCY * ADDRESS_BYTES + 1 + ADDRESS_BYTES,
  encode (p) {
    const w = new Writer(2400).fixed(p.taskId, TASK_ID_BYTES).u8(p.round)
    writeList(w, p.considered, 32)
    writeList(w, p.winners, ADDRESS_BYTES)
    writeOptional(w, p.checker, ADDRESS_BYTES)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'task-award payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const round = r.u8()
    if (round >= MAX_AWARD_ROUNDS) r.fail(`round must be below ${MAX_AWARD_ROUNDS}`)
    const considered = readList(r, 32, MAX_CONSIDERED_REVEALS, 'considered reveals')
    const winners = readList(r, ADDRESS_BYTES, MAX_REDUNDANCY, 'winners')
    const checker = readOptional(r, ADDRESS_BYTES, 'checker flag')
    r.end()
    return { taskId, round, considered, winners, ...(checker !== undefined ? { checker } : {}) }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) {
    return {
      taskId: `0x${toHex(p.taskId)}`,
      round: p.round,
      considered: p.considered.map(id => `0x${toHex(id)}`),
      winners: p.winners.map(w => formatAddress(w)),
      ...(p.checker !== undefined ? { checker: formatAddress(p.checker) } : {})
    }
  },
  account (p) { return escrowAccount(p.taskId) },
  validate: systemValidate('task-award'),
  validatorOnly: true,
  feeExempt: true,
  externalCheck: true
}

export interface TaskResultPayload {
  taskId: Uint8Array
  round: number
  /** `compute/blob.ts` resultCommitment of the outputs (32 bytes). */
  commitment: Uint8Array
  /** The output blob the provider serves (sealed for a private task). */
  outputBlob: Uint8Array
  outputBytes: number
  /** The executor profile it ran on (bitwise comparison within one profile). */
  profile: string
}

export const taskResultKind: TxKind<TaskResultPayload> = {
  id: TX_KIND_TASK_RESULT,
  name: 'task-result',
  maxPayloadBytes: TASK_ID_BYTES + 1 + 32 + BLOB_ID_BYTES + 4 + 4 + MAX_PROFILE_BYTES,
  encode (p) {
    const w = new Writer(160).fixed(p.taskId, TASK_ID_BYTES).u8(p.round).fixed(p.commitment, 32).fixed(p.outputBlob, BLOB_ID_BYTES).u32(p.outputBytes)
    writeText(w, p.profile)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'task-result payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const round = r.u8()
    if (round >= MAX_AWARD_ROUNDS) r.fail(`round must be below ${MAX_AWARD_ROUNDS}`)
    const commitment = r.fixed(32)
    const outputBlob = r.fixed(BLOB_ID_BYTES)
    const outputBytes = r.u32()
    const profile = readText(r, MAX_PROFILE_BYTES, 'profile')
    r.end()
    return { taskId, round, commitment, outputBlob, outputBytes, profile }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) {
    return { taskId: `0x${toHex(p.taskId)}`, round: p.round, commitment: toHex(p.commitment), outputBlob: toHex(p.outputBlob), outputBytes: p.outputBytes, profile: p.profile }
  }
}

export interface Payout {
  provider: Uint8Array
  amount: bigint
}

export interface TaskSettlePayload {
  taskId: Uint8Array
  outcome: SettleOutcome
  payouts: Payout[]
  /** The protocol fee, to the validators' fee pool. */
  fee: bigint
  /** Back to the requester. */
  refund: bigint
  /** The task's requester (the refund's account; checked against the announce by every validator). */
  requester: Uint8Array
}

/** What a settle moves out of the escrow: all of it (checked by every validator: the escrow ends at 0). */
export function settleTotal (p: Pick<TaskSettlePayload, 'payouts' | 'fee' | 'refund'>): bigint {
  let sum = p.fee + p.refund
  for (const x of p.payouts) sum += x.amount
  return sum
}

export const taskSettleKind: TxKind<TaskSettlePayload> = {
  id: TX_KIND_TASK_SETTLE,
  name: 'task-settle',
  maxPayloadBytes: TASK_ID_BYTES + 1 + 1 + MAX_PAYOUTS * (ADDRESS_BYTES + 16) + 16 + 16 + ADDRESS_BYTES,
  encode (p) {
    const w = new Writer(800).fixed(p.taskId, TASK_ID_BYTES)
    writeEnum(w, SETTLE_OUTCOMES, p.outcome)
    w.u8(p.payouts.length)
    for (const x of p.payouts) w.fixed(x.provider, ADDRESS_BYTES).u128(x.amount)
    return w.u128(p.fee).u128(p.refund).fixed(p.requester, ADDRESS_BYTES).finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'task-settle payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const outcome = readEnum(r, SETTLE_OUTCOMES, 'settle outcome')
    const n = r.u8()
    if (n > MAX_PAYOUTS) r.fail(`more than ${MAX_PAYOUTS} payouts`)
    const payouts: Payout[] = []
    for (let i = 0; i < n; i++) {
      const provider = r.fixed(ADDRESS_BYTES)
      const amount = r.u128()
      if (amount === 0n) r.fail('a payout is positive')
      payouts.push({ provider, amount })
    }
    const fee = r.u128()
    const refund = r.u128()
    const requester = r.fixed(ADDRESS_BYTES)
    r.end()
    return { taskId, outcome, payouts, fee, refund, requester }
  },
  effects (p) {
    const credits = p.payouts.map(x => ({ to: x.provider, amount: x.amount }))
    if (p.fee > 0n) credits.push({ to: FEE_POOL_ACCOUNT, amount: p.fee })
    if (p.refund > 0n) credits.push({ to: p.requester, amount: p.refund })
    return { debit: settleTotal(p), credits }
  },
  toJSON (p) {
    return {
      taskId: `0x${toHex(p.taskId)}`,
      outcome: p.outcome,
      payouts: p.payouts.map(x => ({ provider: formatAddress(x.provider), amount: x.amount.toString() })),
      fee: p.fee.toString(),
      refund: p.refund.toString(),
      requester: formatAddress(p.requester)
    }
  },
  account (p) { return escrowAccount(p.taskId) },
  validate: systemValidate('task-settle'),
  validatorOnly: true,
  feeExempt: true,
  externalCheck: true
}

