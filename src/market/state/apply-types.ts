/** What applying a final market transaction reads and writes, and what comes of it (apply.ts, apply-inputs.ts). */
import type { MarketErrorCode } from '../kinds/index.ts'
import type { PaymentView } from './reader.ts'
import type { ProviderRecord, TaskRecord } from './records.ts'

/** Where an applied transaction reads and writes records (one overlay per transaction, committed in one batch). */
export interface ApplyContext {
  task: (taskId: string) => Promise<TaskRecord | undefined>
  /** The genesis validators' public keys (who judges an input claim: rules/input-judge.ts). */
  validatorKeys: () => readonly Uint8Array[]
  provider: (address: string) => Promise<ProviderRecord | undefined>
  putTask: (t: TaskRecord, created?: boolean) => void
  putProvider: (p: ProviderRecord) => void
  /** `b/` index: a provider bid on a task */
  indexBid: (provider: string, taskId: string) => void
  payment: (account: string, p: PaymentView) => void
}

export type ApplyOutcome =
  | { status: 'applied', taskId?: string, provider?: string }
  /** `code`: the refusal if it stays parked past the park time (default TASK_UNKNOWN) */
  | { status: 'parked', reason: string, code?: MarketErrorCode }
  | { status: 'refused', code: MarketErrorCode, reason: string }

export interface FinalAt { txId: string, timeMs: number }

export const refused = (code: MarketErrorCode, reason: string): ApplyOutcome => ({ status: 'refused', code, reason })
export const parked = (reason: string, code?: MarketErrorCode): ApplyOutcome => ({ status: 'parked', reason, ...(code !== undefined ? { code } : {}) })
