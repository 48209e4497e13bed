import { DagError } from './errors.ts'
import { type TxInfo, txDebit } from './tx.ts'

/** What the mempool tells its ledger. */
export interface MempoolHooks {
  /** A transaction came in (admitted, or given back from a rejected own vertex): the proposer may build. */
  onAdded?: (info: TxInfo) => void
  /** A transaction left for a vertex of this node (`take`) after waiting this long. */
  onTaken?: (waitMs: number) => void
}

/**
 * One account's queued transactions by nonce, with their sums kept as they come and go: admission reads them on
 * every submit (summing the list there allocated ~6 KiB of iteration entries and bigints per submit, measured with
 * the heap sampler on bench:ledger's ingest).
 */
interface AccountQueue {
  byNonce: Map<bigint, TxInfo[]>
  count: number
  /** amount + fee of every queued transaction of the account */
  debit: bigint
  /** highest queued nonce (undefined only while empty) */
  maxNonce: bigint | undefined
}

/** Transactions this node accepted from clients and has not yet placed in one of its vertices. Bounded. */
export class Mempool {
  private readonly byId = new Map<string, TxInfo>()
  private readonly byAccount = new Map<string, AccountQueue>()
  /** tx id -> when it was admitted; insertion order, so the first entry is the oldest (admission control's age) */
  private readonly addedAtMs = new Map<string, number>()
  readonly maxSize: number
  private readonly hooks: MempoolHooks

  constructor (maxSize: number, hooks: MempoolHooks = {}) { this.maxSize = maxSize; this.hooks = hooks }

  get size (): number { return this.byId.size }
  has (idHex: string): boolean { return this.byId.has(idHex) }
  get (idHex: string): TxInfo | undefined { return this.byId.get(idHex) }

  add (info: TxInfo): void {
    if (this.byId.has(info.idHex)) return
    if (this.byId.size >= this.maxSize) throw new DagError('MEMPOOL_FULL', `mempool is full (${this.maxSize} transactions); retry later`)
    this.byId.set(info.idHex, info)
    this.addedAtMs.set(info.idHex, Date.now())
    let acct = this.byAccount.get(info.accountHex)
    if (acct === undefined) { acct = { byNonce: new Map(), count: 0, debit: 0n, maxNonce: undefined }; this.byAccount.set(info.accountHex, acct) }
    const list = acct.byNonce.get(info.tx.nonce) ?? []
    list.push(info)
    acct.byNonce.set(info.tx.nonce, list)
    acct.count++
    acct.debit += txDebit(info)
    if (acct.maxNonce === undefined || info.tx.nonce > acct.maxNonce) acct.maxNonce = info.tx.nonce
    this.hooks.onAdded?.(info)
  }

  /** Removes a transaction placed in one of this node's vertices, telling how long it waited. */
  take (idHex: string): void {
    const added = this.addedAtMs.get(idHex)
    this.remove(idHex)
    if (added !== undefined) this.hooks.onTaken?.(Date.now() - added)
  }

  /**
   * Whether to build a vertex now: a full batch (`maxBatch`) is queued, or some transaction is and either `roomForPartial`
   * (the proposer's own-undecided rule, net/proposer.ts) or the oldest has waited `maxWaitMs`.
   */
  readyToBuild (maxBatch: number, roomForPartial: boolean, maxWaitMs: number): boolean {
    if (this.byId.size === 0) return false
    if (this.byId.size >= maxBatch || roomForPartial) return true
    return Date.now() - (this.oldestAddedMs() ?? Date.now()) >= maxWaitMs
  }

  remove (idHex: string): void {
    const info = this.byId.get(idHex)
    if (info === undefined) return
    this.byId.delete(idHex)
    this.addedAtMs.delete(idHex)
    const acct = this.byAccount.get(info.accountHex)
    const list = acct?.byNonce.get(info.tx.nonce)
    if (acct === undefined || list === undefined) return
    const rest = list.filter(t => t.idHex !== idHex)
    if (rest.length === list.length) return
    acct.count--
    acct.debit -= txDebit(info)
    if (rest.length > 0) { acct.byNonce.set(info.tx.nonce, rest); return }
    acct.byNonce.delete(info.tx.nonce)
    if (acct.byNonce.size === 0) { this.byAccount.delete(info.accountHex); return }
    // the highest nonce left: transactions leave lowest nonce first, so this walk is rare
    if (info.tx.nonce === acct.maxNonce) {
      let max: bigint | undefined
      for (const n of acct.byNonce.keys()) if (max === undefined || n > max) max = n
      acct.maxNonce = max
    }
  }

  /** When the oldest transaction still here was admitted, or undefined when empty. */
  oldestAddedMs (): number | undefined {
    for (const at of this.addedAtMs.values()) return at
    return undefined
  }

  accounts (): string[] { return [...this.byAccount.keys()] }

  /** An account's transactions in nonce order. */
  forAccount (accountHex: string): TxInfo[] {
    const acct = this.byAccount.get(accountHex)
    if (acct === undefined) return []
    return [...acct.byNonce.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).flatMap(e => e[1])
  }

  /**
   * An account's queued transactions summed for admission: their count, their debits (amount + fee) and the nonce
   * after the highest. Kept as transactions come and go: no walk, sort or decode per submit.
   */
  pendingOf (accountHex: string): { count: number, debit: bigint, next: bigint | undefined } {
    const acct = this.byAccount.get(accountHex)
    if (acct === undefined) return { count: 0, debit: 0n, next: undefined }
    return { count: acct.count, debit: acct.debit, next: acct.maxNonce === undefined ? undefined : acct.maxNonce + 1n }
  }

  /** Highest nonce pending for the account, if any. */
  highestNonce (accountHex: string): bigint | undefined {
    return this.byAccount.get(accountHex)?.maxNonce
  }

  hasNonce (accountHex: string, nonce: bigint): boolean {
    return (this.byAccount.get(accountHex)?.byNonce.get(nonce)?.length ?? 0) > 0
  }
}
