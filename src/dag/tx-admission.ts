import type { ConsensusCore } from './consensus/core.ts'
import type { VertexAdmission } from './admission.ts'
import { DagError } from './errors.ts'
import type { Genesis } from './genesis.ts'
import type { LedgerState } from './ledger-state.ts'
import type { Mempool } from './mempool.ts'
import type { ProcessingIndex } from './processing.ts'
import { decodeTx, txDebit, txInfo, type TxInfo, txSigningMessageFromEncoded } from './tx.ts'
import { requireTxKind } from './tx-kinds.ts'
import type { SignatureVerifier } from './verify-pool.ts'

export interface TxAdmissionComponents {
  genesis: Genesis
  verifier: SignatureVerifier
  admission: Pick<VertexAdmission, 'checkKindRules'>
  state: LedgerState
  core: ConsensusCore
  mempool: Mempool
  processing: ProcessingIndex
}

/** Why a part's rule refuses a transaction: the rule's code (the market's `BID_LATE`...) and a sentence. */
export interface StateRefusal { rule: string, message: string }

/**
 * A part's check of a signed transaction of its kind against that part's state on this node now (the market: a bid
 * after its window, a reveal that does not open its commit). It answers a refusal only where the part's rule would
 * refuse the transaction wherever this node applies it, whatever becomes final before: this node's own vertices
 * carry its mempool, stamped no earlier than now. Throwing admits the transaction (the rule still decides where it is
 * applied).
 */
export type StateCheck = (tx: TxInfo) => Promise<StateRefusal | undefined>

/** Longest rule code a refusal carries (it travels in RPC errors and forwarding answers). */
const MAX_RULE_CHARS = 64

/**
 * Mempool admission of a client transaction: encoding, kind rules, signature, the state check of its kind's part,
 * then nonce, conflict and balance against the account and its pending (mempool and processing) transactions.
 */
export class TxAdmission {
  private readonly c: TxAdmissionComponents
  private readonly stateChecks = new Map<number, StateCheck>()
  // per account, the last admission in flight: its successor checks its nonce only after it (an entry leaves with
  // the last admission of its account, so the map holds at most the accounts with admissions in flight)
  private readonly tails = new Map<string, Promise<void>>()

  constructor (components: TxAdmissionComponents) {
    this.c = components
  }

  /** Installs (or with undefined removes) the state check of transactions of `kind`. */
  setStateCheck (kind: number, check: StateCheck | undefined): void {
    if (check === undefined) this.stateChecks.delete(kind)
    else this.stateChecks.set(kind, check)
  }

  /**
   * Validates a transaction and queues it for this node's next vertex. Returns its id (hex). Transactions of one
   * account are checked in the order they were submitted: signatures verify in parallel and may finish in any
   * order, and a client that sends nonces n and n + 1 without waiting must not see n + 1 refused as a gap.
   */
  async admit (encoded: Uint8Array): Promise<string> {
    const { genesis, verifier, admission } = this.c
    const tx = decodeTx(encoded)
    const info = txInfo(encoded, tx)
    admission.checkKindRules(requireTxKind(tx.kind), tx)
    // the same bytes again (a client's or a forwarding node's resend): answered before a signature check, since the
    // id is the hash of the whole signed encoding and the copy held here was checked when it came
    if (this.c.mempool.has(info.idHex) || this.c.processing.hasTx(info.idHex)) throw new DagError('TX_KNOWN', 'transaction already known')
    const previous = this.tails.get(info.accountHex)
    let done = (): void => {}
    const tail = new Promise<void>((resolve) => { done = resolve })
    this.tails.set(info.accountHex, tail)
    try {
      let ok: boolean | undefined
      try {
        [ok] = await verifier.verifyBatch([{ sig: tx.signature, msg: txSigningMessageFromEncoded(genesis.chainId, encoded), publicKey: tx.publicKey }])
      } finally {
        // even a refused one keeps its place: its successors wait for everything submitted before it
        await previous
      }
      if (ok !== true) throw new DagError('SIGNATURE_INVALID', 'transaction signature does not verify for its public key on this chain')
      await this.checkState(info)
      return await this.queue(tx, info)
    } finally {
      done()
      if (this.tails.get(info.accountHex) === tail) this.tails.delete(info.accountHex)
    }
  }

  /** TX_REFUSED (meta.rule) when the part owning the kind refuses it on its state; its nonce stays unused. */
  private async checkState (info: TxInfo): Promise<void> {
    const check = this.stateChecks.get(info.tx.kind)
    if (check === undefined) return
    let refusal: StateRefusal | undefined
    try {
      refusal = await check(info)
    } catch {
      return
    }
    if (refusal === undefined) return
    const rule = refusal.rule.slice(0, MAX_RULE_CHARS)
    throw new DagError('TX_REFUSED', `refused by the ${rule} rule of its kind on this node's state: ${refusal.message}`, { rule })
  }

  private async queue (tx: ReturnType<typeof decodeTx>, info: ReturnType<typeof txInfo>): Promise<string> {
    const { state, core, mempool, processing } = this.c
    // a transaction the order refused leaves its nonce unused: its bytes are still decided (sign again)
    const kind = requireTxKind(tx.kind)
    if ((kind.orderCheck !== undefined || kind.externalCheck === true) && await state.refusedByOrder(info.id)) {
      throw new DagError('TX_KNOWN', 'transaction already decided: refused where the order reached it (sign it again to retry)')
    }
    // Load the account, then check and queue synchronously: no other ledger operation can interleave with the
    // synchronous part, so it needs no lock (a final transaction's nonce is below the account's: NONCE_TOO_LOW).
    let acct = await state.account(info.account)
    while (state.peek(info.account) !== acct) acct = await state.account(info.account)
    if (mempool.has(info.idHex) || processing.hasTx(info.idHex)) {
      throw new DagError('TX_KNOWN', 'transaction already known')
    }
    if (tx.nonce < acct.nonce) throw new DagError('NONCE_TOO_LOW', `nonce ${tx.nonce} already used; the account's next nonce is ${acct.nonce}`, { expected: acct.nonce.toString() })
    const pending = processing.debitsOf(info.accountHex)
    let next = acct.nonce
    let pendingDebit = 0n
    for (const [n, debit] of pending ?? []) { if (n >= acct.nonce) { pendingDebit += debit; if (n + 1n > next) next = n + 1n } }
    const queued = mempool.pendingOf(info.accountHex)
    pendingDebit += queued.debit
    if (queued.next !== undefined && queued.next > next) next = queued.next
    if (tx.nonce > next) throw new DagError('NONCE_GAP', `nonce ${tx.nonce} is ahead of the account's next nonce ${next}`, { expected: next.toString() })
    // A competitor is allowed only against instances this node's outside check found invalid (ExternalValidity).
    const replacesVetoed = tx.nonce === acct.nonce && queued.count === 0 && core.onlyVetoedLive(info.conflictKey)
    if (tx.nonce < next && !replacesVetoed) throw new DagError('TX_CONFLICT', `nonce ${tx.nonce} is already used by a pending transaction of this account`, { expected: next.toString() })
    const need = txDebit(info)
    if (acct.balance - pendingDebit < need) {
      throw new DagError('INSUFFICIENT_BALANCE', `balance ${acct.balance - pendingDebit} (after pending transactions) is below amount + fee ${need}`)
    }
    mempool.add(info)
    return info.idHex
  }
}
