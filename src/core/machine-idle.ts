/**
 * The share of the machine's CPU time that went idle lately, over all its cores (the kernel's per-core counters, as
 * `os.cpus()` reads them). A service that can trade CPU for latency (the commit rule's round pacing) reads it to
 * spend the CPU only while the cores have some to spare. It sees every process on the machine: a devnet's other
 * nodes, an executor's sandboxes. In a container whose CPU is capped by a quota rather than a cpuset the counters
 * are the host's, so the share reads higher than the container's.
 */
import { cpus } from 'node:os'

interface CpuTotals { idle: number, busy: number }

function readTotals (): CpuTotals {
  let idle = 0
  let busy = 0
  for (const c of cpus()) {
    idle += c.times.idle
    busy += c.times.user + c.times.nice + c.times.sys + c.times.irq
  }
  return { idle, busy }
}

export class MachineIdle {
  private readonly windowMs: number
  private readonly totals: () => CpuTotals
  private last: CpuTotals
  private lastAt: number
  private share: number

  /**
   * @param windowMs - the counters are read at most once per window; `share()` answers the last full window's share
   * @param totals - the cores' idle and busy time in ms (tests pass their own counters)
   */
  constructor (windowMs = 1000, totals: () => CpuTotals = readTotals) {
    this.windowMs = windowMs
    this.totals = totals
    this.last = totals()
    this.lastAt = Date.now()
    // before a full window has passed nothing is known: the cautious answer (busy) until then
    this.share = 0
  }

  /** Idle share 0..1 over the last full window (the counters of cores that did not move: the share before). */
  idleShare (now = Date.now()): number {
    if (now - this.lastAt < this.windowMs) return this.share
    const t = this.totals()
    const idle = t.idle - this.last.idle
    const busy = t.busy - this.last.busy
    if (idle >= 0 && busy >= 0 && idle + busy > 0) this.share = idle / (idle + busy)
    this.last = t
    this.lastAt = now
    return this.share
  }
}
