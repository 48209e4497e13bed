import type { PeerId } from '@libp2p/interface'
import { fromHex } from '../../core/codec.ts'
import { HarmonyError } from '../../core/errors.ts'
import { sleep } from '../../core/wakeable.ts'
import type { BlobService } from '../blobs/service.ts'
import type { BlobStore } from '../blobs/store.ts'
import { seal } from '../blobs/seal.ts'

/**
 * The blobs a provider reads and writes (m2's BlobStore and BlobService): a task's inputs, fetched from whichever
 * peer holds them, and its output, stored (sealed to the requester's ML-KEM-768 key for a private task), tagged
 * with the task so it is kept until the task settles, and served over `/harmony/blob/1.0.0`.
 */
export interface ProviderBlobs {
  /**
   * The plaintext bytes of input `id` of task `taskId`; `deadlineMs` (the award's) bounds how long a private task's
   * sealed input is waited for, so that the provider can still claim it unavailable in time.
   */
  input: (task: { taskId: string, private: boolean, deadlineMs?: number }, id: string, signal?: AbortSignal) => Promise<Uint8Array>
  /** Stores the output and returns the id of the blob served (the envelope's for a private task). */
  output: (task: { taskId: string, private: boolean, requesterKemKey?: string }, bytes: Uint8Array) => Promise<string>
}

export class ProviderBlobError extends HarmonyError<'INPUT_UNAVAILABLE' | 'PRIVATE_INPUT_UNAVAILABLE' | 'REQUESTER_KEY_MISSING'> {
  constructor (code: ProviderBlobError['code'], message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'ProviderBlobError'
  }
}

export interface NetworkBlobsComponents {
  store: Pick<BlobStore, 'has' | 'get' | 'put'>
  service: Pick<BlobService, 'fetch' | 'locate'>
  /** Peers to ask for an input, best first (the connected peers: the requester's node is one of them). */
  peers: () => PeerId[]
  /**
   * Opens a private task's input sealed to this provider's ML-KEM-768 key (the requester's node seals it after the
   * award: market/requester.ts, market/sealed-input-fetch.ts); throws INPUT_UNAVAILABLE when none came in time for
   * a claim before `deadlineMs`. Without it a private task's inputs are refused (PRIVATE_INPUT_UNAVAILABLE).
   */
  openPrivateInput?: (taskId: string, id: string, signal?: AbortSignal, deadlineMs?: number) => Promise<Uint8Array>
}

/** Peers asked for one input before giving up. */
const MAX_PEERS_ASKED = 16
/**
 * Rounds over those peers before an input counts as unavailable, and the wait before the second round (doubling):
 * a holder busy or slow under load answers a later one. A provider that gives up claims the input unavailable, and a
 * validator that gives up says so in its verdict (which refunds the task): at saturation (`bench:market`, 30 tasks in
 * flight per requester) honest providers claimed inputs their requester's node did hold, 1–3 a run.
 */
const FETCH_ROUNDS = 3
const FETCH_ROUND_WAIT_MS = 250

/** ProviderBlobs over the node's blob store and `/harmony/blob/1.0.0`. */
export function networkBlobs (c: NetworkBlobsComponents): ProviderBlobs {
  return {
    async input (task, id, signal) {
      if (task.private) {
        if (c.openPrivateInput === undefined) throw new ProviderBlobError('PRIVATE_INPUT_UNAVAILABLE', 'this node cannot fetch a private task\'s sealed inputs yet', { taskId: task.taskId })
        return await c.openPrivateInput(task.taskId, id, signal, task.deadlineMs)
      }
      const aborted = (): boolean => signal?.aborted === true
      let fetched = await c.store.has(id)
      for (let round = 0; !fetched && round < FETCH_ROUNDS && !aborted(); round++) {
        if (round > 0) await sleep(FETCH_ROUND_WAIT_MS * 2 ** (round - 1), signal)
        // the peers that hold it are found at once (the requester's node, and any provider that fetched it); the
        // others are still asked in turn if the holder then fails or none answered (busy)
        const candidates = c.peers().slice(0, MAX_PEERS_ASKED)
        const holder = await c.service.locate(candidates, id, signal)
        for (const peer of holder === undefined ? candidates : [holder, ...candidates.filter(p => !p.equals(holder))]) {
          if (aborted()) break
          try {
            await c.service.fetch(peer, id, { tags: [task.taskId], ...(signal === undefined ? {} : { signal }) })
            fetched = true
            break
          } catch {
            // not there, busy or gone: the next peer
          }
        }
      }
      if (!fetched) throw new ProviderBlobError('INPUT_UNAVAILABLE', `no peer served input ${id}`, { taskId: task.taskId, blob: id })
      return await c.store.get(id)
    },
    async output (task, bytes) {
      if (!task.private) return await c.store.put(bytes, { tags: [task.taskId] })
      if (task.requesterKemKey === undefined) throw new ProviderBlobError('REQUESTER_KEY_MISSING', 'a private task without the requester\'s ML-KEM-768 key', { taskId: task.taskId })
      const envelope = seal(bytes, fromHex(task.requesterKemKey), { context: fromHex(task.taskId) })
      return await c.store.put(envelope, { tags: [task.taskId] })
    }
  }
}
