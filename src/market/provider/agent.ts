import { randomBytes } from 'node:crypto'
import { makeBlob } from '../../compute/blob.ts'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../core/address.ts'
import { fromHex, toHex } from '../../core/codec.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import type { Transaction } from '../../dag/tx.ts'
import { escrowAccount } from '../accounts.ts'
import { buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskResult } from '../kinds/builders.ts'
import { replicasOf } from '../kinds/task.ts'
import type { ProviderView, TaskView } from '../state/reader.ts'
import { type BidRecord, BidStore } from './bid-store.ts'
import { type CapabilityRecord, capabilityRecord } from './capability.ts'
import { measureGflops, type ProviderKeys } from './challenge.ts'
import { assertFaultInjectionAllowed, type ProviderConfig } from './config.ts'
import { signHeartbeat } from './heartbeat.ts'
import { computeSpec, injectFault, outputBytes } from './job.ts'
import { createProviderMetrics, type ProviderMetrics } from './metrics.ts'
import { loadOf, NoBidLog, PricingPolicy, type ProviderLoad, type TaskOffer } from './policy.ts'
import type { ProviderAgentComponents, ProviderAgentInit, ProviderStatus } from './agent-types.ts'
import { registrationNeeded } from './registration.ts'
import { TxSender } from './tx-sender.ts'

// A commit submitted closer than this to the end of the bid window may land in a vertex stamped after it.
const COMMIT_MARGIN_MS = 150
// Tasks already decided, remembered so an event storm does not decide one task twice.
const MAX_DECIDED = 10_000

interface Job { taskId: string, round: number, seenAtMs: number }
const jobKey = (taskId: string, round: number): string => `${taskId}/${round}`

/**
 * The provider agent: registers this node as a provider (bond from config), decides on every final announce
 * (escrow checked on the DAG first), commits a sealed bid, reveals it once the bid window closes (the salt is on
 * disk before the commit leaves), runs what it is awarded through the executor, stores the output blob and
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
  private readonly heartbeatMs: number
  private readonly sweepMs: number
  private readonly maxQueuedJobs: number
  private readonly maxRunningJobs: number
  private readonly noBids = new NoBidLog()
  private readonly records = new Map<string, BidRecord>()
  private readonly views = new Map<string, TaskView>()
  private readonly decided = new Set<string>()
  private readonly jobs: Job[] = []
  private readonly busy = new Set<string>()
  private capability: CapabilityRecord | undefined
  private self: ProviderView | undefined
  private registering: Promise<void> | undefined
  private lastRegisterMs = 0
  private lastSweepMs = 0
  private lastHeartbeatMs = 0
  private heartbeatSeq = 0n
  /** Jobs being handled (task/round): an event or sweep while one runs must not queue it again. */
  private readonly running = new Set<string>()
  private readonly revealing = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private abort = new AbortController()
  private readonly onTask = (view: TaskView): void => { this.observe(view) }

  constructor (components: ProviderAgentComponents, init: ProviderAgentInit) {
    // a lying provider only ever runs on a devnet, however the agent was composed
    assertFaultInjectionAllowed(init.config, components.chainId)
    this.c = components
    this.config = init.config
    this.capability = init.capability
    this.address = addressFromPublicKey(components.keys.publicKey)
    this.policy = new PricingPolicy(init.config)
    this.bidStore = new BidStore(components.db)
    this.sender = new TxSender({ submit: components.submit, finalNonce: async () => (await components.ledger.account(addressBytesFromPublicKey(components.keys.publicKey))).nonce })
    this.log = components.logger.child({ module: 'provider' })
    this.metrics = createProviderMetrics(components.registry)
    this.tickMs = init.tickMs ?? 200
    this.heartbeatMs = init.heartbeatMs ?? 10_000
    this.sweepMs = init.sweepMs ?? 3000
    this.maxQueuedJobs = init.maxQueuedJobs ?? 32
    this.maxRunningJobs = Math.max(1, Math.min(init.maxRunningJobs ?? 8, init.config.capacity))
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    if (this.capability === undefined) {
      const executor = this.c.executor()
      const gflops = await measureGflops(executor, this.c.keys, this.c.chainId)
      this.capability = capabilityRecord(executor.info(), gflops)
      this.log.info({ gflops: this.capability.gflopsMilli / 1000, executor: this.capability.executor, adapter: this.capability.adapter }, 'provider capability measured')
    }
    for (const record of await this.bidStore.all()) this.records.set(record.taskId, record)
    this.c.market.on('task:changed', this.onTask)
    this.timer = setInterval(() => { this.tick() }, this.tickMs)
    this.tick()
    this.log.info({ address: this.address, bids: this.records.size }, 'provider agent started')
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearInterval(this.timer)
    this.c.market.off('task:changed', this.onTask)
    await this.registering?.catch(() => undefined)
  }

  status (): ProviderStatus {
    const active = [...this.records.values()].filter(r => this.holds(r)).map(r => ({ taskId: r.taskId, stage: r.stage, sinceMs: r.sinceMs }))
    return {
      enabled: this.config.enabled,
      address: this.address,
      registered: this.self !== undefined,
      attested: this.self?.attestation?.passed === true,
      ...(this.capability === undefined ? {} : { capability: { ...this.capability } }),
      pricing: { perGflop: this.config.pricePerGflop, minimum: this.config.minPrice, capacity: this.config.capacity },
      active,
      skipped: this.noBids.recent(),
      skippedTotals: this.noBids.totals(),
      faultInjection: this.config.faultInjection
    }
  }

  /** Tasks held: bids not yet decided, and awards not yet answered. */
  activeCount (): number {
    let n = 0
    for (const r of this.records.values()) if (this.holds(r)) n++
    return n
  }

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
    if (this.self === undefined && this.registering === undefined && now - this.lastRegisterMs >= 5000) {
      this.lastRegisterMs = now
      this.registering = this.ensureRegistered().catch(err => { this.log.warn({ err: errorMessage(err) }, 'provider registration failed; retrying') }).finally(() => { this.registering = undefined })
    }
    if (now - this.lastSweepMs >= this.sweepMs) {
      this.lastSweepMs = now
      void this.sweep().catch(err => { this.log.warn({ err: errorMessage(err) }, 'provider sweep failed') })
    }
    for (const record of this.records.values()) {
      const view = this.views.get(record.taskId)
      if (record.stage === 'committed' && view !== undefined && now >= view.bidsCloseAtMs) this.step(record.taskId, async () => { await this.reveal(record, view) })
    }
    if (this.self !== undefined && this.c.heartbeats !== undefined && now - this.lastHeartbeatMs >= this.heartbeatMs) {
      this.lastHeartbeatMs = now
      this.heartbeatSeq = BigInt(now) > this.heartbeatSeq ? BigInt(now) : this.heartbeatSeq + 1n
      const heartbeat = signHeartbeat(this.c.chainId, this.c.keys, { timeMs: now, seq: this.heartbeatSeq, active: this.activeCount(), capacity: this.config.capacity })
      void this.c.heartbeats.publish(heartbeat).catch(err => { this.log.debug({ err: errorMessage(err) }, 'heartbeat not published') })
    }
    this.runJobs()
  }

  /** Runs one step of a task at a time (events, the clock and the sweep may all ask for the same task). */
  private step (taskId: string, fn: () => Promise<void>): void {
    if (this.busy.has(taskId)) return
    this.busy.add(taskId)
    fn().catch(err => { this.log.warn({ taskId, err: errorMessage(err) }, 'provider step failed') }).finally(() => { this.busy.delete(taskId) })
  }

  /** Re-reads what events may have missed: registration, open auctions, and every task this provider holds. */
  private async sweep (): Promise<void> {
    await this.refreshSelf()
    for (const view of await this.c.market.tasks({ phase: 'bidding', limit: 200 })) this.observe(view)
    for (const taskId of [...this.records.keys()]) {
      const view = await this.c.market.task(taskId)
      if (view !== undefined) this.observe(view)
    }
    for (const view of await this.c.market.tasks({ provider: this.address, limit: 200 })) {
      if (view.phase === 'awarded' || view.phase === 'executing') this.observe(view)
    }
  }

  private observe (view: TaskView): void {
    if (this.abort.signal.aborted) return
    this.views.set(view.taskId, view)
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
    if (view.phase === 'bidding' && record === undefined && !this.decided.has(view.taskId)) {
      this.remember(view.taskId)
      this.step(view.taskId, async () => { await this.bid(view) })
      return
    }
    for (const award of view.awards) {
      const mine = award.winners.includes(this.address) || award.checker === this.address
      if (!mine || record?.answeredRounds.includes(award.round) === true) continue
      if (view.results.some(r => r.provider === this.address && r.round === award.round)) continue
      if (this.jobs.some(j => j.taskId === view.taskId && j.round === award.round) || this.running.has(jobKey(view.taskId, award.round))) continue
      if (Date.now() > award.deadlineMs) continue
      if (this.jobs.length >= this.maxQueuedJobs) {
        this.log.warn({ taskId: view.taskId, round: award.round }, 'award not taken: the job queue is full')
        continue
      }
      this.log.info({ taskId: view.taskId, round: award.round, checker: award.checker === this.address }, 'awarded: queued to run')
      this.jobs.push({ taskId: view.taskId, round: award.round, seenAtMs: Date.now() })
    }
    this.runJobs()
  }

  private remember (taskId: string): void {
    this.decided.add(taskId)
    if (this.decided.size > MAX_DECIDED) this.decided.delete(this.decided.values().next().value as string)
  }

  private offer (view: TaskView): TaskOffer {
    const params = view.spec.params !== null && typeof view.spec.params === 'object' ? view.spec.params as Record<string, unknown> : {}
    return {
      taskId: view.taskId,
      requester: view.requester,
      kernel: view.spec.kernel,
      params,
      budget: view.budget,
      replicas: replicasOf(view),
      requirements: view.requirements
    }
  }

  private async bid (view: TaskView): Promise<void> {
    const taskId = view.taskId
    // the registration may have become final since the last sweep (every sweepMs): read it now rather than
    // miss an auction whose bid window is shorter than the sweep
    if (this.self === undefined) await this.refreshSelf()
    if (this.self === undefined || this.capability === undefined) {
      this.log.debug({ taskId }, 'not registered yet: no bid')
      return
    }
    const left = view.bidsCloseAtMs - Date.now()
    if (left < COMMIT_MARGIN_MS) {
      // the announce became final here too late for a commit to be final inside the bid window (a loaded node)
      this.noBids.record(taskId, 'too-late', `the announce was final here ${left} ms before the bid window closed (a commit needs ${COMMIT_MARGIN_MS} ms)`)
      this.metrics.decisions.inc({ outcome: 'too-late' })
      return
    }
    const escrow = (await this.c.ledger.account(escrowAccount(fromHex(taskId)))).balance
    const decision = this.policy.decide(this.offer(view), escrow, this.load(), {
      capability: this.capability,
      kernels: this.c.executor().info().kernels,
      attested: this.self.attestation?.passed === true
    })
    if (!decision.bid) {
      this.noBids.record(taskId, decision.reason, decision.detail)
      this.metrics.decisions.inc({ outcome: decision.reason })
      this.log.debug({ taskId, reason: decision.reason, detail: decision.detail }, 'no bid')
      return
    }
    this.metrics.decisions.inc({ outcome: 'bid' })
    const salt = randomBytes(32)
    const record: BidRecord = { taskId, price: decision.price.toString(), salt: toHex(salt), stage: 'committing', answeredRounds: [], sinceMs: Date.now() }
    // the salt is on disk before the commit can be final: a restart can always reveal
    await this.bidStore.put(record)
    this.records.set(taskId, record)
    const commitTx = await this.send('bid-commit', taskId, nonce => buildBidCommit(this.by(nonce), fromHex(taskId), decision.price, salt))
    if (commitTx === undefined) return await this.fail(record, 'the commit was not admitted')
    await this.update(record, { stage: 'committed', commitTx })
    this.log.info({ taskId, price: record.price, tx: commitTx }, 'bid committed')
  }

  private async reveal (record: BidRecord, view: TaskView): Promise<void> {
    if (Date.now() > view.revealsCloseAtMs) return await this.fail(record, 'the reveal window closed before the reveal')
    // checked and reserved with no await between: reveals of auctions closing together cannot all pass the check
    const refusal = this.policy.revealRefusal(this.load())
    if (refusal !== undefined) {
      this.noBids.record(record.taskId, 'capacity', refusal)
      this.metrics.decisions.inc({ outcome: 'capacity' })
      return await this.fail(record, refusal)
    }
    this.revealing.add(record.taskId)
    try {
      const revealTx = await this.send('bid-reveal', record.taskId, nonce => buildBidReveal(this.by(nonce), { taskId: fromHex(record.taskId), price: BigInt(record.price), salt: fromHex(record.salt) }))
      if (revealTx === undefined) return await this.fail(record, 'the reveal was not admitted')
      await this.update(record, { stage: 'revealed', revealTx })
      this.log.info({ taskId: record.taskId, price: record.price, tx: revealTx }, 'bid revealed')
    } finally {
      this.revealing.delete(record.taskId)
    }
  }

  /** Starts queued jobs while fewer than maxRunningJobs run (one at a time, jobs waited up to 6 s: docs/market.md). */
  private runJobs (): void {
    while (this.running.size < this.maxRunningJobs && this.jobs.length > 0) {
      const job = this.jobs.shift() as Job
      const key = jobKey(job.taskId, job.round)
      this.running.add(key)
      this.execute(job)
        .catch(err => {
          this.metrics.jobs.inc({ outcome: (err as { code?: string }).code ?? 'error' })
          this.log.warn({ taskId: job.taskId, round: job.round, err: errorMessage(err) }, 'awarded task failed')
        })
        .finally(() => { this.running.delete(key); this.runJobs() })
    }
  }

  private async execute (job: Job): Promise<void> {
    const view = this.views.get(job.taskId) ?? await this.c.market.task(job.taskId)
    const award = view?.awards.find(a => a.round === job.round)
    if (view === undefined || award === undefined) return
    const record = this.records.get(job.taskId) ?? { taskId: job.taskId, price: '0', salt: '00'.repeat(32), stage: 'revealed' as const, answeredRounds: [], sinceMs: Date.now() }
    this.records.set(job.taskId, record)
    await this.update(record, { stage: 'running' })
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(1, award.deadlineMs - Date.now()))])
    this.log.info({ taskId: job.taskId, round: job.round, inputs: view.inputs.length }, 'fetching inputs')
    const inputs = []
    for (const id of view.inputs) inputs.push(makeBlob(await this.c.blobs.input(view, id, signal)))
    const spec = computeSpec({ kernel: view.spec.kernel, params: view.spec.params, inputs: view.inputs, outputLimitBytes: view.outputLimitBytes }, inputs.map(b => b.id), award.deadlineMs - Date.now())
    this.log.info({ taskId: job.taskId, round: job.round, kernel: spec.kernel }, 'running')
    const result = injectFault(await this.c.executor().run({ spec, inputs }, { signal }), this.config.faultInjection)
    const bytes = outputBytes(result.outputs)
    const outputId = await this.c.blobs.output(view, bytes)
    if (Date.now() > award.deadlineMs) throw new Error('the execution deadline passed before the result')
    const resultTx = await this.send('task-result', job.taskId, nonce => buildTaskResult(this.by(nonce), {
      taskId: fromHex(job.taskId), round: job.round, commitment: fromHex(result.commitment), outputBlob: fromHex(outputId), outputBytes: bytes.length, profile: result.profile
    }))
    if (resultTx === undefined) throw new Error('the result was not admitted')
    await this.update(record, { stage: 'answered', resultTx, answeredRounds: [...record.answeredRounds, job.round] })
    this.metrics.jobs.inc({ outcome: 'answered' })
    this.metrics.jobSeconds.observe((Date.now() - job.seenAtMs) / 1000)
    this.log.info({ taskId: job.taskId, round: job.round, commitment: result.commitment, output: outputId, ms: Math.round(result.durationMs), tx: resultTx }, 'result submitted')
  }

  /** The registration on the DAG if it is the one this provider wants (else it is not selling yet). */
  private async refreshSelf (): Promise<void> {
    const current = await this.c.market.provider(this.address)
    const wanted = this.capability === undefined ? undefined : { bond: this.config.bond, kemPublicKey: this.c.kemPublicKey, capability: this.capability }
    this.self = current !== undefined && wanted !== undefined && registrationNeeded(current, wanted).current ? current : undefined
    // the registered figures are the ones the market judges (and a challenge checks)
    if (this.self !== undefined) this.capability = { ...this.self.capability }
  }

  private async ensureRegistered (): Promise<void> {
    const capability = this.capability
    if (capability === undefined) return
    const need = registrationNeeded(await this.c.market.provider(this.address), { bond: this.config.bond, kemPublicKey: this.c.kemPublicKey, capability })
    if (need.current) return await this.refreshSelf()
    const balance = (await this.c.ledger.account(addressBytesFromPublicKey(this.c.keys.publicKey))).balance
    if (balance < need.topUp + this.c.fee) {
      this.log.warn({ address: this.address, balance: balance.toString(), bond: need.topUp.toString() }, 'the provider account cannot pay its bond yet; fund it to start selling compute')
      return
    }
    const tx = await this.send('provider-register', undefined, nonce => buildProviderRegister(this.by(nonce), { bond: need.topUp, kemPublicKey: this.c.kemPublicKey, capability }))
    if (tx !== undefined) this.log.info({ address: this.address, bond: need.topUp.toString(), gflops: capability.gflopsMilli / 1000, tx }, 'provider registration submitted')
  }

  private by (nonce: bigint): { chainId: string, keys: ProviderKeys, nonce: bigint, fee: bigint } {
    return { chainId: this.c.chainId, keys: this.c.keys, nonce, fee: this.c.fee }
  }

  private async send (kind: string, taskId: string | undefined, build: (nonce: bigint) => Transaction): Promise<string | undefined> {
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

