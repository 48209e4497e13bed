/**
 * Deposits under the commit rule (docs/consensus-next.md step 4, docs/protocol.md "Chain bridge kinds"): no vertex
 * can be held back there, so a credit's validity comes from the order. Each validator attests every deposit its own
 * chain view confirmed (`deposit-attest`), and proposes the credit only once the final attestations of the others and
 * its own stake hold the quorum: the credit, built after those are final here, comes after them in the order and
 * passes its order check at every node.
 */
import { addressBytesFromPublicKey } from '../core/address.ts'
import type { Logger } from '../core/logger.ts'
import { DagError } from '../dag/errors.ts'
import { type Genesis, orderCheckContextOf } from '../dag/genesis.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { Transaction } from '../dag/tx.ts'
import { buildDepositAttest } from './kinds/builders.ts'
import { attestAccount, type DepositCreditPayload } from './kinds/deposit-credit.ts'

export interface DepositAttestationsComponents {
  ledger: Pick<LedgerReader, 'account' | 'chainId'>
  genesis: Pick<Genesis, 'validators' | 'consensus'>
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  submit: (tx: Transaction) => Promise<string>
  logger: Logger
}

/**
 * Refusals that mean this attestation (or the credit, deposit-credits.ts, or an epoch close, dag-bridge.ts) is
 * already pending or final.
 */
export const TAKEN_CODES = new Set(['TX_CONFLICT', 'TX_KNOWN', 'NONCE_TOO_LOW', 'NONCE_GAP'])

export class DepositAttestations {
  private readonly c: DepositAttestationsComponents
  private readonly order: NonNullable<ReturnType<typeof orderCheckContextOf>>
  private readonly me: Uint8Array
  private readonly resubmitMs: number
  /** deposit key -> when this validator last submitted its attestation (bounded by the bridge's pending deposits) */
  private readonly submittedAt = new Map<string, number>()

  /** Undefined unless the genesis runs the commit rule. */
  static of (c: DepositAttestationsComponents, resubmitMs: number): DepositAttestations | undefined {
    const order = orderCheckContextOf(c.genesis)
    return order === undefined ? undefined : new DepositAttestations(c, order, resubmitMs)
  }

  private constructor (c: DepositAttestationsComponents, order: NonNullable<ReturnType<typeof orderCheckContextOf>>, resubmitMs: number) {
    this.c = c
    this.order = order
    this.me = addressBytesFromPublicKey(c.identity.publicKey)
    this.resubmitMs = resubmitMs
  }

  /**
   * Attests the deposit (once final, never again; a submission not final is repeated after resubmitMs) and says
   * whether the credit may be proposed: this validator's stake and the others' final attestations hold the quorum.
   */
  async step (key: string, payload: DepositCreditPayload, now: number): Promise<boolean> {
    let stake = 0
    for (const v of this.order.validators) {
      const own = v.address.every((b, i) => b === this.me[i])
      const attested = (await this.c.ledger.account(attestAccount(v.address, payload))).nonce > 0n
      if (own && !attested) await this.submitOwn(key, payload, now)
      if (own || attested) stake += v.stake
    }
    return stake >= this.order.quorum
  }

  /** The deposit is credited or given up: its submission time goes. */
  forget (key: string): void { this.submittedAt.delete(key) }

  private async submitOwn (key: string, payload: DepositCreditPayload, now: number): Promise<void> {
    const last = this.submittedAt.get(key)
    if (last !== undefined && now < last + this.resubmitMs) return
    this.submittedAt.set(key, now)
    try {
      const id = await this.c.submit(buildDepositAttest(this.c.ledger.chainId, this.c.identity, payload))
      this.c.logger.debug({ id }, 'deposit attested')
    } catch (err) {
      if (err instanceof DagError && TAKEN_CODES.has(err.code)) return
      this.c.logger.warn({ err }, 'deposit attestation refused')
    }
  }
}
