import { randomInt } from 'node:crypto'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { concatBytes, fromHex, toHex, utf8 } from '../../core/codec.ts'
import { errorMessage } from '../../core/errors.ts'
import type { BinarySublevel } from '../../core/storage.ts'
import { DagError, type DagErrorCode, isDagError, isDagErrorCode } from '../errors.ts'
import type { DagLedger } from '../ledger.ts'
import type { DagMetrics } from '../metrics.ts'
import { type TxInfo, txInfo } from '../tx.ts'
import type { VertexInfo } from '../vertex.ts'
import { type ForwardedInit, ForwardedTxs, readStoredHeld, storedHeld } from './forwarded.ts'
import { ForwardChannels, TX_CHANNEL_HELLO } from './forward-channels.ts'
import { serveQueryChannel } from './query-channel.ts'
import { request, respond } from './request.ts'
import type { ValidatorPeers } from './validator-peers.ts'

const TX_ACCEPTED = 0
const TX_REFUSED = 1
const TX_FORWARD_ATTEMPTS = 3
/**
 * Refusals that say a validator cannot take a transaction now, not that the transaction is wrong: the next validator
 * is asked, and a held transaction stays held (sent again at its next time). BUSY also carries a retry time.
 */
const NOT_NOW: ReadonlySet<DagErrorCode> = new Set(['BUSY', 'MEMPOOL_FULL', 'QUEUE_FULL', 'VERIFY_TIMEOUT', 'VERIFIER_FAILED', 'NOT_RUNNING', 'STORAGE_FAILED'])
/** A refusal's rule code as a validator may send it (TxAdmission's MAX_RULE_CHARS). */
const RULE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/
/** How often held transactions are looked at (each is sent again only once its own time has come). */
const RESEND_TICK_MS = 1000
/** Largest forwarded transaction (a ledger request's bound) and its request id. */
const MAX_TX_FRAME_BYTES = 64 * 1024 + 4

export interface ForwardingInit {
  /** Time a validator has to answer a forwarded transaction. @default 3000 */
  requestTimeoutMs?: number
  /** What a forwarding node holds and sends again (ForwardedTxs). */
  forwarded?: ForwardedInit
}

export interface ForwardingComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  ledger: Pick<DagLedger, 'submitTransaction' | 'getTx' | 'getAccount' | 'on' | 'off'>
  peers: Pick<ValidatorPeers, 'list'>
  logger: Logger
  metrics?: Pick<DagMetrics, 'forwardedHeld' | 'forwardResends' | 'forwardGapsFilled' | 'forwardGivenUp'>
  /** Where held transactions outlive a restart (the `dagForwarded` sublevel: tx id → storedHeld); none: memory only. */
  store?: BinarySublevel
}

/** A validator's refusal of a forwarded transaction, as it came back (bounded, typed). */
interface Refusal { code: DagErrorCode, message: string, retryAfterMs: number, rule?: string, expected?: bigint }

/**
 * An account's forwards under way. They ask the validators in one order, the one that last took one of them first,
 * and each reaches its first validator after the one before it: written on that validator's channel (whose frames
 * it starts admitting in the order they came), or answered where the validator speaks only 1.0.0 (a stream per
 * transaction, which can overtake another). So a client may send an account's next transaction before the last one's
 * admission comes back, as it may to a validator (the provider agent's pipelined sender). Lives while any is under
 * way: at most one per forward in flight.
 */
interface Route { order: PeerId[], inFlight: number, last: Promise<void> }

/**
 * `/harmony/dag/tx/1.0.0`: non-validators hand their transactions to validators. The server answers
 * `0 ‖ tx id` or `1 ‖ JSON {code, message}` (with `retryAfterMs` for BUSY, `rule` for TX_REFUSED, `expected`, the
 * account's next nonce, for NONCE_GAP, NONCE_TOO_LOW and TX_CONFLICT).
 */
export class TxForwarding implements Startable {
  private readonly c: ForwardingComponents
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private readonly held: ForwardedTxs
  private abort = new AbortController()
  private timer: ReturnType<typeof setInterval> | undefined
  private resending = false
  /** ids whose stored copies are to be deleted at the next tick (a stale copy is harmless: checked when loaded) */
  private readonly unstored = new Set<string>()
  /** One forwarding channel per validator peer (ForwardChannels). */
  private readonly channels: ForwardChannels
  /** Accounts with forwards under way, by account (hex). */
  private readonly routes = new Map<string, Route>()

  constructor (components: ForwardingComponents, init: ForwardingInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-forward' })
    this.requestTimeoutMs = init.requestTimeoutMs ?? 3000
    this.held = new ForwardedTxs(init.forwarded)
    this.channels = new ForwardChannels(components.libp2p)
    if (components.store !== undefined) this.held.onDrop = (held) => { if (this.unstored.size < this.held.maxHeld * 4) this.unstored.add(held.info.idHex) }
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.c.libp2p.handle(PROTOCOLS.dagTx, (stream) => {
      void respond(stream, async (req) => await this.answer(req), this.requestTimeoutMs * 1.5, this.abort.signal, this.log)
    }, { maxInboundStreams: 32 })
    await this.c.libp2p.handle(PROTOCOLS.dagTxChannel, (stream) => {
      void serveQueryChannel(stream, { hello: TX_CHANNEL_HELLO, maxFrameBytes: MAX_TX_FRAME_BYTES, helloTimeoutMs: this.requestTimeoutMs, onError: (err) => { this.log.debug({ err }, 'forwarding channel failed') } }, async (req) => await this.answer(req), this.abort.signal)
      // a forwarding node opens one channel per validator at a time (a second only while a closed one is replaced):
      // with up to 64 requests in flight on each, a peer holds at most 128 admissions here at once (1.0.0: 32 streams)
    }, { maxInboundStreams: 2 })
    await this.load()
    this.c.ledger.on('vertex:inserted', this.onVertex)
    this.timer = setInterval(() => { void this.resendDue() }, RESEND_TICK_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearInterval(this.timer)
    this.c.ledger.off('vertex:inserted', this.onVertex)
    this.channels.closeAll()
    await this.c.libp2p.unhandle(PROTOCOLS.dagTx)
    await this.c.libp2p.unhandle(PROTOCOLS.dagTxChannel)
    await this.flushDrops()
  }

  /**
   * What this node held when it last stopped (or was killed): each is looked at once its resend time has come, like
   * any held transaction (a vertex carries it by then, or its nonce is used, or it is sent again). A stored copy that
   * does not decode is deleted.
   */
  private async load (): Promise<void> {
    const store = this.c.store
    if (store === undefined) return
    const bad: Uint8Array[] = []
    for await (const [key, value] of store.iterator({ limit: this.held.maxHeld })) {
      try {
        const { encoded, peer } = readStoredHeld(value)
        const info = txInfo(encoded)
        // stored under its id, which the deletes name: a copy under another key could never be deleted
        if (toHex(key) !== info.idHex) throw new Error('stored under another key')
        this.held.add(info, peer, Date.now())
      } catch {
        bad.push(key)
      }
    }
    if (bad.length > 0) {
      this.log.warn({ count: bad.length }, 'held forwarded transactions stored in a form that does not decode: deleted')
      await store.batch(bad.map(key => ({ type: 'del' as const, key })))
    }
    if (this.held.size > 0) this.log.info({ count: this.held.size }, 'forwarded transactions held before the restart: each is sent again unless a vertex carries it by its time')
    this.c.metrics?.forwardedHeld.set(this.held.size)
  }

  private async flushDrops (): Promise<void> {
    const store = this.c.store
    if (store === undefined || this.unstored.size === 0) return
    const ids = [...this.unstored]
    this.unstored.clear()
    try {
      await store.batch(ids.map(id => ({ type: 'del' as const, key: fromHex(id) })))
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'deleting stored copies of forwarded transactions failed; they are checked again at the next start')
    }
  }

  /** Forwarded transactions no vertex here holds yet. */
  get heldCount (): number { return this.held.size }

  private readonly onVertex = (info: VertexInfo): void => {
    if (this.held.size === 0) return
    for (const t of info.txs) this.held.drop(t.idHex)
    this.c.metrics?.forwardedHeld.set(this.held.size)
  }

  /**
   * Sends again each held transaction whose time has come and that this node still cannot place: not in a vertex
   * here, and its nonce not yet used on the account. An account's lower nonces go first, so a validator that lost
   * several gets them in order. One pass at a time.
   */
  private async resendDue (): Promise<void> {
    if (this.resending) return
    this.resending = true
    try {
      await this.flushDrops()
      for (const held of this.held.due(Date.now())) {
        if (this.abort.signal.aborted) return
        const id = held.info.idHex
        if (!this.held.has(id)) continue
        if (await this.c.ledger.getTx(id) !== undefined || (await this.c.ledger.getAccount(held.info.account)).nonce > held.info.tx.nonce) {
          this.held.drop(id)
          continue
        }
        let answer: string
        let peer: PeerId | undefined
        try {
          peer = (await this.forward(held.info, true)).peer
          answer = 'accepted'
          this.log.info({ tx: id, resends: held.resends + 1 }, 'a forwarded transaction no vertex carries was unknown to the validators asked: sent again')
        } catch (err) {
          const code = isDagError(err) ? err.code : undefined
          // a gap this node cannot fill: the nonces before it are another node's to send, and may still come
          answer = code === 'TX_KNOWN' ? 'known' : code === 'NONCE_GAP' ? 'gap' : code === 'NOT_VALIDATOR' || (code !== undefined && NOT_NOW.has(code)) ? 'unreachable' : 'refused'
          // the nonce taken, or a refusal that will not change: nothing more to send (its client sees the outcome)
          if (answer === 'refused') {
            this.held.drop(id)
            this.log.debug({ tx: id, err: errorMessage(err) }, 'a held forwarded transaction was refused when sent again: no longer watched')
          }
        }
        this.c.metrics?.forwardResends.inc({ answer })
        if (answer !== 'refused' && !this.held.attempted(held, Date.now(), peer)) {
          this.c.metrics?.forwardGivenUp.inc({ reason: 'resends_spent' })
          this.log.warn({ tx: id }, 'a forwarded transaction is still in no vertex after its last resend: no longer watched (its client can send it again)')
        }
      }
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'looking at held forwarded transactions failed; next tick tries again')
    } finally {
      this.resending = false
      this.c.metrics?.forwardedHeld.set(this.held.size)
    }
  }

  /** A validator takes a transaction from a non-validator peer. */
  private async answer (req: Uint8Array): Promise<Uint8Array> {
    try {
      return concatBytes(new Uint8Array([TX_ACCEPTED]), utf8.encode(await this.c.ledger.submitTransaction(req, true)))
    } catch (err) {
      const refusal = isDagError(err)
        ? { code: err.code, message: err.message, ...(typeof err.meta.retryAfterMs === 'number' ? { retryAfterMs: err.meta.retryAfterMs } : {}), ...(typeof err.meta.rule === 'string' ? { rule: err.meta.rule } : {}), ...(typeof err.meta.expected === 'string' ? { expected: err.meta.expected } : {}) }
        : { code: 'NOT_RUNNING', message: 'the validator could not take the transaction' }
      return concatBytes(new Uint8Array([TX_REFUSED]), utf8.encode(JSON.stringify(refusal)))
    }
  }

  /**
   * A node outside the validator set issues no vertices: it hands a transaction to up to three bound validator
   * peers and returns the id the first one accepted it under. The validator that took the account's last held
   * transaction is asked first (its mempool holds the nonces before this one); the rest in random order. A
   * validator's refusal (bad nonce, balance...) is final and comes back with its code, except a nonce gap this node
   * can fill with the account's held transactions (a validator that lost them, or never had them): those go to that
   * validator first, then this one again. An unreachable validator is skipped, and so is one that cannot take it now
   * (BUSY, a full queue, a verifier that timed out: NOT_NOW; another may have room): when every one tried was busy,
   * BUSY comes back with the shortest retryAfterMs, else the first such refusal. A transaction taken is held
   * until a vertex here carries it, and sent again while none does (ForwardedTxs); another transaction of a held one's
   * nonce is refused TX_CONFLICT here, as a validator holding it would (after a restart of this node, the validator
   * asked may be one that lost it).
   */
  async forwardTransaction (encoded: Uint8Array): Promise<string> {
    const info = txInfo(encoded)
    // a validator took another transaction of this nonce from here and no vertex carries it yet: it is sent again
    // until one does (or a refusal frees the nonce), so this one is refused here as the validator would refuse it
    const pending = this.held.at(info.accountHex, info.tx.nonce)
    if (pending !== undefined && pending.info.idHex !== info.idHex) {
      const next = this.held.nextNonce(info.accountHex) ?? info.tx.nonce + 1n
      throw new DagError('TX_CONFLICT', `nonce ${info.tx.nonce} is already used by transaction 0x${pending.info.idHex}, which this node forwarded and no vertex carries yet`, { expected: next.toString() })
    }
    const { id, peer } = await this.forward(info)
    const evicted = this.held.add(info, peer, Date.now())
    if (evicted !== undefined) {
      this.c.metrics?.forwardGivenUp.inc({ reason: 'bound' })
      this.log.debug({ tx: evicted.info.idHex }, 'forwarded transactions held at their bound: the oldest is no longer watched')
    }
    this.c.metrics?.forwardedHeld.set(this.held.size)
    // stored before the caller hears the id: a transaction reported admitted is still sent again after a kill -9
    if (this.c.store !== undefined && this.held.has(info.idHex)) {
      try {
        await this.c.store.put(info.id, storedHeld(info.encoded, peer))
      } catch (err) {
        this.log.warn({ tx: info.idHex, err: errorMessage(err) }, 'a forwarded transaction could not be stored: it is sent again only while this node runs')
      }
    }
    return id
  }

  /**
   * `resend`: the transaction was taken before and no vertex here carries it after its resend time. A validator that
   * answers TX_KNOWN then holds it without a vertex that reached this node (one that cannot build, or will not), so
   * the next validator is asked too: the same bytes, final once whichever vertices carry them.
   */
  private async forward (info: TxInfo, resend = false): Promise<{ id: string, peer: PeerId }> {
    const route = this.routeOf(info.accountHex)
    const before = route.last
    let reached = (): void => {}
    route.last = new Promise<void>(resolve => { reached = resolve })
    route.inFlight++
    try {
      await before
      let busyRetryAfterMs: number | undefined
      let notNow: Refusal | undefined
      for (const peer of route.order.slice(0, TX_FORWARD_ATTEMPTS)) {
        let answer = await this.ask(peer, info.encoded, reached)
        if (answer.refusal?.code === 'NONCE_GAP' && await this.fillGap(peer, info, answer.refusal.expected)) answer = await this.ask(peer, info.encoded)
        if (answer.id !== undefined) {
          // the account's next forwards go where this one went
          if (!route.order[0].equals(peer)) route.order = [peer, ...route.order.filter(p => !p.equals(peer))]
          return { id: answer.id, peer }
        }
        const refusal = answer.refusal
        if (refusal === undefined) continue
        if (refusal.code === 'BUSY') {
          busyRetryAfterMs = Math.min(busyRetryAfterMs ?? refusal.retryAfterMs, refusal.retryAfterMs)
          continue
        }
        if (NOT_NOW.has(refusal.code) || (resend && refusal.code === 'TX_KNOWN')) { notNow ??= refusal; continue }
        throw new DagError(refusal.code, `validator refused the transaction: ${refusal.message}`, { ...(refusal.rule === undefined ? {} : { rule: refusal.rule }), ...(refusal.expected === undefined ? {} : { expected: refusal.expected.toString() }) })
      }
      if (busyRetryAfterMs !== undefined) throw new DagError('BUSY', `every validator tried is at capacity; retry after ${busyRetryAfterMs} ms`, { retryAfterMs: busyRetryAfterMs })
      if (notNow !== undefined) throw new DagError(notNow.code, `validator refused the transaction: ${notNow.message}`)
      throw new DagError('NOT_VALIDATOR', 'this node is not a validator and no validator peer took the transaction; try again or send it to a validator node')
    } finally {
      reached()
      if (--route.inFlight === 0) this.routes.delete(info.accountHex)
    }
  }

  /** The account's route: the one under way, or a new one (the validator that took its latest held one first). */
  private routeOf (accountHex: string): Route {
    const existing = this.routes.get(accountHex)
    if (existing !== undefined) return existing
    const order: PeerId[] = this.c.peers.list().map(p => p.peerId)
    for (let i = order.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      ;[order[i], order[j]] = [order[j], order[i]]
    }
    const sticky = this.held.peerOf(accountHex)
    const at = sticky === undefined ? -1 : order.findIndex(p => p.equals(sticky))
    if (at > 0) order.unshift(...order.splice(at, 1))
    const route: Route = { order, inFlight: 0, last: Promise.resolve() }
    this.routes.set(accountHex, route)
    return route
  }

  /** Sends a validator the account's held transactions from `expected` up to this one's nonce, in order. */
  private async fillGap (peer: PeerId, info: TxInfo, expected: bigint | undefined): Promise<boolean> {
    if (expected === undefined || expected >= info.tx.nonce) return false
    const gap = this.held.range(info.accountHex, expected, info.tx.nonce)
    if (gap === undefined) return false
    for (const held of gap) {
      const answer = await this.ask(peer, held.info.encoded)
      if (answer.id === undefined && answer.refusal?.code !== 'TX_KNOWN') return false
      held.peer = peer
    }
    this.c.metrics?.forwardGapsFilled.inc()
    this.log.debug({ peer: peer.toString(), account: info.accountHex, from: expected.toString(), to: info.tx.nonce.toString() }, 'a validator lacked the account\'s earlier forwarded transactions: sent them again first')
    return true
  }

  /**
   * One validator's answer to one forwarded transaction: its id, its refusal, or neither (unreachable, malformed).
   * `reached` is called once the validator will see it before anything sent after it: written on its channel, or
   * answered over a stream of its own (not when it failed first: the account's next forward waits for the next try).
   */
  private async ask (peer: PeerId, encoded: Uint8Array, reached?: () => void): Promise<{ id?: string, refusal?: Refusal }> {
    let res: Uint8Array
    try {
      const ch = await this.channels.get(peer, this.requestTimeoutMs, this.abort.signal)
      if (ch === null) {
        res = await request(this.c.libp2p, peer, PROTOCOLS.dagTx, encoded, this.requestTimeoutMs, this.abort.signal)
        reached?.()
      } else {
        const answer = ch.request(encoded, this.requestTimeoutMs)
        reached?.()
        res = await answer
      }
    } catch (err) {
      this.log.debug({ err, peer: peer.toString() }, 'forwarding a transaction failed; trying another validator')
      return {}
    }
    const body = new TextDecoder().decode(res.subarray(1))
    if (res[0] === TX_ACCEPTED && /^[0-9a-f]{64}$/.test(body)) return { id: body }
    if (res[0] === TX_REFUSED) {
      let raw: { code?: unknown, message?: unknown, retryAfterMs?: unknown, rule?: unknown, expected?: unknown } = {}
      try { raw = JSON.parse(body) as typeof raw } catch {}
      if (raw.code === 'BUSY') {
        const after = typeof raw.retryAfterMs === 'number' && Number.isFinite(raw.retryAfterMs) ? Math.min(5000, Math.max(0, raw.retryAfterMs)) : 1000
        return { refusal: { code: 'BUSY', message: '', retryAfterMs: after } }
      }
      if (isDagErrorCode(raw.code) && typeof raw.message === 'string') {
        // TX_REFUSED names the rule (the market's BID_LATE...): a bounded code, kept when it looks like one
        const rule = typeof raw.rule === 'string' && RULE_CODE.test(raw.rule) ? raw.rule : undefined
        const expected = typeof raw.expected === 'string' && /^[0-9]{1,20}$/.test(raw.expected) ? BigInt(raw.expected) : undefined
        return { refusal: { code: raw.code, message: raw.message.slice(0, 512), retryAfterMs: 0, ...(rule === undefined ? {} : { rule }), ...(expected === undefined ? {} : { expected }) } }
      }
    }
    this.log.debug({ peer: peer.toString() }, 'validator sent a malformed answer to a forwarded transaction')
    return {}
  }
}
