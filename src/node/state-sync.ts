/**
 * `--state-sync`: a node whose datadir holds no ledger yet starts from the last checkpoint anchored on chain
 * instead of replaying the history from the genesis. It reads the checkpoint from the settlement contract, asks
 * its peers for that epoch's cut (src/bridge/state-sync.ts keeps only one matching the checkpoint), and writes it
 * into the empty ledger, the bridge's cursor and the parts' stores (the market's records: src/dag/cut-parts.ts)
 * before any of them starts. No anchored checkpoint yet, or no peer with a
 * matching cut within `waitMs`: the node says so and starts from the genesis as without the flag.
 *
 * `--resync` (Lodestar's forced checkpoint sync): a datadir that holds a ledger is synced too, for a node that was
 * offline for longer than its peers keep history (they pruned the ancestors it lacks: HISTORY_PRUNED). Only once a
 * cut matching the anchored checkpoint is in hand, and only when the ledger does not reach that cut (it lacks the
 * cut's vertex), are the state areas derived from the ledger cleared (RESYNC_SUBLEVELS) and the cut installed;
 * otherwise the old ledger stays as it was, so the flag left on does not wipe a ledger at every start. A kill -9
 * between the clear and the install leaves an empty ledger, which the same command line syncs on the next start.
 */
import { stat } from 'node:fs/promises'
import type { Libp2p } from '@libp2p/interface'
import { type AnchoredCheckpoint, fetchCheckpointCut, syncedEpochWrites } from '../bridge/index.ts'
import { connectContracts, createProvider, readContractsFile } from '../chain/index.ts'
import { fromHex } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import { type BinaryDb, sublevel, type SublevelName } from '../core/storage.ts'
import type { DagService } from '../dag/service.ts'
import { cutPartWrites } from '../dag/cut-parts.ts'
import { installCut } from '../dag/state-sync.ts'
import { DagError } from '../dag/errors.ts'

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

/**
 * What a resync clears: the ledger and everything derived from it (the bridge's epochs and deposit cursor, the
 * market's records and queue cursor). Kept: node metadata, the peer store, blobs and webhooks (registered hooks and
 * their queued deliveries of events that did happen); keys and config are files.
 */
export const RESYNC_SUBLEVELS: readonly SublevelName[] = ['dagVertices', 'dagChildren', 'dagTips', 'dagTx', 'dagAccounts', 'dagConsensus', 'dagMeta', 'dagGraph', 'dagBodies', 'chain', 'market']

export interface CheckpointSyncInit {
  /** How long to look for an anchored checkpoint and a peer with its cut. @default 60000 */
  waitMs?: number
  retryMs?: number
  /** Replace a ledger the datadir already holds (`--resync`). @default false */
  resync?: boolean
}

/** Syncs an empty ledger (or with `resync` any) from the last anchored checkpoint; returns its epoch, or undefined when it did not. */
export async function syncFromCheckpoint (c: CheckpointSyncComponents, init: CheckpointSyncInit = {}): Promise<bigint | undefined> {
  const { ledger } = c.dag
  const held = await ledger.store.getGenesisId() !== undefined
  if (held && init.resync !== true) return undefined // this datadir already holds a ledger
  if (!await stat(c.contractsPath).then(() => true, () => false)) {
    c.logger.warn({ contracts: c.contractsPath }, held ? 'resync needs the chain (a contracts file): keeping this ledger' : 'state sync needs the chain (a contracts file): starting from the genesis')
    return undefined
  }
  const commit = ledger.genesis.consensus.rule === 'commit'
  const deadline = Date.now() + (init.waitMs ?? 60_000)
  for (let round = 1; ; round++) {
    try {
      const checkpoint = await lastCheckpoint(c)
      if (checkpoint === undefined) {
        c.logger.info(held ? 'no checkpoint anchored on chain yet: keeping this ledger' : 'no checkpoint anchored on chain yet: starting from the genesis')
        return undefined
      }
      const peers = c.libp2p.getPeers()
      if (peers.length > 0) {
        const { cut, peer, refused } = await fetchCheckpointCut(c.libp2p, peers, checkpoint, c.logger)
        // (the record read, not knowsVertex: that remembers a miss, and the cut's vertex is about to be written)
        if (held && await ledger.history.record(cut.vertexId) !== undefined) {
          // its history reaches the checkpoint, so the peers still hold what it lacks above it: no resync needed
          // (a --resync left in the config does not wipe the ledger at every start)
          c.logger.info({ epoch: checkpoint.epoch.toString() }, 'resync: this ledger already reaches the anchored checkpoint; keeping it')
          return undefined
        }
        // under the commit rule a cut must be the state after a slot, with the rounds the rule keeps (slot-cut.ts
        // advanceCutToSlot): a cut of one vertex's past (a network's checkpoint from before s28) cannot go on ordering
        if (commit && (cut.slot === undefined || cut.band.some(r => r.author === undefined || r.author >= ledger.genesis.validators.length))) {
          throw new DagError('SYNC_FAILED', `the cut of checkpoint ${checkpoint.epoch} is not the state after a slot of the commit rule (a checkpoint from before s28)`)
        }
        if (!commit && cut.slot !== undefined) throw new DagError('SYNC_FAILED', `the cut of checkpoint ${checkpoint.epoch} is a commit-rule cut; this ledger runs Avalanche`)
        if (held) {
          c.logger.warn({ epoch: checkpoint.epoch.toString() }, 'resync: replacing this datadir\'s ledger with the anchored checkpoint\'s state')
          for (const name of RESYNC_SUBLEVELS) await sublevel(c.db, name).clear()
          await ledger.store.collectBodies()
        }
        await installCut({ store: ledger.store, history: ledger.history, genesisId: fromHex(ledger.genesisIdHex) }, cut, [...syncedEpochWrites(c.db, checkpoint.epoch, cut), ...cutPartWrites(cut.parts, c.db)])
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
  c.logger.warn(held ? 'resync gave up: keeping this ledger as it was' : 'state sync gave up: starting from the genesis (the history is replayed from peers)')
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
