/**
 * The chain bridge kinds on a one-validator ledger: encodings and their fixed fields, who may sign them, the hold
 * of a deposit credit until this node's chain view confirms it, exactly-once credit, burns, and the deterministic
 * leaf rule of an epoch.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { withdrawalLeafOf, epochWithdrawals } from '../../src/bridge/withdrawals.ts'
import { parseAddress } from '../../src/core/address.ts'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { DagError, isDagError } from '../../src/dag/errors.ts'
import { CodecError } from '../../src/core/errors.ts'
import type { ExternalVerdict } from '../../src/dag/external-validity.ts'
import { buildDepositCredit, buildEpochClose, buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import { depositAccount, EPOCH_ACCOUNT, epochCloseKind, registerBridgeKinds, TX_KIND_DEPOSIT_CREDIT } from '../../src/bridge/kinds/index.ts'
import { decodeTx, encodeTx, signTx, TX_VERSION, txInfo } from '../../src/dag/tx.ts'
import { depositCreditKind } from '../../src/bridge/kinds/deposit-credit.ts'
import { addressOf, createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const EVM_CHAIN = 31337n
const evmAddress = fromHex('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')

// as the node does at composition
registerBridgeKinds()

test('encodings: fixed nonce and fee of system kinds, withdraw bounds, system accounts', t => {
  const v = generateKeyPair()
  const to = parseAddress(addressOf(generateKeyPair()))
  const txHash = randomBytes(32)
  const credit = buildDepositCredit('c', v, { evmChainId: EVM_CHAIN, txHash, logIndex: 3, account: to, amount: 5n })
  const info = txInfo(encodeTx(credit))
  t.deepEqual(info.account, depositAccount(EVM_CHAIN, txHash, 3))
  t.is(info.conflictKey, `${Buffer.from(depositAccount(EVM_CHAIN, txHash, 3)).toString('hex')}:0`)
  t.notDeepEqual(depositAccount(EVM_CHAIN, txHash, 4), depositAccount(EVM_CHAIN, txHash, 3))
  for (const [nonce, fee] of [[1n, 0n], [0n, 1n]]) {
    const bad = signTx('c', { version: TX_VERSION, kind: TX_KIND_DEPOSIT_CREDIT, publicKey: v.publicKey, nonce, fee, payload: credit.payload }, v.secretKey)
    t.is(t.throws(() => decodeTx(encodeTx(bad)), { instanceOf: DagError })?.code, 'ENCODING_INVALID')
  }
  const close = buildEpochClose('c', v, 3n, [randomBytes(32)])
  t.is(close.nonce, 2n)
  t.deepEqual(txInfo(encodeTx(close)).account, EPOCH_ACCOUNT)
  const wrongEpoch = signTx('c', { ...close, nonce: 0n }, v.secretKey)
  t.is(t.throws(() => decodeTx(encodeTx(wrongEpoch)), { instanceOf: DagError })?.code, 'ENCODING_INVALID')
  t.is(t.throws(() => buildWithdraw({ chainId: 'c', ...v, evmAddress, amount: 0n, nonce: 0n, fee: 1000n }), { instanceOf: DagError })?.code, 'AMOUNT_INVALID')
  // the payload decoder refuses it through the codec: a CodecError carrying the ledger's ENCODING_INVALID
  t.true(isDagError(t.throws(() => buildWithdraw({ chainId: 'c', ...v, evmAddress: new Uint8Array(20), amount: 1n, nonce: 0n, fee: 1000n }), { instanceOf: CodecError, code: 'ENCODING_INVALID' })))
  const w = buildWithdraw({ chainId: 'c', ...v, evmAddress, amount: 9n, nonce: 0n, fee: 1000n })
  const wInfo = txInfo(encodeTx(w))
  t.deepEqual(withdrawalLeafOf(wInfo), { account: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', amount: 9n, nonce: BigInt(`0x${wInfo.idHex}`) })
})

test.serial('one validator under Avalanche: a credit waits for the chain view, is credited once, burns and epochs follow the rule', async (t) => {
  // Avalanche's hold of a credit until the chain view confirms it (the commit rule's quorum of attestations instead:
  // test/chain/bridge-commit, test/unit/dag-commit-ledger)
  const net = await createTestNet({ nodes: 1, accounts: 1, consensus: { rule: 'avalanche' } })
  try {
    const node = net.nodes[0]
    const dag = node.dag
    const user = generateKeyPair()
    const userAddress = parseAddress(addressOf(user))
    const chainId = net.genesis.chainId

    // only genesis validators sign system kinds
    const outsider = generateKeyPair()
    const foreign = buildDepositCredit(chainId, outsider, { evmChainId: EVM_CHAIN, txHash: randomBytes(32), logIndex: 0, account: userAddress, amount: 1n })
    t.is((await t.throwsAsync(dag.submitTransaction(foreign), { instanceOf: DagError }))?.code, 'AUTHOR_UNKNOWN')
    t.is((await t.throwsAsync(dag.submitTransaction(buildEpochClose(chainId, outsider, 1n, [])), { instanceOf: DagError }))?.code, 'AUTHOR_UNKNOWN')

    // this node's "chain view": deposits it has seen confirmed
    const confirmed = new Set<string>()
    dag.setExternalChecker(TX_KIND_DEPOSIT_CREDIT, async (tx): Promise<ExternalVerdict> => {
      const p = depositCreditKind.decode(tx.tx.payload)
      return confirmed.has(Buffer.from(p.txHash).toString('hex')) ? 'valid' : 'pending'
    })
    const txHash = randomBytes(32)
    const creditId = await dag.submitTransaction(buildDepositCredit(chainId, node.key, { evmChainId: EVM_CHAIN, txHash, logIndex: 1, account: userAddress, amount: 50_000n }))
    await waitFor(async () => (await dag.getTx(creditId))?.vertexId !== undefined, 'credit in a vertex')
    const creditVertex = (await dag.getTx(creditId))?.vertexId ?? ''
    t.true(dag.reader.isHeld(creditVertex))
    // other work is finalized meanwhile; the held credit is not
    const tid = await dag.submitTransaction(transfer(net.genesis, net.accounts[0], user, 10_000n, 0n))
    await waitFor(async () => (await dag.getTx(tid))?.status === 'final', 'transfer final')
    t.is((await dag.getTx(creditId))?.status, 'pending')
    t.is(await dag.getBalance(addressOf(user)), 10_000n)

    confirmed.add(Buffer.from(txHash).toString('hex'))
    await waitFor(async () => (await dag.getTx(creditId))?.status === 'final', 'credit final once confirmed')
    t.is(await dag.getBalance(addressOf(user)), 60_000n)
    const again = buildDepositCredit(chainId, node.key, { evmChainId: EVM_CHAIN, txHash, logIndex: 1, account: userAddress, amount: 50_000n })
    t.is((await t.throwsAsync(dag.submitTransaction(again), { instanceOf: DagError }))?.code, 'NONCE_TOO_LOW')

    // a burn: amount + fee leave the account
    const fee = net.genesis.minFee
    t.is((await t.throwsAsync(dag.submitTransaction(buildWithdraw({ chainId, ...user, evmAddress, amount: 60_000n, nonce: 0n, fee })), { instanceOf: DagError }))?.code, 'INSUFFICIENT_BALANCE')
    const wid = await dag.submitTransaction(buildWithdraw({ chainId, ...user, evmAddress, amount: 20_000n, nonce: 0n, fee }))
    await waitFor(async () => (await dag.getTx(wid))?.status === 'final', 'burn final')
    t.is(await dag.getBalance(addressOf(user)), 40_000n - fee)

    // epoch 1 lists the burn twice, an unknown id and a transfer: only the burn is a leaf, once
    const listed = [fromHex(wid), fromHex(wid), randomBytes(32), fromHex(tid)]
    const cid = await dag.submitTransaction(buildEpochClose(chainId, node.key, 1n, listed))
    await waitFor(async () => (await dag.getTx(cid))?.status === 'final', 'epoch close final')
    t.is((await dag.reader.account(EPOCH_ACCOUNT)).nonce, 1n)
    const closeVertex = ((await dag.getTx(cid))?.vertexId ?? '').replace(/^0x/, '')
    const leaves = await epochWithdrawals(dag.reader, closeVertex, listed, async () => false)
    t.deepEqual(leaves.map(l => `0x${l.idHex}`), [wid])
    t.deepEqual(await epochWithdrawals(dag.reader, closeVertex, listed, async (id) => `0x${id}` === wid), [])
    // a second close of epoch 1 is refused; epoch 2 is next
    t.is((await t.throwsAsync(dag.submitTransaction(buildEpochClose(chainId, node.key, 1n, [])), { instanceOf: DagError }))?.code, 'NONCE_TOO_LOW')

    // fees are not burned: the transfer's and the burn's fees are in the fee pool (the epoch account); a close sweeps
    // it, never more than it holds, and the supply stays whole
    t.is((await dag.reader.account(EPOCH_ACCOUNT)).balance, 2n * fee)
    t.is((await t.throwsAsync(dag.submitTransaction(buildEpochClose(chainId, node.key, 2n, [], 2n * fee + 1n)), { instanceOf: DagError }))?.code, 'INSUFFICIENT_BALANCE')
    const sweep = await dag.submitTransaction(buildEpochClose(chainId, node.key, 2n, [], 2n * fee))
    await waitFor(async () => (await dag.getTx(sweep))?.status === 'final', 'fee sweep final')
    t.is((await dag.reader.account(EPOCH_ACCOUNT)).balance, 0n)
    t.deepEqual(epochCloseKind.decode(epochCloseKind.encode({ epoch: 2n, withdrawals: [], fees: 7n })), { epoch: 2n, withdrawals: [], fees: 7n })
  } finally {
    await net.close()
  }
})
