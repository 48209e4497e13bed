import type { EventEmitter } from 'node:events'
import { toHex } from '../core/codec.ts'
import type { ConsensusCore, Decisions } from './consensus/core.ts'
import type { VertexStages } from './consensus/stages.ts'
import type { LedgerEvents } from './events.ts'
import type { LedgerState } from './ledger-state.ts'
import type { Mempool } from './mempool.ts'
import type { DagMetrics } from './metrics.ts'
import type { Logger } from '../core/logger.ts'
import type { ProcessingIndex } from './processing.ts'
import { DagError } from './errors.ts'
import { FinalClock } from './final-clock.ts'
import { type DagBatch, type DagStore, ORDER_REFUSALS, type TxRecord } from './store.ts'
import type { TxInfo } from './tx.ts'
import { requireTxKind, type FinalRecord } from './tx-kinds.ts'

/** A decided transaction as a `txDecisionRecords` hook sees it. */
export interface TxDecision {
  status: 'final' | 'rejected'
  /** The vertex that decided it: the accepted vertex holding it, or the rejected vertex in which it lost its conflict. */
  vertexIdHex: string
  /** Why it was rejected; 'none' when final. */
  reason: string
  /** This node's acceptance order of the deciding round's last accepted vertex, then the position in the vertex. */
  seq: bigint
  position: number
  decidedAtMs: number
}

export interface DecisionRecordsInit {
  /**
   * Records a part above the ledger keeps about every decided transaction (the webhooks' outbox), written in the
   * batch that commits the decision, so they exist exactly when the decision does, whatever moment a kill -9 hits.
   * Keys must come from the storage table; return [] to write nothing. @default none
   */
  txDecisionRecords?: (tx: TxInfo, decision: TxDecision) => FinalRecord[]
}

export interface LedgerCounters { acceptedVertices: bigint, rejectedVertices: bigint, finalTxs: bigint, rejectedTxs: bigint }

export interface DecisionWriterComponents {
  store: DagStore
  state: LedgerState
  core: ConsensusCore
  processing: ProcessingIndex
  mempool: Mempool
  /** The ledger's event emitter: tx:final, tx:rejected, vertex:accepted fire after the commit. */
  events: EventEmitter<LedgerEvents>
  metrics?: DagMetrics
  logger?: Logger
  /** Commit decision batches with fsync, so what was reported final survives a power loss. @default false */
  syncWrites?: boolean
  /** Told each accepted vertex's finality latency (first seen to committed), after the commit: admission control. */
  onFinality?: (latencyMs: number) => void
  /** The genesis validators' keys: the final clock (final-clock.ts) follows their accepted vertices. @default [] */
  validators?: readonly Uint8Array[]
  txDecisionRecords?: DecisionRecordsInit['txDecisionRecords']
  /**
   * The commit rule: what must happen before a slot with these vertices is applied (order-checkers.ts: a part's
   * state catching up with what the order committed before the slot), or undefined when nothing. @default none
   */
  orderReady?: (vertexIds: readonly string[]) => (() => Promise<void>) | undefined
}

/** One batch of a persist: accepted vertices of whole slots (the last part takes the rejected ones too). */
interface Part { accepted: string[], rejected: string[], ready?: () => Promise<void> }

/** Under the commit rule: the slot that ordered each accepted vertex of a persist, and whether it led it. */
type SlotsOf = Map<string, { slot: number, leads: boolean }>

function slotsOf (d: Decisions): SlotsOf | undefined {
  if (d.slots === undefined || d.slotStarts === undefined || d.slots.length !== d.slotStarts.length) return undefined
  const out: SlotsOf = new Map()
  for (const [i, start] of d.slotStarts.entries()) {
    const { number, leader } = d.slots[i]
    for (const id of d.accepted.slice(start, d.slotStarts[i + 1] ?? d.accepted.length)) out.set(id, { slot: number, leads: id === leader })
  }
  return out
}

/** Memory that a round changes, adopted only after its batch committed. */
interface RoundDraft {
  counters: LedgerCounters
  seq: bigint
  lastAccepted: string
  /** transactions decided earlier in this round */
  decidedTxs: Set<string>
  /** the final clock after this round (written with it; the committed one moves after the commit) */
  clock: FinalClock
  clockMoved: boolean
}

/**
 * Persists consensus decisions: one LevelDB batch per round holds, for each accepted vertex (in order), its
 * decision, the account changes (LedgerState.applyVertex) and the transaction outcomes; for each rejected vertex
 * its decision and the transactions that lost their conflict. Events fire and memory is pruned only after the
 * commit, so nothing is reported final before it is on disk.
 *
 * Memory changes only after the commit succeeds: the round works on a draft of the counters and on the state's
 * round overlay. If the commit fails the draft and overlay are dropped and the writer halts (the consensus core
 * has already moved on in memory, so carrying on would run ahead of disk): every later persist throws
 * STORAGE_FAILED; a restart replays from what is on disk, and since a vertex's decision, its account changes and
 * its transaction records are in one batch, replaying an undecided vertex has no double effect.
 */
export class DecisionWriter {
  private readonly c: DecisionWriterComponents
  counters: LedgerCounters = { acceptedVertices: 0n, rejectedVertices: 0n, finalTxs: 0n, rejectedTxs: 0n }
  /** Order of acceptance of the last accepted vertex. */
  seq = 0n
  /** The last accepted vertex (the genesis until one is; the ledger sets it when it loads the graph). */
  lastAccepted = ''
  /** Set when a commit failed: the ledger refuses further decisions. */
  halted: DagError | undefined

  /** How far every validator's accepted vertices reach in signed time (read by the market to close windows). */
  readonly finalClock: FinalClock

  constructor (components: DecisionWriterComponents) {
    this.c = components
    this.finalClock = new FinalClock(components.validators ?? [])
  }

  /** Reloads the counters at start. */
  async load (): Promise<void> {
    this.counters = await this.c.store.getCounters()
    this.seq = this.counters.acceptedVertices
    const clock = await this.c.store.getFinalClock()
    if (clock !== undefined && !this.finalClock.restore(clock)) this.c.logger?.warn('the stored final clock is of another validator set: it starts empty')
  }

  /**
   * Commits `d`: one batch, or under the commit rule one more at each slot that needs its parts made ready first
   * (`orderReady`), after the batch before it committed and its events fired.
   */
  async persist (d: Decisions): Promise<void> {
    if (d.accepted.length === 0 && d.rejected.length === 0) return
    if (this.halted !== undefined) throw this.halted
    const slots = slotsOf(d)
    for (const part of this.parts(d)) {
      if (part.ready !== undefined) {
        try {
          await part.ready()
        } catch (err) {
          // the core decided these slots in memory: going on without them would run ahead of disk (as a failed commit)
          this.halted = new DagError('STORAGE_FAILED', 'a part could not check a committed slot; the ledger stopped deciding (restart the node to replay from disk)', {}, { cause: err })
          this.c.logger?.error({ err }, 'making the order checks ready failed: the ledger stops deciding until restarted')
          throw this.halted
        }
      }
      await this.commitPart(part, slots)
    }
  }

  /** `d` cut at the slots that need a part made ready (each such slot starts a part); the rejected go last. */
  private parts (d: Decisions): Part[] {
    const orderReady = this.c.orderReady
    if (orderReady === undefined || d.slotStarts === undefined || d.slotStarts.length === 0) return [{ accepted: d.accepted, rejected: d.rejected }]
    const parts: Part[] = []
    let cur: Part = { accepted: [], rejected: [] }
    const starts = d.slotStarts[0] === 0 ? d.slotStarts : [0, ...d.slotStarts]
    for (const [i, start] of starts.entries()) {
      const slot = d.accepted.slice(start, starts[i + 1] ?? d.accepted.length)
      const ready = orderReady(slot)
      if (ready !== undefined) {
        if (cur.accepted.length > 0) parts.push(cur)
        cur = { accepted: [], rejected: [], ready }
      }
      cur.accepted.push(...slot)
    }
    cur.rejected = d.rejected
    parts.push(cur)
    return parts
  }

  private async commitPart (d: Part, slots: SlotsOf | undefined): Promise<void> {
    const { store, state } = this.c
    const b = store.batch()
    const after: Array<() => void> = []
    const draft: RoundDraft = { counters: { ...this.counters }, seq: this.seq, lastAccepted: this.lastAccepted, decidedTxs: new Set(), clock: this.finalClock.copy(), clockMoved: false }
    state.beginRound()
    try {
      for (const id of d.accepted) await this.applyAccepted(b, id, after, draft, slots?.get(id))
      for (const id of d.rejected) await this.applyRejected(b, id, after, draft)
      store.putCounters(b, draft.counters)
      if (draft.clockMoved) store.putFinalClock(b, draft.clock.encode())
      await b.commit({ sync: this.c.syncWrites === true })
    } catch (err) {
      state.abortRound()
      this.halted = new DagError('STORAGE_FAILED', 'committing a consensus decision failed; the ledger stopped deciding (restart the node to replay from disk)', {}, { cause: err })
      this.c.logger?.error({ err }, 'committing a consensus decision failed: the ledger stops deciding until restarted')
      throw this.halted
    }
    state.commitRound()
    this.counters = draft.counters
    this.seq = draft.seq
    this.lastAccepted = draft.lastAccepted
    for (const fn of after) fn()
  }

  private async applyAccepted (b: DagBatch, idHex: string, after: Array<() => void>, draft: RoundDraft, slot: { slot: number, leads: boolean } | undefined): Promise<void> {
    const { store, state, core, processing, mempool, events, metrics } = this.c
    const stages = core.takeStages(idHex)
    const info = processing.get(idHex)
    if (info === undefined) return
    const now = Date.now()
    draft.seq++
    store.putDecision(b, info.id, { status: 'accepted', seq: draft.seq, ...(slot !== undefined ? { slot: slot.slot } : {}) })
    if (slot?.leads === true) store.putSlotLeader(b, slot.slot, info.id)
    const outcomes: Awaited<ReturnType<LedgerState['applyVertex']>> = []
    for (const o of await state.applyVertex(b, info)) {
      // the commit rule orders every vertex, so the same transaction may come twice (two vertices carried it): the
      // first decided it, the second is no outcome at all
      if (o.reason === 'nonce' && (draft.decidedTxs.has(o.info.idHex) || ((await store.getTxRecord(o.info.id))?.status ?? 'pending') !== 'pending')) continue
      outcomes.push(o)
      draft.decidedTxs.add(o.info.idHex)
    }
    for (const [position, o] of outcomes.entries()) {
      // a transaction refused for a nonce an earlier one consumed, or by its order check (the nonce stays unused),
      // decides nothing about that (account, nonce)
      if (o.reason !== 'nonce' && !ORDER_REFUSALS.has(o.reason)) store.putConflictDecision(b, o.info.account, o.info.tx.nonce, info.id, o.info.id)
      const rec: TxRecord = { status: o.ok ? 'final' : 'rejected', vertexId: info.id, reason: o.reason, decidedAtMs: BigInt(now) }
      store.putTxRecord(b, o.info.id, rec)
      if (o.ok) {
        draft.counters.finalTxs++
        // a kind's derived records (the bridge's "withdraw owed") commit with the decision or not at all
        const at = { idHex: o.info.idHex, vertexIdHex: idHex, vertexTimeMs: info.vertex.timestampMs, seq: draft.seq, position, encoded: o.info.encoded, payload: o.info.tx.payload }
        for (const r of requireTxKind(o.info.tx.kind).finalRecords?.(at) ?? []) b.put(store.sublevelOf(r.sublevel), r.key, r.value)
      } else draft.counters.rejectedTxs++
      this.decisionRecords(b, o.info, { status: o.ok ? 'final' : 'rejected', vertexIdHex: idHex, reason: o.reason, seq: draft.seq, position, decidedAtMs: now })
    }
    draft.counters.acceptedVertices++
    draft.lastAccepted = idHex
    if (draft.clock.observe(info.vertex.author, info.vertex.timestampMs)) draft.clockMoved = true
    const received = processing.firstSeenMs(idHex)
    const seq = draft.seq
    after.push(() => {
      processing.drop(info)
      this.finalClock.observe(info.vertex.author, info.vertex.timestampMs)
      metrics?.verticesAccepted.inc()
      if (received !== undefined) {
        metrics?.finalitySeconds.observe((Date.now() - received) / 1000)
        this.c.onFinality?.(Date.now() - received)
        if (metrics !== undefined && stages !== undefined) observePhases(metrics, received, stages, Date.now())
      }
      for (const [position, o] of outcomes.entries()) {
        mempool.remove(o.info.idHex)
        core.prune(o.info.conflictKey)
        if (o.ok) events.emit('tx:final', o.info, idHex, { vertexTimeMs: info.vertex.timestampMs, seq, position })
        else events.emit('tx:rejected', o.info, o.reason)
      }
      metrics?.txsFinal.inc(outcomes.filter(o => o.ok).length)
      events.emit('vertex:accepted', idHex)
    })
  }

  private async applyRejected (b: DagBatch, idHex: string, after: Array<() => void>, draft: RoundDraft): Promise<void> {
    const { store, state, core, processing, mempool, events, metrics } = this.c
    const info = processing.get(idHex)
    if (info === undefined) return
    store.putDecision(b, info.id, { status: 'rejected', seq: 0n })
    const lost: TxInfo[] = []
    const reissue: TxInfo[] = []
    for (const [position, t] of info.txs.entries()) {
      // The winner of this (account, nonce), if decided: the consensus core still holds the set (pruning
      // happens after this batch), and a decision always consumes the account's nonce.
      let winner = core.decidedTxId(t.conflictKey)
      if (winner === undefined && (await state.roundAccount(t.account)).nonce > t.tx.nonce) {
        // decided in an earlier, committed batch and pruned from memory since
        const d = await store.getConflictDecision(t.account, t.tx.nonce)
        if (d !== undefined) winner = toHex(d.txId)
      }
      if (winner !== undefined && winner !== t.idHex) {
        store.putTxRecord(b, t.id, { status: 'rejected', vertexId: info.id, reason: 'conflict', decidedAtMs: BigInt(Date.now()) })
        lost.push(t)
        draft.counters.rejectedTxs++
        this.decisionRecords(b, t, { status: 'rejected', vertexIdHex: idHex, reason: 'conflict', seq: draft.seq, position, decidedAtMs: Date.now() })
      } else if (winner === undefined && processing.isOwn(idHex)) {
        reissue.push(t)
      }
    }
    draft.counters.rejectedVertices++
    after.push(() => {
      processing.drop(info)
      metrics?.verticesRejected.inc()
      for (const t of reissue) {
        try { mempool.add(t) } catch { /* mempool full: the client resubmits */ }
      }
      for (const t of lost) {
        mempool.remove(t.idHex)
        events.emit('tx:rejected', t, 'conflict')
      }
    })
  }

  private decisionRecords (b: DagBatch, tx: TxInfo, decision: TxDecision): void {
    const hook = this.c.txDecisionRecords
    if (hook === undefined) return
    let records: FinalRecord[]
    try {
      records = hook(tx, decision)
    } catch (err) {
      // a part's records are its own affair: a bug there must not stop the ledger deciding
      this.c.logger?.error({ err, tx: tx.idHex }, 'a decision-records hook failed; its records for this transaction are not written')
      return
    }
    for (const r of records) b.put(this.c.store.sublevelOf(r.sublevel), r.key, r.value)
  }
}

/** An accepted vertex's finality, first seen at `seenMs`, split at its consensus stages (each phase from the last). */
function observePhases (metrics: DagMetrics, seenMs: number, st: VertexStages, acceptedMs: number): void {
  const polled = st.polledMs ?? acceptedMs
  const chit = st.chitMs ?? polled
  const ready = st.readyMs ?? acceptedMs
  const phase = (name: string, from: number, to: number): void => { metrics.finalityPhaseSeconds.observe({ phase: name }, Math.max(0, to - from) / 1000) }
  phase('await_poll', seenMs, polled)
  phase('await_chit', polled, chit)
  phase('polls', chit, ready)
  phase('parents', ready, acceptedMs)
  metrics.vertexPolls.observe(st.polls)
}
