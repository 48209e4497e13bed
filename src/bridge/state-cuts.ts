/**
 * The state roots of withdrawal epochs. Epoch E's state root is the Merkle root (src/dag/state-root.ts) of the
 * accounts at close E's cut (src/dag/state-cut.ts): the state given by exactly the vertices in the causal past of
 * close E's vertex, equal on every node; under the commit rule, the state after the slot that ordered close E's
 * vertex (`advanceCutToSlot`: there an outcome depends on the order). Each epoch advances the previous epoch's cut
 * by its own vertices.
 *
 * The last KEEP_CUTS cuts are stored (`bridge/cut/<epoch>` in the `chain` sublevel, written in the same batch as
 * the bridge's epoch cursor) and kept in memory, to advance the next one and to serve balance proofs against the
 * last anchored checkpoint (`account_getProof`). A node without the previous cut (a datadir from before state
 * roots) advances from the genesis instead: slower, the same accounts (its cut parts, folded over the whole history,
 * differ from those of nodes that upgraded from a cut of the format before parts: state-cut.ts `decodeCut`).
 */
import { type BinaryDb, type BinarySublevel, KEY_PREFIXES, keyBytes, sublevel } from '../core/storage.ts'
import { toHex } from '../core/codec.ts'
import { advanceCut, cutTree, decodeCut, encodeCut, genesisCut, type StateCut, syncDigestOfBytes } from '../dag/state-cut.ts'
import { advanceCutToSlot, type SlotCutReader } from '../dag/slot-cut.ts'
import type { StateTree } from '../dag/state-root.ts'

/** Cuts kept (memory and disk): the last anchored epoch lags the last closed one by a few at most. */
export const KEEP_CUTS = 4

const PREFIX_CUT = KEY_PREFIXES.chain.bridgeStateCut
/** The bridge's cursor: the last epoch handed to the chain side (decimal), in the `chain` sublevel. */
export const KEY_BRIDGE_EPOCH = keyBytes(KEY_PREFIXES.chain.bridgeEpoch)
const cutKey = (epoch: bigint): Uint8Array => keyBytes(PREFIX_CUT, epoch.toString().padStart(20, '0'))

/** `account_getProof`'s answer: a balance proof against epoch `epoch`'s state root. */
export interface StateProof {
  epoch: bigint
  /** The account's 20-byte DAG address, 0x-hex. */
  address: string
  balance: bigint
  nonce: bigint
  proof: string[]
  root: string
}

/** A cut and what is derived from it, once: its tree, its encoding (digest and storage) and its digest. */
interface Held { cut: StateCut, tree?: StateTree, bytes?: Uint8Array, digest?: string }

export class StateCuts {
  private readonly reader: SlotCutReader
  private readonly db: BinarySublevel
  private readonly recent = new Map<bigint, Held>()
  private computed?: { epoch: bigint, close: string, held: Held }

  constructor (reader: SlotCutReader, db: BinarySublevel) {
    this.reader = reader
    this.db = db
  }

  /** Reads the stored cuts (at most KEEP_CUTS). */
  async load (): Promise<void> {
    for await (const [k, v] of this.db.iterator({ gte: keyBytes(PREFIX_CUT), lt: keyBytes(`${PREFIX_CUT}\xff`) })) {
      const epoch = BigInt(new TextDecoder().decode(k).slice(PREFIX_CUT.length))
      const cut = decodeStored(v)
      if (cut !== undefined) this.recent.set(epoch, { cut })
    }
    this.prune()
  }

  /**
   * Computes epoch `epoch`'s cut at `closeVertexHex` and returns its state root (0x-hex) and its sync digest (0x-hex:
   * the checkpoint's `dagRoot`, state-cut.ts). Call in epoch order.
   */
  async rootOf (epoch: bigint, closeVertexHex: string): Promise<{ stateRoot: string, dagRoot: string }> {
    if (this.computed?.epoch === epoch && this.computed.close === closeVertexHex) return this.roots(this.computed.held)
    // under the commit rule the close's decision names the slot that ordered it
    const slot = (await this.reader.vertexDecision(closeVertexHex))?.slot
    const stored = epoch > 1n ? await this.cutOf(epoch - 1n) : undefined
    // a slot's cut advances only a slot's cut (a ledger from before slots were recorded: from the genesis once)
    const base = stored !== undefined && (slot === undefined || stored.slot !== undefined) ? stored : genesisCut(this.reader)
    const cut = slot === undefined ? await advanceCut(this.reader, base, closeVertexHex) : await advanceCutToSlot(this.reader, base, slot)
    const held: Held = { cut }
    this.computed = { epoch, close: closeVertexHex, held }
    return this.roots(held)
  }

  /** The batch operations that store epoch `epoch`'s cut (after rootOf) and drop the oldest. */
  batchOps (epoch: bigint): Array<{ type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }> {
    if (this.computed?.epoch !== epoch) return []
    const held = this.computed.held
    held.bytes ??= encodeCut(held.cut)
    return [
      { type: 'put', key: cutKey(epoch), value: held.bytes },
      ...(epoch > BigInt(KEEP_CUTS) ? [{ type: 'del' as const, key: cutKey(epoch - BigInt(KEEP_CUTS)) }] : [])
    ]
  }

  /** The batch of batchOps(epoch) is committed: keep the cut in memory. */
  committed (epoch: bigint): void {
    if (this.computed?.epoch !== epoch) return
    // the encoding is stored now; held in memory it would double the cut's size for KEEP_CUTS epochs
    this.recent.set(epoch, { ...this.computed.held, bytes: undefined })
    this.computed = undefined
    this.prune()
  }

  /**
   * The proof of `address`'s balance at the newest stored epoch ≤ `anchoredEpoch` (the last checkpoint on chain).
   * Null when no such epoch is stored here or the account is empty there (balance and nonce zero: no leaf).
   */
  proof (address: Uint8Array, anchoredEpoch: bigint): StateProof | null {
    const epochs = [...this.recent.keys()].filter((e) => e <= anchoredEpoch).sort((a, b) => (a < b ? 1 : -1))
    const epoch = epochs[0]
    if (epoch === undefined) return null
    const held = this.recent.get(epoch) as Held
    held.tree ??= cutTree(held.cut)
    const p = held.tree.proof(address)
    if (p === undefined) return null
    return { epoch, address: `0x${toHex(address)}`, balance: p.balance, nonce: p.nonce, proof: p.proof, root: p.root }
  }

  private roots (held: Held): { stateRoot: string, dagRoot: string } {
    held.tree ??= cutTree(held.cut)
    held.bytes ??= encodeCut(held.cut)
    held.digest ??= `0x${syncDigestOfBytes(held.bytes)}`
    return { stateRoot: held.tree.root, dagRoot: held.digest }
  }

  /** Epoch `epoch`'s cut, while this node holds it (the last KEEP_CUTS): what a syncing peer asks for. */
  async cut (epoch: bigint): Promise<StateCut | undefined> {
    return await this.cutOf(epoch)
  }

  /** The vertex of epoch `epoch`'s cut (its close), while this node still holds the cut. */
  async vertexOf (epoch: bigint): Promise<string | undefined> {
    return (await this.cutOf(epoch))?.vertexId
  }

  private async cutOf (epoch: bigint): Promise<StateCut | undefined> {
    const held = this.recent.get(epoch)
    if (held !== undefined) return held.cut
    const stored = await this.db.get(cutKey(epoch))
    return stored === undefined ? undefined : decodeStored(stored)
  }

  private prune (): void {
    const epochs = [...this.recent.keys()].sort((a, b) => (a < b ? -1 : 1))
    while (epochs.length > KEEP_CUTS) this.recent.delete(epochs.shift() as bigint)
  }
}

/**
 * State sync: a node whose ledger starts from epoch `epoch`'s cut (src/dag/state-sync.ts) has its bridge resume
 * after that epoch and advance the next cut from that one. These writes go into the ledger's install batch, so a
 * crash keeps both or neither.
 */
export function syncedEpochWrites (db: BinaryDb, epoch: bigint, cut: StateCut): Array<{ sublevel: BinarySublevel, key: Uint8Array, value: Uint8Array }> {
  const chain = sublevel(db, 'chain')
  return [
    { sublevel: chain, key: cutKey(epoch), value: encodeCut(cut) },
    { sublevel: chain, key: KEY_BRIDGE_EPOCH, value: new TextEncoder().encode(epoch.toString()) }
  ]
}

/**
 * A stored cut (one of the format before parts with its parts empty, state-cut.ts), or undefined for one of an
 * older format still (the next epoch then advances from the genesis).
 */
function decodeStored (bytes: Uint8Array): StateCut | undefined {
  try {
    return decodeCut(bytes, true)
  } catch {
    return undefined
  }
}
