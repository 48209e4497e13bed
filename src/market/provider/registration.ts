import { toHex } from '../../core/codec.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { MarketReader, ProviderView } from '../state/reader.ts'
import type { CapabilityRecord } from './capability.ts'

// A registration's GFLOP/s within this factor of the measured one is kept: re-measuring at every start wobbles on a
// shared machine, and each re-registration would cost a transaction and a new challenge.
const CAPABILITY_DRIFT = 1.5

export interface WantedRegistration {
  bond: bigint
  kemPublicKey: Uint8Array
  capability: CapabilityRecord
}

/**
 * What the provider must send for its registration on the DAG to be the one it wants: nothing (`current`), or a
 * `provider-register` adding `topUp` to the bond (0 to only replace the key and the capability record). A slashed
 * bond below the configured one is topped up.
 */
export function registrationNeeded (current: ProviderView | undefined, wanted: WantedRegistration): { current: true } | { current: false, topUp: bigint } {
  if (current === undefined) return { current: false, topUp: wanted.bond }
  const topUp = current.bond >= wanted.bond ? 0n : wanted.bond - current.bond
  const same = current.kemPublicKey === toHex(wanted.kemPublicKey) && sameCapability(current.capability, wanted.capability)
  return same && topUp === 0n ? { current: true } : { current: false, topUp }
}

export function sameCapability (registered: CapabilityRecord, measured: CapabilityRecord): boolean {
  if (registered.executor !== measured.executor || registered.adapter !== measured.adapter || registered.profile !== measured.profile || registered.memoryMiB !== measured.memoryMiB) return false
  const ratio = registered.gflopsMilli / Math.max(1, measured.gflopsMilli)
  return ratio <= CAPABILITY_DRIFT && ratio >= 1 / CAPABILITY_DRIFT
}

// How often a provider not registered yet tries again: after a submitted registration (time for it to become final),
// or a failed try.
const REGISTER_RETRY_MS = 5000
// How often an unfunded provider reads its balance again (a local read): it registers within about a second of being
// funded, not up to 5 s later.
const FUNDS_RETRY_MS = 1000

export interface RegistrationParts {
  /** This provider's `hmy1…` address. */
  address: string
  bond: bigint
  kemPublicKey: Uint8Array
  /** The fee of one transaction. */
  fee: bigint
  market: Pick<MarketReader, 'provider'>
  /** The provider account's final balance. */
  balance: () => Promise<bigint>
  /** Submits a `provider-register` adding `topUp` to the bond; its id, or undefined when it was not admitted. */
  register: (topUp: bigint, capability: CapabilityRecord) => Promise<string | undefined>
  log: Logger
}

/**
 * Why a provider is not selling under the registration it wants yet (`provider_status`): its account cannot pay the
 * bond and the fee (`unfunded`), a registration was submitted and is not final here yet (`submitted`), or the last
 * try failed (`failed`).
 */
export type RegistrationWait =
  | { reason: 'unfunded', atMs: number, balance: bigint, needed: bigint }
  | { reason: 'submitted', atMs: number, txId: string }
  | { reason: 'failed', atMs: number, error: string }

/** A provider's registration: the capability it registers, and its record on the DAG once that is the one it wants. */
export class ProviderRegistration {
  capability: CapabilityRecord | undefined
  /** The registration on the DAG if it is the one this provider wants (else it is not selling yet). */
  self: ProviderView | undefined
  private readonly p: RegistrationParts
  private pending: Promise<void> | undefined
  private lastAttemptMs = 0
  private retryMs = REGISTER_RETRY_MS
  /** The balance last found too low for the bond (the warning is said again only when it changes). */
  private unpaidBalance: bigint | undefined
  private waiting: RegistrationWait | undefined

  constructor (parts: RegistrationParts, capability?: CapabilityRecord) {
    this.p = parts
    this.capability = capability
  }

  /**
   * On the agent's clock: while not registered, registers (or tops the bond up) at most every 5 s, and reads the
   * balance of an account that could not pay every second.
   */
  tick (now: number): void {
    if (this.self !== undefined || this.pending !== undefined || now - this.lastAttemptMs < this.retryMs) return
    this.lastAttemptMs = now
    this.retryMs = REGISTER_RETRY_MS
    this.pending = this.ensure(now).catch(err => {
      this.waiting = { reason: 'failed', atMs: now, error: errorMessage(err) }
      this.p.log.warn({ err: errorMessage(err) }, 'provider registration failed; retrying')
    }).finally(() => { this.pending = undefined })
  }

  /** Why the registration this provider wants is not on the DAG yet; undefined once it is (or before the first try). */
  wait (): RegistrationWait | undefined { return this.self === undefined ? this.waiting : undefined }

  async stop (): Promise<void> { await this.pending?.catch(() => undefined) }

  /** Reads the registration on the DAG again. */
  async refresh (): Promise<void> {
    const current = await this.p.market.provider(this.p.address)
    const wanted = this.capability === undefined ? undefined : { bond: this.p.bond, kemPublicKey: this.p.kemPublicKey, capability: this.capability }
    this.self = current !== undefined && wanted !== undefined && registrationNeeded(current, wanted).current ? current : undefined
    if (this.self === undefined) return
    // the registered figures are the ones the market judges (and a challenge checks)
    this.capability = { ...this.self.capability }
    // a later wait (a slashed bond to top up) starts afresh, and is said again
    this.waiting = undefined
    this.unpaidBalance = undefined
  }

  private async ensure (now: number): Promise<void> {
    const capability = this.capability
    if (capability === undefined) return
    const need = registrationNeeded(await this.p.market.provider(this.p.address), { bond: this.p.bond, kemPublicKey: this.p.kemPublicKey, capability })
    if (need.current) return await this.refresh()
    const balance = await this.p.balance()
    if (balance < need.topUp + this.p.fee) {
      this.retryMs = FUNDS_RETRY_MS
      this.waiting = { reason: 'unfunded', atMs: this.waiting?.reason === 'unfunded' ? this.waiting.atMs : now, balance, needed: need.topUp + this.p.fee }
      // said once per balance, not every second
      if (balance === this.unpaidBalance) return
      this.unpaidBalance = balance
      this.p.log.warn({ address: this.p.address, balance: balance.toString(), bond: need.topUp.toString() }, 'the provider account cannot pay its bond yet; fund it to start selling compute')
      return
    }
    const tx = await this.p.register(need.topUp, capability)
    this.waiting = tx === undefined ? { reason: 'failed', atMs: now, error: 'the registration was not admitted' } : { reason: 'submitted', atMs: now, txId: tx }
    if (tx !== undefined) this.p.log.info({ address: this.p.address, bond: need.topUp.toString(), gflops: capability.gflopsMilli / 1000, tx }, 'provider registration submitted')
  }
}
