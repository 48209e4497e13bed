/**
 * A private task's sealed inputs over the network (docs/market.md "Private tasks", "Inputs no peer serves"): the
 * envelopes a sealed-inputs notice names, fetched from the notice's holder, else from a connected peer that holds
 * them (a validator that fetched them to check an input claim keeps them, tagged with the task). Every holder serves
 * them only to the validators and the task's awarded providers (envelope-access.ts). An awarded provider opens them
 * with its key for the task and checks them against the announced ids; a validator checking a claim fetches them,
 * and opens them only when the claim revealed that key.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { sha256Hex } from '../compute/blob.ts'
import { errorMessage } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { open } from './blobs/seal.ts'
import type { BlobService } from './blobs/service.ts'
import type { BlobStore } from './blobs/store.ts'
import { ProviderBlobError } from './provider/blobs.ts'
import { inputContext } from './seal-contexts.ts'
import type { SealedInputsNotice } from './sealed-inputs.ts'
import { NoticeNotFetched, type SealedInputsBoard } from './sealed-inputs-board.ts'

/** Peers asked where an envelope is when its holder did not serve it. */
const MAX_PEERS_ASKED = 16
/**
 * How long a validator checking a private task's claim waits for a notice to the claimant it has not seen yet: three
 * of the requester's node's publications (every 2 s, market/requester.ts).
 */
export const CLAIM_NOTICE_WAIT_MS = 6000

export interface SealedInputFetchComponents {
  board: Pick<SealedInputsBoard, 'firstThatOpens'>
  service: Pick<BlobService, 'fetch' | 'locate'>
  store: Pick<BlobStore, 'has' | 'get'>
  /** The connected peers. */
  peers: () => PeerId[]
  logger: Logger
}

export class SealedInputFetch {
  private readonly c: SealedInputFetchComponents

  constructor (components: SealedInputFetchComponents) {
    this.c = components
  }

  /**
   * Envelope `index` of `notice` in this node's blob store, tagged with its task: from the holder when it is
   * connected; else, or when it did not serve it, from a connected peer found holding it; else from the holder
   * dialled (a node need not be connected to every other). Throws `NoticeNotFetched` when no peer served it.
   */
  async envelope (notice: SealedInputsNotice, index: number, signal?: AbortSignal): Promise<string> {
    if (index >= notice.envelopes.length) throw new Error(`the notice of ${notice.holder} has no envelope ${index}`)
    const id = notice.envelopes[index]
    if (await this.c.store.has(id)) return id
    const options = { tags: [notice.taskId], ...(signal === undefined ? {} : { signal }) }
    const peers = this.c.peers()
    const connected = peers.find(p => p.toString() === notice.holder)
    const why: string[] = []
    const from = async (peer: PeerId, who: string): Promise<string | undefined> => {
      try {
        return await this.c.service.fetch(peer, id, options)
      } catch (err) {
        why.push(`${who} did not serve it: ${errorMessage(err)}`)
        return undefined
      }
    }
    if (connected !== undefined) {
      const got = await from(connected, 'the holder')
      if (got !== undefined) return got
    }
    const others = peers.filter(p => p.toString() !== notice.holder).slice(0, MAX_PEERS_ASKED)
    const found = signal?.aborted === true ? undefined : await this.c.service.locate(others, id, signal)
    if (found !== undefined) {
      const got = await from(found, found.toString())
      if (got !== undefined) return got
    }
    if (connected === undefined && signal?.aborted !== true) {
      const got = await from(peerIdFromString(notice.holder), 'the holder, dialled')
      if (got !== undefined) return got
    }
    throw new NoticeNotFetched(`envelope ${index} of task ${notice.taskId} (${id}): ${why.length === 0 ? 'no peer has it' : why.join('; ')}`)
  }

  /**
   * For an awarded provider: input `index` of `taskId` (announced id `id`), from the first notice sealed to `provider`
   * whose envelope is fetched, opens under its key and hashes to `id`, waiting up to `waitMs` for such a notice.
   * Throws `INPUT_UNAVAILABLE` when none did within that (the provider then claims its inputs unavailable).
   */
  async openInput (task: { taskId: string, provider: string, index: number, id: string }, kemSecretKey: Uint8Array, waitMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    const { taskId, provider, index, id } = task
    // AbortSignal.timeout takes whole milliseconds only (a RangeError otherwise)
    const wait = AbortSignal.timeout(Math.max(0, Math.floor(waitMs)))
    const context = inputContext(taskId, provider, index)
    try {
      return await this.c.board.firstThatOpens(taskId, provider, signal === undefined ? wait : AbortSignal.any([signal, wait]), async (notice) => {
        const plain = open(await this.c.store.get(await this.envelope(notice, index, signal)), kemSecretKey, { context })
        if (sha256Hex(plain) !== id) throw new Error(`sealed input ${index} of task ${taskId} does not hash to the announced id`)
        return plain
      }, (notice, err) => {
        this.c.logger.warn({ taskId, holder: notice.holder, err: errorMessage(err) }, 'a sealed-inputs notice did not give the input; trying the next')
      })
    } catch (err) {
      if (signal?.aborted !== true && wait.aborted) throw new ProviderBlobError('INPUT_UNAVAILABLE', `no sealed-inputs notice gave input ${index} of private task ${taskId} within ${Math.round(waitMs)} ms`, { taskId, blob: id })
      throw err
    }
  }

  /**
   * For a validator checking an input claim on a private task: every envelope of the first notice sealed to
   * `provider` whose envelopes all fetch, now held here (and served) tagged with the task. With `opens` (the claim
   * revealed the claimant's task key) each envelope must also open under that key and hash to the announced id, in
   * the announce's order. While none is left untried it waits for another at most `noticeWaitMs` (a claim comes
   * after the claimant waited for one in vain, and a requester's node that is up publishes its notices again every
   * 2 s); rejects then, or when `signal` aborts.
   */
  async fetchAll (taskId: string, provider: string, signal: AbortSignal, opens?: { kemSecretKey: Uint8Array, ids: readonly string[] }, noticeWaitMs = CLAIM_NOTICE_WAIT_MS): Promise<SealedInputsNotice> {
    return await this.c.board.firstThatOpens(taskId, provider, signal, async (notice) => {
      if (opens !== undefined && notice.envelopes.length !== opens.ids.length) throw new Error(`the notice names ${notice.envelopes.length} envelopes for ${opens.ids.length} inputs`)
      for (let i = 0; i < notice.envelopes.length; i++) {
        const id = await this.envelope(notice, i, signal)
        if (opens === undefined) continue
        const plain = open(await this.c.store.get(id), opens.kemSecretKey, { context: inputContext(taskId, provider, i) })
        if (sha256Hex(plain) !== opens.ids[i]) throw new Error(`sealed input ${i} of task ${taskId} does not hash to the announced id`)
      }
      return notice
    }, (notice, err) => {
      this.c.logger.info({ taskId, provider, holder: notice.holder, err: errorMessage(err) }, 'a sealed-inputs notice\'s envelopes could not be fetched')
    }, noticeWaitMs)
  }
}
