import type { PeerId } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { addressFromPublicKey, parseAddress } from '../../core/address.ts'
import { fromHex, toHex } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import { turnRank } from '../../core/turn.ts'
import type { LedgerReader } from '../../dag/reader.ts'
import type { Transaction } from '../../dag/tx.ts'
import { bondAccount } from '../accounts.ts'
import { buildProviderAttest } from '../kinds/builders.ts'
import type { MarketReader, ProviderView } from '../state/reader.ts'
import type { Challenger, ChallengeVerdict, ProviderKeys } from './challenge.ts'
import { gflopsToMilli } from './capability.ts'
import { createProviderMetrics, type ProviderMetrics } from './metrics.ts'

/**
 * The validators' side of the benchmark challenge: every registered provider whose registration has no verdict yet
 * is challenged by one validator, chosen by turn (`core/turn.ts` over the sorted validator keys, rotated by the
 * provider's address; the next in turn covers a silent one after `turnDelayMs`), and the verdict is recorded with a
 * `provider-attest` (kind 33, fee 0, on the provider's bond account). A provider that cannot be reached, or that
 * refuses, is tried again later: nothing is learnt about its claim, so nothing is recorded.
 */

export interface AttesterInit {
  /** Period of the scan for providers to challenge. @default 5000 */
  scanMs?: number
  /** Wait of each rank before it covers for the ranks before it. @default 15000 */
  turnDelayMs?: number
  /** Wait before trying a provider again after an inconclusive challenge. @default 30000 */
  retryMs?: number
  /** Providers scanned per pass. @default 500 */
  maxProviders?: number
}

export interface AttesterComponents {
  market: Pick<MarketReader, 'providers'>
  ledger: Pick<LedgerReader, 'account' | 'validatorKeys'>
  challenger: Pick<Challenger, 'challenge'>
  /** The connected peer bound to a ledger key with this address, and that key (from the peer binding). */
  peerOf: (address: string) => { peerId: PeerId, publicKey: Uint8Array } | undefined
  submit: (tx: Transaction) => Promise<string>
  chainId: string
  keys: ProviderKeys
  logger: Logger
  registry?: Registry
  now?: () => number
}

export class Attester implements Startable {
  private readonly c: AttesterComponents
  private readonly scanMs: number
  private readonly turnDelayMs: number
  private readonly retryMs: number
  private readonly maxProviders: number
  private readonly log: Logger
  private readonly metrics: ProviderMetrics
  private readonly triedAt = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private scanning = false
  private abort = new AbortController()

  constructor (components: AttesterComponents, init: AttesterInit = {}) {
    this.c = components
    this.scanMs = init.scanMs ?? 5000
    this.turnDelayMs = init.turnDelayMs ?? 15_000
    this.retryMs = init.retryMs ?? 30_000
    this.maxProviders = init.maxProviders ?? 500
    this.log = components.logger.child({ module: 'attester' })
    this.metrics = createProviderMetrics(components.registry)
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.timer = setInterval(() => { void this.scan() }, this.scanMs)
    void this.scan()
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearInterval(this.timer)
  }

  /** One pass: challenges (one at a time) each provider whose turn is this validator's. Resolves when done. */
  async scan (): Promise<void> {
    if (this.scanning || this.abort.signal.aborted) return
    this.scanning = true
    try {
      for (const provider of await this.c.market.providers(this.maxProviders)) {
        if (this.abort.signal.aborted) break
        if (this.due(provider)) await this.attest(provider)
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'attester scan failed')
    } finally {
      this.scanning = false
    }
  }

  /** A registration without a verdict of its own, and this validator's turn has come. */
  private due (provider: ProviderView): boolean {
    if (provider.attestation !== undefined && provider.attestation.timeMs >= provider.registeredAtMs) return false
    const now = (this.c.now ?? Date.now)()
    const tried = this.triedAt.get(provider.address)
    if (tried !== undefined && now - tried < this.retryMs) return false
    const validators = this.c.ledger.validatorKeys().map(k => toHex(k)).sort()
    const position = validators.indexOf(toHex(this.c.keys.publicKey))
    const round = BigInt(`0x${toHex(sha256(parseAddress(provider.address)).subarray(0, 8))}`)
    const rank = turnRank(position, round, validators.length)
    return now >= provider.registeredAtMs + rank * this.turnDelayMs
  }

  private async attest (provider: ProviderView): Promise<void> {
    const now = (this.c.now ?? Date.now)()
    this.triedAt.set(provider.address, now)
    if (this.triedAt.size > 4 * this.maxProviders) this.triedAt.delete(this.triedAt.keys().next().value as string)
    const peer = this.c.peerOf(provider.address)
    if (peer === undefined || addressFromPublicKey(peer.publicKey) !== provider.address) {
      this.log.debug({ provider: provider.address }, 'provider not connected: challenge later')
      return
    }
    const verdict: ChallengeVerdict = await this.c.challenger.challenge(peer.peerId, { publicKey: peer.publicKey, capability: provider.capability }, this.abort.signal)
    this.metrics.challenges.inc({ outcome: verdict.outcome })
    this.log.info({ provider: provider.address, outcome: verdict.outcome, claimed: verdict.claimedGflops, measured: verdict.measuredGflops, detail: verdict.detail }, 'benchmark challenge')
    if (!verdict.definitive) return
    const account = bondAccount(parseAddress(provider.address))
    try {
      const nonce = (await this.c.ledger.account(account)).nonce
      const tx = buildProviderAttest(this.c.chainId, this.c.keys, nonce, {
        provider: parseAddress(provider.address),
        challengeId: fromHex(verdict.challengeId),
        measuredGflopsMilli: gflopsToMilli(verdict.measuredGflops),
        passed: verdict.passed
      })
      const id = await this.c.submit(tx)
      this.log.info({ provider: provider.address, passed: verdict.passed, tx: id }, 'provider attestation submitted')
    } catch (err) {
      this.log.warn({ provider: provider.address, err: errorMessage(err) }, 'provider attestation not admitted')
    }
  }
}

