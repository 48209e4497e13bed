/**
 * A bridged test network: anvil with the contracts, N real libp2p nodes (loopback) each running DagService +
 * ChainService + DagBridge, every node's EVM registration bound to its ledger key, and a user funded with AGC and
 * gas on chain. Used by the bridge end-to-end tests under either consensus rule.
 */
import { getBytes, Wallet } from 'ethers'
import { Registry } from 'prom-client'
import { connectChainToDag, type DagBridge, type DagBridgeInit } from '../../src/bridge/dag-bridge.ts'
import { genesisBacking } from '../../src/bridge/genesis-lock.ts'
import { buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import {
  AGC_UNIT, ChainService, connectContracts, type Deposit, type DevnetChain, dagAccountFromAddressBytes, gossipsubCheckpointTransport, startDevnetChain
} from '../../src/chain/index.ts'
import { parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { createLogger, silentLogger } from '../../src/core/logger.ts'
import { testWallet } from './anvil.ts'
import { addressOf, createTestNet, type TestNet, type TestNetInit, waitFor } from './dag-net.ts'

const debugLog = process.env.BRIDGE_DEBUG !== undefined ? createLogger({ level: 'debug' }) : silentLogger()

export interface BridgeNet {
  net: TestNet
  devnet: DevnetChain
  /** Each node's chain service and bridge (a test may stop one and put a new one in its place). */
  chains: ChainService[]
  bridges: DagBridge[]
  /** Every deposit node 0's watcher delivered, in order. */
  delivered: Deposit[]
  /** The DAG account deposits credit and withdraws burn from, and its EVM wallet. */
  user: KeyPair
  userWallet: Wallet
  /** A new bridge for node `i` on its database and chain service (not started). */
  startBridge: (i: number) => DagBridge
  /** A new chain service for node `i` (a node started again), its deposits handed to `bridges[i]` (not started). */
  startChain: (i: number) => ChainService
  /** The user deposits `amount` on chain for its DAG account; returns the EVM transaction hash. */
  deposit: (amount: bigint) => Promise<string>
  /** `k`'s balance on every node. */
  balances: (k: KeyPair) => Promise<bigint[]>
  /**
   * The user burns `amount` for its EVM wallet (submitted at node 1); resolves once the burn is final on every node,
   * every bridge closed `epoch` and its checkpoint is on chain. Returns the burn's id and the fee it paid.
   */
  withdrawAndAnchor: (amount: bigint, epoch: bigint) => Promise<{ id: string, fee: bigint }>
  close: () => Promise<void>
}

/** `prunedNode`: the node whose bridge prunes its history below each anchored checkpoint (the others keep it all). */
export async function startBridgeNet (name: string, init: TestNetInit, bridgeInit: (i: number) => DagBridgeInit, options: { prunedNode?: number } = {}): Promise<BridgeNet> {
  const evmKeys = Array.from({ length: init.nodes }, (_, i) => testWallet(`${name}-validator-${i}`))
  const chains: ChainService[] = []
  const bridges: DagBridge[] = []
  const delivered: Deposit[] = []
  const user = generateKeyPair()
  const userWallet = testWallet(`${name}-user`)
  const net = await createTestNet(init)
  // each node's EVM registration is bound to its ledger key, a genesis validator of the test net; the settlement
  // contract locks the test genesis's allocations, or the bridges refuse to start
  const devnet = await startDevnetChain({
    validators: evmKeys.map((w, i) => ({ signerKey: w.privateKey, ledgerKey: net.validatorKeys[i] })),
    genesis: genesisBacking(net.genesis)
  }).catch(async (err: unknown) => { await net.close(); throw err })
  const startBridge = (i: number): DagBridge => {
    const node = net.nodes[i]
    const prune = i === options.prunedNode ? { pruneHistory: async (cut: string) => await node.dag.pruneHistory(cut) } : {}
    return connectChainToDag({ dag: node.dag, chain: chains[i], genesis: net.genesis, identity: node.key, db: node.db, logger: debugLog, registry: new Registry(), ...prune }, bridgeInit(i))
  }
  const startChain = (i: number): ChainService => {
    const node = net.nodes[i]
    // the sink is bound late: the bridge is built after the chain service it reads from
    return new ChainService({
      contractsFile: devnet.contractsFile,
      db: node.db,
      evmKey: evmKeys[i],
      checkpointTransport: gossipsubCheckpointTransport(node.libp2p.services.pubsub),
      depositSink: async (d) => { if (i === 0) delivered.push(d); await bridges[i].depositSink(d) },
      logger: silentLogger(),
      registry: new Registry(),
      genesisValidatorKeys: net.validatorKeys.map((k) => k.publicKey)
    }, { depositConfirmations: 1, pollIntervalMs: 100, aggregator: { submitDelayMs: 300, republishIntervalMs: 1000 }, client: { pollIntervalMs: 50 } })
  }
  await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === init.nodes - 1), 'validator peers bound')
  for (let i = 0; i < init.nodes; i++) {
    chains[i] = startChain(i)
    bridges[i] = startBridge(i)
  }
  for (let i = 0; i < init.nodes; i++) {
    await chains[i].start()
    await bridges[i].start()
  }
  // fund the user's EVM wallet with AGC and gas
  const funder = new Wallet(devnet.deployerKey, devnet.provider)
  await (await devnet.contracts.agc.transfer(userWallet.address, 100n * AGC_UNIT)).wait()
  await (await funder.sendTransaction({ to: userWallet.address, value: 10n ** 18n })).wait()

  const balances = async (k: KeyPair): Promise<bigint[]> => await Promise.all(net.nodes.map(async n => await n.dag.getBalance(addressOf(k))))
  return {
    net,
    devnet,
    chains,
    bridges,
    delivered,
    user,
    userWallet,
    startBridge,
    startChain,
    deposit: async (amount) => {
      const asUser = connectContracts(devnet.contractsFile, userWallet.connect(devnet.provider))
      await (await asUser.agc.approve(devnet.contractsFile.settlement, amount)).wait()
      const receipt = await (await asUser.settlement.deposit(dagAccountFromAddressBytes(parseAddress(addressOf(user))), amount)).wait()
      if (receipt === null) throw new Error('deposit dropped')
      return receipt.hash
    },
    balances,
    withdrawAndAnchor: async (amount, epoch) => {
      const fee = net.genesis.minFee
      const before = await net.nodes[0].dag.getBalance(addressOf(user))
      const nonce = await net.nodes[0].dag.getNonce(addressOf(user))
      const burn = buildWithdraw({ chainId: net.genesis.chainId, publicKey: user.publicKey, secretKey: user.secretKey, evmAddress: getBytes(userWallet.address), amount, nonce, fee })
      const id = await net.nodes[1].dag.submitTransaction(burn)
      await waitFor(async () => (await balances(user)).every(b => b === before - amount - fee), 'burn final on every node')
      // a validator closes the epoch on the DAG; every node hands the same leaves to its chain service; the
      // checkpoint is signed, gossiped and anchored
      await waitFor(() => bridges.every(b => b.epoch >= epoch), `epoch ${epoch} closed on every node`)
      await waitFor(async () => await devnet.contracts.settlement.lastEpoch() >= epoch, `checkpoint ${epoch} on chain`, 60_000)
      return { id, fee }
    },
    close: async () => {
      for (const b of bridges) await b?.stop()
      for (const c of chains) await c?.stop()
      await net.close()
      await devnet.stop()
    }
  }
}
