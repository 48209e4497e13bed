import { getAddress } from 'ethers'
import type { StakingContract } from './bindings.ts'

export interface ValidatorWeight {
  operator: string
  signer: string
  identity: string
  stake: bigint
}

/** Bonded stake per signing key, as the settlement contract will weigh signatures. */
export interface ValidatorSnapshot {
  total: bigint
  validators: ValidatorWeight[]
  weightOf: (signer: string) => bigint
}

export interface ValidatorSetView {
  snapshot: () => Promise<ValidatorSnapshot>
}

export interface StakingValidatorSetInit {
  /** Reuse a snapshot for this long. @default 5000 */
  cacheMs?: number
}

/** Reads the validator set from the staking contract (bounded by its MAX_VALIDATORS). */
export class StakingValidatorSet implements ValidatorSetView {
  private readonly staking: StakingContract
  private readonly cacheMs: number
  private cached?: { at: number, snapshot: ValidatorSnapshot }

  constructor (staking: StakingContract, init: StakingValidatorSetInit = {}) {
    this.staking = staking
    this.cacheMs = init.cacheMs ?? 5000
  }

  /** Forgets the cached snapshot (after a checkpoint, a stake change). */
  invalidate (): void {
    this.cached = undefined
  }

  async snapshot (): Promise<ValidatorSnapshot> {
    if (this.cached !== undefined && Date.now() - this.cached.at < this.cacheMs) return this.cached.snapshot
    const count = Number(await this.staking.validatorCount())
    const validators: ValidatorWeight[] = []
    for (let i = 0; i < count; i++) {
      const operator = await this.staking.operatorAt(i)
      const v = await this.staking.getValidator(operator)
      validators.push({ operator, signer: getAddress(v.signer), identity: v.identity, stake: v.stake })
    }
    const snapshot = snapshotOf(validators, await this.staking.totalStake())
    this.cached = { at: Date.now(), snapshot }
    return snapshot
  }
}

export function snapshotOf (validators: ValidatorWeight[], total?: bigint): ValidatorSnapshot {
  const bySigner = new Map(validators.map((v) => [getAddress(v.signer), v.stake]))
  return {
    total: total ?? validators.reduce((sum, v) => sum + v.stake, 0n),
    validators,
    weightOf: (signer) => bySigner.get(getAddress(signer)) ?? 0n
  }
}

/** The contract's rule: signed stake ≥ 2/3 of bonded stake (and some stake bonded). */
export function hasQuorum (signed: bigint, total: bigint): boolean {
  return total > 0n && signed * 3n >= total * 2n
}
