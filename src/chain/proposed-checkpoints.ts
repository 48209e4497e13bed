/**
 * The checkpoints this validator proposed that the chain may not hold yet, so that a restart signs and gossips them
 * again. The aggregator keeps signatures in memory, and the bridge hands each epoch to the chain side once (its
 * cursor moves past it when `closeEpoch` returns): without this record a validator restarted between closing an
 * epoch and its anchoring never signed it again, and when its signature was needed for the quorum, that epoch, and
 * every later one (the contract takes epochs in order), was never anchored.
 *
 * Stored in the `chain` sublevel: `checkpoint/<epoch, 20 digits>` → `{ dagRoot, stateRoot, withdrawalsRoot }` (JSON),
 * written before the checkpoint is signed and deleted once the chain holds its epoch.
 */
import { type BinarySublevel, KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import { assertCheckpoint, type Checkpoint } from './checkpoint-digest.ts'

const PREFIX = KEY_PREFIXES.chain.proposedCheckpoint
const keyOf = (epoch: bigint): Uint8Array => keyBytes(PREFIX, epoch.toString().padStart(20, '0'))
/** Epochs resumed at most: the aggregator keeps no more ahead of the chain (its maxPendingEpochs), nor the bridge. */
const MAX_RESUMED = 64

export class ProposedCheckpoints {
  private readonly db: BinarySublevel

  constructor (db: BinarySublevel) {
    this.db = db
  }

  async record (cp: Checkpoint): Promise<void> {
    assertCheckpoint(cp)
    await this.db.put(keyOf(cp.epoch), new TextEncoder().encode(JSON.stringify({ dagRoot: cp.dagRoot, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot })))
  }

  /** The recorded checkpoints above `anchoredEpoch`, in epoch order; unreadable records are skipped. */
  async above (anchoredEpoch: bigint): Promise<Checkpoint[]> {
    const out: Checkpoint[] = []
    for await (const [k, v] of this.db.iterator({ gt: keyOf(anchoredEpoch), lt: keyBytes(`${PREFIX}\xff`), limit: MAX_RESUMED })) {
      try {
        const epoch = BigInt(new TextDecoder().decode(k).slice(PREFIX.length))
        const roots = JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>
        const cp = { epoch, dagRoot: String(roots.dagRoot), stateRoot: String(roots.stateRoot), withdrawalsRoot: String(roots.withdrawalsRoot) }
        assertCheckpoint(cp)
        out.push(cp)
      } catch {
        continue
      }
    }
    return out
  }

  /** Deletes the records of epochs up to `anchoredEpoch` (the chain holds them). */
  async prune (anchoredEpoch: bigint): Promise<void> {
    const keys: Uint8Array[] = []
    for await (const k of this.db.keys({ gte: keyBytes(PREFIX), lte: keyOf(anchoredEpoch) })) keys.push(k)
    if (keys.length > 0) await this.db.batch(keys.map((key) => ({ type: 'del' as const, key })))
  }
}
