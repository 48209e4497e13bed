import test from 'ava'
import { ContractFactory, keccak256, toUtf8Bytes, type Wallet, ZeroAddress, ZeroHash } from 'ethers'
import { loadArtifact } from '../../src/chain/artifacts.ts'
import { AGC_UNIT, signRegistration } from '../../src/chain/deploy.ts'
import { signValidatorBinding, validatorIdentity, verifyValidatorBinding } from '../../src/chain/validator-binding.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import { type ChainFixture, startChainFixture, testLedgerKey, testWallet } from '../helpers/anvil.ts'
import { assertReverts, mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''
const K = AGC_UNIT * 1000n

test.before(async () => { chain = await startChainFixture({ stakes: [2n * K, K, K] }) })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => { await chain.revert(snap) })

/** Gives `user` AGC and an allowance to the staking contract. */
async function fund (user: Wallet, amount: bigint): Promise<void> {
  await mined(chain.contracts.agc.transfer(user.address, amount))
  await mined(chain.connect(user).agc.approve(chain.deployment.staking, amount))
}

function bindingFor (ledgerKey: KeyPair, operator: string, signer: string): string {
  return signValidatorBinding(ledgerKey, { chainId: chain.anvil.chainId, staking: chain.deployment.staking }, operator, signer)
}

async function proofFor (signer: Wallet, operator: string, identity: string): Promise<string> {
  return await signRegistration(signer, chain.deployment.staking, chain.anvil.chainId, operator, identity)
}

test.serial('the deployment binds staking to its settlement and token', async (t) => {
  const { staking } = chain.contracts
  t.is(await staking.settlement(), chain.deployment.settlement)
  t.is(await staking.token(), chain.deployment.agc)
  t.is(await staking.minStake(), K)
  t.is(await staking.unbondingPeriod(), BigInt(chain.unbondingPeriodSec))
  t.is(await staking.totalStake(), 4n * K)
  t.is(await staking.validatorCount(), 3n)
  const v0 = chain.validators[0]
  const onchain = await staking.getValidator(v0.operator.address)
  t.is(onchain.signer, v0.signer.address)
  t.is(onchain.identity, v0.identity)
  t.is(onchain.stake, 2n * K)
  t.is(await staking.operatorOfSigner(v0.signer.address), v0.operator.address)
  t.is(await staking.operatorOfIdentity(v0.identity), v0.operator.address)
  t.is(await staking.weightOfSigner(v0.signer.address), 2n * K)
  t.is(await staking.weightOfSigner(chain.users[0].address), 0n)
  t.deepEqual([...await staking.weightsOfSigners([chain.validators[1].signer.address, chain.users[0].address, v0.signer.address])], [K, 0n, 2n * K])
  t.is(await staking.operatorAt(0), v0.operator.address)
})

test.serial('the constructor refuses zero addresses and a zero minimum stake', async (t) => {
  const artifact = loadArtifact('HarmonyStaking')
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, chain.deployer)
  await assertReverts(t, () => factory.deploy(ZeroAddress, chain.deployment.settlement, K, 60, [], []), 'ZeroAddress')
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, ZeroAddress, K, 60, [], []), 'ZeroAddress')
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.settlement, 0n, 60, [], []), 'ZeroAmount')
  // a genesis list must pair each identity with one signer, without zeros or repeats
  const id = keccak256(toUtf8Bytes('g'))
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.settlement, K, 60, [id], []), 'BadGenesis')
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.settlement, K, 60, [ZeroHash], [chain.users[0].address]), 'BadGenesis')
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.settlement, K, 60, [id], [ZeroAddress]), 'BadGenesis')
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.settlement, K, 60, [id, id], [chain.users[0].address, chain.users[1].address]), 'BadGenesis')
})

test.serial('register binds a signing key to an ML-DSA identity with a proof from the key and an ML-DSA binding', async (t) => {
  const [alice] = chain.users
  const signer = testWallet('alice-signer')
  const ledgerKey = testLedgerKey('alice')
  const identity = validatorIdentity(ledgerKey.publicKey)
  const binding = bindingFor(ledgerKey, alice.address, signer.address)
  await fund(alice, 3n * K)
  const staking = chain.connect(alice).staking
  const proof = await proofFor(signer, alice.address, identity)
  t.is(await chain.contracts.staking.registerDigest(alice.address, identity), (await import('ethers')).TypedDataEncoder.hash(
    { name: 'HarmonyStaking', version: '1', chainId: chain.anvil.chainId, verifyingContract: chain.deployment.staking },
    { Register: [{ name: 'operator', type: 'address' }, { name: 'identity', type: 'bytes32' }] },
    { operator: alice.address, identity }))
  await assertReverts(t, () => staking.register(signer.address, identity, proof, binding, K - 1n), 'BelowMinimumStake')
  await assertReverts(t, () => staking.register(ZeroAddress, identity, proof, binding, K), 'ZeroAddress')
  await assertReverts(t, () => staking.register(signer.address, ZeroHash, proof, binding, K), 'ZeroIdentity')
  // a proof for another identity, another operator, or from another key does not bind
  const other = validatorIdentity(testLedgerKey('other').publicKey)
  await assertReverts(t, () => staking.register(signer.address, other, proof, bindingFor(testLedgerKey('other'), alice.address, signer.address), K), 'BadSignerProof')
  await assertReverts(t, () => staking.register(testWallet('mallory').address, identity, proof, binding, K), 'BadSignerProof')
  await assertReverts(t, () => staking.register(signer.address, identity, '0x1234', binding, K), 'BadSignerProof')
  // the binding must carry the identity's ML-DSA key and have the ML-DSA-65 shape
  await assertReverts(t, () => staking.register(signer.address, identity, proof, bindingFor(testLedgerKey('other'), alice.address, signer.address), K), 'BadBinding')
  await assertReverts(t, () => staking.register(signer.address, identity, proof, binding.slice(0, -2), K), 'BadBinding')
  await assertReverts(t, () => staking.register(signer.address, identity, proof, '0x', K), 'BadBinding')
  // someone else's key or identity
  const v0 = chain.validators[0]
  await assertReverts(t, () => staking.register(v0.signer.address, identity, proof, binding, K), 'SignerInUse')
  await assertReverts(t, () => staking.register(signer.address, v0.identity, proof, binding, K), 'IdentityInUse')
  const receipt = await (await staking.register(signer.address, identity, proof, binding, K)).wait()
  t.is(await chain.contracts.staking.validatorCount(), 4n)
  t.is(await chain.contracts.staking.weightOfSigner(signer.address), K)
  t.is(await chain.contracts.staking.totalStake(), 5n * K)
  // the binding is published for every node to verify against its genesis validators
  const bound = (receipt?.logs ?? []).map((l) => chain.contracts.staking.interface.parseLog(l)).find((e) => e?.name === 'ValidatorBound')
  t.is(bound?.args.mldsaBinding, binding)
  t.true(verifyValidatorBinding(binding, ledgerKey.publicKey, { chainId: chain.anvil.chainId, staking: chain.deployment.staking }, alice.address, signer.address))
  await assertReverts(t, () => staking.register(testWallet('alice-2').address, keccak256(toUtf8Bytes('x')), proof, binding, K), 'AlreadyRegistered')
  // another operator cannot replay alice's proof
  const [, bob] = chain.users
  await fund(bob, K)
  await assertReverts(t, () => chain.connect(bob).staking.register(signer.address, identity, proof, binding, K), 'SignerInUse')
})

test.serial('the validator set is bounded', async (t) => {
  // _operators is storage slot 6 (after EIP712's two string fallbacks and four mappings); its length is the
  // array's slot. Setting it to MAX_VALIDATORS tests the bound without 256 registrations.
  const slot = '0x6'
  t.is(BigInt(await chain.provider.getStorage(chain.deployment.staking, slot)), 3n)
  await chain.provider.send('anvil_setStorageAt', [chain.deployment.staking, slot, `0x${(256).toString(16).padStart(64, '0')}`])
  t.is(await chain.contracts.staking.validatorCount(), 256n)
  const [alice] = chain.users
  await fund(alice, K)
  const signer = testWallet('alice-signer')
  const ledgerKey = testLedgerKey('alice')
  const identity = validatorIdentity(ledgerKey.publicKey)
  await assertReverts(t, async () => chain.connect(alice).staking.register(signer.address, identity, await proofFor(signer, alice.address, identity), bindingFor(ledgerKey, alice.address, signer.address), K), 'ValidatorSetFull')
})

test.serial('stake adds weight; only registered operators stake', async (t) => {
  const v1 = chain.validators[1]
  await fund(v1.operator, K)
  await mined(chain.connect(v1.operator).staking.stake(K))
  t.is(await chain.contracts.staking.weightOfSigner(v1.signer.address), 2n * K)
  t.is(await chain.contracts.staking.totalStake(), 5n * K)
  await assertReverts(t, () => chain.connect(v1.operator).staking.stake(0n), 'ZeroAmount')
  await assertReverts(t, () => chain.connect(chain.users[0]).staking.stake(K), 'NotRegistered')
  await assertReverts(t, () => chain.connect(v1.operator).staking.stake(K), 'ERC20InsufficientAllowance')
})

test.serial('unbond removes weight at once; withdrawal only after the unbonding period; an empty validator leaves the set', async (t) => {
  const v0 = chain.validators[0]
  const staking = chain.connect(v0.operator).staking
  await assertReverts(t, () => staking.unbond(0n), 'ZeroAmount')
  await assertReverts(t, () => staking.unbond(3n * K), 'InsufficientStake')
  await assertReverts(t, () => staking.unbond(2n * K - K / 2n), 'BelowMinimumStake')
  await assertReverts(t, () => staking.withdrawUnbonded(), 'NothingToWithdraw')
  await assertReverts(t, () => chain.connect(chain.users[0]).staking.unbond(1n), 'NotRegistered')
  await assertReverts(t, () => chain.connect(chain.users[0]).staking.withdrawUnbonded(), 'NotRegistered')
  await mined(staking.unbond(K))
  t.is(await chain.contracts.staking.weightOfSigner(v0.signer.address), K)
  t.is(await chain.contracts.staking.totalStake(), 3n * K)
  t.is(await chain.contracts.staking.totalUnbonding(), K)
  await assertReverts(t, () => staking.withdrawUnbonded(), 'StillUnbonding')
  await chain.increaseTime(chain.unbondingPeriodSec)
  const before = await chain.contracts.agc.balanceOf(v0.operator.address)
  await mined(staking.withdrawUnbonded())
  t.is(await chain.contracts.agc.balanceOf(v0.operator.address), before + K)
  t.true(await chain.contracts.staking.isValidator(v0.operator.address))
  // full exit: unbond everything, wait, withdraw -> removed, signer and identity free again
  await mined(staking.unbond(K))
  // while unbonding with nothing bonded, re-staking below the minimum is refused
  await mined(chain.contracts.agc.transfer(v0.operator.address, 1n))
  await mined(chain.connect(v0.operator).agc.approve(chain.deployment.staking, 1n))
  await assertReverts(t, () => staking.stake(1n), 'BelowMinimumStake')
  await chain.increaseTime(chain.unbondingPeriodSec)
  await mined(staking.withdrawUnbonded())
  t.false(await chain.contracts.staking.isValidator(v0.operator.address))
  t.is(await chain.contracts.staking.validatorCount(), 2n)
  t.is(await chain.contracts.staking.operatorOfSigner(v0.signer.address), ZeroAddress)
  t.is(await chain.contracts.staking.operatorOfIdentity(v0.identity), ZeroAddress)
  // the moved operator keeps a valid index
  const remaining = [await chain.contracts.staking.operatorAt(0), await chain.contracts.staking.operatorAt(1)].sort()
  t.deepEqual(remaining, [chain.validators[1].operator.address, chain.validators[2].operator.address].sort())
})

test.serial('notifyReward and slash are callable only by the settlement contract', async (t) => {
  const v0 = chain.validators[0]
  await assertReverts(t, () => chain.contracts.staking.notifyReward(1n), 'NotSettlement')
  await assertReverts(t, () => chain.contracts.staking.slash(v0.operator.address, 1n, ZeroHash), 'NotSettlement')
  await assertReverts(t, () => chain.connect(v0.operator).staking.slash(v0.operator.address, 1n, ZeroHash), 'NotSettlement')
})

test.serial('slash takes bonded stake first, then unbonding stake, and pays the settlement contract', async (t) => {
  const v0 = chain.validators[0]
  await mined(chain.connect(v0.operator).staking.unbond(K))
  const settlement = await chain.impersonate(chain.deployment.settlement)
  const asSettlement = chain.connect(settlement).staking
  const evidence = keccak256(toUtf8Bytes('evidence'))
  await assertReverts(t, () => asSettlement.slash(chain.users[0].address, 1n, evidence), 'NotRegistered')
  const before = await chain.contracts.agc.balanceOf(chain.deployment.settlement)
  const tx = await asSettlement.slash(v0.operator.address, K + K / 2n, evidence)
  const receipt = await tx.wait()
  const log = receipt?.logs.map((l) => chain.contracts.staking.interface.parseLog(l)).find((l) => l?.name === 'Slashed')
  t.is(log?.args[1], K + K / 2n)
  t.is(log?.args[2], evidence)
  const v = await chain.contracts.staking.getValidator(v0.operator.address)
  t.is(v.stake, 0n)
  t.is(v.unbonding, K / 2n)
  t.is(await chain.contracts.staking.weightOfSigner(v0.signer.address), 0n)
  t.is(await chain.contracts.staking.totalStake(), 2n * K)
  t.is(await chain.contracts.staking.totalUnbonding(), K / 2n)
  t.is(await chain.contracts.agc.balanceOf(chain.deployment.settlement), before + K + K / 2n)
  // more than is left takes what is left
  await mined(asSettlement.slash(v0.operator.address, 10n * K, evidence))
  t.is((await chain.contracts.staking.getValidator(v0.operator.address)).unbonding, 0n)
  t.is(await chain.contracts.agc.balanceOf(chain.deployment.settlement), before + 2n * K)
})

test.serial('rewards are shared pro rata to bonded stake and claimed once', async (t) => {
  const settlement = await chain.impersonate(chain.deployment.settlement)
  const reward = 400n * AGC_UNIT
  await mined(chain.contracts.agc.transfer(chain.deployment.settlement, reward))
  await mined(chain.connect(settlement).agc.approve(chain.deployment.staking, reward))
  await mined(chain.connect(settlement).staking.notifyReward(reward))
  const [v0, v1, v2] = chain.validators
  t.is(await chain.contracts.staking.pendingRewards(v0.operator.address), 200n * AGC_UNIT)
  t.is(await chain.contracts.staking.pendingRewards(v1.operator.address), 100n * AGC_UNIT)
  t.is(await chain.contracts.staking.pendingRewards(v2.operator.address), 100n * AGC_UNIT)
  const before = await chain.contracts.agc.balanceOf(v1.operator.address)
  await mined(chain.connect(v1.operator).staking.claimRewards())
  t.is(await chain.contracts.agc.balanceOf(v1.operator.address), before + 100n * AGC_UNIT)
  await assertReverts(t, () => chain.connect(v1.operator).staking.claimRewards(), 'NothingToWithdraw')
  await assertReverts(t, () => chain.connect(chain.users[0]).staking.claimRewards(), 'NotRegistered')
  // stake added later does not earn past rewards
  await fund(v1.operator, K)
  await mined(chain.connect(v1.operator).staking.stake(K))
  t.is(await chain.contracts.staking.pendingRewards(v1.operator.address), 0n)
  t.is(await chain.contracts.staking.pendingRewards(v0.operator.address), 200n * AGC_UNIT)
})
