import { randomBytes, randomInt } from 'node:crypto'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { bytesEqual, concatBytes, fromHex, Reader, toHex, utf8, Writer } from '../core/codec.ts'
import { HASH_BYTES, ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sign, signingMessage } from '../core/crypto.ts'
import { DagError, isDagError, isDagErrorCode } from './errors.ts'
import type { DagLedger } from './ledger.ts'
import type { DagMetrics } from './metrics.ts'
import { QueryChannelClient, serveQueryChannel } from './query-channel.ts'
import { MAX_VERTEX_BYTES, type VertexInfo, vertexInfo } from './vertex.ts'

export const VERTEX_TOPIC = 'harmony/1/vertex'
export const SYNC_PROTOCOL = '/harmony/dag/sync/1.0.0'
export const AVALANCHE_PROTOCOL = '/harmony/avalanche/1.0.0'
/** Non-validators hand their transactions to validators over this protocol. */
export const TX_PROTOCOL = '/harmony/dag/tx/1.0.0'
const TX_ACCEPTED = 0
const TX_REFUSED = 1
const TX_FORWARD_ATTEMPTS = 3

// Wire message types (first byte of a request).
const MSG_HELLO = 1
const MSG_QUERY = 2
/** Opens a long-lived query channel (see query-channel.ts); the frames carry MSG_QUERY bodies. */
const MSG_QUERY_CHANNEL = 3
const MSG_GET_VERTICES = 1
const MSG_GET_TIPS = 2
/** Ids per GET_VERTICES request and per query. */
const MAX_IDS_PER_REQUEST = 16
const MAX_TIPS = 256
const MAX_MESSAGE_BYTES = MAX_IDS_PER_REQUEST * (MAX_VERTEX_BYTES + 4) + 16

/** Codes that mean the sender broke the protocol (reject, score penalty); anything else is ignored. */
const REJECT_CODES = new Set(['ENCODING_INVALID', 'KIND_UNKNOWN', 'TOO_LARGE', 'PARENTS_INVALID', 'AUTHOR_UNKNOWN', 'SIGNATURE_INVALID', 'TX_CONFLICT', 'FEE_TOO_LOW', 'NONCE_UNCHAINED'])

export interface DagNetworkInit {
  /** Avalanche queries in flight at once (the same frontier vertex may be queried again while a query runs). @default 4 */
  concurrentPolls?: number
  /** Least time between the starts of two queries: bounds the CPU and bandwidth polling costs (β polls take at
   *  least β × this). @default 5 */
  pollSpacingMs?: number
  /** Time a peer has to answer a query. @default 3000 */
  queryTimeoutMs?: number
  /** How long a queried node waits to fetch an unknown vertex before answering "no". @default 1500 */
  queryFetchWaitMs?: number
  /** Mempool batching: with nothing to build, look again after this long; under load vertices follow each other
   *  back to back (up to maxBatch each). Each vertex costs a signature, a verification per node, a batch per node and
   *  about β polls: measured, 50 ms made 1–3-transaction vertices that kept 4 nodes on 2 cores saturated at 50 tx/s
   *  (finality p50 3–5 s); 200 ms gave p50 268 ms. @default 200 */
  batchIntervalMs?: number
  /** Anti-entropy: ask a random peer for its tips this often. @default 2000 */
  syncIntervalMs?: number
  /** Vertices fetched in one catch-up walk. @default 20000 */
  maxFetchPerWalk?: number
}

export interface DagNetworkComponents {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  ledger: DagLedger
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  logger: Logger
  metrics?: DagMetrics
}

interface ValidatorPeer {
  peerId: PeerId
  validatorKeyHex: string
  weight: number
}

/**
 * The ledger on the wire: gossip of new vertices with a validator, the sync protocol (vertices by id, tips), the
 * Avalanche query protocol (with a hello that binds a libp2p peer to its validator key), the poll loop and the
 * batcher that turns the mempool into this node's vertices.
 */
export class DagNetwork implements Startable {
  private readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  private readonly ledger: DagLedger
  private readonly identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  private readonly log: Logger
  private readonly metrics?: DagMetrics
  private readonly concurrentPolls: number
  private readonly pollSpacingMs: number
  private readonly queryTimeoutMs: number
  private readonly queryFetchWaitMs: number
  private readonly batchIntervalMs: number
  private readonly syncIntervalMs: number
  private readonly maxFetchPerWalk: number
  private readonly peers = new Map<string, ValidatorPeer>()
  private readonly weights = new Map<string, number>()
  private readonly channels = new Map<string, QueryChannelClient>()
  /** gossiped vertices whose validation is under way */
  private readonly validating = new Map<string, Promise<void>>()
  private abort = new AbortController()
  private running = false
  private topologyId: string | undefined
  private wake: (() => void) | undefined
  private readonly loops: Array<Promise<void>> = []
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { void this.hello(evt.detail) }
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const key = evt.detail.toString()
    this.peers.delete(key)
    this.channels.get(key)?.close()
    this.channels.delete(key)
  }
  private readonly onInserted = (): void => { this.wake?.() }

  constructor (components: DagNetworkComponents, init: DagNetworkInit = {}) {
    this.libp2p = components.libp2p
    this.ledger = components.ledger
    this.identity = components.identity
    this.log = components.logger.child({ module: 'dag-net' })
    if (components.metrics !== undefined) this.metrics = components.metrics
    this.concurrentPolls = init.concurrentPolls ?? 4
    this.pollSpacingMs = init.pollSpacingMs ?? 5
    this.queryTimeoutMs = init.queryTimeoutMs ?? 3000
    this.queryFetchWaitMs = init.queryFetchWaitMs ?? 1500
    this.batchIntervalMs = init.batchIntervalMs ?? 200
    this.syncIntervalMs = init.syncIntervalMs ?? 2000
    this.maxFetchPerWalk = init.maxFetchPerWalk ?? 20000
    for (const v of this.ledger.genesis.validators) this.weights.set(toHex(v.publicKey), v.weight)
  }

  /** Validator peers this node can query (bound to their key by the hello). */
  validatorPeers (): string[] { return [...this.peers.keys()] }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    const pubsub = this.libp2p.services.pubsub
    pubsub.topicValidators.set(VERTEX_TOPIC, async (peer, msg) => await this.validateGossip(peer, msg))
    pubsub.subscribe(VERTEX_TOPIC)
    await this.libp2p.handle(SYNC_PROTOCOL, (stream, conn) => { void this.handleSync(stream, conn.remotePeer) }, { maxInboundStreams: 64 })
    await this.libp2p.handle(AVALANCHE_PROTOCOL, (stream, conn) => { void this.handleAvalanche(stream, conn.remotePeer) }, { maxInboundStreams: 128 })
    await this.libp2p.handle(TX_PROTOCOL, (stream) => { void this.respond(stream, async (req) => await this.answerTx(req)) }, { maxInboundStreams: 32 })
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    // a peer that connected before its ledger was up announces the protocol later (identify push): the
    // topology fires then, so the hello is not lost to that race
    this.topologyId = await this.libp2p.register(AVALANCHE_PROTOCOL, { onConnect: (peer) => { void this.hello(peer) } })
    this.ledger.on('vertex:inserted', this.onInserted)
    for (const p of this.libp2p.getPeers()) void this.hello(p)
    this.loops.push(this.pollLoop(), this.batchLoop(), this.syncLoop())
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.abort.abort()
    this.wake?.()
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.topologyId !== undefined) this.libp2p.unregister(this.topologyId)
    this.topologyId = undefined
    this.ledger.off('vertex:inserted', this.onInserted)
    for (const ch of this.channels.values()) ch.close()
    this.channels.clear()
    const pubsub = this.libp2p.services.pubsub
    pubsub.topicValidators.delete(VERTEX_TOPIC)
    pubsub.unsubscribe(VERTEX_TOPIC)
    await this.libp2p.unhandle([SYNC_PROTOCOL, AVALANCHE_PROTOCOL, TX_PROTOCOL])
    await Promise.allSettled(this.loops.splice(0))
  }

  private async sleep (ms: number): Promise<void> {
    if (!this.running) return
    await new Promise<void>(resolve => {
      const t = setTimeout(done, ms)
      function done (): void { clearTimeout(t); resolve() }
      this.wake = done
    })
  }

  // ---------------------------------------------------------------- gossip

  async publish (info: VertexInfo): Promise<void> {
    try {
      await this.libp2p.services.pubsub.publish(VERTEX_TOPIC, info.encoded)
    } catch (err) {
      this.log.debug({ err }, 'publish failed; peers will fetch the vertex by sync')
    }
  }

  private async validateGossip (peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const result = await this.classify(peer, msg.data)
    this.metrics?.gossipResults.inc({ result: result.result, code: result.code })
    return result.result
  }

  private async classify (peer: PeerId, data: Uint8Array): Promise<{ result: TopicValidatorResult, code: string }> {
    try {
      if (data.length > MAX_VERTEX_BYTES) return { result: TopicValidatorResult.Reject, code: 'TOO_LARGE' }
      const info = vertexInfo(data)
      if (this.ledger.hasVertex(info.idHex) || this.validating.has(info.idHex)) return { result: TopicValidatorResult.Ignore, code: 'KNOWN' }
      const validation = (async () => {
        await this.ledger.checkStandalone(info)
        const missing = this.ledger.missingParents(info)
        if (missing.length > 0) await this.fetchMissing(peer, missing)
        await this.ledger.insertVertex(info)
      })()
      this.validating.set(info.idHex, validation)
      try { await validation } finally { this.validating.delete(info.idHex) }
      return { result: TopicValidatorResult.Accept, code: 'OK' }
    } catch (err) {
      if (isDagError(err)) {
        return { result: REJECT_CODES.has(err.code) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore, code: err.code }
      }
      // Our own failure (storage, bug): never punish the peer for it.
      this.log.warn({ err }, 'unexpected error validating a gossiped vertex')
      return { result: TopicValidatorResult.Ignore, code: 'INTERNAL' }
    }
  }

  // ---------------------------------------------------------------- transaction forwarding

  /** A validator takes a transaction from a non-validator peer: `0 ‖ tx id` or `1 ‖ JSON {code, message}`. */
  private async answerTx (req: Uint8Array): Promise<Uint8Array> {
    try {
      return concatBytes(new Uint8Array([TX_ACCEPTED]), utf8.encode(await this.ledger.submitTransaction(req)))
    } catch (err) {
      const refusal = isDagError(err)
        ? { code: err.code, message: err.message }
        : { code: 'NOT_RUNNING', message: 'the validator could not take the transaction' }
      return concatBytes(new Uint8Array([TX_REFUSED]), utf8.encode(JSON.stringify(refusal)))
    }
  }

  /**
   * A node outside the validator set issues no vertices: it hands a transaction to up to three bound validator
   * peers (random order) and returns the id the first one accepted it under. A validator's refusal (bad nonce,
   * balance...) is final and comes back with its code; an unreachable validator is skipped.
   */
  async forwardTransaction (encoded: Uint8Array): Promise<string> {
    const validators = [...this.peers.values()]
    for (let i = validators.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      ;[validators[i], validators[j]] = [validators[j], validators[i]]
    }
    for (const peer of validators.slice(0, TX_FORWARD_ATTEMPTS)) {
      let res: Uint8Array
      try {
        res = await this.request(peer.peerId, TX_PROTOCOL, encoded, this.queryTimeoutMs)
      } catch (err) {
        this.log.debug({ err, peer: peer.peerId.toString() }, 'forwarding a transaction failed; trying another validator')
        continue
      }
      const body = new TextDecoder().decode(res.subarray(1))
      if (res[0] === TX_ACCEPTED && /^[0-9a-f]{64}$/.test(body)) return body
      if (res[0] === TX_REFUSED) {
        let refusal: { code?: unknown, message?: unknown } = {}
        try { refusal = JSON.parse(body) as typeof refusal } catch {}
        if (isDagErrorCode(refusal.code) && typeof refusal.message === 'string') {
          throw new DagError(refusal.code, `validator refused the transaction: ${refusal.message.slice(0, 512)}`)
        }
      }
      this.log.debug({ peer: peer.peerId.toString() }, 'validator sent a malformed answer to a forwarded transaction')
    }
    throw new DagError('NOT_VALIDATOR', 'this node is not a validator and no validator peer took the transaction; try again or send it to a validator node')
  }

  // ---------------------------------------------------------------- request/response plumbing

  private async request (peer: PeerId, protocol: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)])
    const stream = await this.libp2p.dialProtocol(peer, protocol, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
      await lp.write(body, { signal })
      const res = await lp.read({ signal })
      await stream.close({ signal }).catch(() => undefined)
      return res.subarray()
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  private async respond (stream: Stream, handler: (req: Uint8Array) => Promise<Uint8Array>): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.queryTimeoutMs + this.queryFetchWaitMs)])
    try {
      const lp = lpStream(stream, { maxDataLength: 64 * 1024 })
      const req = (await lp.read({ signal })).subarray()
      const res = await handler(req)
      await lp.write(res, { signal })
      await stream.close({ signal }).catch(() => undefined)
    } catch (err) {
      this.log.debug({ err }, 'stream request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  // ---------------------------------------------------------------- sync protocol

  private async handleSync (stream: Stream, _peer: PeerId): Promise<void> {
    await this.respond(stream, async (req) => {
      const r = new Reader(req, 'sync request')
      const type = r.u8()
      if (type === MSG_GET_TIPS) {
        r.end()
        const tips = this.ledger.tips().slice(0, MAX_TIPS)
        const w = new Writer(2 + tips.length * 32).u16(tips.length)
        for (const t of tips) w.fixed(fromHex(t), HASH_BYTES)
        return w.finish()
      }
      if (type !== MSG_GET_VERTICES) r.fail('unknown request type')
      const n = r.u16()
      if (n > MAX_IDS_PER_REQUEST) r.fail('too many ids')
      const ids: string[] = []
      for (let i = 0; i < n; i++) ids.push(toHex(r.fixed(HASH_BYTES)))
      r.end()
      const found: Uint8Array[] = []
      for (const id of ids) {
        const b = await this.ledger.getVertexBytes(id)
        if (b !== undefined) found.push(b)
      }
      const w = new Writer(1024).u16(found.length)
      for (const b of found) w.varBytes(b)
      return w.finish()
    })
  }

  private async getVertices (peer: PeerId, ids: string[]): Promise<VertexInfo[]> {
    const w = new Writer(3 + ids.length * 32).u8(MSG_GET_VERTICES).u16(ids.length)
    for (const id of ids) w.fixed(fromHex(id), HASH_BYTES)
    const res = await this.request(peer, SYNC_PROTOCOL, w.finish(), this.queryTimeoutMs)
    const r = new Reader(res, 'sync response')
    const n = r.u16()
    if (n > ids.length) r.fail('more vertices than requested')
    const want = new Set(ids)
    const out: VertexInfo[] = []
    for (let i = 0; i < n; i++) {
      const info = vertexInfo(r.varBytes(MAX_VERTEX_BYTES))
      if (!want.has(info.idHex)) throw new DagError('PROTOCOL_ERROR', 'peer sent a vertex that was not requested')
      out.push(info)
    }
    r.end()
    return out
  }

  private async getTips (peer: PeerId): Promise<string[]> {
    const res = await this.request(peer, SYNC_PROTOCOL, new Uint8Array([MSG_GET_TIPS]), this.queryTimeoutMs)
    const r = new Reader(res, 'tips response')
    const n = r.u16()
    if (n > MAX_TIPS) r.fail('too many tips')
    const out: string[] = []
    for (let i = 0; i < n; i++) out.push(toHex(r.fixed(HASH_BYTES)))
    r.end()
    return out
  }

  /**
   * Fetches `ids` and their unknown ancestors from `peer` (bounded), checks each vertex fully, and inserts them
   * parents first. A vertex that fails its checks aborts the walk with that error.
   */
  async fetchMissing (peer: PeerId, ids: string[]): Promise<number> {
    const fetched = new Map<string, VertexInfo>()
    let queue = ids.filter(id => !this.ledger.hasVertex(id) && id !== this.ledger.genesisIdHex)
    while (queue.length > 0 && this.running) {
      if (fetched.size + queue.length > this.maxFetchPerWalk) throw new DagError('QUEUE_FULL', 'catch-up walk exceeds its bound')
      const next: string[] = []
      for (let i = 0; i < queue.length; i += MAX_IDS_PER_REQUEST) {
        const batch = queue.slice(i, i + MAX_IDS_PER_REQUEST)
        const got = await this.getVertices(peer, batch)
        if (got.length < batch.length) throw new DagError('PARENT_MISSING', 'peer does not have the requested ancestors')
        await Promise.all(got.map(async info => await this.ledger.checkStandalone(info)))
        for (const info of got) {
          fetched.set(info.idHex, info)
          for (const p of info.parentHex) {
            if (!this.ledger.hasVertex(p) && !fetched.has(p) && p !== this.ledger.genesisIdHex) next.push(p)
          }
        }
      }
      queue = [...new Set(next)].filter(id => !fetched.has(id))
    }
    // insert parents first
    let pending = [...fetched.values()]
    let inserted = 0
    while (pending.length > 0) {
      const ready = pending.filter(i => i.parentHex.every(p => this.ledger.hasVertex(p)))
      if (ready.length === 0) break
      for (const info of ready) if (await this.ledger.insertVertex(info)) inserted++
      pending = pending.filter(i => !this.ledger.hasVertex(i.idHex))
    }
    return inserted
  }

  /** Asks `peer` for its tips and fetches whatever is missing. */
  async syncWith (peer: PeerId): Promise<number> {
    const tips = await this.getTips(peer)
    const missing = tips.filter(t => !this.ledger.hasVertex(t) && t !== this.ledger.genesisIdHex)
    if (missing.length === 0) return 0
    return await this.fetchMissing(peer, missing)
  }

  private async syncLoop (): Promise<void> {
    while (this.running) {
      const peers = [...this.peers.values()]
      if (peers.length > 0) {
        const p = peers[randomInt(peers.length)]
        try { await this.syncWith(p.peerId) } catch (err) { this.log.debug({ err }, 'anti-entropy sync failed') }
      }
      await this.sleepFixed(this.syncIntervalMs)
    }
  }

  private async sleepFixed (ms: number): Promise<void> {
    if (!this.running) return
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, ms)
      this.abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
    })
  }

  // ---------------------------------------------------------------- avalanche protocol

  private helloMessage (challenge: Uint8Array, peerId: string): Uint8Array {
    return signingMessage('HARMONY/hello/v1', this.ledger.chainId, new Uint8Array([...challenge, ...utf8.encode(peerId)]))
  }

  /** Binds a connected peer to its validator key: it signs our challenge and its own peer id. */
  private async hello (peer: PeerId): Promise<void> {
    if (!this.running || this.peers.has(peer.toString())) return
    for (let attempt = 0; attempt < 3 && this.running; attempt++) {
      try {
        const challenge = randomBytes(32)
        const res = await this.request(peer, AVALANCHE_PROTOCOL, new Writer(33).u8(MSG_HELLO).fixed(challenge, 32).finish(), this.queryTimeoutMs)
        const r = new Reader(res, 'hello response')
        const publicKey = r.fixed(ML_DSA65_PUBLIC_KEY_BYTES)
        const sig = r.fixed(ML_DSA65_SIGNATURE_BYTES)
        r.end()
        const keyHex = toHex(publicKey)
        const weight = this.weights.get(keyHex)
        if (weight === undefined || bytesEqual(publicKey, this.identity.publicKey)) return
        const [ok] = await this.ledgerVerify(sig, this.helloMessage(challenge, peer.toString()), publicKey)
        if (ok !== true) { this.log.warn({ peer: peer.toString() }, 'hello signature invalid'); return }
        this.peers.set(peer.toString(), { peerId: peer, validatorKeyHex: keyHex, weight })
        this.log.debug({ peer: peer.toString() }, 'validator peer bound')
        void this.syncWith(peer).catch(err => { this.log.debug({ err }, 'initial sync failed') })
        this.wake?.()
        return
      } catch (err) {
        this.log.debug({ err, attempt }, 'hello failed')
        await this.sleepFixed(200 * (attempt + 1))
      }
    }
  }

  private async ledgerVerify (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): Promise<boolean[]> {
    return await this.ledger.verifier.verifyBatch([{ sig, msg, publicKey }])
  }

  private async handleAvalanche (stream: Stream, peer: PeerId): Promise<void> {
    const signal = this.abort.signal
    try {
      const lp = lpStream(stream, { maxDataLength: 64 * 1024 })
      const first = (await lp.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.queryTimeoutMs)]) })).subarray()
      const r = new Reader(first, 'avalanche request')
      const type = r.u8()
      if (type === MSG_QUERY_CHANNEL) {
        r.end()
        await serveQueryChannel(stream, lp, async (body) => await this.answerQuery(peer, body), signal)
        return
      }
      if (type !== MSG_HELLO) r.fail('unknown request type')
      const challenge = r.fixed(32)
      r.end()
      const sig = sign(this.helloMessage(challenge, this.libp2p.peerId.toString()), this.identity.secretKey)
      await lp.write(new Writer(5300).fixed(this.identity.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).fixed(sig, ML_DSA65_SIGNATURE_BYTES).finish(), { signal })
      await stream.close({ signal }).catch(() => undefined)
    } catch (err) {
      this.log.debug({ err }, 'avalanche stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** A query: `u8 MSG_QUERY || u8 n || n ids`. Answer: this node's preferred frontier, `u8 n || n ids`. */
  private async answerQuery (peer: PeerId, req: Uint8Array): Promise<Uint8Array> {
    const r = new Reader(req, 'avalanche query')
    if (r.u8() !== MSG_QUERY) r.fail('unknown request type')
    const n = r.u8()
    if (n < 1 || n > MAX_IDS_PER_REQUEST) r.fail('bad id count')
    const ids: string[] = []
    for (let i = 0; i < n; i++) ids.push(toHex(r.fixed(HASH_BYTES)))
    r.end()
    // A vertex still being validated from gossip is awaited rather than fetched a second time.
    await Promise.all(ids.map(async id => await this.validating.get(id)?.catch(() => undefined)))
    const unknown = ids.filter(id => !this.ledger.hasVertex(id))
    if (unknown.length > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.fetchMissing(peer, unknown).catch(err => { this.log.debug({ err }, 'query fetch failed') }),
        new Promise(resolve => { timer = setTimeout(resolve, this.queryFetchWaitMs) })
      ])
      clearTimeout(timer)
    }
    const frontier = this.ledger.preferredFrontier(ids[0], MAX_IDS_PER_REQUEST)
    const w = new Writer(1 + frontier.length * 32).u8(frontier.length)
    for (const id of frontier) w.fixed(fromHex(id), HASH_BYTES)
    return w.finish()
  }

  private async channel (peer: PeerId): Promise<QueryChannelClient> {
    const key = peer.toString()
    const existing = this.channels.get(key)
    if (existing !== undefined && !existing.closed) return existing
    const stream = await this.libp2p.dialProtocol(peer, AVALANCHE_PROTOCOL, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.queryTimeoutMs)]) })
    const again = this.channels.get(key)
    if (again !== undefined && !again.closed) { stream.abort(new Error('duplicate channel')); return again }
    const ch = new QueryChannelClient(stream, new Uint8Array([MSG_QUERY_CHANNEL]))
    this.channels.set(key, ch)
    return ch
  }

  private sample (k: number): ValidatorPeer[] {
    // Weighted sampling without replacement (Efraimidis–Spirakis keys), from a CSPRNG so a peer cannot predict
    // which validators a node will query
    return [...this.peers.values()]
      .map(p => ({ p, key: unitRandom() ** (1 / p.weight) }))
      .sort((a, b) => b.key - a.key)
      .slice(0, k)
      .map(x => x.p)
  }

  private async poll (vertexId: string): Promise<void> {
    const params = this.ledger.genesis.consensus
    const soleValidator = this.weights.size === 1 && this.weights.has(toHex(this.identity.publicKey))
    if (soleValidator) {
      this.metrics?.polls.inc({ result: 'success' })
      await this.ledger.recordPoll(vertexId, true)
      return
    }
    const k = Math.min(params.k, this.peers.size)
    if (k === 0) { await this.sleepFixed(100); return }
    // α scaled with k, and always a strict majority of the sample.
    const alpha = Math.max(Math.floor(k / 2) + 1, Math.floor(params.alpha * k / params.k))
    const sampled = this.sample(k)
    const body = new Writer(34).u8(MSG_QUERY).u8(1).fixed(fromHex(vertexId), HASH_BYTES).finish()
    const frontiers = await Promise.all(sampled.map(async p => {
      try {
        const ch = await this.channel(p.peerId)
        const res = await ch.request(body, this.queryTimeoutMs + this.queryFetchWaitMs)
        const r = new Reader(res, 'query response')
        const n = r.u8()
        if (n > MAX_IDS_PER_REQUEST) r.fail('too many ids')
        const ids: string[] = []
        for (let i = 0; i < n; i++) ids.push(toHex(r.fixed(HASH_BYTES)))
        r.end()
        return ids
      } catch {
        return []
      }
    }))
    const success = await this.ledger.recordVotes(vertexId, frontiers, alpha)
    this.metrics?.polls.inc({ result: success ? 'success' : 'fail' })
  }

  private async pollLoop (): Promise<void> {
    const inflight = new Set<Promise<void>>()
    let cursor = 0
    while (this.running) {
      const candidates = this.ledger.pollCandidates()
      this.metrics?.processing.set(this.ledger.core.processingCount)
      this.metrics?.conflicts.set(this.ledger.core.conflictsSeen)
      if (candidates.length === 0 || inflight.size >= this.concurrentPolls) {
        if (inflight.size > 0) await Promise.race([...inflight, this.sleep(50)])
        else await this.sleep(50)
        continue
      }
      const id = candidates[cursor++ % candidates.length]
      const p = this.poll(id).catch(err => { this.log.warn({ err }, 'poll failed') }).finally(() => {
        inflight.delete(p)
      })
      inflight.add(p)
      await this.sleepFixed(this.pollSpacingMs)
    }
    await Promise.allSettled([...inflight])
  }

  private async batchLoop (): Promise<void> {
    while (this.running) {
      try {
        const info = await this.ledger.buildVertex()
        if (info !== undefined) {
          await this.publish(info)
          continue
        }
      } catch (err) {
        this.log.warn({ err }, 'building a vertex failed')
      }
      await this.sleepFixed(this.batchIntervalMs)
    }
  }
}

/** A uniform double in (0, 1) from the OS CSPRNG (53 random bits). */
function unitRandom (): number {
  const b = randomBytes(8)
  const hi = b.readUInt32BE(0) >>> 5
  const lo = b.readUInt32BE(4) >>> 6
  return (hi * 67108864 + lo + 1) / (9007199254740992 + 2)
}
