/**
 * The chain bridge end to end under Avalanche (external validity: holds and votes; the commit rule's bridge is
 * test/chain/bridge-commit): anvil with the contracts, three real libp2p nodes running DagService +
 * ChainService + DagBridge on loopback. Deposits on chain become DAG balances on every node exactly once (all
 * validators propose at once; a restarted bridge re-delivers; a duplicate is refused); a credit the chain does not
 * confirm is never voted for; a DAG withdraw burn becomes a checkpoint anchored on chain and a claim that pays
 * once.
 */
import test from 'ava'
import { getAddress, getBytes, type Wallet } from 'ethers'
import type { DagBridge, DagBridgeInit } from '../../src/bridge/dag-bridge.ts'
import { feeLeafOf } from '../../src/bridge/withdrawals.ts'
import { AGC_UNIT, type ChainService, claimWithdrawal, connectContracts, type Deposit, type DevnetChain, decodeRevert, verifyWithdrawalProof } from '../../src/chain/index.ts'
import { parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { DagError } from '../../src/dag/errors.ts'
import { buildDepositCredit } from '../../src/bridge/kinds/builders.ts'
import { depositAccount, EPOCH_ACCOUNT } from '../../src/bridge/kinds/index.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { type BridgeNet, startBridgeNet } from '../helpers/bridge-net.ts'
import { addressOf, type TestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const NODES = 3
let bridged: BridgeNet
let devnet: DevnetChain
let net: TestNet
let chains: ChainService[]
let bridges: DagBridge[]
let delivered: Deposit[]
let user: KeyPair
let userWallet: Wallet

// Nodes 0 and 1 propose every credit and epoch close at once (the two proposals conflict and consensus keeps one);
// node 2 only checks and votes, and breaks the tie.
const bridgeInit = (i: number): DagBridgeInit => ({ propose: i < 2, proposeDelayMs: 0, tickMs: 100, epochIntervalMs: 0, resubmitMs: 3000 })
const startBridge = (i: number): DagBridge => bridged.startBridge(i)
const deposit = async (amount: bigint): Promise<string> => await bridged.deposit(amount)
const balances = async (k: KeyPair): Promise<bigint[]> => await bridged.balances(k)

test.before(async () => {
  // Finality needs > 2/3 of the total stake (docs/protocol.md): with three equal validators that is all three, and
  // the test below runs with node 0 down. Stakes 1, 2, 2 and α/k = 3/4 make the quorum ⌈3.75⌉ = 4: nodes 1 and 2.
  bridged = await startBridgeNet('bridge', { nodes: NODES, weights: [1, 2, 2], consensus: { rule: 'avalanche', k: 4, alpha: 3, betaVirtuous: 3, betaRogue: 5 } }, bridgeInit);
  ({ devnet, net, chains, bridges, delivered, user, userWallet } = bridged)
})

test.after.always(async () => {
  await bridged?.close()
})

test.serial('a deposit is credited once on every node, though two validators propose it and restarted bridges re-deliver it', async (t) => {
  const chainId = BigInt(devnet.contractsFile.chainId)
  const userAddress = parseAddress(addressOf(user))
  // the normal path: the watchers deliver, the proposing validators submit, every node credits it
  const hash1 = await deposit(20n * AGC_UNIT)
  await waitFor(async () => (await balances(user)).every(b => b === 20n * AGC_UNIT), 'first deposit credited on every node')
  const d1 = delivered.find(d => d.txHash === hash1)
  if (d1 === undefined) return t.fail('node 0 saw no deposit')
  // the deposit's system account consumed its only nonce on every node: one credit became final
  const acct1 = depositAccount(chainId, getBytes(d1.txHash), d1.logIndex)
  for (const n of net.nodes) t.is((await n.dag.reader.account(acct1)).nonce, 1n)
  // another credit of the same deposit is refused
  const late = buildDepositCredit(net.genesis.chainId, net.nodes[1].key, { evmChainId: chainId, txHash: getBytes(d1.txHash), logIndex: d1.logIndex, account: userAddress, amount: d1.amount })
  const err = await t.throwsAsync(net.nodes[1].dag.submitTransaction(encodeTx(late)), { instanceOf: DagError })
  t.is(err?.code, 'NONCE_TOO_LOW')

  // two validators credit one deposit at the same moment (their bridges are down, the credits are built by hand)
  await bridges[0].stop()
  await bridges[1].stop()
  const hash2 = await deposit(7n * AGC_UNIT)
  await waitFor(() => delivered.some(d => d.txHash === hash2), 'second deposit delivered')
  const d2 = delivered.find(d => d.txHash === hash2) as Deposit
  const credit = (i: number): Uint8Array => encodeTx(buildDepositCredit(net.genesis.chainId, net.nodes[i].key, { evmChainId: chainId, txHash: getBytes(d2.txHash), logIndex: d2.logIndex, account: userAddress, amount: d2.amount }))
  const ids = await Promise.all([net.nodes[0].dag.submitTransaction(credit(0)), net.nodes[1].dag.submitTransaction(credit(1))])
  t.not(ids[0], ids[1])
  // the bridges restart on the same databases; the watcher hands node 0's bridge the deposit again
  bridges[0] = startBridge(0)
  bridges[1] = startBridge(1)
  await bridges[0].start()
  await bridges[1].start()
  await bridges[0].depositSink(d2)

  await waitFor(async () => {
    for (const n of net.nodes) for (const id of ids) if ((await n.dag.getTx(id))?.status === 'pending') return false
    return true
  }, 'both credits decided on every node')
  const outcomes = await Promise.all(net.nodes.map(async n => await Promise.all(ids.map(async id => (await n.dag.getTx(id))?.status))))
  // the same credit is final on every node; the other is rejected where it was submitted and never final anywhere
  // (it may never have left its node, if the winner was final there before the node batched it)
  const winner = outcomes[0].indexOf('final')
  t.true(winner >= 0)
  for (const o of outcomes) {
    t.is(o[winner], 'final')
    t.not(o[1 - winner], 'final')
  }
  t.is(outcomes[1 - winner][1 - winner], 'rejected')
  t.deepEqual(await balances(user), [27n * AGC_UNIT, 27n * AGC_UNIT, 27n * AGC_UNIT])
  await waitFor(async () => bridges[0].pendingDeposits() === 0 && bridges[1].pendingDeposits() === 0, 'restarted bridges dropped the credited deposits')
  await waitFor(async () => new Set(await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))).size === 1, 'equal state roots')
  t.deepEqual(await balances(user), [27n * AGC_UNIT, 27n * AGC_UNIT, 27n * AGC_UNIT])
})

test.serial('a credit the chain does not confirm is never voted for by any node', async (t) => {
  const chainId = BigInt(devnet.contractsFile.chainId)
  const victim = generateKeyPair()
  const to = parseAddress(addressOf(victim))
  const hash = await deposit(1n * AGC_UNIT)
  await waitFor(async () => (await balances(user)).every(b => b === 28n * AGC_UNIT), 'deposit credited')
  // a validator claims a log that does not exist in a real deposit transaction (its chain view: invalid), and a
  // deposit in a transaction no chain has (pending forever)
  const invalid = buildDepositCredit(net.genesis.chainId, net.nodes[2].key, { evmChainId: chainId, txHash: getBytes(hash), logIndex: 999, account: to, amount: 1000n * AGC_UNIT })
  const unknown = buildDepositCredit(net.genesis.chainId, net.nodes[2].key, { evmChainId: chainId, txHash: new Uint8Array(32).fill(7), logIndex: 0, account: to, amount: 1000n * AGC_UNIT })
  const ids = [await net.nodes[2].dag.submitTransaction(invalid), await net.nodes[2].dag.submitTransaction(unknown)]
  await waitFor(async () => {
    for (const n of net.nodes) for (const id of ids) if ((await n.dag.getTx(id))?.vertexId === undefined) return false
    return true
  }, 'the bogus credits reached every node')
  // real work continues around them: a later deposit becomes final everywhere
  await deposit(2n * AGC_UNIT)
  await waitFor(async () => (await balances(user)).every(b => b === 30n * AGC_UNIT), 'later deposit credited')
  for (const n of net.nodes) {
    for (const id of ids) {
      const st = await n.dag.getTx(id)
      t.is(st?.status, 'pending')
      t.true(n.dag.reader.isHeld(st?.vertexId ?? ''))
    }
    t.is(await n.dag.getBalance(addressOf(victim)), 0n)
  }
})

test.serial('a wrong credit of a real deposit that comes first is vetoed and the honest credit replaces it', async (t) => {
  const chainId = BigInt(devnet.contractsFile.chainId)
  const before = await net.nodes[2].dag.getBalance(addressOf(user))
  // the proposers are down, so the wrong credit is the first one every node sees
  await bridges[0].stop()
  await bridges[1].stop()
  const hash = await deposit(3n * AGC_UNIT)
  await waitFor(() => delivered.some(d => d.txHash === hash), 'deposit delivered')
  const d = delivered.find(x => x.txHash === hash) as Deposit
  const wrong = buildDepositCredit(net.genesis.chainId, net.nodes[2].key, { evmChainId: chainId, txHash: getBytes(d.txHash), logIndex: d.logIndex, account: parseAddress(addressOf(user)), amount: 300n * AGC_UNIT })
  const wrongId = await net.nodes[2].dag.submitTransaction(wrong)
  await waitFor(async () => {
    for (const n of net.nodes) if ((await n.dag.getTx(wrongId))?.vertexId === undefined) return false
    return true
  }, 'the wrong credit reached every node')
  // the proposers come back: their chain views veto the wrong credit and their ledgers take the honest one
  bridges[0] = startBridge(0)
  bridges[1] = startBridge(1)
  await bridges[0].start()
  await bridges[1].start()
  await waitFor(async () => (await balances(user)).every(b => b === before + 3n * AGC_UNIT), 'honest credit final on every node')
  for (const n of net.nodes) t.not((await n.dag.getTx(wrongId))?.status, 'final')
  await waitFor(async () => new Set(await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))).size === 1, 'equal state roots')
  t.deepEqual(await balances(user), [before + 3n * AGC_UNIT, before + 3n * AGC_UNIT, before + 3n * AGC_UNIT])
})

test.serial('a withdraw burn becomes a checkpoint on chain and a claim that pays once', async (t) => {
  const amount = 5n * AGC_UNIT
  // the burn final, epoch 1 closed on the DAG, every node handing the same leaves to its chain service, the
  // checkpoint signed, gossiped and anchored
  const { id, fee } = await bridged.withdrawAndAnchor(amount, 1n)
  for (const n of net.nodes) t.is((await n.dag.reader.account(EPOCH_ACCOUNT)).nonce >= 1n, true)

  const leafNonce = BigInt(id)
  const proofs = await Promise.all(chains.map(async c => await c.withdrawals.proofFor(userWallet.address, leafNonce)))
  const proof = proofs[0]
  if (proof === null) return t.fail('no proof recorded')
  t.is(proof.epoch, 1n)
  t.deepEqual(proof.leaf, { account: userWallet.address, amount, nonce: leafNonce })
  for (const p of proofs) t.is(p?.root, proof.root)
  const onchain = await devnet.contracts.settlement.getCheckpoint(1n)
  const withdrawalsRoot = onchain.withdrawalsRoot
  t.is(withdrawalsRoot, proof.root)
  t.true(verifyWithdrawalProof(withdrawalsRoot, proof.leaf, proof.proof))

  const asUser = connectContracts(devnet.contractsFile, userWallet.connect(devnet.provider))
  const agcBefore = await devnet.contracts.agc.balanceOf(userWallet.address)
  await claimWithdrawal(asUser.settlement, proof.epoch, proof.leaf, proof.proof)
  t.is(await devnet.contracts.agc.balanceOf(userWallet.address), agcBefore + amount)
  const again = await t.throwsAsync(claimWithdrawal(asUser.settlement, proof.epoch, proof.leaf, proof.proof))
  t.is(decodeRevert(again)?.name, 'AlreadyClaimed')

  // the close swept the burn's fee (the only fee paid so far) out of the DAG's fee pool into a leaf of the same
  // checkpoint paid to the settlement contract, which adds it to the stakers' fee pool
  const close = await net.nodes[0].dag.reader.conflictDecision(EPOCH_ACCOUNT, 0n)
  if (close === undefined) return t.fail('epoch 1 has no close')
  const settlementAddress = getAddress(devnet.contractsFile.settlement)
  const feeProof = await chains[0].withdrawals.proofFor(settlementAddress, BigInt(`0x${close.txId}`))
  if (feeProof === null) return t.fail('no fee leaf recorded')
  t.deepEqual(feeProof.leaf, feeLeafOf(close.txId, fee, settlementAddress))
  for (const n of net.nodes) t.is((await n.dag.reader.account(EPOCH_ACCOUNT)).balance, 0n)
  const feePoolBefore = await devnet.contracts.settlement.feePool()
  await claimWithdrawal(asUser.settlement, feeProof.epoch, feeProof.leaf, feeProof.proof)
  t.is(await devnet.contracts.settlement.feePool(), feePoolBefore + fee)
})

test.serial('a validator down during a deposit comes back, gets it from its watcher again, and it is still credited once', async (t) => {
  const before = await net.nodes[1].dag.getBalance(addressOf(user))
  await bridges[0].stop()
  await chains[0].stop()
  await net.stop(0)
  await deposit(4n * AGC_UNIT)
  await waitFor(async () => {
    for (const i of [1, 2]) if (await net.nodes[i].dag.getBalance(addressOf(user)) !== before + 4n * AGC_UNIT) return false
    return true
  }, 'deposit credited by the two running nodes')

  // node 0 restarts on its datadir: its watcher resumes from its cursor and delivers the deposit again, and its
  // bridge proposes a credit at once, maybe before its ledger has caught up
  const node = await net.start(0)
  await net.connectAll()
  t.is(node, net.nodes[0])
  chains[0] = bridged.startChain(0)
  bridges[0] = startBridge(0)
  await chains[0].start()
  await bridges[0].start()
  await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === NODES - 1), 'validator peers bound again')

  // new work on the DAG carries node 0 past the credit
  const nonce = await net.nodes[1].dag.getNonce(addressOf(user))
  const recipient = generateKeyPair()
  const tid = await net.nodes[1].dag.submitTransaction(transfer(net.genesis, user, recipient, 1n * AGC_UNIT, nonce))
  await waitFor(async () => {
    for (const n of net.nodes) if ((await n.dag.getTx(tid))?.status !== 'final') return false
    return true
  }, 'follow-up transfer final on every node')
  const expected = before + 4n * AGC_UNIT - 1n * AGC_UNIT - net.genesis.minFee
  t.deepEqual(await balances(user), [expected, expected, expected])
  await waitFor(async () => bridges[0].pendingDeposits() === 0, 'node 0 has no deposit left to credit')
  await waitFor(async () => new Set(await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))).size === 1, 'equal state roots')
  t.deepEqual(await balances(user), [expected, expected, expected])
})
