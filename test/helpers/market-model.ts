/**
 * The market's state application and the DAG's effects rule without consensus, for the market's rule tests
 * (market-rules' random histories, market-input-claims): a ledger model with one nonce chain per account (debit +
 * fee, credits, the fee to the fee pool), an in-memory market state, and unsigned transactions of any kind.
 */
import { toHex } from '../../src/core/codec.ts'
import { ML_DSA65_SIGNATURE_BYTES } from '../../src/core/crypto.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { encodeTx, type Transaction, TX_VERSION, txInfo } from '../../src/dag/tx.ts'
import { requireTxKind } from '../../src/dag/tx-kinds.ts'
import type { ApplyContext } from '../../src/market/state/apply.ts'
import type { ProviderRecord, TaskRecord } from '../../src/market/state/records.ts'

/** The DAG's effects rule without consensus: one account/nonce chain, debit + fee, credits, fee to the pool. */
export class LedgerModel {
  readonly balances = new Map<string, bigint>()
  readonly nonces = new Map<string, bigint>()
  total (): bigint { let s = 0n; for (const v of this.balances.values()) s += v; return s }
  balance (a: Uint8Array): bigint { return this.balances.get(toHex(a)) ?? 0n }
  nonce (a: Uint8Array): bigint { return this.nonces.get(toHex(a)) ?? 0n }
  /** Applies `tx`; false when the ledger rejects it (the nonce is still consumed, as on the DAG). */
  apply (tx: Transaction): boolean {
    const info = txInfo(encodeTx(tx))
    const kind = requireTxKind(tx.kind)
    const a = info.accountHex
    if (this.nonce(info.account) !== tx.nonce) throw new Error(`the model issues nonces in order: nonce ${tx.nonce} of kind ${tx.kind}, expected ${this.nonce(info.account)}`)
    this.nonces.set(a, tx.nonce + 1n)
    const effects = kind.effects(kind.decode(tx.payload), { account: info.account, nonce: tx.nonce })
    const need = effects.debit + tx.fee
    if ((this.balances.get(a) ?? 0n) < need) return false
    this.balances.set(a, (this.balances.get(a) ?? 0n) - need)
    for (const c of effects.credits) this.balances.set(toHex(c.to), (this.balances.get(toHex(c.to)) ?? 0n) + c.amount)
    if (tx.fee > 0n) this.balances.set(toHex(FEE_POOL_ACCOUNT), (this.balances.get(toHex(FEE_POOL_ACCOUNT)) ?? 0n) + tx.fee)
    return true
  }
}

/** The market state in memory. */
export class MemoryMarket implements ApplyContext {
  readonly tasks = new Map<string, TaskRecord>()
  readonly providers = new Map<string, ProviderRecord>()
  /** The validators' public keys (who judges an input claim); a test that sends verdicts names them. */
  validators: readonly Uint8Array[] = []
  validatorKeys (): readonly Uint8Array[] { return this.validators }
  async task (id: string): Promise<TaskRecord | undefined> { return this.tasks.get(id) }
  async provider (a: string): Promise<ProviderRecord | undefined> { return this.providers.get(a) }
  putTask (t: TaskRecord): void { this.tasks.set(t.taskId, t) }
  putProvider (p: ProviderRecord): void { this.providers.set(p.address, p) }
  indexBid (): void {}
  payment (): void {}
}

/** A transaction of `kindId` with an all-zero signature (the model and the market state do not check it). */
export function unsignedTx<P> (kindId: number, keys: { publicKey: Uint8Array }, nonce: bigint, fee: bigint, payload: P): Transaction {
  const kind = requireTxKind(kindId)
  return { version: TX_VERSION, kind: kindId, publicKey: keys.publicKey, nonce, fee, payload: kind.encode(payload as never), signature: new Uint8Array(ML_DSA65_SIGNATURE_BYTES) }
}
