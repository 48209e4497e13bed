/**
 * The chain bridge under the commit rule (genesis consensus.rule 'commit'; docs/consensus-next.md step 4): anvil with
 * the contracts and four real libp2p nodes on loopback, each running DagService + ChainService + DagBridge. No vertex
 * can be held back there, so a deposit is credited once a quorum of validators attested it on the DAG: each
 * validator's bridge attests what its watcher confirmed, and every one proposes the credit at once (they race: the
 * first in the order wins, the others are rejected). A credit of a deposit the chain never saw is never minted, and a
 * withdraw burn becomes a checkpoint on chain and a claim that pays. State sync under the rule:
 * test/chain/state-sync-commit.test.ts.
 */
import test from 'ava'
import { getBytes } from 'ethers'
import { attestAccount, buildDepositCredit, depositAccount, EPOCH_ACCOUNT } from '../../src/bridge/kinds/index.ts'
import { AGC_UNIT, claimWithdrawal, connectContracts, verifyWithdrawalProof } from '../../src/chain/index.ts'
import { addressBytesFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { type BridgeNet, startBridgeNet } from '../helpers/bridge-net.ts'
import { addressOf, waitFor } from '../helpers/dag-net.ts'

const NODES = 4
let b: BridgeNet

test.before(async () => {
  // every validator proposes every credit and close at once
  b = await startBridgeNet('bridge-commit', { nodes: NODES, consensus: { rule: 'commit' } }, () => ({ proposeDelayMs: 0, tickMs: 100, epochIntervalMs: 0, resubmitMs: 3000 }))
})

test.after.always(async () => {
  await b?.close()
})

const oneRoot = async (): Promise<boolean> => new Set(await Promise.all(b.net.nodes.map(async n => (await n.dag.stats()).stateRoot))).size === 1

test.serial('a deposit is credited once on every node after a quorum of validators attested it', async (t) => {
  const { net, devnet, delivered, user } = b
  t.truthy(net.nodes[0].dag.ledger.commit, 'the ledger runs the commit rule')
  const hash = await b.deposit(20n * AGC_UNIT)
  await waitFor(async () => (await b.balances(user)).every(x => x === 20n * AGC_UNIT), 'deposit credited on every node')
  const d = delivered.find(x => x.txHash === hash)
  if (d === undefined) return t.fail('node 0 saw no deposit')
  const payload = { evmChainId: BigInt(devnet.contractsFile.chainId), txHash: getBytes(d.txHash), logIndex: d.logIndex, account: parseAddress(addressOf(user)), amount: d.amount }
  // one credit took the deposit account's nonce everywhere, and the attestations before it held the quorum (3 of 4):
  // the credit's signer and at least two others
  for (const n of net.nodes) t.is((await n.dag.reader.account(depositAccount(payload.evmChainId, payload.txHash, payload.logIndex))).nonce, 1n)
  const attested = await Promise.all(net.validatorKeys.map(async k => (await net.nodes[0].dag.reader.account(attestAccount(addressBytesFromPublicKey(k.publicKey), payload))).nonce))
  t.true(attested.filter(x => x === 1n).length >= 2, `attestations final: ${attested.join(',')}`)
  await waitFor(async () => b.bridges.every(x => x.pendingDeposits() === 0), 'every bridge dropped the credited deposit')
  await waitFor(oneRoot, 'equal state roots')
  t.deepEqual(await b.balances(user), Array(NODES).fill(20n * AGC_UNIT), 'credited once, whichever credits lost')
})

test.serial('a credit of a deposit the chain never saw is rejected where the order reaches it, and mints nothing', async (t) => {
  const { net, devnet } = b
  const victim = generateKeyPair()
  const fake = { evmChainId: BigInt(devnet.contractsFile.chainId), txHash: new Uint8Array(32).fill(9), logIndex: 0, account: parseAddress(addressOf(victim)), amount: 1000n * AGC_UNIT }
  const id = await net.nodes[2].dag.submitTransaction(encodeTx(buildDepositCredit(net.genesis.chainId, net.nodes[2].key, fake)))
  await waitFor(async () => {
    for (const n of net.nodes) if ((await n.dag.getTx(id))?.status !== 'rejected') return false
    return true
  }, 'the unattested credit rejected on every node')
  for (const n of net.nodes) {
    t.is((await n.dag.getTx(id))?.reason, 'unattested')
    t.is(await n.dag.getBalance(addressOf(victim)), 0n)
  }
})

test.serial('a withdraw burn becomes a checkpoint on chain and a claim that pays once', async (t) => {
  const { net, devnet, userWallet } = b
  const amount = 5n * AGC_UNIT
  const { id } = await b.withdrawAndAnchor(amount, 1n)
  for (const n of net.nodes) t.true((await n.dag.reader.account(EPOCH_ACCOUNT)).nonce >= 1n)
  const proof = await b.chains[0].withdrawals.proofFor(userWallet.address, BigInt(id))
  if (proof === null) return t.fail('no proof recorded')
  t.is(proof.epoch, 1n)
  t.true(verifyWithdrawalProof((await devnet.contracts.settlement.getCheckpoint(1n)).withdrawalsRoot, proof.leaf, proof.proof))
  const asUser = connectContracts(devnet.contractsFile, userWallet.connect(devnet.provider))
  const agcBefore = await devnet.contracts.agc.balanceOf(userWallet.address)
  await claimWithdrawal(asUser.settlement, proof.epoch, proof.leaf, proof.proof)
  t.is(await devnet.contracts.agc.balanceOf(userWallet.address), agcBefore + amount)
  await t.throwsAsync(claimWithdrawal(asUser.settlement, proof.epoch, proof.leaf, proof.proof))
})
