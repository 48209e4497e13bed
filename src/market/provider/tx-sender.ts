import type { Transaction } from '../../dag/tx.ts'
import { errorMessage } from '../../core/errors.ts'
import type { SignedBy } from '../kinds/builders.ts'

/**
 * Submits the provider's own transactions in nonce order. One account signs everything the agent sends (register,
 * commits, reveals, results), so they go through one queue: the next nonce is known locally, and an admission that
 * says otherwise (NONCE_TOO_LOW, NONCE_GAP after a rejected transaction, TX_CONFLICT) resynchronises it and retries
 * a bounded number of times.
 */

// Admission errors that mean "your nonce is stale", with the account's next nonce in meta.expected when known.
const NONCE_CODES = new Set(['NONCE_TOO_LOW', 'NONCE_GAP', 'TX_CONFLICT'])
const MAX_ATTEMPTS = 4

export interface TxSenderComponents {
  /** The account's next nonce as final on the ledger. */
  finalNonce: () => Promise<bigint>
  /** Admits a signed transaction (DagService.submitTransaction); resolves with its id. */
  submit: (tx: Transaction) => Promise<string>
  /** Who signs: every transaction is built for this chain, key and fee, with the nonce the sender picks. */
  signer: Omit<SignedBy, 'nonce'>
}

export class TxSender {
  private readonly c: TxSenderComponents
  private next: bigint | undefined
  private tail: Promise<unknown> = Promise.resolve()

  constructor (components: TxSenderComponents) {
    this.c = components
  }

  /** Builds (signed with the nonce it is given) and submits, in order with every other send; resolves with the tx id. */
  async send (build: (by: SignedBy) => Transaction): Promise<string> {
    const run = this.tail.then(async () => await this.attempt(build), async () => await this.attempt(build))
    this.tail = run.catch(() => undefined)
    return await run
  }

  private async attempt (build: (by: SignedBy) => Transaction): Promise<string> {
    let lastError: unknown
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const final = await this.c.finalNonce()
      const nonce = this.next === undefined || this.next < final ? final : this.next
      try {
        const id = await this.c.submit(build({ ...this.c.signer, nonce }))
        this.next = nonce + 1n
        return id
      } catch (err) {
        lastError = err
        const code = (err as { code?: string }).code
        if (code === undefined || !NONCE_CODES.has(code)) throw err
        const expected = (err as { meta?: { expected?: unknown } }).meta?.expected
        // NONCE_GAP and NONCE_TOO_LOW say where the account stands; a conflict means a pending one holds this nonce
        this.next = typeof expected === 'string' && /^[0-9]+$/.test(expected) ? BigInt(expected) : nonce + 1n
      }
    }
    throw new Error(`transaction not admitted after ${MAX_ATTEMPTS} nonce resynchronisations: ${errorMessage(lastError)}`)
  }

  /** Forget the local nonce (after a transaction of this account was rejected: the ledger's is right again). */
  reset (): void {
    this.next = undefined
  }
}
