import { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'

/**
 * Every sublevel (key namespace) of the node's one LevelDB lives in this table (Lodestar's `db/buckets.ts`), and
 * every key prefix inside a sublevel lives in KEY_PREFIXES below. A retired name is never reused: move it to
 * RETIRED_SUBLEVELS / a `retired` comment and add new ones at the end. The strings are the bytes on disk:
 * changing one orphans every existing datadir (test/unit/core-storage.test.ts pins them).
 */
export const SUBLEVELS = {
  /**
   * Node metadata that outlives the ledger (a resync keeps it): the round guard of this node's validator key
   * (src/dag/round-guard.ts); reserved too for the schema version and first start time.
   */
  meta: 'meta',
  /** Reserved for the libp2p datastore (peer store, DHT records) once peers persist across restarts. */
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
  /** chain and bridge: deposit watcher, withdrawal leaves, bridge state (prefixes in KEY_PREFIXES.chain) */
  chain: 'chain',
  /** Reserved for the market's content-addressed task blobs (`/harmony/blob/1.0.0`). */
  blobs: 'blobs',
  /** Reserved for the compute market: tasks, bids, awards. */
  market: 'market',
  /** Webhooks (src/webhooks): registered hooks, their delivery queues and status (prefixes in KEY_PREFIXES.webhooks). */
  webhooks: 'webhooks',
  /** QuDAG: the graph index (height, parents per vertex; by height; undecided ids) that lets history leave memory */
  dagGraph: 'dag-g',
  /** QuDAG: references into the vertex body log (segment files beside the LevelDB; src/dag/body-log.ts) */
  dagBodies: 'dag-b',
  /** QuDAG: unproven credits, address ‖ vertex id → amount (src/dag/store.ts; out of the account record since s20) */
  dagCredits: 'dag-u',
  /**
   * QuDAG, a node outside the validator set: the transactions it forwarded that no vertex it holds carries yet, tx id
   * → the encoded transaction, so it sends them again after a restart too (src/dag/net/forwarding.ts; s40)
   */
  dagForwarded: 'dag-f'
} as const

/** Sublevel names once used and since retired: never reuse one (old datadirs may still hold its keys). */
export const RETIRED_SUBLEVELS: readonly string[] = []

/**
 * The key layout inside each sublevel that has more than one kind of record: a record's key starts with its
 * prefix (ASCII; the bytes on disk). Within one sublevel no prefix may be a prefix of another. Sublevels not
 * listed hold one kind of record keyed by id (vertices, children, tips, accounts).
 */
export const KEY_PREFIXES = {
  meta: {
    /**
     * `round-guard/` ‖ genesis id ‖ sha256(validator public key) → u32 the highest round that key built a vertex
     * in from this datadir (src/dag/round-guard.ts; written with the vertex, before it is sent)
     */
    roundGuard: 'round-guard/'
  },
  dagTx: {
    /** `i` ‖ tx id → transaction record (vertex id, status) */
    txRecord: 'i',
    /** `n` ‖ account ‖ u64 nonce ‖ vertex id → tx id: the transactions seen for one (account, nonce) */
    nonceIndex: 'n'
  },
  dagConsensus: {
    /** `v` ‖ vertex id → the vertex's decision (accepted / rejected; under the commit rule, the slot that ordered it) */
    decision: 'v',
    /** `s` ‖ u64 slot (big-endian) → vertex id: under the commit rule, the leader of each committed slot */
    slotLeader: 's',
    /** `c` ‖ account ‖ u64 nonce → vertex id ‖ tx id: the accepted transaction of a conflict set */
    conflictWinner: 'c'
  },
  dagMeta: {
    /** whole key → genesis id */
    genesis: 'genesis',
    /** whole key → ledger counters */
    counters: 'counters',
    /** whole key → u16 n ‖ n × u64: each genesis validator's latest accepted vertex time (src/dag/final-clock.ts) */
    finalClock: 'final-clock',
    /** whole key → the history cut: u8 version ‖ cut vertex id ‖ u32 cut height (src/dag/history.ts) */
    history: 'history',
    /** whole key → the checkpoint cut a synced ledger started from: cut vertex id ‖ u32 lowest band height (src/dag/history.ts) */
    syncBase: 'sync-base',
    /** whole key → u8 version of the account records: absent before s20 (credits inside the record; store.ts upgrades) */
    accountsFormat: 'accounts',
    /**
     * whole key → n × (vertex id ‖ u16 author index): under the commit rule, the authors of the band a synced ledger
     * started from (no bodies: the rule resumes from these, src/dag/state-sync.ts)
     */
    syncedAuthors: 'synced-authors'
  },
  dagGraph: {
    /** `r` ‖ vertex id → u32 height ‖ u64 timestamp ‖ u8 flags ‖ u8 n ‖ n parent ids */
    record: 'r',
    /** `h` ‖ u32 height (big-endian) ‖ vertex id → '': vertices by height, to load only the recent window */
    byHeight: 'h',
    /** `u` ‖ vertex id → '': vertices without a decision yet (deleted in the decision's batch) */
    undecided: 'u'
  },
  chain: {
    /**
     * Deposit watcher (src/chain/deposit-watcher.ts): `deposit/<genesis hash>/<settlement address>/` then
     * DEPOSIT_SCOPE_KEYS; the scope keeps a redeployed devnet chain from reading another chain's state.
     */
    deposit: 'deposit/',
    /** Withdrawal store: `withdrawals/<epoch, 20 digits>` → the epoch's withdrawal leaves (JSON). */
    withdrawalLeaves: 'withdrawals/',
    /** Withdrawal store: `withdrawal/<evm account>/<nonce>` → epoch. */
    withdrawalIndex: 'withdrawal/',
    /** DAG bridge (src/bridge): whole key → last epoch closed. */
    bridgeEpoch: 'bridge/epoch',
    /** DAG bridge: `bridge/deposit/<tx hash>:<log index>` → a deposit awaiting its final credit (JSON). */
    bridgeDeposit: 'bridge/deposit/',
    /** DAG bridge: `bridge/unsettled/<withdraw tx id>` → a final withdrawal not yet in an epoch. */
    bridgeUnsettled: 'bridge/unsettled/',
    /** DAG bridge: `bridge/settled/<withdraw tx id>` → the epoch that settled it. */
    bridgeSettled: 'bridge/settled/',
    /** DAG bridge: `bridge/cut/<epoch, 20 digits>` → the accounts at the epoch's state cut (src/bridge/state-cuts.ts). */
    bridgeStateCut: 'bridge/cut/',
    /**
     * Checkpoints this validator proposed and the chain may not hold yet: `checkpoint/<epoch, 20 digits>` → roots
     * (JSON), signed again after a restart (src/chain/proposed-checkpoints.ts).
     */
    proposedCheckpoint: 'checkpoint/'
  },
  webhooks: {
    /** `h/<hook id>` → the hook (url, event kinds, accounts, secret; JSON). */
    hook: 'h/',
    /** `q/<hook id>/<seq, 20 digits>` → one queued delivery (id, kind, body, attempts, next attempt; JSON). */
    queue: 'q/',
    /** `s/<hook id>` → the hook's delivery status (counters, last delivery, next seq; JSON). */
    status: 's/',
    /**
     * `o/<seq, 20 digits>/<position, 5 digits>/<tx id hex>` → a decided transaction whose webhook events are not yet
     * queued (written in the decision's own batch; deleted in the batch that queues its deliveries; src/webhooks/outbox.ts).
     */
    outbox: 'o/'
  },
  blobs: {
    /** `m` ‖ blob id → u64 created-at ms ‖ manifest (src/market/blobs/manifest.ts): present = the blob is complete */
    manifest: 'm',
    /** `c` ‖ blob id ‖ `/` ‖ chunk index (8 hex digits) → the chunk's bytes */
    chunk: 'c',
    /** `p` ‖ blob id → u64 ms: a write under way; a start after kill -9 deletes its chunks */
    pending: 'p',
    /** `t` ‖ tag (task id) ‖ `/` ‖ blob id → 1: the blobs a task holds (`release(taskId)`) */
    tag: 't',
    /** `r` ‖ blob id ‖ `/` ‖ tag → 1: the tags holding a blob */
    tagOfBlob: 'r',
    /** `u` ‖ blob id → u64 ms since the blob holds no tag: collected by the sweep after a grace period */
    untagged: 'u',
    /** `d` ‖ blob id → 1: collected (manifest gone), chunks still to delete */
    dead: 'd',
    /** `x` ‖ due ms (16 hex digits) ‖ `/` ‖ task id → 1: release the task's blobs then (src/market/blobs/collector.ts) */
    releaseDue: 'x'
  },
  market: {
    /**
     * `q/<vertex seq, 20 digits>/<position, 5 digits>` → a final market transaction not yet applied to the market
     * state (written in the decision's batch by the kinds' finalRecords; deleted in the batch that applies it).
     */
    queue: 'q/',
    /** `t/<task id hex>` → the task's record (JSON, src/market/state/records.ts). */
    task: 't/',
    /** `o/<task id hex>` → a task not yet settled (loaded into memory at start). */
    open: 'o/',
    /** `p/<provider address hex>` → the provider's record (JSON). */
    provider: 'p/',
    /** `r/<requester hex>/<task id hex>` → '': tasks by requester. */
    byRequester: 'r/',
    /** `b/<provider hex>/<task id hex>` → '': tasks a provider bid on. */
    byProvider: 'b/',
    /** `i/<task id hex>/<input index>` → a private task's plaintext input, held for its requester (src/market/requester.ts). */
    requesterInput: 'i/',
    /** `y/<account hex>/<market time ms, 15 digits>/<tx id>/<index>` → a payment to or from the account. */
    payment: 'y/',
    /**
     * `g/<task id hex>` → this node's own bid as a provider (price, salt, stage; JSON, src/market/provider/bid-store.ts):
     * written before the commit is submitted, so a restart can still reveal.
     */
    agentBid: 'g/'
  }
} as const

/** Keys inside one deposit-watcher scope (`KEY_PREFIXES.chain.deposit` + scope). */
export const DEPOSIT_SCOPE_KEYS = {
  /** whole key → last scanned block (JSON) */
  cursor: 'cursor',
  /** whole key → recent scanned blocks, to find the fork point after a reorg (JSON) */
  history: 'history',
  /** `done/<tx hash>:<log index>` → a delivered deposit (JSON) */
  done: 'done/'
} as const

/** A prefix or key of the table as the bytes stored on disk. */
export function keyBytes (prefix: string, suffix = ''): Uint8Array {
  return new TextEncoder().encode(prefix + suffix)
}

export type SublevelName = keyof typeof SUBLEVELS

export type BinaryDb = Level<Uint8Array, Uint8Array>
export type BinarySublevel = AbstractSublevel<BinaryDb, string | Buffer | Uint8Array, Uint8Array, Uint8Array>

/** Opens the node's database with binary keys and values. `location` is a directory on disk. */
export async function openDatabase (location: string): Promise<BinaryDb> {
  const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return db
}

/**
 * One key's value, or undefined. Read synchronously where the store can (classic-level's `getSync`): a point read
 * served from LevelDB's memtable, its block cache or the page cache takes microseconds, while `get` goes through the
 * libuv thread pool and back, which on busy cores costs milliseconds of waiting for a core twice, and lets the event
 * loop run in between, so that a lock held across the read stays held meanwhile. Measured on this machine: 1.8 µs a
 * hit, 0.7 µs a miss, against 44 µs for `get` on idle cores (docs/decisions.md, s18). For small values on hot paths;
 * iterators, writes and large values stay asynchronous.
 */
export async function getValue (sub: BinarySublevel, key: Uint8Array): Promise<Uint8Array | undefined> {
  // a sublevel opens a tick after its database (deferred open): until then only `get` waits for it
  return sub.status === 'open' && (sub.supports as { getSync?: boolean }).getSync === true ? sub.getSync(key) : await sub.get(key)
}

/** The sublevel for one namespace, binary keys and values. */
export function sublevel (db: BinaryDb, name: SublevelName): BinarySublevel {
  return db.sublevel<Uint8Array, Uint8Array>(SUBLEVELS[name], { keyEncoding: 'view', valueEncoding: 'view' })
}

/** One write of a batch on one sublevel. */
export type WriteOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/** Writes of one `CoalescedWriter` batch at most; more wait for the next. */
const COALESCED_BATCH = 256

/**
 * Puts and deletes on one sublevel that resolve once written, as the sublevel's own `put` and `del` do, but travel
 * together: a write made while an earlier batch is being written waits for it and leaves with every other write made
 * meanwhile, in one batch, in the order they were made (Nagle's rule with the write as the acknowledgement; no timer,
 * so a lone write leaves at once). For records written often and from many tasks at a time (a provider's bids): a
 * LevelDB write through the thread pool costs the main thread more than the write itself (docs/market.md, "One batch
 * per drain pass"). Holds only the writes of callers still waiting for theirs.
 */
export class CoalescedWriter {
  private readonly sub: BinarySublevel
  private readonly waiting: Array<{ op: WriteOp, settle: (err?: unknown) => void }> = []
  private writing = false

  constructor (sub: BinarySublevel) { this.sub = sub }

  async put (key: Uint8Array, value: Uint8Array): Promise<void> { await this.enqueue({ type: 'put', key, value }) }
  async del (key: Uint8Array): Promise<void> { await this.enqueue({ type: 'del', key }) }

  private async enqueue (op: WriteOp): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ op, settle: (err) => { if (err === undefined) resolve(); else reject(err instanceof Error ? err : new Error(String(err))) } })
      if (!this.writing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.writing = true
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, COALESCED_BATCH)
      try {
        await this.sub.batch(batch.map(w => w.op))
        for (const w of batch) w.settle()
      } catch (err) {
        for (const w of batch) w.settle(err ?? new Error('batch failed'))
      }
    }
    this.writing = false
  }
}
