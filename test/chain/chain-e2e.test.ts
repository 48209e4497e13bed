/**
 * The chain side end to end on a devnet chain: deposit → every node's watcher credits it; a checkpoint carrying a
 * withdrawals root is signed by the validators over a pub/sub bus and anchored; the withdrawal is claimed once;
 * chain_info / chain_checkpoints read it back through the RPC registry.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getBytes, keccak256, toUtf8Bytes, Wallet } from 'ethers'
import { Registry } from 'prom-client'
import { AGC_UNIT, buildWithdrawalTree, ChainClient, ChainView, CheckpointAggregator, type CheckpointTransport, claimWithdrawal, connectContracts, type Deposit, DepositWatcher, type DevnetChain, dagAccountFromAddressBytes, decodeRevert, type GossipVerdict, parseContractsFile, SettlementSubmitter, StakingValidatorSet, startDevnetChain } from '../../src/chain/index.ts'
import { registerChainRpc } from '../../src/api/index.ts'
import { type BinaryDb, openDatabase, sublevel } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { parseParams } from '../../src/rpc/dispatcher.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { testLedgerKey, testWallet } from '../helpers/anvil.ts'

let devnet: DevnetChain
let dir = ''
const validatorKeys = [0, 1, 2, 3].map((i) => testWallet(`e2e-validator-${i}`))
const ledgerKeys = [0, 1, 2, 3].map((i) => testLedgerKey(`e2e-validator-${i}`))

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'harmony-chain-e2e-'))
  devnet = await startDevnetChain({
    validators: validatorKeys.map((w, i) => ({ signerKey: w.privateKey, ledgerKey: ledgerKeys[i] })),
    contractsFile: join(dir, 'contracts.json')
  })
})
test.after.always(async () => {
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
})

function createBus (): () => CheckpointTransport {
  const handlers = new Set<(data: Uint8Array) => Promise<GossipVerdict>>()
  return () => ({
    publish: async (data) => { for (const h of [...handlers]) await h(data) },
    subscribe: (handler) => {
      handlers.add(handler)
      return () => { handlers.delete(handler) }
    }
  })
}

test.serial('devnet: deposit credited on every node, withdrawal anchored by checkpoint and claimed once, RPC reads it', async (t) => {
  const { provider, contractsFile } = devnet
  // the contracts file on disk is what a node reads
  t.deepEqual(parseContractsFile(await readFile(join(dir, 'contracts.json'), 'utf8')), contractsFile)
  t.is(await devnet.contracts.staking.validatorCount(), 4n)

  // 1. a user deposits; each node's watcher (own database) credits it
  const user = new Wallet(testWallet('e2e-user').privateKey, provider)
  await (await devnet.contracts.agc.transfer(user.address, 50n * AGC_UNIT)).wait()
  await (await devnet.provider.getSigner(0)).sendTransaction({ to: user.address, value: 10n ** 18n }).then(async (tx) => await tx.wait())
  const asUser = connectContracts(contractsFile, user)
  const dagAccount = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('user-dag-account'))).slice(0, 20))
  await (await asUser.agc.approve(contractsFile.settlement, 20n * AGC_UNIT)).wait()
  await (await asUser.settlement.deposit(dagAccount, 20n * AGC_UNIT)).wait()

  const dbs: BinaryDb[] = []
  const credits = new Map<number, Deposit[]>()
  const watchers = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const db = await openDatabase(join(dir, `node-${i}`))
    dbs.push(db)
    credits.set(i, [])
    return new DepositWatcher({
      provider, settlement: contractsFile.settlement, db: sublevel(db, 'chain'), logger: silentLogger(), registry: new Registry(),
      sink: async (d) => { credits.get(i)?.push(d) }
    }, { confirmations: 1, startBlock: contractsFile.deployBlock })
  }))
  for (const w of watchers) await w.poll()
  for (const [, list] of credits) t.deepEqual(list.map((d) => [d.dagAccount, d.amount]), [[dagAccount, 20n * AGC_UNIT]])

  // 2. the DAG burns 8 AGC of the user's balance for a withdrawal to the user's EVM address; the epoch's
  //    checkpoint carries the withdrawals root; validators sign it over gossip and one submits
  const leaf = { account: user.address, amount: 8n * AGC_UNIT, nonce: 1n }
  const tree = buildWithdrawalTree([leaf, { account: testWallet('someone').address, amount: AGC_UNIT, nonce: 4n }])
  const checkpoint = { epoch: 1n, dagRoot: keccak256(toUtf8Bytes('dag')), stateRoot: keccak256(toUtf8Bytes('state')), withdrawalsRoot: tree.root }
  const bus = createBus()
  const domain = { chainId: contractsFile.chainId, settlement: contractsFile.settlement }
  const aggregators = validatorKeys.map((key) => new CheckpointAggregator({
    transport: bus(),
    validators: new StakingValidatorSet({
      staking: devnet.contracts.staking,
      domain: { chainId: contractsFile.chainId, staking: contractsFile.staking },
      genesisValidatorKeys: ledgerKeys.map((k) => k.publicKey),
      fromBlock: contractsFile.deployBlock
    }),
    submitter: new SettlementSubmitter(devnet.contracts.settlement, contractsFile.settlement, new ChainClient({ provider, wallet: key, logger: silentLogger() }, { pollIntervalMs: 50 })),
    domain,
    signingKey: key.signingKey,
    logger: silentLogger()
  }, { submitDelayMs: 100 }))
  for (const a of aggregators) await a.start()
  const anchored = Promise.race(aggregators.map(async (a) => await new Promise((resolve) => a.once('onchain', resolve))))
  for (const a of aggregators) await a.propose(checkpoint)
  await anchored
  t.is(await devnet.contracts.settlement.lastEpoch(), 1n)
  for (const a of aggregators) await a.stop()

  // 3. the user claims with the proof; a second claim reverts
  await claimWithdrawal(asUser.settlement, 1n, leaf, tree.proof(leaf))
  t.is(await devnet.contracts.agc.balanceOf(user.address), 38n * AGC_UNIT)
  const second = await claimWithdrawal(asUser.settlement, 1n, leaf, tree.proof(leaf)).then(() => null, (err: unknown) => err)
  t.is(decodeRevert(second)?.name, 'AlreadyClaimed')
  t.is(await devnet.contracts.agc.balanceOf(user.address), 38n * AGC_UNIT)

  // 4. RPC
  const registry = new RpcRegistry()
  registerChainRpc(registry, new ChainView({ provider, contracts: connectContracts(contractsFile, provider), contractsFile, watcher: watchers[0] }, { depositConfirmations: 1 }))
  const call = async (name: string, params: unknown): Promise<unknown> => {
    const method = registry.get(name)
    if (method === undefined) throw new Error(`no ${name}`)
    const ctx = { transport: 'http' as const, signal: new AbortController().signal }
    return await method.handler(parseParams(method, params), ctx)
  }
  const info = await call('chain_info', []) as { lastEpoch: string, totalDeposited: string, totalWithdrawn: string, validatorCount: number, depositCursorBlock: number }
  t.is(info.lastEpoch, '1')
  t.is(info.totalDeposited, (20n * AGC_UNIT).toString())
  t.is(info.totalWithdrawn, (8n * AGC_UNIT).toString())
  t.is(info.validatorCount, 4)
  t.true(info.depositCursorBlock > 0)
  const cps = await call('chain_checkpoints', { fromEpoch: '1', limit: 10 }) as Array<{ epoch: string, withdrawalsRoot: string }>
  t.deepEqual(cps.map((c) => [c.epoch, c.withdrawalsRoot]), [['1', tree.root]])
  t.deepEqual(await call('chain_checkpoints', undefined), cps)
  t.deepEqual(await call('chain_checkpoints', ['2', 5]), [])
  await t.throwsAsync(call('chain_checkpoints', { limit: 1000 }), { message: /invalid params/ })
  await t.throwsAsync(call('chain_checkpoints', { fromEpoch: '0' }), { message: /invalid params/ })
  await t.throwsAsync(call('chain_checkpoints', ['1', 5, 'extra']), { message: /invalid params/ })
  t.deepEqual(await call('chain_checkpoints', ['1']), cps)
  t.is((await call('chain_info', undefined) as { lastEpoch: string }).lastEpoch, '1')
  for (const db of dbs) await db.close()
})
