import test from 'ava'
import { type BaseContract, Interface } from 'ethers'
import { type ContractName, loadArtifact } from '../../src/chain/artifacts.ts'
import type { AgcContract, SettlementContract, StakingContract } from '../../src/chain/bindings.ts'

// The typed bindings are hand-written interfaces over the ABI. These lists are checked by the compiler to name
// exactly the interfaces' own methods (nothing missing, nothing extra), and by the test to exist in the ABI.
type Own<T> = Exclude<keyof T, keyof BaseContract>
type Exact<T, L extends readonly string[]> = [Exclude<Own<T>, L[number]>] extends [never] ? ([Exclude<L[number], Own<T>>] extends [never] ? L : never) : never

const AGC_METHODS = ['name', 'symbol', 'decimals', 'totalSupply', 'cap', 'balanceOf', 'allowance', 'nonces', 'paused', 'hasRole',
  'MINTER_ROLE', 'PAUSER_ROLE', 'DEFAULT_ADMIN_ROLE', 'DOMAIN_SEPARATOR', 'transfer', 'transferFrom', 'approve', 'mint', 'burn',
  'burnFrom', 'pause', 'unpause', 'grantRole', 'revokeRole', 'renounceRole', 'permit'] as const
const STAKING_METHODS = ['token', 'settlement', 'minStake', 'unbondingPeriod', 'totalStake', 'totalUnbonding', 'undistributedReward',
  'validatorCount', 'operatorAt', 'getValidator', 'isValidator', 'operatorOfSigner', 'operatorOfIdentity', 'weightOfSigner', 'weightsOfSigners',
  'pendingRewards', 'registerDigest', 'genesisValidatorCount', 'genesisSignerOf', 'register', 'stake', 'unbond', 'withdrawUnbonded', 'claimRewards', 'notifyReward', 'slash'] as const
const SETTLEMENT_METHODS = ['token', 'staking', 'lastEpoch', 'genesisId', 'genesisLocked', 'backedEscrow', 'getCheckpoint', 'claimed', 'equivocationSlashed', 'depositCount',
  'totalDeposited', 'totalWithdrawn', 'feePool', 'checkpointDigest', 'withdrawalLeaf', 'deposit', 'depositWithPermit',
  'submitCheckpoint', 'withdraw', 'addFees', 'distributeFees', 'slashEquivocation'] as const

const lists: Array<[ContractName, readonly string[]]> = [
  ['AGC', AGC_METHODS satisfies Exact<AgcContract, typeof AGC_METHODS>],
  ['HarmonyStaking', STAKING_METHODS satisfies Exact<StakingContract, typeof STAKING_METHODS>],
  ['HarmonySettlement', SETTLEMENT_METHODS satisfies Exact<SettlementContract, typeof SETTLEMENT_METHODS>]
]

for (const [name, methods] of lists) {
  test(`${name}: every bound method is in the ABI`, (t) => {
    const iface = new Interface(loadArtifact(name).abi)
    const missing = methods.filter((m) => iface.getFunction(m) === null)
    t.deepEqual(missing, [])
  })
}

test('artifacts carry the pinned compiler and non-empty bytecode', (t) => {
  for (const name of ['AGC', 'HarmonyStaking', 'HarmonySettlement'] as const) {
    const a = loadArtifact(name) as ReturnType<typeof loadArtifact> & { compiler?: { solc?: string } }
    t.regex(a.compiler?.solc ?? '', /^0\.8\.30\+/)
    t.true(a.bytecode.length > 1000)
  }
})
