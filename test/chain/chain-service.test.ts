import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getBytes, keccak256, parseEther, toUtf8Bytes, Wallet } from 'ethers'
import { Registry } from 'prom-client'
import { EVM_KEY_FILE, loadOrCreateEvmKey } from '../../src/core/keys/evm-key.ts'
import { KeyFileError } from '../../src/core/errors.ts'
import { AGC_UNIT, ChainError, ChainService, type CheckpointTransport, type Deposit, type DevnetChain, dagAccountFromAddressBytes, depositAgc, type GossipVerdict, prepareDevnetChain, readContractsFile, StakingValidatorSet, startDevnetChain, validatorIdentity, withdrawAgc } from '../../src/chain/index.ts'
import { testLedgerKey } from '../helpers/anvil.ts'
import { registerChainRpc } from '../../src/api/index.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { parseParams } from '../../src/rpc/dispatcher.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'

let dir = ''
let devnet: DevnetChain
let evmKey: Wallet
const ledgerKey = testLedgerKey('chain-service-node-0')

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'harmony-chain-service-'))
  evmKey = await loadOrCreateEvmKey(join(dir, 'keys', 'evm.key'))
  devnet = await startDevnetChain({
    validators: [{ signerKey: evmKey.privateKey, ledgerKey }],
    contractsFile: join(dir, 'contracts.json')
  })
})
test.after.always(async () => {
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
})

function loopback (): CheckpointTransport {
  const handlers = new Set<(data: Uint8Array) => Promise<GossipVerdict>>()
  return {
    publish: async (data) => { for (const h of [...handlers]) await h(data) },
    subscribe: (h) => { handlers.add(h); return () => { handlers.delete(h) } }
  }
}

test.serial('the EVM key file is created once, 0600, and a corrupt one is refused', async (t) => {
  const path = join(dir, 'keys', 'evm.key')
  t.is((await loadOrCreateEvmKey(path)).address, evmKey.address)
  t.is((await stat(path)).mode & 0o777, 0o600)
  const bad = join(dir, 'bad.key')
  await writeFile(bad, 'not a key')
  const refused = await t.throwsAsync(loadOrCreateEvmKey(bad), { instanceOf: KeyFileError, message: /not 32 bytes/ })
  t.is(refused?.code, 'EVM_KEY_INVALID')
})

test.serial('ChainService: deposit → sink and validator check; checkpoint → claim once; chain_info', async (t) => {
  const db: BinaryDb = await openDatabase(join(dir, 'db'))
  const credited: Deposit[] = []
  const service = new ChainService({
    contractsFile: devnet.contractsFile, db, evmKey, checkpointTransport: loopback(), logger: silentLogger(), registry: new Registry(),
    genesisValidatorKeys: [ledgerKey.publicKey],
    depositSink: async (d) => { credited.push(d) }
  }, { depositConfirmations: 1, pollIntervalMs: 50, aggregator: { submitDelayMs: 10 }, client: { pollIntervalMs: 50 } })
  await service.start()
  t.is(service.evmAddress, evmKey.address)

  // a user deposits with a permit (one transaction) from their own wallet
  const user = new Wallet(keccak256(toUtf8Bytes('service-user')), devnet.provider)
  await (await devnet.contracts.agc.transfer(user.address, 10n * AGC_UNIT)).wait()
  const funder = new Wallet(devnet.deployerKey, devnet.provider)
  await (await funder.sendTransaction({ to: user.address, value: parseEther('1') })).wait()
  const dagAccount = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('user-dag'))).slice(0, 20))
  const delivered = new Promise<Deposit>((resolve) => service.watcher.once('deposit', resolve))
  const result = await depositAgc(user, devnet.contractsFile, dagAccount, 4n * AGC_UNIT)
  const deposit = await delivered
  t.is(deposit.txHash, result.txHash)
  t.is(deposit.logIndex, result.logIndex)
  t.is(deposit.amount, 4n * AGC_UNIT)
  t.is(deposit.dagAccount, dagAccount)
  t.deepEqual(credited.map((d) => d.txHash), [result.txHash])
  t.is((await service.checkDeposit({ txHash: result.txHash, logIndex: result.logIndex, dagAccount, amount: 4n * AGC_UNIT })).status, 'valid')
  await t.throwsAsync(depositAgc(user, devnet.contractsFile, dagAccount, 100n * AGC_UNIT), { instanceOf: ChainError, message: /less than/ })

  // the only validator (all the stake) closes epoch 1 with a withdrawal; it is anchored; the user asks the node
  // for the proof over RPC and claims once
  const leaf = { account: user.address, amount: AGC_UNIT, nonce: 0n }
  const anchored = new Promise((resolve) => service.aggregator?.once('onchain', resolve))
  const registry = new RpcRegistry()
  registerChainRpc(registry, service, service)
  // the leaves are recorded before the checkpoint is submitted: a proof for a not-yet-anchored epoch says so
  const tree = await service.withdrawals.record(1n, [leaf, { account: evmKey.address, amount: 5n, nonce: 9n }])
  t.is((await service.proofFor(user.address, 0n))?.anchored, false)
  await service.closeEpoch(1n, keccak256(toUtf8Bytes('d')), keccak256(toUtf8Bytes('s')), [leaf, { account: evmKey.address, amount: 5n, nonce: 9n }])
  await anchored
  t.is((await devnet.contracts.settlement.getCheckpoint(1n)).withdrawalsRoot, tree.root)
  const method = registry.get('chain_withdrawalProof')
  if (method === undefined) throw new Error('chain_withdrawalProof not registered')
  const ctx = { transport: 'http' as const, signal: new AbortController().signal }
  const found = await method.handler(parseParams(method, [user.address, '0']), ctx) as { epoch: string, amount: string, proof: string[], anchored: boolean }
  t.is(found.epoch, '1')
  t.true(found.anchored)
  t.is(found.amount, AGC_UNIT.toString())
  t.is(await method.handler(parseParams(method, { account: user.address, nonce: '1' }), ctx), null)
  await withdrawAgc(user, devnet.contractsFile, BigInt(found.epoch), leaf, found.proof)
  t.is(await devnet.contracts.agc.balanceOf(user.address), 7n * AGC_UNIT)
  const again = await t.throwsAsync(withdrawAgc(user, devnet.contractsFile, 1n, leaf, found.proof), { instanceOf: ChainError })
  t.is(again?.meta.revert, 'AlreadyClaimed')
  // recording the same epoch again is idempotent; other leaves for it are refused
  t.is((await service.withdrawals.record(1n, [leaf, { account: evmKey.address, amount: 5n, nonce: 9n }])).root, tree.root)
  await t.throwsAsync(service.withdrawals.record(1n, [leaf]), { instanceOf: ChainError, message: /already has other withdrawals/ })

  const info = await service.info()
  t.is(info.lastEpoch, '1')
  t.is(info.validatorCount, 1)
  t.is((await service.checkpoints(undefined, 5)).length, 1)
  await service.stop()
  await db.close()
})

test.serial('ChainService refuses a contracts file for another chain or without contracts', async (t) => {
  const db: BinaryDb = await openDatabase(join(dir, 'db-2'))
  const sink = async (): Promise<void> => {}
  const wrongChain = new ChainService({ contractsFile: { ...devnet.contractsFile, chainId: 999 }, db, depositSink: sink, logger: silentLogger(), genesisValidatorKeys: [] })
  const e1 = await t.throwsAsync(wrongChain.start(), { instanceOf: ChainError })
  t.is(e1?.code, 'CHAIN_ID_MISMATCH')
  await wrongChain.stop()
  const noCode = new ChainService({ contractsFile: { ...devnet.contractsFile, settlement: user0() }, db, depositSink: sink, logger: silentLogger(), genesisValidatorKeys: [] })
  const e2 = await t.throwsAsync(noCode.start(), { instanceOf: ChainError })
  t.is(e2?.code, 'CONTRACTS_FILE_INVALID')
  await noCode.stop()
  t.throws(() => new ChainService({ contractsFile: { ...devnet.contractsFile, rpcUrl: undefined }, db, depositSink: sink, logger: silentLogger(), genesisValidatorKeys: [] }), { instanceOf: ChainError, message: /--chain-rpc/ })
  await db.close()
})

function user0 (): string {
  return new Wallet(keccak256(toUtf8Bytes('nobody'))).address
}

test.serial('prepareDevnetChain: every node gets an EVM key, a validator registration bound to its identity, and the contracts file', async (t) => {
  const dirs = [join(dir, 'node-0'), join(dir, 'node-1')]
  const ledgerKeys = new Map(dirs.map((d, i) => [d, testLedgerKey(`devnet-node-${i}`)]))
  const prepared = await prepareDevnetChain({ nodeDirs: dirs, ledgerKeyOf: async (d) => ledgerKeys.get(d) ?? testLedgerKey('unknown') })
  try {
    t.is(await prepared.contracts.staking.validatorCount(), 2n)
    for (const n of prepared.nodes) {
      const file = await readContractsFile(n.contractsFile)
      t.deepEqual(file, prepared.contractsFile)
      const key = await loadOrCreateEvmKey(join(n.dir, EVM_KEY_FILE))
      t.is(key.address, n.evmAddress)
      const operator = await prepared.contracts.staking.operatorOfSigner(n.evmAddress)
      const v = await prepared.contracts.staking.getValidator(operator)
      const ledgerKey = ledgerKeys.get(n.dir) ?? testLedgerKey('unknown')
      t.is(v.identity, validatorIdentity(ledgerKey.publicKey))
      // the devnet's validators are fixed on chain, and each registration carries a binding a node verifies
      t.is(await prepared.contracts.staking.genesisSignerOf(v.identity), n.evmAddress)
      t.is(v.stake, 1000n * AGC_UNIT)
    }
    t.is(await prepared.contracts.staking.genesisValidatorCount(), 2n)
    const set = new StakingValidatorSet({
      staking: prepared.contracts.staking,
      domain: { chainId: prepared.deployment.chainId, staking: prepared.deployment.staking },
      genesisValidatorKeys: [...ledgerKeys.values()].map((k) => k.publicKey),
      fromBlock: prepared.deployment.deployBlock
    })
    const snapshot = await set.snapshot()
    t.deepEqual(snapshot.validators.map((v) => v.bound), [true, true])
    t.is(snapshot.boundTotal, snapshot.total)
  } finally {
    await prepared.stop()
  }
})
