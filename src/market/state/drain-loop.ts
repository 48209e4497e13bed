/**
 * MarketState's drain loop: applies the queue of final market transactions whenever one arrives, one loop at a time
 * (entries leave the queue as they apply; two loops would apply one twice). Each pass reads the queue to its end, so a
 * reader can wait for "everything final before now applied" (`caughtUp`: a pass that began after the call has
 * finished) rather than for the loop to go idle (`drain`). The second never ends while final market
 * transactions keep coming: under load a check of a held award waited seconds for it, and with it the DAG's votes
 * on every vertex built on the award (measured 2026-12-03, docs/market.md "Where a task's time goes").
 */
import type { Logger } from '../../core/logger.ts'

export class DrainLoop {
  /** One pass over the queue to its end; true when it applied anything (another pass then reads what came meanwhile). */
  private readonly pass: () => Promise<boolean>
  private readonly log: Logger
  private draining: Promise<void> | undefined
  private again = false
  private running = false
  /** Set while `stop` waits: the loop ends after its current pass, however busy the queue (what is left stays queued). */
  private stopping = false
  private begun = 0
  /** Counts `stop` calls: a drain that a stop cut short did not apply everything (caughtUp then fails). */
  private stops = 0
  /** Readers waiting for the pass numbered `pass` (passes are numbered as they begin) to finish. */
  private readonly waiters: Array<{ pass: number, resolve: () => void, reject: (err: Error) => void }> = []

  constructor (pass: () => Promise<boolean>, log: Logger) {
    this.pass = pass
    this.log = log
  }

  /** From now on a final transaction's arrival (`schedule`) starts a pass. */
  start (): void { this.running = true }

  async stop (): Promise<void> {
    this.stops++
    this.running = false
    this.stopping = true
    this.fail(new Error('the market state stopped'))
    await this.draining?.catch(() => {})
    this.stopping = false
  }

  /** Applies every queued entry now and until the queue stays empty (start, tests; readers use `caughtUp`). */
  async drain (): Promise<void> {
    if (this.draining !== undefined) { this.again = true; return await this.draining }
    this.draining = this.loop().finally(() => {
      this.draining = undefined
      // a reader that asked for a pass as the loop was ending
      if (this.waiters.some(w => w.pass > this.begun)) this.schedule()
    })
    await this.draining
  }

  /**
   * Resolves once every entry queued before this call is applied (or parked), however busy the queue stays; fails
   * when a stop cuts that short (the ledger's order checks must never read a state that only looks caught up).
   */
  async caughtUp (): Promise<void> {
    if (this.stopping) throw new Error('the market state is stopping')
    if (!this.running) {
      const stops = this.stops
      await this.drain()
      if (stops !== this.stops) throw new Error('the market state stopped before it caught up')
      return
    }
    const pass = this.begun + 1
    const applied = new Promise<void>((resolve, reject) => { this.waiters.push({ pass, resolve, reject }) })
    if (this.draining !== undefined) this.again = true
    else this.schedule()
    await applied
  }

  /** A final market transaction arrived: a pass runs (after the current one, if one runs). */
  schedule (): void {
    if (!this.running) return this.fail(new Error('the market state stopped'))
    void this.drain().catch(err => { this.log.error({ err }, 'applying final market transactions failed; retried on the next one') })
  }

  private async loop (): Promise<void> {
    try {
      do {
        this.again = false
        for (let progress = true; progress && !this.stopping;) {
          const pass = ++this.begun
          progress = await this.pass()
          for (let i = this.waiters.length - 1; i >= 0; i--) {
            const w = this.waiters[i]
            if (w.pass <= pass) { this.waiters.splice(i, 1); w.resolve() }
          }
        }
      } while (this.again && !this.stopping)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  /** Every waiter fails with `err` (an outside check counts it as pending and asks again). */
  private fail (err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err)
  }
}
