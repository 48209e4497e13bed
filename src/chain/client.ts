/**
 * Sends the node's chain transactions from one key: local nonce management (one nonce per transaction, in order,
 * re-synced from the chain after an error), gas estimation with headroom, and re-sending of stuck transactions
 * with the same nonce and bumped fees (replacement needs ≥ 10% more on geth-like nodes).
 */
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { JsonRpcProvider, TransactionReceipt, Wallet } from 'ethers'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { decodeRevert } from './bindings.ts'
import { ChainError } from './errors.ts'
import { type ChainMetrics, createChainMetrics } from './metrics.ts'

export interface ChainClientInit {
  /** Time without a receipt after which a transaction is re-sent with higher fees. @default 30000 */
  stuckAfterMs?: number
  /** Re-sends of one transaction before giving up with TX_STUCK. @default 5 */
  maxResends?: number
  /** Fee increase per re-send in percent; nodes require ≥ 10% to replace a pending transaction. @default 25 */
  feeBumpPercent?: number
  /** Receipt polling interval. @default 500 */
  pollIntervalMs?: number
  /** Blocks on top of the transaction's block before `send` returns (1 = included). @default 1 */
  confirmations?: number
  /** Gas limit headroom over the estimate, percent. @default 20 */
  gasHeadroomPercent?: number
}

export interface ChainClientComponents {
  provider: JsonRpcProvider
  wallet: Wallet
  logger: Logger
  registry?: Registry
}

/** A call to send: target, calldata and optional value. */
export interface TxRequest {
  to: string
  data: string
  value?: bigint
  /** Skips estimation. */
  gasLimit?: bigint
}

export interface ResendEvent { nonce: number, attempt: number, hash: string, maxFeePerGas: bigint }

interface Fees { maxFeePerGas: bigint, maxPriorityFeePerGas: bigint }

export class ChainClient extends EventEmitter<{ sent: [{ nonce: number, hash: string }], resend: [ResendEvent] }> implements Startable {
  readonly address: string
  private readonly provider: JsonRpcProvider
  private readonly wallet: Wallet
  private readonly log: Logger
  private readonly stuckAfterMs: number
  private readonly maxResends: number
  private readonly feeBumpPercent: bigint
  private readonly pollIntervalMs: number
  private readonly confirmations: number
  private readonly gasHeadroomPercent: bigint
  private nextNonce: number | undefined
  private broadcastQueue: Promise<unknown> = Promise.resolve()
  private controller = new AbortController()
  private readonly metrics: ChainMetrics

  constructor (components: ChainClientComponents, init: ChainClientInit = {}) {
    super()
    this.provider = components.provider
    this.wallet = components.wallet.connect(components.provider)
    this.address = this.wallet.address
    this.log = components.logger.child({ module: 'chain-client' })
    this.stuckAfterMs = init.stuckAfterMs ?? 30_000
    this.maxResends = init.maxResends ?? 5
    this.feeBumpPercent = BigInt(init.feeBumpPercent ?? 25)
    this.pollIntervalMs = init.pollIntervalMs ?? 500
    this.confirmations = init.confirmations ?? 1
    this.gasHeadroomPercent = BigInt(init.gasHeadroomPercent ?? 20)
    this.metrics = createChainMetrics(components.registry)
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
  }

  async stop (): Promise<void> {
    this.controller.abort()
  }

  /** Sends a transaction and waits for its receipt; throws TX_REVERTED (with the decoded error), TX_STUCK or TX_FAILED. */
  async send (request: TxRequest, signal?: AbortSignal): Promise<TransactionReceipt> {
    const abort = signal === undefined ? this.controller.signal : AbortSignal.any([signal, this.controller.signal])
    const gasLimit = request.gasLimit ?? await this.estimate(request)
    let fees = await this.currentFees()
    const first = await this.serialized(async () => await this.broadcastNew(request, gasLimit, fees))
    const nonce = first.nonce
    const hashes = [first.hash]
    let attempt = 0
    let sentAt = Date.now()
    while (true) {
      abort.throwIfAborted()
      const receipt = await this.findReceipt(hashes)
      if (receipt !== null) return this.finish(receipt, nonce)
      if ((await reachable(this.provider.getTransactionCount(this.address, 'latest'))) > nonce) {
        // Mined meanwhile: look once more, the receipt may have been indexed after the count moved.
        const late = await this.findReceipt(hashes)
        if (late !== null) return this.finish(late, nonce)
        this.metrics.txs.inc({ result: 'replaced' })
        throw new ChainError('TX_FAILED', `transaction with nonce ${nonce} was replaced by another one`, { nonce, hashes })
      }
      if (Date.now() - sentAt >= this.stuckAfterMs) {
        if (attempt >= this.maxResends) {
          this.metrics.txs.inc({ result: 'stuck' })
          throw new ChainError('TX_STUCK', `transaction with nonce ${nonce} not mined after ${attempt} re-sends; raise fees or check the chain`, { nonce, hashes })
        }
        attempt++
        fees = this.bump(fees, await this.currentFees())
        const hash = await this.broadcast(request, gasLimit, fees, nonce)
        if (hash !== undefined) hashes.push(hash)
        sentAt = Date.now()
        this.metrics.txResends.inc()
        this.log.warn({ nonce, attempt, maxFeePerGas: fees.maxFeePerGas.toString() }, 'transaction stuck, re-sent with higher fees')
        this.emit('resend', { nonce, attempt, hash: hash ?? hashes[hashes.length - 1], maxFeePerGas: fees.maxFeePerGas })
      }
      await sleep(this.pollIntervalMs, undefined, { signal: abort })
    }
  }

  private async estimate (request: TxRequest): Promise<bigint> {
    try {
      const gas = await this.provider.estimateGas({ from: this.address, to: request.to, data: request.data, value: request.value })
      return gas + (gas * this.gasHeadroomPercent) / 100n
    } catch (err) {
      throw this.revertError(err)
    }
  }

  private revertError (err: unknown): ChainError {
    const decoded = decodeRevert(err)
    if (decoded !== null || (err as { code?: string }).code === 'CALL_EXCEPTION') {
      const name = decoded?.name ?? 'unknown'
      return new ChainError('TX_REVERTED', `transaction would revert: ${name}`, { revert: name }, { cause: err })
    }
    return new ChainError('CHAIN_UNREACHABLE', `chain call failed: ${(err as Error).message}`, {}, { cause: err })
  }

  private async currentFees (): Promise<Fees> {
    const data = await reachable(this.provider.getFeeData())
    const maxPriorityFeePerGas = data.maxPriorityFeePerGas ?? 1_000_000_000n
    const maxFeePerGas = data.maxFeePerGas ?? (data.gasPrice ?? 1_000_000_000n) * 2n
    return { maxFeePerGas, maxPriorityFeePerGas }
  }

  private bump (previous: Fees, current: Fees): Fees {
    const up = (x: bigint): bigint => x + (x * this.feeBumpPercent) / 100n + 1n
    const maxPriorityFeePerGas = maxOf(up(previous.maxPriorityFeePerGas), current.maxPriorityFeePerGas)
    const maxFeePerGas = maxOf(maxOf(up(previous.maxFeePerGas), current.maxFeePerGas), maxPriorityFeePerGas)
    return { maxFeePerGas, maxPriorityFeePerGas }
  }

  /** Runs nonce assignment and the first broadcast one at a time, so nonces go out in order. */
  private async serialized<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.broadcastQueue.then(fn, fn)
    this.broadcastQueue = run.catch(() => undefined)
    return await run
  }

  private async broadcastNew (request: TxRequest, gasLimit: bigint, fees: Fees): Promise<{ nonce: number, hash: string }> {
    for (let tries = 0; ; tries++) {
      this.nextNonce ??= await reachable(this.provider.getTransactionCount(this.address, 'pending'))
      const nonce = this.nextNonce
      try {
        const signed = await this.wallet.signTransaction({
          type: 2, chainId: (await this.provider.getNetwork()).chainId, to: request.to, data: request.data,
          value: request.value ?? 0n, gasLimit, nonce, ...fees
        })
        const hash = await this.provider.send('eth_sendRawTransaction', [signed]) as string
        this.nextNonce = nonce + 1
        this.emit('sent', { nonce, hash })
        this.log.debug({ nonce, hash }, 'transaction sent')
        return { nonce, hash }
      } catch (err) {
        this.nextNonce = undefined
        const message = String((err as Error).message).toLowerCase()
        if (tries === 0 && (message.includes('nonce too low') || message.includes('nonce has already been used') || message.includes('already known'))) continue
        this.metrics.txs.inc({ result: 'failed' })
        throw new ChainError('TX_FAILED', `sending the transaction failed: ${(err as Error).message}`, { nonce }, { cause: err })
      }
    }
  }

  /** A re-send with the same nonce; a refusal (e.g. already mined) is not an error: the wait loop sorts it out. */
  private async broadcast (request: TxRequest, gasLimit: bigint, fees: Fees, nonce: number): Promise<string | undefined> {
    try {
      const signed = await this.wallet.signTransaction({
        type: 2, chainId: (await this.provider.getNetwork()).chainId, to: request.to, data: request.data,
        value: request.value ?? 0n, gasLimit, nonce, ...fees
      })
      return await this.provider.send('eth_sendRawTransaction', [signed]) as string
    } catch (err) {
      this.log.debug({ nonce, err: (err as Error).message }, 're-send refused')
      return undefined
    }
  }

  private async findReceipt (hashes: string[]): Promise<TransactionReceipt | null> {
    for (const hash of hashes) {
      const receipt = await reachable(this.provider.getTransactionReceipt(hash))
      if (receipt !== null) return receipt
    }
    return null
  }

  private async finish (receipt: TransactionReceipt, nonce: number): Promise<TransactionReceipt> {
    if (this.confirmations > 1) await receipt.confirmations().then(async (c) => { if (c < this.confirmations) await this.provider.waitForTransaction(receipt.hash, this.confirmations) })
    if (receipt.status !== 1) {
      this.metrics.txs.inc({ result: 'reverted' })
      throw new ChainError('TX_REVERTED', `transaction ${receipt.hash} reverted`, { nonce, hash: receipt.hash })
    }
    this.metrics.txs.inc({ result: 'ok' })
    return receipt
  }
}

function maxOf (a: bigint, b: bigint): bigint {
  if (a >= b) return a
  return b
}

/** A failed read from the chain RPC becomes CHAIN_UNREACHABLE (the caller may retry). */
async function reachable<T> (call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    throw new ChainError('CHAIN_UNREACHABLE', `chain RPC failed: ${(err as Error).message}`, {}, { cause: err })
  }
}
