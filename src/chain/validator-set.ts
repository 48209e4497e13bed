import { type EventLog, getAddress } from 'ethers'
import { toHex } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import type { StakingContract } from './bindings.ts'
import { ChainError } from './errors.ts'
import { type BindingDomain, validatorIdentity, verifyValidatorBinding } from './validator-binding.ts'

/** The staking contract's MAX_VALIDATORS: a count above it is not the contract's answer. */
export const MAX_STAKING_VALIDATORS = 256

export interface ValidatorWeight {
  operator: string
  signer: string
  identity: string
  stake: bigint
  /** The registration carries a valid ML-DSA binding by a genesis validator's key (validator-binding.ts). */
  bound: boolean
}

/**
 * Bonded stake per signing key. Only bound validators weigh: a checkpoint signature from anyone else counts for
 * nothing, so no quorum the node acts on relies on it. `total` is every registered validator's stake, because that
 * is what the settlement contract weighs signatures against.
 */
export interface ValidatorSnapshot {
  /** Bonded stake of every registered validator (the contract's `totalStake`). */
  total: bigint
  /** Bonded stake of the bound validators. */
  boundTotal: bigint
  validators: ValidatorWeight[]
  /** Stake of the bound validator signing with `signer`; 0 for an unknown or unbound signer. */
  weightOf: (signer: string) => bigint
}

export interface ValidatorSetView {
  snapshot: () => Promise<ValidatorSnapshot>
}

export interface StakingValidatorSetComponents {
  staking: StakingContract
  /** Chain id and staking address: the domain of the bindings. */
  domain: BindingDomain
  /**
   * The ML-DSA-65 public keys of the ledger's genesis validators (the node composition passes them from the
   * genesis file; src/chain never reads the DAG). A registration binds only if its key is one of these.
   */
  genesisValidatorKeys: Uint8Array[]
  /** First block searched for `ValidatorBound` events (the deployment block). @default 0 */
  fromBlock?: number
  logger?: Logger
}

export interface StakingValidatorSetInit {
  /** Reuse a snapshot for this long. @default 5000 */
  cacheMs?: number
}

/**
 * Reads the validator set from the staking contract (bounded by its MAX_VALIDATORS) and checks each registration's
 * ML-DSA binding against the genesis validators. A verified binding is cached per (operator, signer, identity)
 * (a registration's event never changes); failures are not cached, so a binding whose event the provider did not
 * serve yet is found on a later snapshot.
 */
export class StakingValidatorSet implements ValidatorSetView {
  private readonly c: StakingValidatorSetComponents
  private readonly cacheMs: number
  private readonly genesisByIdentity: Map<string, Uint8Array>
  /** Registrations whose binding verified; at most one entry per registered validator (pruned each snapshot). */
  private readonly verified = new Set<string>()
  /** Registrations already reported as unbound (one warning each, not one per snapshot); pruned likewise. */
  private readonly warned = new Set<string>()
  private cached?: { at: number, snapshot: ValidatorSnapshot }

  constructor (components: StakingValidatorSetComponents, init: StakingValidatorSetInit = {}) {
    this.c = components
    this.cacheMs = init.cacheMs ?? 5000
    this.genesisByIdentity = new Map(components.genesisValidatorKeys.map((k) => [validatorIdentity(k), k]))
  }

  /** Forgets the cached snapshot (after a checkpoint, a stake change). */
  invalidate (): void {
    this.cached = undefined
  }

  async snapshot (): Promise<ValidatorSnapshot> {
    if (this.cached !== undefined && Date.now() - this.cached.at < this.cacheMs) return this.cached.snapshot
    const answered = await this.c.staking.validatorCount()
    // asked one by one below: a lying endpoint's count must not set how long that runs
    if (answered > BigInt(MAX_STAKING_VALIDATORS)) throw new ChainError('CHAIN_ANSWER_INVALID', `the chain endpoint says the staking contract holds ${answered} validators; it holds at most ${MAX_STAKING_VALIDATORS}`)
    const count = Number(answered)
    const validators: ValidatorWeight[] = []
    const seen = new Set<string>()
    for (let i = 0; i < count; i++) {
      const operator = getAddress(await this.c.staking.operatorAt(i))
      const v = await this.c.staking.getValidator(operator)
      const signer = getAddress(v.signer)
      const identity = v.identity.toLowerCase()
      const key = `${operator}|${signer}|${identity}`
      seen.add(key)
      const bound = await this.isBound(key, operator, signer, identity)
      validators.push({ operator, signer, identity, stake: v.stake, bound })
    }
    for (const set of [this.verified, this.warned]) for (const key of set) if (!seen.has(key)) set.delete(key)
    const snapshot = snapshotOf(validators, await this.c.staking.totalStake())
    this.cached = { at: Date.now(), snapshot }
    return snapshot
  }

  private async isBound (key: string, operator: string, signer: string, identity: string): Promise<boolean> {
    if (this.verified.has(key)) return true
    const genesisKey = this.genesisByIdentity.get(identity)
    if (genesisKey === undefined) {
      this.warnUnbound(key, { operator, signer, identity }, 'validator identity is not a genesis validator: its checkpoint signatures are ignored')
      return false
    }
    const events = await this.c.staking.queryFilter(this.c.staking.filters.ValidatorBound(operator, identity), this.c.fromBlock ?? 0)
    // the latest registration of this (operator, identity) is the current one
    for (let i = events.length - 1; i >= 0; i--) {
      const binding = (events[i] as EventLog).args?.mldsaBinding as string | undefined
      if (binding === undefined) continue
      if (verifyValidatorBinding(binding, genesisKey, this.c.domain, operator, signer)) {
        this.verified.add(key)
        return true
      }
      break
    }
    this.warnUnbound(key, { operator, signer, identity, genesisKey: toHex(genesisKey).slice(0, 16) }, 'validator registration carries no valid ML-DSA binding by its genesis key: its checkpoint signatures are ignored')
    return false
  }

  private warnUnbound (key: string, fields: Record<string, string>, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.c.logger?.warn(fields, message)
  }
}

export function snapshotOf (validators: ValidatorWeight[], total?: bigint): ValidatorSnapshot {
  const bySigner = new Map(validators.filter((v) => v.bound).map((v) => [getAddress(v.signer), v.stake]))
  return {
    total: total ?? validators.reduce((sum, v) => sum + v.stake, 0n),
    boundTotal: validators.reduce((sum, v) => sum + (v.bound ? v.stake : 0n), 0n),
    validators,
    weightOf: (signer) => bySigner.get(getAddress(signer)) ?? 0n
  }
}

/** The contract's rule: signed stake ≥ 2/3 of bonded stake (and some stake bonded). */
export function hasQuorum (signed: bigint, total: bigint): boolean {
  return total > 0n && signed * 3n >= total * 2n
}
