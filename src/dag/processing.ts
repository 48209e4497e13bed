import { type TxInfo, txDebit } from './tx.ts'
import type { VertexInfo } from './vertex.ts'

/**
 * In-memory indexes of the undecided (processing) vertices: their decoded form, which vertex holds a transaction,
 * the pending debits per account (for submit-time balance checks), when each vertex was first seen and which ones
 * this node built. Bounded by the ledger's maxProcessing: an entry leaves when its vertex is decided.
 */
export class ProcessingIndex {
  private readonly infos = new Map<string, VertexInfo>()
  /** tx id -> vertex of a processing instance */
  private readonly txVertex = new Map<string, string>()
  /** account -> nonce -> debit of processing transactions */
  private readonly debits = new Map<string, Map<bigint, bigint>>()
  private readonly receivedAt = new Map<string, number>()
  private readonly own = new Set<string>()

  add (info: VertexInfo, nowMs: number): void {
    this.infos.set(info.idHex, info)
    this.receivedAt.set(info.idHex, nowMs)
    for (const t of info.txs) {
      this.txVertex.set(t.idHex, info.idHex)
      let m = this.debits.get(t.accountHex)
      if (m === undefined) { m = new Map(); this.debits.set(t.accountHex, m) }
      m.set(t.tx.nonce, txDebit(t))
    }
  }

  /** Forgets a decided vertex. */
  drop (info: VertexInfo): void {
    this.infos.delete(info.idHex)
    this.own.delete(info.idHex)
    this.receivedAt.delete(info.idHex)
    for (const t of info.txs) {
      if (this.txVertex.get(t.idHex) === info.idHex) this.txVertex.delete(t.idHex)
      const m = this.debits.get(t.accountHex)
      if (m !== undefined) {
        m.delete(t.tx.nonce)
        if (m.size === 0) this.debits.delete(t.accountHex)
      }
    }
  }

  get (idHex: string): VertexInfo | undefined { return this.infos.get(idHex) }
  firstSeenMs (idHex: string): number | undefined { return this.receivedAt.get(idHex) }
  markOwn (idHex: string): void { this.own.add(idHex) }
  isOwn (idHex: string): boolean { return this.own.has(idHex) }
  /** Undecided vertices this node built: how many, and when the oldest was inserted (the first in insertion order). */
  ownUndecided (): { count: number, oldestMs: number | undefined } {
    for (const id of this.own) return { count: this.own.size, oldestMs: this.receivedAt.get(id) }
    return { count: 0, oldestMs: undefined }
  }
  /** When the oldest undecided vertex not `skip`ped was first seen (insertion order: the first such entry). */
  oldestSeenMs (skip: (idHex: string) => boolean): number | undefined {
    for (const [id, at] of this.receivedAt) if (!skip(id)) return at
    return undefined
  }

  /**
   * The transactions of `kinds` in undecided vertices, each with the signed time of the vertex holding it (a
   * transaction two vertices carry comes twice). The market's issuer reads it to close a window: an undecided
   * vertex stamped before the close may hold an in-time reveal or result.
   */
  ofKinds (kinds: ReadonlySet<number>): Array<{ tx: TxInfo, stampMs: bigint }> {
    const out: Array<{ tx: TxInfo, stampMs: bigint }> = []
    for (const info of this.infos.values()) {
      for (const tx of info.txs) if (kinds.has(tx.tx.kind)) out.push({ tx, stampMs: info.vertex.timestampMs })
    }
    return out
  }

  /** Transactions in undecided vertices (each counted once, however many vertices hold it). */
  get txCount (): number { return this.txVertex.size }
  hasTx (txIdHex: string): boolean { return this.txVertex.has(txIdHex) }
  /** The processing vertex holding a transaction. */
  vertexOfTx (txIdHex: string): string | undefined { return this.txVertex.get(txIdHex) }
  /** nonce -> debit (amount + fee) of an account's processing transactions. */
  debitsOf (accountHex: string): ReadonlyMap<bigint, bigint> | undefined { return this.debits.get(accountHex) }

  txOf (txIdHex: string): { vertexId: string, tx?: TxInfo } | undefined {
    const v = this.txVertex.get(txIdHex)
    if (v === undefined) return undefined
    const tx = this.infos.get(v)?.txs.find(t => t.idHex === txIdHex)
    return { vertexId: v, ...(tx !== undefined ? { tx } : {}) }
  }
}
