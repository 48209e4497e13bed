import { randomInt } from 'node:crypto'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { Startable } from '../../core/lifecycle.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { concatBytes, utf8 } from '../../core/codec.ts'
import { DagError, isDagError, isDagErrorCode } from '../errors.ts'
import type { DagLedger } from '../ledger.ts'
import { request, respond } from './request.ts'
import type { ValidatorPeers } from './validator-peers.ts'

const TX_ACCEPTED = 0
const TX_REFUSED = 1
const TX_FORWARD_ATTEMPTS = 3
/** A refusal's rule code as a validator may send it (TxAdmission's MAX_RULE_CHARS). */
const RULE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/

export interface ForwardingInit {
  /** Time a validator has to answer a forwarded transaction. @default 3000 */
  requestTimeoutMs?: number
}

export interface ForwardingComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle'>
  ledger: Pick<DagLedger, 'submitTransaction'>
  peers: Pick<ValidatorPeers, 'list'>
  logger: Logger
}

/**
 * `/harmony/dag/tx/1.0.0`: non-validators hand their transactions to validators. The server answers
 * `0 ‖ tx id` or `1 ‖ JSON {code, message}` (with `retryAfterMs` for BUSY, `rule` for TX_REFUSED).
 */
export class TxForwarding implements Startable {
  private readonly c: ForwardingComponents
  private readonly log: Logger
  private readonly requestTimeoutMs: number
  private abort = new AbortController()

  constructor (components: ForwardingComponents, init: ForwardingInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'dag-forward' })
    this.requestTimeoutMs = init.requestTimeoutMs ?? 3000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.c.libp2p.handle(PROTOCOLS.dagTx, (stream) => {
      void respond(stream, async (req) => await this.answer(req), this.requestTimeoutMs * 1.5, this.abort.signal, this.log)
    }, { maxInboundStreams: 32 })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await this.c.libp2p.unhandle(PROTOCOLS.dagTx)
  }

  /** A validator takes a transaction from a non-validator peer. */
  private async answer (req: Uint8Array): Promise<Uint8Array> {
    try {
      return concatBytes(new Uint8Array([TX_ACCEPTED]), utf8.encode(await this.c.ledger.submitTransaction(req, true)))
    } catch (err) {
      const refusal = isDagError(err)
        ? { code: err.code, message: err.message, ...(typeof err.meta.retryAfterMs === 'number' ? { retryAfterMs: err.meta.retryAfterMs } : {}), ...(typeof err.meta.rule === 'string' ? { rule: err.meta.rule } : {}) }
        : { code: 'NOT_RUNNING', message: 'the validator could not take the transaction' }
      return concatBytes(new Uint8Array([TX_REFUSED]), utf8.encode(JSON.stringify(refusal)))
    }
  }

  /**
   * A node outside the validator set issues no vertices: it hands a transaction to up to three bound validator
   * peers (random order) and returns the id the first one accepted it under. A validator's refusal (bad nonce,
   * balance...) is final and comes back with its code; an unreachable validator is skipped, and so is a BUSY one
   * (another may have room): when every one tried was busy, BUSY comes back with the shortest retryAfterMs.
   */
  async forwardTransaction (encoded: Uint8Array): Promise<string> {
    const validators: PeerId[] = this.c.peers.list().map(p => p.peerId)
    for (let i = validators.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      ;[validators[i], validators[j]] = [validators[j], validators[i]]
    }
    let busyRetryAfterMs: number | undefined
    for (const peer of validators.slice(0, TX_FORWARD_ATTEMPTS)) {
      let res: Uint8Array
      try {
        res = await request(this.c.libp2p, peer, PROTOCOLS.dagTx, encoded, this.requestTimeoutMs, this.abort.signal)
      } catch (err) {
        this.log.debug({ err, peer: peer.toString() }, 'forwarding a transaction failed; trying another validator')
        continue
      }
      const body = new TextDecoder().decode(res.subarray(1))
      if (res[0] === TX_ACCEPTED && /^[0-9a-f]{64}$/.test(body)) return body
      if (res[0] === TX_REFUSED) {
        let refusal: { code?: unknown, message?: unknown, retryAfterMs?: unknown, rule?: unknown } = {}
        try { refusal = JSON.parse(body) as typeof refusal } catch {}
        if (refusal.code === 'BUSY') {
          const after = typeof refusal.retryAfterMs === 'number' && Number.isFinite(refusal.retryAfterMs) ? Math.min(5000, Math.max(0, refusal.retryAfterMs)) : 1000
          busyRetryAfterMs = Math.min(busyRetryAfterMs ?? after, after)
          continue
        }
        if (isDagErrorCode(refusal.code) && typeof refusal.message === 'string') {
          // TX_REFUSED names the rule (the market's BID_LATE...): a bounded code, kept when it looks like one
          const rule = typeof refusal.rule === 'string' && RULE_CODE.test(refusal.rule) ? { rule: refusal.rule } : {}
          throw new DagError(refusal.code, `validator refused the transaction: ${refusal.message.slice(0, 512)}`, rule)
        }
      }
      this.log.debug({ peer: peer.toString() }, 'validator sent a malformed answer to a forwarded transaction')
    }
    if (busyRetryAfterMs !== undefined) throw new DagError('BUSY', `every validator tried is at capacity; retry after ${busyRetryAfterMs} ms`, { retryAfterMs: busyRetryAfterMs })
    throw new DagError('NOT_VALIDATOR', 'this node is not a validator and no validator peer took the transaction; try again or send it to a validator node')
  }
}
