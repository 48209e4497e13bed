import type { Transaction } from '../../dag/tx.ts'
import { errorMessage } from '../../core/errors.ts'
import { sleep } from '../../core/wakeable.ts'
import type { SignedBy } from '../kinds/builders.ts'

/**
 * Submits the provider's own transactions in nonce order. One account signs everything the agent sends (register,
 * commits, reveals, results), so the next nonce is known locally: nonces are chosen, transactions signed and handed
 * to the node one at a time, in call order. With `pipelined` (the node takes one account's transactions in the order
 * they were submitted: a validator's admission checks them in that order, TxAdmission, and a node outside the
 * validator set forwards them to a validator in that order, TxForwarding) the next one is signed and submitted while
 * the last one's admission is under way; otherwise each waits for the last one's admission.
 *
 * Measured before pipelining (`bench:market`, 30 tasks in flight per requester): a provider's sends waited p50
 * 12–432 ms, p90 81–1,180 ms in this queue for attempts of p50 3–5 ms, p90 22–48 ms (the verifier pool's queue), so
 * commits reached their vertex after the bid window.
 *
 * An admission that says the nonce is stale (NONCE_TOO_LOW, NONCE_GAP after a refused or rejected transaction,
 * TX_CONFLICT) resynchronises and retries a bounded number of times. One refused BUSY (admission control past
 * capacity: a validator's rate rule, or for a forwarded transaction its latency rule too) frees its nonce and is sent
 * again after the `retryAfterMs` the node gave, a bounded number of times: it is work already under way (a result, a
 * reveal), which a provider that gave it up at the first refusal would be slashed for. Resynchronisations are counted in generations:
 * a transaction issued before the last one retries with the next nonce in order instead of moving it again (the
 * transactions issued after a refused one all fail the same way, and must not each move it back).
 */

// Admission errors that mean "your nonce is stale", with the account's next nonce in meta.expected when known.
const NONCE_CODES = new Set(['NONCE_TOO_LOW', 'NONCE_GAP', 'TX_CONFLICT'])
const MAX_ATTEMPTS = 4
/** BUSY refusals one send waits out (each for the node's retryAfterMs, within the bounds below) before it fails. */
const MAX_BUSY_RETRIES = 6
const BUSY_WAIT_MIN_MS = 50
const BUSY_WAIT_MAX_MS = 5000

export interface TxSenderComponents {
  /** The account's next nonce as final on the ledger. */
  finalNonce: () => Promise<bigint>
  /** Admits a signed transaction (DagService.submitTransaction); resolves with its id. */
  submit: (tx: Transaction) => Promise<string>
  /** Who signs: every transaction is built for this chain, key and fee, with the nonce the sender picks. */
  signer: Omit<SignedBy, 'nonce'>
  /** Submit without waiting for the previous admission (the node checks submissions in order). @default false */
  pipelined?: boolean
}

interface Issued { nonce: bigint, generation: number, admission: Promise<string> }

export class TxSender {
  private readonly c: TxSenderComponents
  private next: bigint | undefined
  private generation = 0
  /** orders nonce choice, signing and the submit call (and, not pipelined, the admission) across sends */
  private tail: Promise<unknown> = Promise.resolve()

  constructor (components: TxSenderComponents) {
    this.c = components
  }

  /** Builds (signed with the nonce it is given) and submits, in order with every other send; resolves with the tx id. */
  async send (build: (by: SignedBy) => Transaction): Promise<string> {
    let lastError: unknown
    let busy = 0
    for (let attempt = 0; attempt < MAX_ATTEMPTS;) {
      const issued = await this.issue(build)
      try {
        return await issued.admission
      } catch (err) {
        lastError = err
        const code = (err as { code?: string }).code
        if (code === 'BUSY' && busy < MAX_BUSY_RETRIES) {
          busy++
          // not admitted: its nonce is free again (the sends after it fill it), and this one goes again after the wait
          this.resync(issued, issued.nonce)
          const after = Number((err as { meta?: { retryAfterMs?: unknown } }).meta?.retryAfterMs)
          await sleep(Math.min(BUSY_WAIT_MAX_MS, Math.max(BUSY_WAIT_MIN_MS, Number.isFinite(after) ? after : 1000)))
          continue
        }
        attempt++
        if (code === undefined || !NONCE_CODES.has(code)) {
          // not admitted: its nonce is free again, and whatever was issued after it will find a gap
          this.resync(issued, issued.nonce)
          throw err
        }
        const expected = (err as { meta?: { expected?: unknown } }).meta?.expected
        // NONCE_GAP and NONCE_TOO_LOW say where the account stands; a conflict means a pending one holds this nonce
        this.resync(issued, typeof expected === 'string' && /^[0-9]+$/.test(expected) ? BigInt(expected) : issued.nonce + 1n)
      }
    }
    throw new Error(`transaction not admitted after ${MAX_ATTEMPTS} nonce resynchronisations: ${errorMessage(lastError)}`)
  }

  /** Forget the local nonce (after a transaction of this account was rejected: the ledger's is right again). */
  reset (): void {
    this.next = undefined
    this.generation++
  }

  private async issue (build: (by: SignedBy) => Transaction): Promise<Issued> {
    const run = this.tail.then(async () => {
      const final = await this.c.finalNonce()
      const nonce = this.next === undefined || this.next < final ? final : this.next
      const tx = build({ ...this.c.signer, nonce })
      this.next = nonce + 1n
      const admission = this.c.submit(tx)
      if (this.c.pipelined !== true) await admission.catch(() => undefined)
      else admission.catch(() => undefined)
      return { nonce, generation: this.generation, admission }
    })
    this.tail = run.catch(() => undefined)
    return await run
  }

  /** Moves the next nonce to `next` once per generation: a send issued before the last move just retries. */
  private resync (issued: Issued, next: bigint): void {
    if (issued.generation !== this.generation) return
    this.next = next
    this.generation++
  }
}
