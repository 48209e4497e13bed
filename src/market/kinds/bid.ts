/**
 * Sealed bids: `bid-commit` (35) fixes a price without showing it; `bid-reveal` (36) opens it. Both are signed by
 * the provider and final on the DAG, so the record proves which bids existed in time (docs/market.md "Time").
 */
import { ADDRESS_BYTES } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { sha256 } from '../../core/crypto.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { TX_KIND_BID_COMMIT, TX_KIND_BID_COMMITS, TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS } from './ids.ts'
import { ML_KEM768_PUBLIC_KEY_BYTES, mlKem768PublicKeyValid, TASK_ID_BYTES } from './provider.ts'

export const SALT_BYTES = 32
const BID_TAG = new TextEncoder().encode('HARMONY/market/bid/v1')

/** commitment = sha256("HARMONY/market/bid/v1" ‖ taskId ‖ provider ‖ price u128 ‖ salt 32 B). */
export function bidCommitment (taskId: Uint8Array, provider: Uint8Array, price: bigint, salt: Uint8Array): Uint8Array {
  return sha256(BID_TAG, new Writer(100).fixed(taskId, TASK_ID_BYTES).fixed(provider, ADDRESS_BYTES).u128(price).fixed(salt, SALT_BYTES).finish())
}

export interface BidCommitPayload {
  taskId: Uint8Array
  commitment: Uint8Array
}

export const bidCommitKind: TxKind<BidCommitPayload> = {
  id: TX_KIND_BID_COMMIT,
  name: 'bid-commit',
  maxPayloadBytes: TASK_ID_BYTES + 32,
  encode (p) { return new Writer(64).fixed(p.taskId, TASK_ID_BYTES).fixed(p.commitment, 32).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'bid-commit payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const commitment = r.fixed(32)
    r.end()
    return { taskId, commitment }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, commitment: `0x${toHex(p.commitment)}` } }
}

export interface BidRevealPayload {
  taskId: Uint8Array
  /** Base units per replica. */
  price: bigint
  salt: Uint8Array
  /**
   * A private task's bid only (s44): the provider's ML-KEM-768 key for this task (blobs/seal.ts `taskKeySeed`),
   * which the requester's node seals the inputs to; a claim may reveal its seed (input-claim `keySeed`). A single
   * `bid-reveal` only: the entries of a `bid-reveals` are the fixed 80 bytes, so a private task's bid is revealed alone.
   */
  taskKey?: Uint8Array
}

const REVEAL_BYTES = TASK_ID_BYTES + 16 + SALT_BYTES

export const bidRevealKind: TxKind<BidRevealPayload> = {
  id: TX_KIND_BID_REVEAL,
  name: 'bid-reveal',
  maxPayloadBytes: REVEAL_BYTES + ML_KEM768_PUBLIC_KEY_BYTES,
  encode (p) {
    const w = new Writer(REVEAL_BYTES + (p.taskKey === undefined ? 0 : ML_KEM768_PUBLIC_KEY_BYTES)).fixed(p.taskId, TASK_ID_BYTES).u128(p.price).fixed(p.salt, SALT_BYTES)
    if (p.taskKey !== undefined) w.fixed(p.taskKey, ML_KEM768_PUBLIC_KEY_BYTES)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'bid-reveal payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const price = r.u128()
    const salt = r.fixed(SALT_BYTES)
    const taskKey = r.remaining === 0 ? undefined : r.fixed(ML_KEM768_PUBLIC_KEY_BYTES)
    r.end()
    if (price === 0n) r.fail('price must be positive')
    if (taskKey !== undefined && !mlKem768PublicKeyValid(taskKey)) r.fail('the task key is not an ML-KEM-768 encapsulation key (FIPS 203 modulus check)')
    return { taskId, price, salt, ...(taskKey === undefined ? {} : { taskKey }) }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, price: p.price.toString(), salt: `0x${toHex(p.salt)}`, ...(p.taskKey === undefined ? {} : { taskKey: `0x${toHex(p.taskKey)}` }) } }
}

/**
 * Bids for several auctions in one transaction: `bid-commits` (43) and `bid-reveals` (44) carry up to
 * MAX_BID_BATCH entries, each exactly a `bid-commit` or `bid-reveal` payload, for distinct tasks. One signature, one
 * admission and one verification on every node then serve them all (docs/market.md "Bid batches"). The market
 * applies each entry on its own, as if it were the single kind from the same signer at the same time: an entry
 * whose task is not known yet waits for it, the others apply at once.
 */
export const MAX_BID_BATCH = 48

/** A batch kind: the single kind its entries are, and the entry size. */
function batchKind<P> (id: number, name: string, entry: TxKind<P>, entryBytes: number): TxKind<P[]> {
  return {
    id,
    name,
    // u8 count + the entries: 48 reveals (80 B) stay under the 4 KiB payload bound
    maxPayloadBytes: 1 + MAX_BID_BATCH * entryBytes,
    encode (entries) {
      if (entries.length === 0 || entries.length > MAX_BID_BATCH) throw new DagError('ENCODING_INVALID', `${name} carries 1 to ${MAX_BID_BATCH} entries, got ${entries.length}`)
      const w = new Writer(1 + entries.length * entryBytes).u8(entries.length)
      for (const e of entries) {
        const bytes = entry.encode(e)
        // a private task's reveal carries its task key: it leaves as a single bid-reveal
        if (bytes.length !== entryBytes) throw new DagError('ENCODING_INVALID', `a ${name} entry is ${entryBytes} bytes (a private task's reveal goes alone, as a bid-reveal)`)
        w.raw(bytes)
      }
      return w.finish()
    },
    decode (bytes) {
      const r = new Reader(bytes, `${name} payload`)
      const n = r.u8()
      if (n === 0 || n > MAX_BID_BATCH) r.fail(`1 to ${MAX_BID_BATCH} entries, not ${n}`)
      const out: P[] = []
      const tasks = new Set<string>()
      for (let i = 0; i < n; i++) {
        const e = entry.decode(r.fixed(entryBytes))
        const task = toHex((e as { taskId: Uint8Array }).taskId)
        if (tasks.has(task)) r.fail(`two entries for task ${task}`)
        tasks.add(task)
        out.push(e)
      }
      r.end()
      return out
    },
    effects () { return { debit: 0n, credits: [] } },
    toJSON (entries) { return { entries: entries.map(e => entry.toJSON(e)) } }
  }
}

export const bidCommitsKind = batchKind(TX_KIND_BID_COMMITS, 'bid-commits', bidCommitKind, TASK_ID_BYTES + 32)
export const bidRevealsKind = batchKind(TX_KIND_BID_REVEALS, 'bid-reveals', bidRevealKind, REVEAL_BYTES)
