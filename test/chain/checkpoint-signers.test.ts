/**
 * Checkpoints are signed by the ledger's validators only: a validator's EVM registration weighs only when it carries
 * an ML-DSA binding by a genesis validator's key (src/chain/validator-binding.ts), checked by every node; a
 * deployment with a genesis list refuses every other registration on chain.
 */
import test from 'ava'
import { ContractFactory, keccak256, toUtf8Bytes, type Wallet } from 'ethers'
import { loadArtifact } from '../../src/chain/artifacts.ts'
import { CheckpointAggregator, type CheckpointSubmitter, type CheckpointTransport } from '../../src/chain/checkpoint-aggregator.ts'
import { type Checkpoint, signCheckpoint } from '../../src/chain/checkpoint-digest.ts'
import { encodeCheckpointMessage } from '../../src/chain/checkpoint-message.ts'
import { AGC_UNIT, signRegistration } from '../../src/chain/deploy.ts'
import { bindingMessage, signValidatorBinding, validatorIdentity, verifyValidatorBinding } from '../../src/chain/validator-binding.ts'
import { hasQuorum, StakingValidatorSet } from '../../src/chain/validator-set.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type ChainFixture, startChainFixture, testLedgerKey, testWallet } from '../helpers/anvil.ts'
import { assertReverts, mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''
const K = AGC_UNIT * 1000n
/** A fourth genesis validator that has not registered (yet): a squatter may claim its identity. */
const absentGenesisKey = testLedgerKey('validator-absent')

// open registration (no genesis list in the contract): only the nodes' ML-DSA check keeps unbound stake out
test.before(async () => { chain = await startChainFixture({ stakes: [K, K, K] }) })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => { await chain.revert(snap) })

function bindingDomain (): { chainId: number, staking: string } {
  return { chainId: chain.anvil.chainId, staking: chain.deployment.staking }
}

/** The validator set of a node whose genesis holds the three registered validators and the absent one. */
function nodeValidatorSet (): StakingValidatorSet {
  return new StakingValidatorSet({
    staking: chain.contracts.staking,
    domain: bindingDomain(),
    genesisValidatorKeys: [...chain.genesisValidatorKeys, absentGenesisKey.publicKey],
    fromBlock: chain.deployment.deployBlock
  })
}

/** Registers `operator` with `signer`, `identity` and the given binding, staking `stake`. */
async function register (operator: Wallet, signer: Wallet, identity: string, binding: string, stake: bigint): Promise<void> {
  await mined(chain.contracts.agc.transfer(operator.address, stake))
  await mined(chain.connect(operator).agc.approve(chain.deployment.staking, stake))
  const proof = await signRegistration(signer, chain.deployment.staking, chain.anvil.chainId, operator.address, identity)
  await mined(chain.connect(operator).staking.register(signer.address, identity, proof, binding, stake))
}

/**
 * Two attackers hold 20K of 23K EVM stake: a rogue validator with its own (valid, non-genesis) ML-DSA key, and a
 * squatter that registered the absent genesis validator's identity with a binding that validator signed for another
 * operator and signer (a replay).
 */
async function registerAttackers (): Promise<{ rogue: Wallet, squatter: Wallet }> {
  const [rogueOperator, squatOperator] = chain.users
  const rogue = testWallet('rogue-signer')
  const rogueKey = testLedgerKey('rogue')
  await register(rogueOperator, rogue, validatorIdentity(rogueKey.publicKey), signValidatorBinding(rogueKey, bindingDomain(), rogueOperator.address, rogue.address), 10n * K)
  const squatter = testWallet('squat-signer')
  const replayed = signValidatorBinding(absentGenesisKey, bindingDomain(), testWallet('absent-operator').address, testWallet('absent-signer').address)
  await register(squatOperator, squatter, validatorIdentity(absentGenesisKey.publicKey), replayed, 10n * K)
  return { rogue, squatter }
}

function checkpointOf (label: string): Checkpoint {
  return { epoch: 1n, dagRoot: keccak256(toUtf8Bytes(`dag-${label}`)), stateRoot: keccak256(toUtf8Bytes(`state-${label}`)), withdrawalsRoot: keccak256(toUtf8Bytes(`w-${label}`)) }
}

test('a binding verifies only for its key, chain, staking contract, operator and signer', (t) => {
  const key = testLedgerKey('binding-unit')
  const domain = { chainId: 31337, staking: testWallet('staking').address }
  const operator = testWallet('op').address
  const signer = testWallet('sig').address
  const binding = signValidatorBinding(key, domain, operator, signer)
  t.true(verifyValidatorBinding(binding, key.publicKey, domain, operator, signer))
  t.false(verifyValidatorBinding(binding, testLedgerKey('other').publicKey, domain, operator, signer))
  t.false(verifyValidatorBinding(binding, key.publicKey, { ...domain, chainId: 1 }, operator, signer))
  t.false(verifyValidatorBinding(binding, key.publicKey, { ...domain, staking: operator }, operator, signer))
  t.false(verifyValidatorBinding(binding, key.publicKey, domain, signer, signer))
  t.false(verifyValidatorBinding(binding, key.publicKey, domain, operator, operator))
  t.false(verifyValidatorBinding(binding.slice(0, -2), key.publicKey, domain, operator, signer))
  t.false(verifyValidatorBinding('0xzz', key.publicKey, domain, operator, signer))
  // domain separation: the message names the chain and the contract
  t.notDeepEqual(bindingMessage(domain, operator, signer), bindingMessage({ ...domain, chainId: 1 }, operator, signer))
})

test.serial('registrations without a genesis validator\'s ML-DSA binding weigh nothing in a node\'s validator set', async (t) => {
  const before = await nodeValidatorSet().snapshot()
  t.deepEqual(before.validators.map((v) => v.bound), [true, true, true])
  t.is(before.boundTotal, 3n * K)
  const { rogue, squatter } = await registerAttackers()
  const snapshot = await nodeValidatorSet().snapshot()
  t.deepEqual(snapshot.validators.map((v) => v.bound), [true, true, true, false, false])
  t.is(snapshot.total, 23n * K)
  t.is(snapshot.boundTotal, 3n * K)
  t.is(snapshot.weightOf(rogue.address), 0n)
  t.is(snapshot.weightOf(squatter.address), 0n)
  t.is(snapshot.weightOf(chain.validators[0].signer.address), K)
  // the contract alone would count them: 20K of 23K is a quorum of EVM stake
  const onchain = await chain.contracts.staking.weightsOfSigners([rogue.address, squatter.address])
  t.true(hasQuorum(onchain[0] + onchain[1], await chain.contracts.staking.totalStake()))
})

test.serial('a checkpoint signed by EVM keys not bound to a genesis validator is refused: never counted, never submitted', async (t) => {
  const { rogue, squatter } = await registerAttackers()
  const submitted: Checkpoint[] = []
  const submitter: CheckpointSubmitter = {
    lastEpoch: async () => await chain.contracts.settlement.lastEpoch(),
    submit: async (cp) => { submitted.push(cp); return '0x' }
  }
  const transport: CheckpointTransport = { publish: async () => {}, subscribe: () => () => {} }
  const domain = { chainId: chain.anvil.chainId, settlement: chain.deployment.settlement }
  const observer = new CheckpointAggregator({ transport, validators: nodeValidatorSet(), submitter, domain, logger: silentLogger() }, { submitDelayMs: 0 })
  const quorums: bigint[] = []
  observer.on('quorum', ({ epoch }) => { quorums.push(epoch) })
  await observer.start()
  try {
    const forged = checkpointOf('forged')
    await observer.propose(forged)
    for (const signer of [rogue, squatter]) {
      const message = encodeCheckpointMessage({ checkpoint: forged, signature: signCheckpoint(signer.signingKey, domain, forged) })
      t.is(await observer.handleMessage(message), 'ignore')
    }
    const status = await observer.status(1n)
    t.deepEqual(status.signers, [])
    t.is(status.signedStake, 0n)
    t.false(status.quorum)
    t.deepEqual(quorums, [])
    t.deepEqual(submitted, [])
    // a bound validator's signature of the same checkpoint is taken, and weighs its own stake only
    const bound = chain.validators[0]
    const message = encodeCheckpointMessage({ checkpoint: forged, signature: signCheckpoint(bound.signer.signingKey, domain, forged) })
    t.is(await observer.handleMessage(message), 'accept')
    const after = await observer.status(1n)
    t.deepEqual(after.signers, [bound.signer.address])
    t.is(after.signedStake, K)
    t.is(after.boundStake, 3n * K)
    t.false(after.quorum)
    t.deepEqual(submitted, [])
  } finally {
    await observer.stop()
  }
})

test.serial('bound validators reach quorum and anchor a checkpoint; the same signatures from unbound keys do not count', async (t) => {
  const submitted: Array<{ cp: Checkpoint, signatures: string[] }> = []
  const submitter: CheckpointSubmitter = {
    lastEpoch: async () => await chain.contracts.settlement.lastEpoch(),
    submit: async (cp, signatures) => {
      submitted.push({ cp, signatures })
      const tx = await chain.contracts.settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, signatures)
      await tx.wait()
      return tx.hash
    }
  }
  const transport: CheckpointTransport = { publish: async () => {}, subscribe: () => () => {} }
  const domain = { chainId: chain.anvil.chainId, settlement: chain.deployment.settlement }
  const observer = new CheckpointAggregator({ transport, validators: nodeValidatorSet(), submitter, domain, logger: silentLogger() }, { submitDelayMs: 0 })
  const onchain = new Promise<bigint>((resolve) => observer.once('submitted', ({ epoch }) => { resolve(epoch) }))
  await observer.start()
  try {
    const cp = checkpointOf('honest')
    await observer.propose(cp)
    // two of three equal stakes are a quorum; the submission starts at once (submitDelayMs 0)
    for (const v of chain.validators.slice(0, 2)) {
      const message = encodeCheckpointMessage({ checkpoint: cp, signature: signCheckpoint(v.signer.signingKey, domain, cp) })
      t.is(await observer.handleMessage(message), 'accept')
    }
    t.is(await onchain, 1n)
    t.is(submitted.length, 1)
    t.is((await chain.contracts.settlement.getCheckpoint(1n)).stateRoot, cp.stateRoot)
  } finally {
    await observer.stop()
  }
})

test.serial('a deployment with a genesis list refuses any other identity, and a genesis identity with another signer', async (t) => {
  const artifact = loadArtifact('HarmonyStaking')
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, chain.deployer)
  const genesisSigner = testWallet('genesis-signer')
  const genesisIdentity = validatorIdentity(absentGenesisKey.publicKey)
  const contract = await factory.deploy(chain.deployment.agc, chain.deployment.settlement, K, 60, [genesisIdentity], [genesisSigner.address])
  await contract.waitForDeployment()
  const staking = (await import('../../src/chain/bindings.ts')).stakingAt(await contract.getAddress(), chain.users[0])
  t.is(await staking.genesisValidatorCount(), 1n)
  t.is(await staking.genesisSignerOf(genesisIdentity), genesisSigner.address)
  const operator = chain.users[0]
  const domain = { chainId: chain.anvil.chainId, staking: await contract.getAddress() }
  const attempt = async (signer: Wallet, key: KeyPair): Promise<unknown> => {
    const identity = validatorIdentity(key.publicKey)
    const proof = await signRegistration(signer, domain.staking, domain.chainId, operator.address, identity)
    return await staking.register(signer.address, identity, proof, signValidatorBinding(key, domain, operator.address, signer.address), K)
  }
  // a rogue key, even with a valid ML-DSA binding of its own
  await assertReverts(t, async () => await attempt(testWallet('rogue-signer'), testLedgerKey('rogue')), 'NotGenesisValidator')
  // the genesis identity with the squatter's signer
  await assertReverts(t, async () => await attempt(testWallet('squat-signer'), absentGenesisKey), 'NotGenesisSigner')
})

test.serial('a chain endpoint that answers a validator count over the contract\'s cap is refused at once, not asked that many times', async (t) => {
  const staking = chain.contracts.staking
  let asked = 0
  // the real contract, behind an endpoint that lies about one answer
  const lying = new Proxy(staking, {
    get: (target, prop) => {
      if (prop === 'validatorCount') return async () => 2n ** 64n
      if (prop === 'operatorAt') asked++
      return Reflect.get(target, prop)
    }
  })
  const set = new StakingValidatorSet({ staking: lying, domain: bindingDomain(), genesisValidatorKeys: chain.genesisValidatorKeys, fromBlock: chain.deployment.deployBlock })
  const err = await t.throwsAsync(set.snapshot())
  t.like(err, { code: 'CHAIN_ANSWER_INVALID' })
  t.regex(err?.message ?? '', /holds 18446744073709551616 validators; it holds at most 256/)
  t.is(asked, 0)
  t.is((await nodeValidatorSet().snapshot()).validators.length, 3, 'the honest answer still reads')
})
