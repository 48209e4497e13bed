import { concatBytes } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'
import { type BinaryDb, type BinarySublevel, getValue, KEY_PREFIXES, keyBytes, sublevel } from '../core/storage.ts'
import type { DagBatch } from './store.ts'

/**
 * The commit rule's double-signing guard (Ethereum validators' slashing protection, EIP-3076, for rounds): the
 * highest round this node's validator key built a vertex in from this datadir, written in the batch that stores the
 * vertex, before it is sent. It lives in the `meta` sublevel, which a resync does not clear, so a validator that
 * resyncs from a checkpoint (or whose ledger was lost with the guard kept) builds again only above that round. Without
 * it, such a node saw the round of its lost vertex as not yet built and built a second vertex in it: an equivocation,
 * which the rule tolerates but which spends the network's fault margin on an honest node.
 *
 * Scoped to the genesis and the key: a datadir reused for another network or key starts from round 0.
 */
export class RoundGuard {
  private readonly sub: BinarySublevel
  private readonly key: Uint8Array
  private highest = 0

  constructor (db: BinaryDb, genesisId: Uint8Array, publicKey: Uint8Array) {
    this.sub = sublevel(db, 'meta')
    this.key = concatBytes(keyBytes(KEY_PREFIXES.meta.roundGuard), genesisId, sha256(publicKey))
  }

  /**
   * Reads the stored round (once, at start). A record of another length reads as none: the node then waits to catch
   * up with a peer before it builds (service.ts), which covers a lost record too.
   */
  async load (): Promise<number> {
    const v = await getValue(this.sub, this.key)
    this.highest = v === undefined || v.length !== 4 ? 0 : new DataView(v.buffer, v.byteOffset, 4).getUint32(0)
    return this.highest
  }

  /** The highest round this key built a vertex in (0: none). */
  get round (): number { return this.highest }

  /** Adds the record of a vertex built in `round` to the batch that stores it. */
  put (b: DagBatch, round: number): void {
    if (round <= this.highest) return
    const v = new Uint8Array(4)
    new DataView(v.buffer).setUint32(0, round)
    b.put(this.sub, this.key, v)
  }

  /** After the batch committed. */
  written (round: number): void { if (round > this.highest) this.highest = round }
}
