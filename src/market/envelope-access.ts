/**
 * Who may fetch a private task's sealed inputs from this node (docs/market.md "Private tasks"): the blob service asks
 * it for every blob a peer names (blobs/service.ts `mayServe`).
 *
 * A private task's inputs are sealed to a key per task and provider (s44), and an input claim reveals that key's seed
 * when the envelopes its provider fetched did not open. Served to anyone, the envelopes could be fetched by a stranger
 * as soon as a notice names them and opened once a seed is out. So a blob this node holds for a private task, other
 * than the task's output (sealed to the requester's own key, which no claim reveals), goes only to a peer that proved
 * (peer-binding.ts) the ledger key of a validator, which may judge a claim on them, or of a provider awarded the task in
 * some round, which reads the same inputs anyway. Every other peer is answered as if this node did not hold it.
 */
import type { Connection } from '@libp2p/interface'
import { addressBytesFromPublicKey } from '../core/address.ts'
import { bytesEqual, toHex } from '../core/codec.ts'
import { SEAL_OVERHEAD_BYTES } from './blobs/seal.ts'
import type { BlobStore } from './blobs/store.ts'
import type { TaskRecord } from './state/records.ts'

export interface EnvelopeAccessComponents {
  /** The tags (task ids) holding a blob. */
  store: Pick<BlobStore, 'tags'>
  /** The market state's record of a task, if this node knows it. */
  taskRecord: (taskId: string) => Promise<TaskRecord | undefined>
  /** The validators' ledger public keys. */
  validatorKeys: () => readonly Uint8Array[]
  /** The ledger key the connection's peer proved, waiting a little for a check under way (PeerBindingService.provenKey). */
  provenKey: (connection: Connection) => Promise<Uint8Array | undefined>
  /**
   * Whether `id` is an output this node's provider stored for a private task: served to anyone, like a result's output,
   * before its result is final here (the requester's node may see it final first and ask at once). @default none
   */
  ownOutput?: (id: string) => boolean
}

/** The blob service's `mayServe` for a node: a private task's blobs but its outputs only to its validators and providers. */
export function envelopeAccess (c: EnvelopeAccessComponents): (id: string, connection: Connection, size: number) => Promise<boolean> {
  return async (id, connection, size) => {
    // shorter than any envelope: a public blob (a small task input), served without reading its tags (bench:blobs:
    // with the read a 1 KiB envelope's fetch took 1.23–1.26× as long as served to anyone; a 256-byte input's 0.99–1.10×)
    if (size < SEAL_OVERHEAD_BYTES || c.ownOutput?.(id) === true) return true
    const sealedFor: TaskRecord[] = []
    for (const tag of await c.store.tags(id)) {
      const t = await c.taskRecord(tag)
      if (t === undefined || !t.announce.private) continue
      if ([...t.results.values()].some(r => r.outputBlob === id)) continue
      sealedFor.push(t)
    }
    if (sealedFor.length === 0) return true
    const key = await c.provenKey(connection)
    if (key === undefined) return false
    if (c.validatorKeys().some(v => bytesEqual(v, key))) return true
    const address = toHex(addressBytesFromPublicKey(key))
    return sealedFor.every(t => t.assigned.some(a => a.provider === address))
  }
}
