import { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'

/**
 * Every sublevel (key namespace) of the node's one LevelDB lives in this table. A retired name is never reused:
 * add new ones at the end and leave retired ones commented out.
 */
export const SUBLEVELS = {
  /** node metadata: schema version, first start time */
  meta: 'meta',
  /** libp2p datastore (peer store, DHT records) */
  p2p: 'p2p',
  /** QuDAG: vertices by id */
  dagVertices: 'dag-v',
  /** QuDAG: child ids by parent id */
  dagChildren: 'dag-c',
  /** QuDAG: current tips */
  dagTips: 'dag-t',
  /** QuDAG: transaction index (tx id -> vertex id, status) */
  dagTx: 'dag-x',
  /** QuDAG: account state (balance, nonce) */
  dagAccounts: 'dag-a',
  /** QuDAG: consensus state (preferences, confidence, finality) */
  dagConsensus: 'dag-s',
  /** QuDAG: ledger metadata (state root, counters) */
  dagMeta: 'dag-m',
  /** chain: deposit watcher cursor and processed deposits */
  chain: 'chain',
  /** compute: content-addressed blobs */
  blobs: 'blobs',
  /** market: tasks, bids, awards */
  market: 'market'
} as const

export type SublevelName = keyof typeof SUBLEVELS

export type BinaryDb = Level<Uint8Array, Uint8Array>
export type BinarySublevel = AbstractSublevel<BinaryDb, string | Buffer | Uint8Array, Uint8Array, Uint8Array>

/** Opens the node's database with binary keys and values. `location` is a directory on disk. */
export async function openDatabase (location: string): Promise<BinaryDb> {
  const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return db
}

/** The sublevel for one namespace, binary keys and values. */
export function sublevel (db: BinaryDb, name: SublevelName): BinarySublevel {
  return db.sublevel<Uint8Array, Uint8Array>(SUBLEVELS[name], { keyEncoding: 'view', valueEncoding: 'view' })
}
