/**
 * The market state's writes before they commit (market-state.ts). An entry's overlay keeps what applying one queued
 * transaction changed and reads through to its base: the records of the entries applied before it in the same
 * commit (another overlay), then the state itself. Entries applied one after another in one drain pass commit as one
 * LevelDB batch: a write and its round trip through the thread pool per entry were the market node's most frequent
 * LevelDB calls (docs/market.md, "One batch per drain pass").
 */
import { KEY_PREFIXES, type WriteOp } from '../../core/storage.ts'
import type { ApplyContext } from './apply.ts'
import type { PaymentView } from './reader.ts'
import { encodeRecord, isDone, type ProviderRecord, type TaskRecord } from './records.ts'

const P = KEY_PREFIXES.market
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Where an overlay's reads fall through to: the state, or the overlay of the entries applied before. */
export interface RecordSource {
  taskRecord: (taskId: string) => Promise<TaskRecord | undefined>
  providerRecord: (address: string) => Promise<ProviderRecord | undefined>
  validatorKeys: () => readonly Uint8Array[]
}

/** What takes an overlay's records once its batch committed (the state's caches and open set). */
export interface RecordSink {
  adoptTask: (t: TaskRecord) => void
  adoptProvider: (p: ProviderRecord) => void
}

/** Reads fall through to the base; writes are kept until their batch commits. */
export class Overlay implements ApplyContext, RecordSource {
  readonly tasks = new Map<string, { rec: TaskRecord, created: boolean }>()
  readonly providers = new Map<string, ProviderRecord>()
  private readonly extra: WriteOp[] = []
  private payments = 0
  private readonly base: RecordSource

  constructor (base: RecordSource) { this.base = base }

  async task (taskId: string): Promise<TaskRecord | undefined> {
    return this.tasks.get(taskId)?.rec ?? await this.base.taskRecord(taskId)
  }

  async provider (address: string): Promise<ProviderRecord | undefined> {
    return this.providers.get(address) ?? await this.base.providerRecord(address)
  }

  async taskRecord (taskId: string): Promise<TaskRecord | undefined> { return await this.task(taskId) }
  async providerRecord (address: string): Promise<ProviderRecord | undefined> { return await this.provider(address) }

  putTask (t: TaskRecord, created = false): void {
    this.tasks.set(t.taskId, { rec: t, created: created || this.tasks.get(t.taskId)?.created === true })
  }

  putProvider (p: ProviderRecord): void { this.providers.set(p.address, p) }

  validatorKeys (): readonly Uint8Array[] { return this.base.validatorKeys() }

  indexBid (provider: string, taskId: string): void {
    this.extra.push({ type: 'put', key: enc(`${P.byProvider}${provider}/${taskId}`), value: new Uint8Array(0) })
  }

  payment (account: string, p: PaymentView): void {
    const key = `${P.payment}${account}/${p.timeMs.toString().padStart(15, '0')}/${p.txId}/${this.payments++}`
    this.extra.push({ type: 'put', key: enc(key), value: encodeRecord(p) })
  }

  /** Takes a later entry's writes on top of these (its records replace ours; its index and payment records add). */
  merge (later: Overlay): void {
    for (const t of later.tasks.values()) this.putTask(t.rec, t.created)
    for (const p of later.providers.values()) this.putProvider(p)
    this.extra.push(...later.extra)
  }

  /** The writes, in the market sublevel: the index and payment records, then each changed record as it is now. */
  ops (): WriteOp[] {
    const ops: WriteOp[] = [...this.extra]
    for (const { rec, created } of this.tasks.values()) {
      ops.push({ type: 'put', key: enc(P.task + rec.taskId), value: encodeRecord(rec) })
      if (created) ops.push({ type: 'put', key: enc(`${P.byRequester}${rec.requester}/${rec.taskId}`), value: new Uint8Array(0) })
      if (isDone(rec)) ops.push({ type: 'del', key: enc(P.open + rec.taskId) })
      else ops.push({ type: 'put', key: enc(P.open + rec.taskId), value: new Uint8Array(0) })
    }
    for (const p of this.providers.values()) ops.push({ type: 'put', key: enc(P.provider + p.address), value: encodeRecord(p) })
    return ops
  }

  adoptInto (sink: RecordSink): void {
    for (const { rec } of this.tasks.values()) sink.adoptTask(rec)
    for (const p of this.providers.values()) sink.adoptProvider(p)
  }
}
