/**
 * Following a transaction the client signed and sent until it is decided. A node that admitted a transaction can
 * still forget it before any vertex holds it: a validator's mempool dies with its process (kill -9, a crash, a
 * restart), and a node that forwarded it to a validator knows nothing of it if that validator does. The client holds
 * the signed bytes, so it sends them again, as a wallet re-broadcasts a transaction its node dropped. The same bytes
 * have the same id: a copy where the first is still waiting is refused `TX_KNOWN`, never a second payment.
 */
import type { RpcResultOf } from '../api/definitions.ts'
import { addressFromPublicKey } from '../core/address.ts'
import { fromHex } from '../core/codec.ts'
import { HarmonyError } from '../core/errors.ts'
import { decodeTx } from '../dag/tx.ts'
import type { HarmonyClient } from './client.ts'
import { RpcClientError, RpcTransportError } from './errors.ts'

export type TxStatus = NonNullable<RpcResultOf<'tx_get'>>

export interface WaitForTransactionOptions {
  /** The signed transaction as sent (0x hex). Without it, a transaction the node forgot is waited on until the timeout. */
  resend?: string
  /** How to send it again: `account_sendTransaction` unless given (a task cancel goes through `task_cancel`). */
  sendWith?: (signed: string) => Promise<unknown>
  /** @default 120000 */
  timeoutMs?: number
  /** Between two reads of `tx_get`. @default 250 */
  intervalMs?: number
  /** How long the node may not know the transaction before it is sent again (a forwarding node learns of it only
   *  from the vertex that holds it, a finality time later). @default 3000 */
  resendAfterMs?: number
  /** Sends again at most this many times. @default 20 */
  maxResends?: number
  signal?: AbortSignal
}

export type TransactionErrorCode = 'TX_DROPPED'

/**
 * The transaction can never be decided: `TX_DROPPED`, the node forgot it and its nonce went to another transaction of
 * the account meanwhile (`meta.id` names it, `meta.reason` says what was answered when it was sent again).
 */
export class TransactionError extends HarmonyError<TransactionErrorCode> {
  constructor (code: TransactionErrorCode, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, meta, options)
    this.name = 'TransactionError'
  }
}

/**
 * Resolves with the transaction's status once it is not pending (final, rejected or pruned), read with `tx_get`;
 * sends it again (`resend`) while the node does not know it. Rejects with `TransactionError('TX_DROPPED')` when its
 * nonce went to another transaction, and `RpcTransportError('RPC_TIMEOUT')` once `timeoutMs` passes.
 */
export async function waitForTransaction (client: HarmonyClient, id: string, options: WaitForTransactionOptions = {}): Promise<TxStatus> {
  const timeoutMs = options.timeoutMs ?? 120_000
  const deadline = Date.now() + timeoutMs
  const { resend, signal } = options
  const sendWith = options.sendWith ?? (async (signed: string) => await client.call('account_sendTransaction', [signed], { signal }))
  const resendAfterMs = options.resendAfterMs ?? 3000
  const maxResends = options.maxResends ?? 20
  let unknownSinceMs: number | undefined
  let resends = 0
  let lastRefusal: string | undefined
  for (;;) {
    signal?.throwIfAborted()
    const tx = await client.call('tx_get', [id], { signal })
    if (tx !== null && tx.status !== 'pending') return tx
    const now = Date.now()
    unknownSinceMs = tx === null ? unknownSinceMs ?? now : undefined
    if (resend !== undefined && unknownSinceMs !== undefined && now - unknownSinceMs >= resendAfterMs && resends < maxResends) {
      resends++
      // the next send again only after another whole wait: the node may learn of this one late too
      unknownSinceMs = now
      const reason = await sendWith(resend).then(() => undefined, (err: unknown) => refusalOf(err))
      if (reason !== undefined) {
        lastRefusal = reason
        // decided meanwhile (the read and the send raced a vertex)?
        const again = await client.call('tx_get', [id], { signal })
        if (again !== null && again.status !== 'pending') return again
        // dropped only once this node's own state holds the nonce used and does not know this transaction: a refusal
        // can come from a validator ahead of it (a forwarding node learns of a final vertex late)
        if (again === null && await nonceTaken(client, resend, signal)) {
          throw new TransactionError('TX_DROPPED', `transaction ${id} was dropped: the node no longer knew it, and its nonce went to another transaction of the account (sent again: ${reason})`, { id, reason })
        }
      }
    }
    if (now > deadline) {
      const sent = resends > 0 ? ` (sent again ${resends} times${lastRefusal === undefined ? '' : `, last refused ${lastRefusal}`})` : ''
      throw new RpcTransportError('RPC_TIMEOUT', `transaction ${id} is ${tx === null ? 'unknown to the node' : 'pending'} after ${timeoutMs / 1000} s${sent}`, { id })
    }
    await new Promise(resolve => setTimeout(resolve, Math.min(options.intervalMs ?? 250, Math.max(1, deadline - now + 1))))
  }
}

/** Whether the node's state has the signed transaction's account past its nonce (used by a final transaction). */
async function nonceTaken (client: HarmonyClient, signed: string, signal: AbortSignal | undefined): Promise<boolean> {
  const tx = decodeTx(fromHex(signed))
  return BigInt(await client.call('account_getNonce', [addressFromPublicKey(tx.publicKey)], { signal })) > tx.nonce
}

/**
 * The ledger's code when a send again was refused (its `data.reason`); undefined when it went through, or was refused
 * for now (`TX_KNOWN`: it is held again; `BUSY`, or no answer: the next send again may pass). An error with no
 * ledger code (a refused credential, say) is thrown.
 */
function refusalOf (err: unknown): string | undefined {
  if (err instanceof RpcTransportError) return undefined
  const reason = err instanceof RpcClientError ? (err.data as { reason?: unknown } | undefined)?.reason : undefined
  if (typeof reason !== 'string') throw err
  return reason === 'TX_KNOWN' || reason === 'BUSY' ? undefined : reason
}
