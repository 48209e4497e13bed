/**
 * The node's EVM side: the chain client and the DAG bridge, started when a contracts file exists (testnets pass
 * --contracts, devnets write one). Loaded by `HarmonyNode` only then: the chain client's ethers is ~35 MB and
 * 150-250 ms of a daemon's start (measured s53), which a node without a chain does not need.
 */
import { join } from 'node:path'
import type { Registry } from 'prom-client'
import { registerChainRpc } from '../api/index.ts'
import { connectChainToDag, type DagBridge, StateSyncServer } from '../bridge/index.ts'
import { ChainService, type Deposit, gossipCheckpointTransport, readContractsFile } from '../chain/index.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import type { BinaryDb } from '../core/storage.ts'
import { EVM_KEY_FILE, loadOrCreateEvmKey } from '../core/keys/evm-key.ts'
import type { NodeIdentity } from '../core/keys/identity.ts'
import type { DagService } from '../dag/index.ts'
import type { HarmonyLibp2p } from '../network/host.ts'
import type { GossipRegistry } from '../network/gossip.ts'
import type { RpcRegistry } from '../rpc/registry.ts'
import type { NodeConfig } from './config.ts'

export interface ChainPartComponents {
  config: NodeConfig
  datadir: string
  db: BinaryDb
  dag: DagService
  gossip: GossipRegistry
  libp2p: HarmonyLibp2p
  identity: NodeIdentity
  api: RpcRegistry
  logger: Logger
  registry: Registry
  /** Starts a service with the node (stopped with it, in reverse order). */
  add: (name: string, service: Startable) => Promise<void>
}

/** Reads the contracts file; starts the chain client, the DAG bridge and the state-sync server, and registers the chain's RPC methods. */
export async function startChainPart (c: ChainPartComponents, contractsPath: string, genesisValidatorKeys: Uint8Array[]): Promise<{ chain: ChainService, bridge: DagBridge }> {
  const contractsFile = await readContractsFile(contractsPath)
  let bridge: DagBridge | undefined
  const chain = new ChainService({
    contractsFile,
    db: c.db,
    depositSink: async (deposit: Deposit) => {
      // the watcher delivers a refused deposit again on its next scan
      if (bridge === undefined) throw new Error('the DAG bridge is not running yet')
      await bridge.depositSink(deposit)
    },
    evmKey: await loadOrCreateEvmKey(join(c.datadir, EVM_KEY_FILE)),
    // only registrations bound to these keys weigh in checkpoints (src/chain/validator-set.ts)
    genesisValidatorKeys,
    checkpointTransport: gossipCheckpointTransport(c.gossip),
    logger: c.logger.child({ module: 'chain' }),
    registry: c.registry
  }, {
    rpcUrl: c.config['chain-rpc'] === '' ? undefined : c.config['chain-rpc'],
    depositConfirmations: c.config['chain-confirmations']
  })
  // deposits become DAG credits and final withdraw burns become checkpoint epochs (src/bridge/dag-bridge.ts)
  const { ledgerKey } = c.identity
  bridge = connectChainToDag({
    dag: c.dag,
    chain,
    genesis: c.dag.ledger.genesis,
    identity: { publicKey: ledgerKey.publicKey, secretKey: ledgerKey.secretKey },
    db: c.db,
    logger: c.logger.child({ module: 'dag-bridge' }),
    registry: c.registry,
    evmChainId: contractsFile.chainId,
    // a pruned node (archive off) deletes vertex bodies below the last anchored checkpoint (src/bridge/history-pruner.ts)
    ...(c.config.archive ? {} : { pruneHistory: async (cut: string) => await c.dag.pruneHistory(cut) })
  }, c.config.network === 'devnet' ? { epochIntervalMs: 5000 } : {})
  await c.add('chain', chain)
  await c.add('dag-bridge', bridge)
  // the cuts of recent epochs, for peers that sync from a checkpoint (src/bridge/state-sync.ts)
  await c.add('state-sync', new StateSyncServer({ libp2p: c.libp2p, cuts: bridge, logger: c.logger.child({ module: 'state-sync' }) }))
  registerChainRpc(c.api, chain, chain)
  return { chain, bridge }
}
