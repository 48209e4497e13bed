import { DagError } from './errors.ts'
import { type TxInfo, txDebit } from './tx.ts'

/** What the mempool tells its ledger. */
export interface MempoolHooks {
  /** A transaction came in (admitted, or given back from a rejected own vertex): the proposer may build. */
  onAdded?: (info: TxInfo) => void
  /** A transaction left for a vertex of this node (`take`) after waiting this long. */
  onTaken?: (waitMs: number) => void
}

/** Transactions this node accepted from clients and has not yet placed in one of its vertices. Bounded. */
export class Mempool {
  private readonly byId = new Map<string, TxInfo>()
  private readonly byAccount = new Map<string, Map<bigint, TxInfo[]>>()
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
    if (acct === undefined) { acct = new Map(); this.byAccount.set(info.accountHex, acct) }
    const list = acct.get(info.tx.nonce) ?? []
    list.push(info)
    acct.set(info.tx.nonce, list)
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
    const list = acct?.get(info.tx.nonce)
    if (acct === undefined || list === undefined) return
    const rest = list.filter(t => t.idHex !== idHex)
    if (rest.length === 0) acct.delete(info.tx.nonce)
    else acct.set(info.tx.nonce, rest)
    if (acct.size === 0) this.byAccount.delete(info.accountHex)
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
    return [...acct.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).flatMap(e => e[1])
  }

  /**
   * An account's queued transactions summed for admission: their count, their debits (amount + fee) and the nonce
   * after the highest. No sort and no decode (admission asked `forAccount` and decoded every payload on every submit).
   */
  pendingOf (accountHex: string): { count: number, debit: bigint, next: bigint | undefined } {
    const acct = this.byAccount.get(accountHex)
    let count = 0
    let debit = 0n
    let next: bigint | undefined
    if (acct === undefined) return { count, debit, next }
    for (const [n, list] of acct) {
      for (const t of list) { count++; debit += txDebit(t) }
      if (next === undefined || n + 1n > next) next = n + 1n
    }
    return { count, debit, next }
  }

  /** Highest nonce pending for the account, if any. */
  highestNonce (accountHex: string): bigint | undefined {
    const acct = this.byAccount.get(accountHex)
    if (acct === undefined) return undefined
    let max: bigint | undefined
    for (const n of acct.keys()) if (max === undefined || n > max) max = n
    return max
  }

  hasNonce (accountHex: string, nonce: bigint): boolean {
    return (this.byAccount.get(accountHex)?.get(nonce)?.length ?? 0) > 0
  }
}
