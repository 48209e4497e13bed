/**
 * The bridge's deposit sink refuses deposits no credit can carry (an amount of 0 or above the credit's u128: the
 * contract emits neither, a malformed chain answer may). Before, they were stored for good: each attempt to build
 * their credit threw out of the bridge's round (that round's epoch work skipped), and each took one of the
 * `maxPendingDeposits` slots, across restarts.
 */
import test from 'ava'
import { hexlify, randomBytes, ZeroHash } from 'ethers'
import { connectChainToDag } from '../../src/bridge/dag-bridge.ts'
import type { BridgeChain } from '../../src/bridge/dag-bridge-options.ts'
import { genesisBacking } from '../../src/bridge/genesis-lock.ts'
import { registerBridgeKinds } from '../../src/bridge/kinds/index.ts'
import { dagAccountFromAddressBytes } from '../../src/chain/dag-account.ts'
import type { Deposit } from '../../src/chain/deposit-watcher.ts'
import { buildWithdrawalTree } from '../../src/chain/withdrawals.ts'
import { parseAddress } from '../../src/core/address.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { addressOf, createTestNet } from '../helpers/dag-net.ts'

registerBridgeKinds()

const EVM_CHAIN_ID = 31337

test.serial('a deposit whose amount no credit can carry is refused at the sink, not stored', async (t) => {
  const net = await createTestNet({ nodes: 1, accounts: 1, consensus: { rule: 'avalanche' } })
  const node = net.nodes[0]
  const chain: BridgeChain = {
    settlementAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    genesisLock: async () => genesisBacking(net.genesis),
    checkDeposit: async () => ({ status: 'pending', reason: 'not on this chain' }),
    closeEpoch: async (_epoch, _dagRoot, _stateRoot, leaves) => buildWithdrawalTree(leaves),
    info: async () => ({ chainId: EVM_CHAIN_ID })
  }
  const bridge = () => connectChainToDag({ dag: node.dag, chain, genesis: net.genesis, identity: node.key, db: node.db, logger: silentLogger(), evmChainId: EVM_CHAIN_ID }, { propose: false })
  let b = bridge()
  t.teardown(async () => { await b.stop(); await net.close() })
  await b.start()

  const dagAccount = dagAccountFromAddressBytes(parseAddress(addressOf(net.accounts[0])))
  const deposit = (amount: bigint): Deposit => ({ txHash: hexlify(randomBytes(32)), logIndex: 0, blockNumber: 5, blockHash: ZeroHash, depositId: 0n, dagAccount, from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', amount })
  for (const amount of [1n << 128n, (1n << 256n) - 1n, 0n]) await b.depositSink(deposit(amount))
  t.is(b.pendingDeposits(), 0)
  // the largest credit is still taken, and kept across a restart
  await b.depositSink(deposit((1n << 128n) - 1n))
  t.is(b.pendingDeposits(), 1)
  await b.stop()
  b = bridge()
  await b.start()
  t.is(b.pendingDeposits(), 1)
})
