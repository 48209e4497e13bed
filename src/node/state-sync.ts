/**
 * `--state-sync`: a node whose datadir holds no ledger yet starts from the last checkpoint anchored on chain
 * instead of replaying the history from the genesis. It reads the checkpoint from the settlement contract, asks
 * its peers for that epoch's cut (src/bridge/state-sync.ts keeps only one matching the checkpoint), and writes it
 * into the empty ledger and the bridge's cursor before either starts. No anchored checkpoint yet, or no peer with a
 * matching cut within `waitMs`: the node says so and starts from the genesis as without the flag.
 */
import { stat } from 'node:fs/promises'
import type { Libp2p } from '@libp2p/interface'
import { type AnchoredCheckpoint, fetchCheckpointCut, syncedEpochWrites } from '../bridge/index.ts'
import { connectContracts, createProvider, readContractsFile } from '../chain/index.ts'
import { fromHex } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import type { BinaryDb } from '../core/storage.ts'
import type { DagService } from '../dag/service.ts'
import { installCut } from '../dag/state-sync.ts'

export interface CheckpointSyncComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getPeers'>
  dag: Pick<DagService, 'ledger'>
  db: BinaryDb
  /** The contracts file (a node without one has no chain, hence no checkpoint). */
  contractsPath: string
  /** `--chain-rpc`; empty: the contracts file's. */
  chainRpc: string
  logger: Logger
}

/** Syncs an empty ledger from the last anchored checkpoint; returns its epoch, or undefined when it did not. */
export async function syncFromCheckpoint (c: CheckpointSyncComponents, init: { waitMs?: number, retryMs?: number } = {}): Promise<bigint | undefined> {
  const { ledger } = c.dag
  if (await ledger.store.getGenesisId() !== undefined) return undefined // this datadir already holds a ledger
  if (!await stat(c.contractsPath).then(() => true, () => false)) {
    c.logger.warn({ contracts: c.contractsPath }, 'state sync needs the chain (a contracts file): starting from the genesis')
    return undefined
  }
  const deadline = Date.now() + (init.waitMs ?? 60_000)
  for (let round = 1; ; round++) {
    try {
      const checkpoint = await lastCheckpoint(c)
      if (checkpoint === undefined) {
        c.logger.info('no checkpoint anchored on chain yet: starting from the genesis')
        return undefined
      }
      const peers = c.libp2p.getPeers()
      if (peers.length > 0) {
        const { cut, peer, refused } = await fetchCheckpointCut(c.libp2p, peers, checkpoint, c.logger)
        await installCut({ store: ledger.store, history: ledger.history, genesisId: fromHex(ledger.genesisIdHex) }, cut, syncedEpochWrites(c.db, checkpoint.epoch, cut))
        c.logger.info({ epoch: checkpoint.epoch.toString(), peer: peer.toString(), accounts: cut.accounts.size, height: cut.height, refused }, 'ledger synced from the anchored checkpoint')
        return checkpoint.epoch
      }
      c.logger.info({ round }, 'state sync: waiting for peers')
    } catch (err) {
      c.logger.warn({ err, round }, 'state sync failed this round')
    }
    if (Date.now() >= deadline) break
    await new Promise(resolve => setTimeout(resolve, init.retryMs ?? 2000))
  }
  c.logger.warn('state sync gave up: starting from the genesis (the history is replayed from peers)')
  return undefined
}

async function lastCheckpoint (c: CheckpointSyncComponents): Promise<AnchoredCheckpoint | undefined> {
  const file = await readContractsFile(c.contractsPath)
  const url = c.chainRpc !== '' ? c.chainRpc : file.rpcUrl
  if (url === undefined) throw new Error('no chain RPC URL: pass --chain-rpc or put rpcUrl in the contracts file')
  const provider = createProvider(url, file.chainId)
  try {
    const { settlement } = connectContracts(file, provider)
    const epoch = await settlement.lastEpoch()
    if (epoch === 0n) return undefined
    const cp = await settlement.getCheckpoint(epoch)
    return { epoch, dagRoot: cp.dagRoot, stateRoot: cp.stateRoot }
  } finally {
    provider.destroy()
  }
}
