import test from 'ava'
import { ContractFactory, getAddress, getBytes, hexlify, keccak256, randomBytes, Signature, toUtf8Bytes, ZeroHash } from 'ethers'
import fc from 'fast-check'
import { loadArtifact } from '../../src/chain/artifacts.ts'
import { decodeRevert } from '../../src/chain/bindings.ts'
import { type Checkpoint, checkpointDigest, recoverCheckpointSigner, signCheckpoint } from '../../src/chain/checkpoint-digest.ts'
import { addressBytesFromDagAccount, dagAccountFromAddressBytes } from '../../src/chain/dag-account.ts'
import { AGC_UNIT } from '../../src/chain/deploy.ts'
import { buildWithdrawalTree, claimWithdrawal, verifyWithdrawalProof, type WithdrawalLeaf } from '../../src/chain/withdrawals.ts'
import { type ChainFixture, startChainFixture, type TestValidator } from '../helpers/anvil.ts'
import { assertReverts, mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''
const K = AGC_UNIT * 1000n
// stakes 3K, 2K, 2K, 1K, 1K: total 9K, 2/3 = 6K
const STAKES = [3n * K, 2n * K, 2n * K, K, K]

test.before(async () => { chain = await startChainFixture({ stakes: STAKES }) })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => { await chain.revert(snap) })

const ACCOUNT = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('dag-account-1'))).slice(0, 20))

function domain (): { chainId: number, settlement: string } {
  return { chainId: chain.anvil.chainId, settlement: chain.deployment.settlement }
}

function checkpoint (epoch: bigint, withdrawalsRoot = ZeroHash): Checkpoint {
  return { epoch, dagRoot: keccak256(toUtf8Bytes(`dag-${epoch}`)), stateRoot: keccak256(toUtf8Bytes(`state-${epoch}`)), withdrawalsRoot }
}

/** Signatures of `signers` ordered by signer address, as the contract requires. */
function sign (cp: Checkpoint, signers: TestValidator[]): string[] {
  return [...signers]
    .sort((a, b) => (BigInt(a.signer.address) < BigInt(b.signer.address) ? -1 : 1))
    .map((v) => signCheckpoint(v.signer.signingKey, domain(), cp))
}

async function submit (cp: Checkpoint, signers: TestValidator[] = chain.validators): Promise<void> {
  await mined(chain.contracts.settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, sign(cp, signers)))
}

async function deposit (amount: bigint, account = ACCOUNT): Promise<void> {
  await mined(chain.contracts.agc.approve(chain.deployment.settlement, amount))
  await mined(chain.contracts.settlement.deposit(account, amount))
}

test.serial('the constructor refuses a staking contract bound to another settlement or token', async (t) => {
  const artifact = loadArtifact('HarmonySettlement')
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, chain.deployer)
  await assertReverts(t, () => factory.deploy(chain.deployment.agc, chain.deployment.staking, ZeroHash, 0n), 'StakingMismatch')
  t.is(await chain.contracts.settlement.staking(), chain.deployment.staking)
  t.is(await chain.contracts.settlement.token(), chain.deployment.agc)
})

test.serial('deposit escrows AGC and emits the event the DAG credits from', async (t) => {
  const { settlement, agc } = chain.contracts
  await mined(agc.approve(chain.deployment.settlement, 10n * AGC_UNIT))
  const tx = await settlement.deposit(ACCOUNT, 4n * AGC_UNIT)
  const receipt = await tx.wait()
  const log = receipt?.logs.map((l) => settlement.interface.parseLog(l)).find((l) => l?.name === 'Deposited')
  t.is(log?.args.dagAccount, ACCOUNT)
  t.is(log?.args.from, chain.deployer.address)
  t.is(log?.args.amount, 4n * AGC_UNIT)
  t.is(log?.args.depositId, 0n)
  await mined(settlement.deposit(ACCOUNT, AGC_UNIT))
  t.is(await settlement.depositCount(), 2n)
  t.is(await settlement.totalDeposited(), 5n * AGC_UNIT)
  t.is(await agc.balanceOf(chain.deployment.settlement), 5n * AGC_UNIT)
  await assertReverts(t, () => settlement.deposit(ACCOUNT, 0n), 'ZeroAmount')
  await assertReverts(t, () => settlement.deposit(ZeroHash, 1n), 'ZeroAccount')
  // a DAG address is 20 bytes right-aligned: anything in the top 12 bytes cannot be a DAG account
  await assertReverts(t, () => settlement.deposit(keccak256(toUtf8Bytes('not-an-address')), 1n), 'InvalidDagAccount')
  t.deepEqual(addressBytesFromDagAccount(ACCOUNT), getBytes(keccak256(toUtf8Bytes('dag-account-1'))).slice(0, 20))
  t.throws(() => addressBytesFromDagAccount(keccak256(toUtf8Bytes('x'))), { message: /right-aligned/ })
  t.throws(() => dagAccountFromAddressBytes(new Uint8Array(20)), { message: /zero/ })
  t.throws(() => dagAccountFromAddressBytes(new Uint8Array(32)), { message: /20 bytes/ })
  await assertReverts(t, () => settlement.deposit(ACCOUNT, 6n * AGC_UNIT), 'ERC20InsufficientAllowance')
  await assertReverts(t, () => chain.connect(chain.users[0]).settlement.deposit(ACCOUNT, 0n), 'ZeroAmount')
})

test.serial('depositWithPermit deposits in one transaction; a bad permit without allowance reverts', async (t) => {
  const [alice] = chain.users
  const { agc } = chain.contracts
  await mined(agc.transfer(alice.address, 10n * AGC_UNIT))
  const amount = 3n * AGC_UNIT
  const deadline = BigInt((await chain.provider.getBlock('latest'))?.timestamp ?? 0) + 600n
  const sig = Signature.from(await alice.signTypedData(
    { name: 'AgentCoin', version: '1', chainId: chain.anvil.chainId, verifyingContract: chain.deployment.agc },
    { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    { owner: alice.address, spender: chain.deployment.settlement, value: amount, nonce: 0n, deadline }))
  const asAlice = chain.connect(alice).settlement
  await mined(asAlice.depositWithPermit(ACCOUNT, amount, deadline, sig.v, sig.r, sig.s))
  t.is(await chain.contracts.settlement.totalDeposited(), amount)
  t.is(await agc.balanceOf(alice.address), 7n * AGC_UNIT)
  // the permit is spent: replaying it fails inside, and without an allowance the deposit reverts
  await assertReverts(t, () => asAlice.depositWithPermit(ACCOUNT, amount, deadline, sig.v, sig.r, sig.s), 'ERC20InsufficientAllowance')
})

test.serial('checkpoint digest: off-chain EIP-712 equals the contract; signature recovery', async (t) => {
  const cp = checkpoint(1n)
  t.is(await chain.contracts.settlement.checkpointDigest(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot), checkpointDigest(domain(), cp))
  const v = chain.validators[0]
  t.is(recoverCheckpointSigner(domain(), cp, signCheckpoint(v.signer.signingKey, domain(), cp)), v.signer.address)
  // bound to chain id and contract: another domain gives another digest
  t.not(checkpointDigest({ ...domain(), chainId: 1 }, cp), checkpointDigest(domain(), cp))
  t.not(checkpointDigest({ ...domain(), settlement: chain.deployment.staking }, cp), checkpointDigest(domain(), cp))
})

test.serial('submitCheckpoint accepts ≥ 2/3 of stake, in order, once', async (t) => {
  const { settlement } = chain.contracts
  const [v3k, v2a, v2b, v1a, v1b] = chain.validators
  const cp1 = checkpoint(1n)
  // exactly 2/3 (3K + 2K + 1K = 6K of 9K) is enough
  const tx = await settlement.submitCheckpoint(cp1.epoch, cp1.dagRoot, cp1.stateRoot, cp1.withdrawalsRoot, sign(cp1, [v3k, v2a, v1a]))
  const receipt = await tx.wait()
  const log = receipt?.logs.map((l) => settlement.interface.parseLog(l)).find((l) => l?.name === 'CheckpointSubmitted')
  t.is(log?.args.signedStake, 6n * K)
  t.is(log?.args.totalStake, 9n * K)
  t.is(await settlement.lastEpoch(), 1n)
  const stored = await settlement.getCheckpoint(1n)
  t.is(stored.dagRoot, cp1.dagRoot)
  t.is(stored.stateRoot, cp1.stateRoot)
  t.is(stored.withdrawalsRoot, cp1.withdrawalsRoot)
  t.is(stored.signedStake, 6n * K)
  // once: the same epoch again reverts
  await assertReverts(t, () => settlement.submitCheckpoint(cp1.epoch, cp1.dagRoot, cp1.stateRoot, cp1.withdrawalsRoot, sign(cp1, chain.validators)), 'EpochOutOfOrder')
  // in order: epoch 3 before 2 reverts
  const cp3 = checkpoint(3n)
  await assertReverts(t, () => settlement.submitCheckpoint(cp3.epoch, cp3.dagRoot, cp3.stateRoot, cp3.withdrawalsRoot, sign(cp3, chain.validators)), 'EpochOutOfOrder')
  // just under 2/3 (3K + 2K = 5K... + 0) reverts
  const cp2 = checkpoint(2n)
  const args = await assertReverts(t, () => settlement.submitCheckpoint(cp2.epoch, cp2.dagRoot, cp2.stateRoot, cp2.withdrawalsRoot, sign(cp2, [v2a, v2b, v1b])), 'QuorumNotReached')
  t.deepEqual(args, [5n * K, 9n * K])
  await assertReverts(t, () => settlement.submitCheckpoint(cp2.epoch, cp2.dagRoot, cp2.stateRoot, cp2.withdrawalsRoot, []), 'QuorumNotReached')
  await submit(cp2, [v2a, v2b, v1a, v1b])
  t.is(await settlement.lastEpoch(), 2n)
  await assertReverts(t, () => settlement.getCheckpoint(3n), 'UnknownEpoch')
  await assertReverts(t, () => settlement.getCheckpoint(0n), 'UnknownEpoch')
})

test.serial('submitCheckpoint refuses duplicate, unsorted, unknown and malformed signatures', async (t) => {
  const { settlement } = chain.contracts
  const cp = checkpoint(1n)
  const sigs = sign(cp, chain.validators)
  // a signer counted twice
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [sigs[0], sigs[0], sigs[1], sigs[2]]), 'SignersNotSorted')
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [...sigs].reverse()), 'SignersNotSorted')
  // a key without stake
  const outsider = signCheckpoint(chain.users[0].signingKey, domain(), cp)
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [outsider]), 'UnknownSigner')
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, ['0x1234']), 'BadSignature')
  // a signature of other roots recovers to another address: an unknown signer
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, ZeroHash, cp.withdrawalsRoot, [sigs[0]]), 'UnknownSigner')
  // replay from another chain or deployment: the digest differs, so the signer does not match
  const v = chain.validators[0]
  const foreignChain = signCheckpoint(v.signer.signingKey, { chainId: 1, settlement: chain.deployment.settlement }, cp)
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [foreignChain]), 'UnknownSigner')
  const foreignContract = signCheckpoint(v.signer.signingKey, { chainId: chain.anvil.chainId, settlement: chain.deployment.staking }, cp)
  await assertReverts(t, () => settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [foreignContract]), 'UnknownSigner')
})

test.serial('withdraw pays a leaf once, only with a valid proof, within escrow; a fee leaf fills the fee pool', async (t) => {
  const { settlement, agc } = chain.contracts
  const [alice, bob] = chain.users
  await deposit(100n * AGC_UNIT)
  const leaves: WithdrawalLeaf[] = [
    { account: alice.address, amount: 30n * AGC_UNIT, nonce: 1n },
    { account: bob.address, amount: 20n * AGC_UNIT, nonce: 7n },
    { account: chain.deployment.settlement, amount: 5n * AGC_UNIT, nonce: 1n },
    { account: bob.address, amount: 1000n * AGC_UNIT, nonce: 8n }
  ]
  const tree = buildWithdrawalTree(leaves)
  await submit(checkpoint(1n, tree.root))
  const asBob = chain.connect(bob).settlement
  await assertReverts(t, () => asBob.withdraw(2n, alice.address, 30n * AGC_UNIT, 1n, tree.proof(leaves[0])), 'UnknownEpoch')
  await assertReverts(t, () => asBob.withdraw(0n, alice.address, 30n * AGC_UNIT, 1n, tree.proof(leaves[0])), 'UnknownEpoch')
  await assertReverts(t, () => asBob.withdraw(1n, alice.address, 31n * AGC_UNIT, 1n, tree.proof(leaves[0])), 'InvalidProof')
  await assertReverts(t, () => asBob.withdraw(1n, bob.address, 30n * AGC_UNIT, 1n, tree.proof(leaves[0])), 'InvalidProof')
  await assertReverts(t, () => asBob.withdraw(1n, alice.address, 0n, 1n, []), 'ZeroAmount')
  await assertReverts(t, () => asBob.withdraw(1n, '0x0000000000000000000000000000000000000000', 1n, 1n, []), 'ZeroAccount')
  // anyone may submit; alice receives
  const receipt = await claimWithdrawal(asBob, 1n, leaves[0], tree.proof(leaves[0]))
  t.is(receipt.status, 1)
  t.is(await agc.balanceOf(alice.address), 30n * AGC_UNIT)
  await assertReverts(t, () => claimWithdrawal(asBob, 1n, leaves[0], tree.proof(leaves[0])), 'AlreadyClaimed')
  t.true(await settlement.claimed(await settlement.withdrawalLeaf(alice.address, 30n * AGC_UNIT, 1n)))
  // the same leaf in a later checkpoint's tree is still paid only once
  const tree2 = buildWithdrawalTree([leaves[0], { account: alice.address, amount: 1n, nonce: 2n }])
  await submit(checkpoint(2n, tree2.root))
  await assertReverts(t, () => claimWithdrawal(asBob, 2n, leaves[0], tree2.proof(leaves[0])), 'AlreadyClaimed')
  // the fee leaf moves escrow into the fee pool, no transfer
  await claimWithdrawal(asBob, 1n, leaves[2], tree.proof(leaves[2]))
  t.is(await settlement.feePool(), 5n * AGC_UNIT)
  t.is(await agc.balanceOf(chain.deployment.settlement), 70n * AGC_UNIT)
  // more than escrow holds reverts even with a valid proof
  await assertReverts(t, () => claimWithdrawal(asBob, 1n, leaves[3], tree.proof(leaves[3])), 'EscrowExceeded')
  await claimWithdrawal(asBob, 1n, leaves[1], tree.proof(leaves[1]))
  t.is(await settlement.totalWithdrawn(), 55n * AGC_UNIT)
  t.is(await agc.balanceOf(bob.address), 20n * AGC_UNIT)
})

test.serial('withdrawal tree: off-chain proofs verify, leaves are distinct, the empty tree has a zero root', (t) => {
  const leaves = Array.from({ length: 9 }, (_, i) => ({ account: getAddress(hexlify(randomBytes(20))), amount: BigInt(i + 1), nonce: BigInt(i) }))
  const tree = buildWithdrawalTree(leaves)
  for (const l of leaves) t.true(verifyWithdrawalProof(tree.root, l, tree.proof(l)))
  t.false(verifyWithdrawalProof(tree.root, { ...leaves[0], amount: 99n }, tree.proof(leaves[0])))
  t.throws(() => buildWithdrawalTree([leaves[0], leaves[0]]), { message: /duplicate/ })
  t.throws(() => buildWithdrawalTree([{ ...leaves[0], amount: 0n }]), { message: /amount/ })
  t.throws(() => buildWithdrawalTree([{ ...leaves[0], account: '0x1234' }]), { message: /address/ })
  t.throws(() => tree.proof({ ...leaves[0], nonce: 100n }), { message: /not in this tree/ })
  t.is(buildWithdrawalTree([]).root, ZeroHash)
})

test.serial('fees: addFees and distributeFees pay stakers pro rata', async (t) => {
  const { settlement, staking } = chain.contracts
  await assertReverts(t, () => settlement.distributeFees(), 'ZeroAmount')
  await assertReverts(t, () => settlement.addFees(0n), 'ZeroAmount')
  await mined(chain.contracts.agc.approve(chain.deployment.settlement, 900n * AGC_UNIT))
  await mined(settlement.addFees(900n * AGC_UNIT))
  t.is(await settlement.feePool(), 900n * AGC_UNIT)
  await mined(chain.connect(chain.users[0]).settlement.distributeFees())
  t.is(await settlement.feePool(), 0n)
  for (const [i, v] of chain.validators.entries()) {
    t.is(await staking.pendingRewards(v.operator.address), (STAKES[i] * 900n * AGC_UNIT) / (9n * K))
  }
})

test.serial('equivocation: two checkpoints for one epoch by one key slash 10% of its stake into the fee pool, once', async (t) => {
  const { settlement, staking } = chain.contracts
  const v = chain.validators[0]
  const a = checkpoint(1n)
  const b = { ...a, stateRoot: ZeroHash }
  const sigA = signCheckpoint(v.signer.signingKey, domain(), a)
  const sigB = signCheckpoint(v.signer.signingKey, domain(), b)
  const roots = (cp: Checkpoint): [string, string, string] => [cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot]
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), sigA, roots(a), sigA), 'NotEquivocation')
  const other = signCheckpoint(chain.validators[1].signer.signingKey, domain(), b)
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), sigA, roots(b), other), 'NotEquivocation')
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), '0x12', roots(b), sigB), 'BadSignature')
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), sigA, roots(b), '0x12'), 'BadSignature')
  const outsider = chain.users[0].signingKey
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), signCheckpoint(outsider, domain(), a), roots(b), signCheckpoint(outsider, domain(), b)), 'UnknownSigner')
  // anyone may report it
  await mined(chain.connect(chain.users[1]).settlement.slashEquivocation(1n, roots(a), sigA, roots(b), sigB))
  const slashed = STAKES[0] / 10n
  t.is((await staking.getValidator(v.operator.address)).stake, STAKES[0] - slashed)
  t.is(await staking.totalStake(), 9n * K - slashed)
  t.is(await settlement.feePool(), slashed)
  t.true(await settlement.equivocationSlashed(v.signer.address, 1n))
  await assertReverts(t, () => settlement.slashEquivocation(1n, roots(a), sigA, roots(b), sigB), 'AlreadySlashed')
})

test.serial('no stake bonded: checkpoints revert with NoStake and rewards wait', async (t) => {
  for (const v of chain.validators) await mined(chain.connect(v.operator).staking.unbond((await chain.contracts.staking.getValidator(v.operator.address)).stake))
  const cp = checkpoint(1n)
  await assertReverts(t, () => chain.contracts.settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, []), 'NoStake')
  await mined(chain.contracts.agc.approve(chain.deployment.settlement, 10n))
  await mined(chain.contracts.settlement.addFees(10n))
  await mined(chain.contracts.settlement.distributeFees())
  t.is(await chain.contracts.staking.undistributedReward(), 10n)
})

// Quorum rule: for random stakes and a random subset of signers, the checkpoint is accepted iff the subset holds
// at least 2/3 of the stake.
test.serial('property: quorum rule', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.oneof(fc.constant(0n), fc.bigInt(1n, 3n * K)), { minLength: 5, maxLength: 5 }),
    fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    async (extra, chosen) => {
      const id = await chain.snapshot()
      try {
        // operators hold 10,000 spare AGC from registration; different senders can send in parallel
        await Promise.all(chain.validators.map(async (v, i) => {
          if (extra[i] === 0n) return
          await mined(chain.connect(v.operator).agc.approve(chain.deployment.staking, extra[i]))
          await mined(chain.connect(v.operator).staking.stake(extra[i]))
        }))
        const signers = chain.validators.filter((_, i) => chosen[i])
        const total = STAKES.reduce((a, b) => a + b, 0n) + extra.reduce((a, b) => a + b, 0n)
        const signed = chain.validators.reduce((sum, _, i) => sum + (chosen[i] ? STAKES[i] + extra[i] : 0n), 0n)
        const cp = checkpoint(1n)
        let accepted = true
        try {
          await submit(cp, signers)
        } catch {
          accepted = false
        }
        return accepted === (signed * 3n >= total * 2n) && (await chain.contracts.settlement.lastEpoch()) === (accepted ? 1n : 0n)
      } finally {
        await chain.revert(id)
      }
    }), { numRuns: 20 })
  t.pass()
})

// Escrow conservation and single withdrawal: after random deposits, checkpoints and claims (each leaf claimed
// twice), the contract's AGC balance = deposited - withdrawn + fee pool, each leaf was paid exactly once, and
// every account holds what its leaves pay.
test.serial('property: escrow conservation and single withdrawal', async (t) => {
  const [alice, bob, carol] = chain.users
  const accounts = [alice.address, bob.address, carol.address, chain.deployment.settlement]
  await fc.assert(fc.asyncProperty(
    fc.array(fc.bigInt(1n, 10n ** 21n), { minLength: 1, maxLength: 3 }),
    fc.uniqueArray(fc.record({ who: fc.nat(3), amount: fc.bigInt(1n, 10n ** 21n), nonce: fc.bigInt(0n, 1000n) }), { minLength: 1, maxLength: 5, selector: (l) => `${l.who}:${l.nonce}` }),
    async (deposits, leafSpecs) => {
      const id = await chain.snapshot()
      try {
        await mined(chain.contracts.agc.approve(chain.deployment.settlement, deposits.reduce((a, b) => a + b, 0n)))
        for (const d of deposits) await mined(chain.contracts.settlement.deposit(ACCOUNT, d))
        const deposited = deposits.reduce((a, b) => a + b, 0n)
        const leaves = leafSpecs.map((l) => ({ account: accounts[l.who], amount: l.amount, nonce: l.nonce }))
        const tree = buildWithdrawalTree(leaves)
        await submit(checkpoint(1n, tree.root))
        const paid = new Map<string, bigint>()
        const timesPaid = new Map<WithdrawalLeaf, number>()
        let withdrawn = 0n
        for (const leaf of [...leaves, ...leaves]) {
          try {
            await claimWithdrawal(chain.contracts.settlement, 1n, leaf, tree.proof(leaf))
            withdrawn += leaf.amount
            paid.set(leaf.account, (paid.get(leaf.account) ?? 0n) + leaf.amount)
            timesPaid.set(leaf, (timesPaid.get(leaf) ?? 0) + 1)
          } catch (err) {
            const name = decodeRevert(err)?.name
            if (name !== 'AlreadyClaimed' && name !== 'EscrowExceeded') throw err
          }
        }
        const { settlement, agc } = chain.contracts
        const balance = await agc.balanceOf(chain.deployment.settlement)
        const feePool = await settlement.feePool()
        for (const leaf of leaves) {
          const flag = await settlement.claimed(await settlement.withdrawalLeaf(leaf.account, leaf.amount, leaf.nonce))
          const times = timesPaid.get(leaf) ?? 0
          if (times > 1 || flag !== (times === 1)) return false
        }
        for (const u of [alice, bob, carol]) {
          if ((await agc.balanceOf(u.address)) !== (paid.get(u.address) ?? 0n)) return false
        }
        return balance === deposited - withdrawn + feePool &&
          feePool === (paid.get(chain.deployment.settlement) ?? 0n) &&
          (await settlement.totalWithdrawn()) === withdrawn &&
          withdrawn <= deposited
      } finally {
        await chain.revert(id)
      }
    }), { numRuns: 10 })
  t.pass()
})
