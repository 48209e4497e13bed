import type { Registry } from 'prom-client'
import type { Logger } from '../../core/logger.ts'
import type { BinarySublevel } from '../../core/storage.ts'
import type { LedgerReader } from '../../dag/reader.ts'
import type { Transaction } from '../../dag/tx.ts'
import type { VertexInfo } from '../../dag/vertex.ts'
import type { MarketReader } from '../state/reader.ts'
import type { ProviderBlobs } from './blobs.ts'
import type { CapabilityRecord } from './capability.ts'
import type { ChallengeExecutor, ProviderKeys } from './challenge.ts'
import type { ProviderConfig } from './config.ts'
import type { ProviderHeartbeats } from './heartbeat.ts'
import type { NoBidEntry } from './policy.ts'
import type { RegistrationWait } from './registration.ts'

/** The provider agent's options, components and status (agent.ts). */

export interface ProviderAgentInit {
  config: ProviderConfig
  /** The capability to register; measured at start (a short matmul by the challenge's path) when absent. */
  capability?: CapabilityRecord
  /** Period of the agent's clock (reveals, retries, sweeps). @default 200 */
  tickMs?: number
  /** Period of the heartbeat on gossip. @default 10000 */
  heartbeatMs?: number
  /** Period of the sweep that re-reads the market state (missed events, restarts). @default 3000 */
  sweepMs?: number
  /** Awarded tasks waiting to run; past it an award is not taken (and the provider will be replaced). @default 32 */
  maxQueuedJobs?: number
  /**
   * Awarded tasks handled at once (fetching inputs, waiting for or using the executor, storing the output, submitting
   * the result), at most the pricing capacity. The executor itself runs one kernel at a time (its own bounded
   * queue); this lets one job's network and ledger round trips overlap another's kernel. @default 8
   */
  maxRunningJobs?: number
  /**
   * How long past its reveal window a bid revealed on a pending announce keeps its capacity while the announce is not
   * final here (an award needs it final; under load that takes seconds). Then it is given up. @default 30000
   */
  unfinalRevealGraceMs?: number
}

/** A provider's ML-KEM-768 key for each private task (blobs/seal.ts `taskKeySeed`). */
export interface ProviderTaskKeys {
  /** The task's public key: its bid reveals it, and the requester's node seals the task's inputs to it. */
  publicKey: (taskId: string) => Uint8Array
  /** The key's seed when envelopes this node fetched for the task did not open (its claim reveals it); else undefined. */
  seedToReveal: (taskId: string) => Uint8Array | undefined
}

export interface ProviderAgentComponents {
  market: Pick<MarketReader, 'task' | 'tasks' | 'provider' | 'on' | 'off'>
  ledger: Pick<LedgerReader, 'account'>
  chainId: string
  /** The fee this agent pays per transaction (the genesis minimum). */
  fee: bigint
  /** Admits a signed transaction (DagService.submitTransaction). */
  submit: (tx: Transaction) => Promise<string>
  /** True when `submit` takes one account's transactions in the order they were submitted (a validator admits them
   *  in that order; a forwarding node forwards them in it): the agent then sends without waiting for each admission. */
  submitInOrder?: boolean
  /**
   * True when this node's ledger does not know the transaction at all (not queued, in no vertex, never decided). Given
   * on a validator, whose mempool a kill -9 loses: after a restart, a transaction the agent had admitted there and
   * that never reached a vertex is gone, and the agent makes that step again. A node that forwards to a validator does
   * not give it: its transactions wait at that validator, which this node may not have synced yet.
   */
  txLost?: (txId: string) => Promise<boolean>
  keys: ProviderKeys
  /** This provider's ML-KEM-768 public key (its registration). */
  kemPublicKey: Uint8Array
  /** Its keys for private tasks (s44). */
  taskKeys: ProviderTaskKeys
  executor: () => ChallengeExecutor
  blobs: ProviderBlobs
  /** The `market` sublevel (own bids under `g/`). */
  db: BinarySublevel
  heartbeats?: Pick<ProviderHeartbeats, 'publish'>
  /** Vertices as this node inserts them (the ledger's `vertex:inserted`): the agent commits on an announce still pending. */
  vertices?: {
    on: (event: 'vertex:inserted', listener: (info: VertexInfo) => void) => unknown
    off: (event: 'vertex:inserted', listener: (info: VertexInfo) => void) => unknown
  }
  logger: Logger
  registry?: Registry
}

export interface ProviderStatus {
  enabled: boolean
  address: string
  registered: boolean
  attested: boolean
  capability?: CapabilityRecord
  pricing: { perGflop: bigint, minimum: bigint, capacity: number }
  active: Array<{ taskId: string, stage: string, sinceMs: number }>
  skipped: NoBidEntry[]
  skippedTotals: Record<string, number>
  faultInjection: ProviderConfig['faultInjection']
  /** Why the registration it wants is not on the DAG yet (absent once it is). */
  registrationWait?: RegistrationWait
}
