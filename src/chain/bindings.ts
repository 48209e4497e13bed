/**
 * Typed ethers 6 bindings for the three contracts. Each binding is an ethers `Contract` built from the committed
 * ABI, typed by an interface listing the methods the daemon and the tests use (a test checks every listed name is
 * in the ABI). Views return decoded values; writes return the transaction response.
 */
import { type BaseContract, Contract, type ContractRunner, type ContractTransaction, type ContractTransactionResponse, Interface, type InterfaceAbi, type Overrides } from 'ethers'
import { type ContractName, loadArtifact } from './artifacts.ts'

/** A read-only contract method. */
export type ViewMethod<A extends unknown[], R> = (...args: A) => Promise<R>

/** A state-changing contract method. */
export interface TxMethod<A extends unknown[]> {
  (...args: A): Promise<ContractTransactionResponse>
  (...args: [...A, Overrides]): Promise<ContractTransactionResponse>
  estimateGas: (...args: A) => Promise<bigint>
  staticCall: (...args: A) => Promise<unknown>
  populateTransaction: (...args: A) => Promise<ContractTransaction>
}

type Address = string
type Bytes32 = string
type BytesLike = string | Uint8Array

export interface AgcContract extends BaseContract {
  name: ViewMethod<[], string>
  symbol: ViewMethod<[], string>
  decimals: ViewMethod<[], bigint>
  totalSupply: ViewMethod<[], bigint>
  cap: ViewMethod<[], bigint>
  balanceOf: ViewMethod<[Address], bigint>
  allowance: ViewMethod<[Address, Address], bigint>
  nonces: ViewMethod<[Address], bigint>
  paused: ViewMethod<[], boolean>
  hasRole: ViewMethod<[Bytes32, Address], boolean>
  MINTER_ROLE: ViewMethod<[], Bytes32>
  PAUSER_ROLE: ViewMethod<[], Bytes32>
  DEFAULT_ADMIN_ROLE: ViewMethod<[], Bytes32>
  DOMAIN_SEPARATOR: ViewMethod<[], Bytes32>
  transfer: TxMethod<[Address, bigint]>
  transferFrom: TxMethod<[Address, Address, bigint]>
  approve: TxMethod<[Address, bigint]>
  mint: TxMethod<[Address, bigint]>
  burn: TxMethod<[bigint]>
  burnFrom: TxMethod<[Address, bigint]>
  pause: TxMethod<[]>
  unpause: TxMethod<[]>
  grantRole: TxMethod<[Bytes32, Address]>
  revokeRole: TxMethod<[Bytes32, Address]>
  renounceRole: TxMethod<[Bytes32, Address]>
  permit: TxMethod<[Address, Address, bigint, bigint, number, Bytes32, Bytes32]>
}

/** `HarmonyStaking.Validator` as ethers decodes it. */
export interface OnchainValidator {
  signer: Address
  identity: Bytes32
  stake: bigint
  unbonding: bigint
  unbondingEnd: bigint
  rewardDebt: bigint
  pendingReward: bigint
}

export interface StakingContract extends BaseContract {
  token: ViewMethod<[], Address>
  settlement: ViewMethod<[], Address>
  minStake: ViewMethod<[], bigint>
  unbondingPeriod: ViewMethod<[], bigint>
  totalStake: ViewMethod<[], bigint>
  totalUnbonding: ViewMethod<[], bigint>
  undistributedReward: ViewMethod<[], bigint>
  validatorCount: ViewMethod<[], bigint>
  operatorAt: ViewMethod<[bigint | number], Address>
  getValidator: ViewMethod<[Address], OnchainValidator>
  isValidator: ViewMethod<[Address], boolean>
  operatorOfSigner: ViewMethod<[Address], Address>
  operatorOfIdentity: ViewMethod<[Bytes32], Address>
  weightOfSigner: ViewMethod<[Address], bigint>
  weightsOfSigners: ViewMethod<[Address[]], bigint[]>
  pendingRewards: ViewMethod<[Address], bigint>
  registerDigest: ViewMethod<[Address, Bytes32], Bytes32>
  genesisValidatorCount: ViewMethod<[], bigint>
  genesisSignerOf: ViewMethod<[Bytes32], Address>
  /** signer, identity, EIP-712 signer proof, ML-DSA binding (publicKey ‖ signature), stake */
  register: TxMethod<[Address, Bytes32, BytesLike, BytesLike, bigint]>
  stake: TxMethod<[bigint]>
  unbond: TxMethod<[bigint]>
  withdrawUnbonded: TxMethod<[]>
  claimRewards: TxMethod<[]>
  notifyReward: TxMethod<[bigint]>
  slash: TxMethod<[Address, bigint, Bytes32]>
}

/** `HarmonySettlement.Checkpoint` as ethers decodes it. */
export interface OnchainCheckpoint {
  dagRoot: Bytes32
  stateRoot: Bytes32
  withdrawalsRoot: Bytes32
  submittedAt: bigint
  signedStake: bigint
  totalStake: bigint
}

export interface SettlementContract extends BaseContract {
  token: ViewMethod<[], Address>
  staking: ViewMethod<[], Address>
  lastEpoch: ViewMethod<[], bigint>
  genesisId: ViewMethod<[], Bytes32>
  genesisLocked: ViewMethod<[], bigint>
  backedEscrow: ViewMethod<[], bigint>
  getCheckpoint: ViewMethod<[bigint | number], OnchainCheckpoint>
  claimed: ViewMethod<[Bytes32], boolean>
  equivocationSlashed: ViewMethod<[Address, bigint | number], boolean>
  depositCount: ViewMethod<[], bigint>
  totalDeposited: ViewMethod<[], bigint>
  totalWithdrawn: ViewMethod<[], bigint>
  feePool: ViewMethod<[], bigint>
  checkpointDigest: ViewMethod<[bigint | number, Bytes32, Bytes32, Bytes32], Bytes32>
  withdrawalLeaf: ViewMethod<[Address, bigint, bigint], Bytes32>
  deposit: TxMethod<[Bytes32, bigint]>
  depositWithPermit: TxMethod<[Bytes32, bigint, bigint, number, Bytes32, Bytes32]>
  submitCheckpoint: TxMethod<[bigint | number, Bytes32, Bytes32, Bytes32, BytesLike[]]>
  withdraw: TxMethod<[bigint | number, Address, bigint, bigint, Bytes32[]]>
  addFees: TxMethod<[bigint]>
  distributeFees: TxMethod<[]>
  slashEquivocation: TxMethod<[bigint | number, [Bytes32, Bytes32, Bytes32], BytesLike, [Bytes32, Bytes32, Bytes32], BytesLike]>
}

function bind<T> (name: ContractName, address: string, runner: ContractRunner | null): T {
  return new Contract(address, loadArtifact(name).abi, runner) as unknown as T
}

export function agcAt (address: string, runner: ContractRunner | null): AgcContract {
  return bind<AgcContract>('AGC', address, runner)
}

export function stakingAt (address: string, runner: ContractRunner | null): StakingContract {
  return bind<StakingContract>('HarmonyStaking', address, runner)
}

export function settlementAt (address: string, runner: ContractRunner | null): SettlementContract {
  return bind<SettlementContract>('HarmonySettlement', address, runner)
}

/** The three contracts of one deployment. */
export interface HarmonyContracts {
  agc: AgcContract
  staking: StakingContract
  settlement: SettlementContract
}

export interface ContractAddresses {
  agc: string
  staking: string
  settlement: string
}

export function connectContracts (addresses: ContractAddresses, runner: ContractRunner | null): HarmonyContracts {
  return {
    agc: agcAt(addresses.agc, runner),
    staking: stakingAt(addresses.staking, runner),
    settlement: settlementAt(addresses.settlement, runner)
  }
}

let errorInterface: Interface | undefined

/** The custom error a revert carries, decoded against all three contracts' ABIs (null when not decodable). */
export function decodeRevert (err: unknown): { name: string, args: unknown[] } | null {
  const e = err as { revert?: { name: string, args: ArrayLike<unknown> } | null, data?: unknown, info?: { error?: { data?: unknown } } }
  if (e?.revert != null) return { name: e.revert.name, args: Array.from(e.revert.args) }
  const data = typeof e?.data === 'string' ? e.data : typeof e?.info?.error?.data === 'string' ? e.info.error.data : undefined
  if (data === undefined || data.length < 10) return null
  if (errorInterface === undefined) {
    const fragments = new Map<string, unknown>()
    for (const name of ['AGC', 'HarmonyStaking', 'HarmonySettlement'] as const) {
      for (const f of loadArtifact(name).abi as Array<{ type: string, name?: string }>) {
        if (f.type === 'error' && f.name !== undefined) fragments.set(f.name, f)
      }
    }
    errorInterface = new Interface([...fragments.values()] as InterfaceAbi)
  }
  try {
    const parsed = errorInterface.parseError(data)
    return parsed === null ? null : { name: parsed.name, args: Array.from(parsed.args) }
  } catch {
    return null
  }
}
