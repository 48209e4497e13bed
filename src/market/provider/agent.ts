// One provider's state machine over a bid's life (decide, commit, reveal, run, answer or claim). Still over 400 lines:
// its steps share the bid record, the per-task step lock and the job queue. The parts that stand alone live beside it:
// policy, bid batches, jobs, registration, heartbeats, sender, the input-claim wait (input-claims.ts) and the making
// ready of bids left by a kill (resume.ts).
import { randomBytes } from 'node:crypto'
import { BoundedSet } from '../../core/bounded-set.ts'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../core/address.ts'
import { fromHex, toHex } from '../../core/codec.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import type { Transaction } from '../../dag/tx.ts'
import type { VertexInfo } from '../../dag/vertex.ts'
import { escrowAccount } from '../accounts.ts'
import { buildInputClaim, buildProviderRegister, buildTaskResult, type SignedBy } from '../kinds/builders.ts'
import { MAX_WINDOW_MS } from '../kinds/ids.ts'
import type { TaskView } from '../state/reader.ts'
import { BidSender } from './bid-batcher.ts'
import { type BidRecord, BidStore } from './bid-store.ts'
import { capabilityRecord } from './capability.ts'
import { CommitTimes } from './commit-times.ts'
import { measureGflops } from './challenge.ts'
import { assertFaultInjectionAllowed, type ProviderConfig } from './config.ts'
import { HeartbeatSender } from './heartbeat.ts'
import { InputClaims } from './input-claims.ts'
import { ProviderBlobError } from './blobs.ts'
import { type AwardedOutput, runAwarded } from './job.ts'
import { type Job, JobQueue } from './job-queue.ts'
import { createProviderMetrics, type ProviderMetrics } from './metrics.ts'
import { loadOf, NoBidLog, type NoBidReason, offerOf, PricingPolicy, type ProviderLoad } from './policy.ts'
import type { ProviderAgentComponents, ProviderAgentInit, ProviderStatus } from './agent-types.ts'
import { announcesIn, awardsFor, type PendingAnnounce, type PendingAward } from './pending.ts'
import { ProviderRegistration } from './registration.ts'
import { type ResumeComponents, resumeBid } from './resume.ts'
import { TxSender } from './tx-sender.ts'

// A commit submitted closer than this to the bid window's end may land in a vertex stamped after it (CommitTimes.margin).
const COMMIT_MARGIN_MS = 150
// Tasks already decided, remembered so an event storm does not decide one task twice.
const MAX_DECIDED = 10_000
// A bid whose task is unknown here past this (a restart lost the pending announce's view) is dropped: by then every
// window has closed.
const ORPHAN_COMMIT_MS = 2 * MAX_WINDOW_MS

/**
 * The provider agent: registers this node as a provider (bond from config), decides on every announce as soon as
 * its vertex is here (pending.ts: the requester's balance checked first, the escrow once final), commits a sealed
 * bid, reveals it once the bid window closes (the salt is on disk before the commit leaves), runs what it is awarded
 * (from the award's vertex on) through the executor, stores the output blob and
 * submits the result; a heartbeat on gossip says it is up. Every step is logged with the task id.
 */
export class ProviderAgent implements Startable {
  readonly address: string
  private readonly c: ProviderAgentComponents
  private readonly config: ProviderConfig
  private readonly policy: PricingPolicy
  private readonly sender: TxSender
  private readonly bidStore: BidStore
  private readonly log: Logger
  private readonly metrics: ProviderMetrics
  private readonly tickMs: number
  private readonly heartbeat: HeartbeatSender | undefined
  private readonly sweepMs: number
  private readonly unfinalRevealGraceMs: number
  private readonly noBids = new NoBidLog()
  private readonly records = new Map<string, BidRecord>()
  private readonly views = new Map<string, TaskView>()
  /** Tasks committed to on a pending announce, until it is final here (bounded by the open bids the policy allows). */
  private readonly early = new Map<string, TaskView>()
  private readonly decided = new BoundedSet(MAX_DECIDED)
  private readonly jobs: JobQueue
  private readonly busy = new Set<string>()
  private readonly registration: ProviderRegistration
  private readonly inputClaims: InputClaims
  private lastSweepMs = 0
  private readonly revealing = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  /** One-off clock runs at the end of an open commit's bid window (one per open commit at most). */
  private readonly wakes = new Set<NodeJS.Timeout>()
  private abort = new AbortController()
  private readonly onTask = (view: TaskView): void => { this.observe(view) }
  private readonly commits: CommitTimes
  /** a bid is committed, then revealed, each in a batch with other auctions' (bid-batcher.ts) */
  private readonly bids: BidSender
  private readonly onVertex = (info: VertexInfo): void => {
    this.commits.observe(info)
    for (const a of announcesIn(info, Date.now())) this.observePending(a)
    for (const a of awardsFor(info, this.address)) this.observeAward(a)
  }

  constructor (components: ProviderAgentComponents, init: ProviderAgentInit) {
    // a lying provider only ever runs on a devnet, however the agent was composed
    assertFaultInjectionAllowed(init.config, components.chainId)
    this.c = components
    this.config = init.config
    this.address = addressFromPublicKey(components.keys.publicKey)
    this.policy = new PricingPolicy(init.config)
    const account = addressBytesFromPublicKey(components.keys.publicKey)
    this.log = components.logger.child({ module: 'provider' })
    this.registration = new ProviderRegistration({
      address: this.address, bond: init.config.bond, kemPublicKey: components.kemPublicKey, fee: components.fee, market: components.market, log: this.log,
      balance: async () => (await components.ledger.account(account)).balance,
      register: async (topUp, capability) => await this.send('provider-register', undefined, by => buildProviderRegister(by, { bond: topUp, kemPublicKey: components.kemPublicKey, capability }))
    }, init.capability)
    this.commits = new CommitTimes(toHex(account))
    this.bidStore = new BidStore(components.db)
    this.sender = new TxSender({ submit: components.submit, finalNonce: async () => (await components.ledger.account(account)).nonce, signer: { chainId: components.chainId, keys: components.keys, fee: components.fee }, pipelined: components.submitInOrder === true })
    this.metrics = createProviderMetrics(components.registry)
    this.bids = new BidSender({ send: async (kind, build) => await this.send(kind, undefined, build), committed: (txId, atMs) => { this.commits.sent(txId, atMs) }, entries: this.metrics.bidEntries })
    this.tickMs = init.tickMs ?? 200
    this.heartbeat = components.heartbeats === undefined ? undefined : new HeartbeatSender({ chainId: components.chainId, keys: components.keys, heartbeats: components.heartbeats, log: this.log }, init.heartbeatMs ?? 10_000)
    this.sweepMs = init.sweepMs ?? 3000
    this.jobs = new JobQueue({
      maxQueued: init.maxQueuedJobs ?? 32,
      maxRunning: Math.max(1, Math.min(init.maxRunningJobs ?? 8, init.config.capacity)),
      run: async (job) => { await this.execute(job) },
      onError: (job, err) => {
        this.metrics.jobs.inc({ outcome: (err as { code?: string }).code ?? 'error' })
        this.log.warn({ taskId: job.taskId, round: job.round, err: errorMessage(err) }, 'awarded task failed')
      }
    })
    this.unfinalRevealGraceMs = init.unfinalRevealGraceMs ?? 30_000
    this.inputClaims = new InputClaims({
      address: this.address, market: components.market, log: this.log,
      seedToReveal: components.taskKeys.seedToReveal,
      submit: async (claim) => await this.send('input-claim', claim.taskId, by => buildInputClaim(by, { ...claim, taskId: fromHex(claim.taskId) }))
    })
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    if (this.registration.capability === undefined) {
      const executor = this.c.executor()
      const measured = capabilityRecord(executor.info(), await measureGflops(executor, this.c.keys, this.c.chainId))
      this.registration.capability = measured
      this.log.info({ gflops: measured.gflopsMilli / 1000, executor: measured.executor, adapter: measured.adapter }, 'provider capability measured')
    }
    const resume: ResumeComponents = {
      txLost: this.c.txLost, lost: this.metrics.lost, log: this.log,
      update: async (r, change) => { await this.update(r, change) },
      fail: async (r, detail) => { await this.fail(r, detail) }
    }
    for (const record of await this.bidStore.all()) {
      this.records.set(record.taskId, record)
      // a record that cannot be looked at now is left as it is: the agent's usual course still reads it
      await resumeBid(resume, record).catch(err => { this.log.warn({ taskId: record.taskId, err: errorMessage(err) }, 'a bid kept from before the restart could not be checked') })
    }
    this.c.market.on('task:changed', this.onTask)
    this.c.vertices?.on('vertex:inserted', this.onVertex)
    this.timer = setInterval(() => { this.tick() }, this.tickMs)
    this.tick()
    this.log.info({ address: this.address, bids: this.records.size }, 'provider agent started')
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearInterval(this.timer)
    for (const wake of this.wakes) clearTimeout(wake)
    this.wakes.clear()
    this.c.market.off('task:changed', this.onTask)
    this.c.vertices?.off('vertex:inserted', this.onVertex)
    await this.registration.stop()
  }

  status (): ProviderStatus {
    const wait = this.registration.wait()
    const active = [...this.records.values()].filter(r => this.holds(r)).map(r => ({ taskId: r.taskId, stage: r.stage, sinceMs: r.sinceMs }))
    return {
      enabled: this.config.enabled,
      address: this.address,
      registered: this.registration.self !== undefined,
      attested: this.registration.self?.attestation?.passed === true,
      ...(this.registration.capability === undefined ? {} : { capability: { ...this.registration.capability } }),
      pricing: { perGflop: this.config.pricePerGflop, minimum: this.config.minPrice, capacity: this.config.capacity },
      active,
      skipped: this.noBids.recent(),
      skippedTotals: this.noBids.totals(),
      faultInjection: this.config.faultInjection,
      ...(wait === undefined ? {} : { registrationWait: wait })
    }
  }

  /** Tasks held: bids not yet decided, and awards not yet answered. */
  activeCount (): number { return [...this.records.values()].filter(r => this.holds(r)).length }

  /** Held tasks split as the pricing policy bounds them (policy.ts ProviderLoad); a reveal under way is reserved. */
  load (): ProviderLoad { return loadOf([...this.records.values()].filter(r => this.holds(r)).map(r => this.revealing.has(r.taskId) ? { stage: 'revealed' } : r)) }

  private holds (r: BidRecord): boolean {
    if (r.stage === 'failed' || r.stage === 'answered') return false
    const view = this.views.get(r.taskId)
    // an award that names someone else: the bid lost (a replacement round would bring it back)
    if ((r.stage === 'revealed') && view !== undefined && view.awards.length > 0 && !this.awardedIn(view)) return false
    return true
  }

  private awardedIn (view: TaskView): boolean {
    return view.awards.some(a => a.winners.includes(this.address) || a.checker === this.address)
  }

  private tick (): void {
    if (this.abort.signal.aborted) return
    const now = Date.now()
    this.metrics.active.set(this.activeCount())
    this.registration.tick(now)
    if (now - this.lastSweepMs >= this.sweepMs) {
      this.lastSweepMs = now
      void this.sweep().catch(err => { this.log.warn({ err: errorMessage(err) }, 'provider sweep failed') })
    }
    for (const record of this.records.values()) {
      if (record.stage !== 'committed' && record.stage !== 'revealed') continue
      const view = this.views.get(record.taskId) ?? this.early.get(record.taskId)
      if (view !== undefined) this.revealIfDue(record, view, now)
      // a bid on an announce that never became final here (the ledger rejected it): given up, its capacity freed
      const pending = this.views.has(record.taskId) ? undefined : this.early.get(record.taskId)
      if (pending !== undefined && now > pending.revealsCloseAtMs + (record.stage === 'revealed' ? this.unfinalRevealGraceMs : 0)) {
        this.early.delete(record.taskId)
        this.step(record.taskId, async () => { await this.fail(record, 'the announce was not final here when its reveal window closed') })
      }
    }
    if (this.registration.self !== undefined) this.heartbeat?.tick(now, { active: this.activeCount(), capacity: this.config.capacity })
  }

  /**
   * Runs the clock at `atMs` too, not only on its period: the reveal is due then, and a reveal window is short (the
   * bench's is 500 ms, from which the period's up to 200 ms of lateness was taken before).
   */
  private wakeAt (atMs: number): void {
    const wake = setTimeout(() => { this.wakes.delete(wake); this.tick() }, Math.max(0, atMs - Date.now()) + 1)
    this.wakes.add(wake)
  }

  /** Runs one step of a task at a time (events, the clock and the sweep may all ask for the same task). */
  private step (taskId: string, fn: () => Promise<void>): void {
    if (this.busy.has(taskId)) return
    this.busy.add(taskId)
    fn().catch(err => { this.log.warn({ taskId, err: errorMessage(err) }, 'provider step failed') }).finally(() => { this.busy.delete(taskId) })
  }

  /** Re-reads what events may have missed: registration, open auctions, and every task this provider holds. */
  private async sweep (): Promise<void> {
    await this.registration.refresh()
    for (const view of await this.c.market.tasks({ phase: 'bidding', limit: 200 })) this.observe(view)
    for (const [taskId, record] of [...this.records]) {
      const view = await this.c.market.task(taskId)
      if (view !== undefined) this.observe(view)
      else if ((record.stage === 'committed' || record.stage === 'revealed') && !this.early.has(taskId) && Date.now() - record.sinceMs > ORPHAN_COMMIT_MS) await this.fail(record, 'its announce is not final here')
    }
    for (const phase of ['awarded', 'executing'] as const) {
      for (const view of await this.c.market.tasks({ provider: this.address, phase, limit: 200 })) this.observe(view)
    }
  }

  private observe (view: TaskView): void {
    if (this.abort.signal.aborted) return
    this.views.set(view.taskId, view)
    this.early.delete(view.taskId)
    const record = this.records.get(view.taskId)
    if (view.phase === 'settled' || view.phase === 'refunded' || view.phase === 'expired' || view.phase === 'cancelled') {
      this.views.delete(view.taskId)
      if (record !== undefined) {
        this.records.delete(view.taskId)
        void this.bidStore.delete(view.taskId).catch(() => undefined)
        this.log.info({ taskId: view.taskId, phase: view.phase }, 'task closed')
      }
      return
    }
    if (view.phase === 'bidding' && record === undefined && this.firstDecision(view.taskId)) {
      this.step(view.taskId, async () => { await this.bid(view) })
      return
    }
    // a commit made on the pending announce: its final view may come after the bid window closed (not a tick later)
    if (record !== undefined) this.revealIfDue(record, view, Date.now())
    for (const award of view.awards) {
      const mine = award.winners.includes(this.address) || award.checker === this.address
      if (!mine || record?.answeredRounds.includes(award.round) === true) continue
      if (view.results.some(r => r.provider === this.address && r.round === award.round)) continue
      if (this.jobs.has(view.taskId, award.round) || Date.now() > this.inputClaims.workUntil(view, award.round, award.deadlineMs)) continue
      if (this.jobs.push({ taskId: view.taskId, round: award.round, seenAtMs: Date.now() })) this.log.info({ taskId: view.taskId, round: award.round, checker: award.checker === this.address }, 'awarded: queued to run')
      else this.log.warn({ taskId: view.taskId, round: award.round }, 'award not taken: the job queue is full')
    }
  }

  /** A committed bid is revealed once the clock is past the bid window (not before: the bid is sealed). */
  private revealIfDue (record: BidRecord, view: TaskView, now: number): void {
    if (record.stage === 'committed' && now >= view.bidsCloseAtMs) this.step(record.taskId, async () => { await this.reveal(record, view) })
  }

  /** An announce in a vertex just inserted here, not final yet: bid now rather than when it is (pending.ts). */
  private observePending ({ view, requester }: PendingAnnounce): void {
    if (this.abort.signal.aborted || this.registration.self === undefined || view.phase !== 'bidding') return
    if (this.records.has(view.taskId) || !this.firstDecision(view.taskId)) return
    this.step(view.taskId, async () => {
      // not final yet, so nothing is locked: what it can lock is at most the requester's balance (once it is final
      // the reveal checks its escrow; an award, and so paid work, needs it final)
      const balance = (await this.c.ledger.account(requester)).balance
      if (balance < view.escrow) return this.skip(view.taskId, 'escrow-missing', `the requester holds ${balance}, the pending announce would lock ${view.escrow}`)
      this.early.set(view.taskId, view)
      await this.bid(view, view.escrow)
      if (this.records.get(view.taskId)?.stage !== 'committed') this.early.delete(view.taskId)
    })
  }

  /** An award naming this provider, pending here: the job starts now, through the task's view with the award added (the
   * market state's next view replaces it). A private task waits for the final award: its inputs are sealed then. */
  private observeAward ({ taskId, award }: PendingAward): void {
    const view = this.views.get(taskId)
    if (view === undefined || view.private || view.awards.some(a => a.round === award.round)) return
    this.observe({ ...view, awards: [...view.awards, { ...award, deadlineMs: award.timeMs + view.executionDeadlineMs }] })
  }

  private skip (taskId: string, reason: NoBidReason, detail: string): void {
    this.noBids.record(taskId, reason, detail)
    this.metrics.decisions.inc({ outcome: reason })
    this.log.debug({ taskId, reason, detail }, 'no bid')
  }

  /** True the first time a task is decided on (then remembered, the oldest forgotten past MAX_DECIDED). */
  private firstDecision (taskId: string): boolean {
    return !this.decided.has(taskId) && this.decided.add(taskId)
  }

  /** `escrow`: what the announce locks (read from the ledger here when not given: a final announce's escrow). */
  private async bid (view: TaskView, escrow?: bigint): Promise<void> {
    const taskId = view.taskId
    // the registration may have become final since the last sweep (every sweepMs): read it now rather than
    // miss an auction whose bid window is shorter than the sweep
    if (this.registration.self === undefined) await this.registration.refresh()
    if (this.registration.self === undefined || this.registration.capability === undefined) {
      this.log.debug({ taskId }, 'not registered yet: no bid')
      return
    }
    const left = view.bidsCloseAtMs - Date.now()
    // the announce reached this node too late for a commit to be final inside the bid window (a loaded node)
    const margin = this.commits.margin(COMMIT_MARGIN_MS)
    if (left < margin) return this.skip(taskId, 'too-late', `the announce was here ${left} ms before the bid window closed (a commit needs ${margin} ms here lately)`)
    const decision = this.policy.decide(offerOf(view), escrow ?? await this.escrowOf(taskId), this.load(), {
      capability: this.registration.capability,
      kernels: this.c.executor().info().kernels,
      attested: this.registration.self.attestation?.passed === true
    })
    if (!decision.bid) return this.skip(taskId, decision.reason, decision.detail)
    this.metrics.decisions.inc({ outcome: 'bid' })
    const salt = randomBytes(32)
    const record: BidRecord = { taskId, price: decision.price.toString(), salt: toHex(salt), stage: 'committing', answeredRounds: [], sinceMs: Date.now() }
    // the salt is on disk before the commit can be final: a restart can always reveal
    await this.bidStore.put(record)
    this.records.set(taskId, record)
    const commitTx = await this.bids.commit({ taskId: fromHex(taskId), price: decision.price, salt })
    if (commitTx === undefined) return await this.fail(record, 'the commit was not admitted')
    await this.update(record, { stage: 'committed', commitTx })
    this.wakeAt(view.bidsCloseAtMs)
    this.log.info({ taskId, price: record.price, tx: commitTx }, 'bid committed')
  }

  private async reveal (record: BidRecord, view: TaskView): Promise<void> {
    if (Date.now() > view.revealsCloseAtMs) return await this.fail(record, 'the reveal window closed before the reveal')
    // a commit in a vertex stamped after the bid window is refused by the market: its reveal would be too
    if (record.commitTx !== undefined && this.commits.late(record.commitTx, view.bidsCloseAtMs)) return await this.fail(record, 'the commit is in a vertex stamped after the bid window')
    // once the announce is final its escrow is checked (a pending one's requester balance was, at the commit); work is
    // only ever done on an award, which the market gives only for a final announce, so for locked money
    const escrow = this.views.has(record.taskId) ? await this.escrowOf(record.taskId) : view.escrow
    if (escrow < view.escrow) return await this.fail(record, `escrow holds ${escrow}, the announce locked ${view.escrow}`)
    // checked and reserved with no await between: reveals of auctions closing together cannot all pass the check
    const refusal = this.policy.revealRefusal(this.load())
    if (refusal !== undefined) {
      this.noBids.record(record.taskId, 'capacity', refusal)
      this.metrics.decisions.inc({ outcome: 'capacity' })
      return await this.fail(record, refusal)
    }
    this.revealing.add(record.taskId)
    try {
      const taskKey = view.private ? this.c.taskKeys.publicKey(record.taskId) : undefined
      const revealTx = await this.bids.reveal({ taskId: fromHex(record.taskId), price: BigInt(record.price), salt: fromHex(record.salt), ...(taskKey === undefined ? {} : { taskKey }) })
      if (revealTx === undefined) return await this.fail(record, 'the reveal was not admitted')
      await this.update(record, { stage: 'revealed', revealTx })
      this.log.info({ taskId: record.taskId, price: record.price, tx: revealTx }, 'bid revealed')
    } finally {
      this.revealing.delete(record.taskId)
    }
  }

  private async execute (job: Job): Promise<void> {
    const view = this.views.get(job.taskId) ?? await this.c.market.task(job.taskId)
    const award = view?.awards.find(a => a.round === job.round)
    if (view === undefined || award === undefined) return
    const record = this.records.get(job.taskId) ?? { taskId: job.taskId, price: '0', salt: '00'.repeat(32), stage: 'revealed' as const, answeredRounds: [], sinceMs: Date.now() }
    this.records.set(job.taskId, record)
    await this.update(record, { stage: 'running' })
    const run = async (deadlineMs: number): Promise<AwardedOutput> => {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(1, deadlineMs - Date.now()))])
      return await runAwarded({ executor: this.c.executor(), blobs: this.c.blobs, fault: this.config.faultInjection, log: this.log.child({ round: job.round }) }, view, deadlineMs, signal)
    }
    let out: AwardedOutput
    if (this.config.faultInjection === 'false-input-claim') {
      // devnet fault injection: claims without trying to fetch, and never answers (it appeals only for a second
      // judge's `unavailable`, as the claims' own rules have every provider do; never after `available`)
      const never = new Error('fault injection: never answers')
      await this.inputClaims.resolve(job, 'fault injection: claimed without fetching', this.abort.signal, true, async () => { throw never }).catch((err: unknown) => { if (err !== never) throw err })
      this.metrics.jobs.inc({ outcome: 'false-input-claim' })
      await this.update(record, { stage: 'answered', answeredRounds: [...record.answeredRounds, job.round] })
      return
    }
    // a claim of this round already final (a restart while it waited for the verdict): wait for it, or act on it
    const claimed = this.inputClaims.mine(view, job.round).length > 0
    try {
      if (claimed) throw new ProviderBlobError('INPUT_UNAVAILABLE', 'the inputs were claimed unavailable before a restart', { taskId: job.taskId })
      out = await run(award.deadlineMs)
    } catch (err) {
      // no peer served an input (of a private task: no notice gave it): claim it (docs/market.md "Inputs no peer
      // serves") rather than wait out the deadline; its judge tries to fetch them. `available`: it holds them now, the
      // deadline is extended and this provider fetches again (and appeals if it still cannot); `unavailable`:
      // refunded, nobody slashed
      if (!(err instanceof ProviderBlobError) || err.code !== 'INPUT_UNAVAILABLE' || (!claimed && Date.now() > award.deadlineMs)) throw err
      const claims = await this.inputClaims.resolve(job, err.message, this.abort.signal, !claimed, run)
      if (!('out' in claims)) {
        this.metrics.jobs.inc({ outcome: claims.excused ? 'inputs-unavailable' : 'input-claim-unanswered' })
        // the round is over for this provider: not queued again by the next view of the task
        await this.update(record, { stage: 'answered', answeredRounds: [...record.answeredRounds, job.round] })
        return
      }
      out = claims.out
    }
    const result = { taskId: fromHex(job.taskId), round: job.round, commitment: fromHex(out.commitment), outputBlob: fromHex(out.outputId), outputBytes: out.bytes, profile: out.profile }
    const resultTx = await this.send('task-result', job.taskId, by => buildTaskResult(by, result))
    if (resultTx === undefined) throw new Error('the result was not admitted')
    await this.update(record, { stage: 'answered', resultTx, answeredRounds: [...record.answeredRounds, job.round] })
    this.metrics.jobs.inc({ outcome: out.fault === undefined ? 'answered' : 'input-fault' })
    this.metrics.jobSeconds.observe((Date.now() - job.seenAtMs) / 1000)
    this.log.info({ taskId: job.taskId, round: job.round, commitment: out.commitment, output: out.outputId, ms: Math.round(out.durationMs), tx: resultTx }, 'result submitted')
  }

  private async escrowOf (taskId: string): Promise<bigint> { return (await this.c.ledger.account(escrowAccount(fromHex(taskId)))).balance }

  private async send (kind: string, taskId: string | undefined, build: (by: SignedBy) => Transaction): Promise<string | undefined> {
    try {
      const id = await this.sender.send(build)
      this.metrics.transactions.inc({ kind, outcome: 'ok' })
      return id
    } catch (err) {
      this.metrics.transactions.inc({ kind, outcome: (err as { code?: string }).code ?? 'error' })
      this.log.warn({ taskId, kind, err: errorMessage(err) }, 'transaction not admitted')
      return undefined
    }
  }

  private async update (record: BidRecord, change: Partial<BidRecord>): Promise<void> {
    Object.assign(record, change)
    await this.bidStore.put(record)
  }

  private async fail (record: BidRecord, detail: string): Promise<void> {
    this.log.warn({ taskId: record.taskId, detail }, 'bid abandoned')
    await this.update(record, { stage: 'failed', detail })
  }
}

