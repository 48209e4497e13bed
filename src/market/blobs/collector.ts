import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import { KEY_PREFIXES, keyBytes, type BinarySublevel } from '../../core/storage.ts'
import { type MarketReader, TERMINAL_PHASES, type TaskView } from '../state/reader.ts'
import { keyRest, keyTail, PRESENT, range, tagRange } from './keys.ts'
import type { BlobStore } from './store.ts'

/** Terminal-task events waiting to be scheduled; past it they are dropped (and logged): the sweep is best effort. */
const MAX_QUEUED = 10_000
/** A task id as the market names it (lowercase hex). */
const TASK_ID = /^[0-9a-f]{64}$/
/** Releases done per sweep, so one sweep never holds the store's lock for long. */
const RELEASES_PER_SWEEP = 256

export interface BlobCollectorInit {
  /**
   * How long a task's blobs stay after the task is settled, refunded, expired or cancelled: the requester fetches
   * its output, a late dispute re-reads inputs. @default 3600000 (1 h)
   */
  retainMs?: number
  /** Period of the release sweep. @default 60000 */
  intervalMs?: number
  /** Clock (tests). @default Date.now */
  now?: () => number
}

export interface BlobCollectorComponents {
  /** The node's `blobs` sublevel (release schedule under KEY_PREFIXES.blobs.releaseDue). */
  db: BinarySublevel
  store: Pick<BlobStore, 'release'>
  /**
   * The market state's task events (`task:changed`) and, when given, its task lookup: then the blobs of tasks this
   * node does not know or knows ended are adopted at start (a node started again from a checkpoint never sees those
   * tasks end), and a release due for a task that is known and not ended waits another retention period.
   */
  tasks: Pick<MarketReader, 'on' | 'off'> & Partial<Pick<MarketReader, 'task'>>
  logger: Logger
}

/**
 * Collects task blobs after settlement on every node: when a task reaches a terminal phase and this node holds
 * blobs tagged with it, a release is scheduled on disk (`x` ‖ due ‖ taskId, so a restart keeps it) and the sweep
 * calls `BlobStore.release(taskId)` once it is due. Nodes that hold nothing for a task write nothing.
 */
export class BlobCollector implements Startable {
  private readonly c: BlobCollectorComponents
  private readonly log: Logger
  private readonly retainMs: number
  private readonly intervalMs: number
  private readonly now: () => number
  private timer: ReturnType<typeof setInterval> | undefined
  private chain: Promise<void> = Promise.resolve()
  private queued = 0
  private readonly onTask = (task: TaskView): void => {
    if (!TERMINAL_PHASES.has(task.phase)) return
    if (this.queued >= MAX_QUEUED) { this.log.warn({ taskId: task.taskId }, 'blob release queue full; the task\'s blobs stay until released by hand'); return }
    this.queued++
    this.chain = this.chain.then(async () => { await this.schedule(task.taskId) }).catch(err => { this.log.warn({ err, taskId: task.taskId }, 'scheduling a blob release failed') }).finally(() => { this.queued-- })
  }

  constructor (components: BlobCollectorComponents, init: BlobCollectorInit = {}) {
    this.c = components
    this.log = components.logger.child({ module: 'blob-collector' })
    this.retainMs = init.retainMs ?? 3_600_000
    this.intervalMs = init.intervalMs ?? 60_000
    this.now = init.now ?? Date.now
  }

  async start (): Promise<void> {
    this.c.tasks.on('task:changed', this.onTask)
    await this.adoptOrphans()
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => { void this.sweep().catch(err => { this.log.warn({ err }, 'blob release sweep failed') }) }, this.intervalMs)
      this.timer.unref()
    }
  }

  async stop (): Promise<void> {
    this.c.tasks.off('task:changed', this.onTask)
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.chain
  }

  /** Resolves once every task event received so far is scheduled (tests, shutdown). */
  async idle (): Promise<void> {
    await this.chain
  }

  /** Schedules the release of `taskId`'s blobs `retainMs` from now, if this node holds any. */
  async schedule (taskId: string): Promise<boolean> {
    for await (const _ of this.c.db.keys({ ...tagRange(taskId), limit: 1 })) {
      await this.c.db.put(dueKey(this.now() + this.retainMs, taskId), PRESENT)
      return true
    }
    return false
  }

  /** Releases every task whose time has come; returns how many blobs were collected. */
  async sweep (): Promise<number> {
    const due: Uint8Array[] = []
    const upTo = keyBytes(KEY_PREFIXES.blobs.releaseDue, `${hexTime(this.now())}0`)
    for await (const key of this.c.db.keys({ gte: keyBytes(KEY_PREFIXES.blobs.releaseDue), lt: upTo, limit: RELEASES_PER_SWEEP })) due.push(key)
    let collected = 0
    for (const key of due) {
      const taskId = keyTail(key)
      const task = await this.c.tasks.task?.(taskId)
      if (task !== undefined && !TERMINAL_PHASES.has(task.phase)) {
        // uploaded before its announce was final, and running longer than the retention: not yet
        await this.c.db.batch([{ type: 'del', key }, { type: 'put', key: dueKey(this.now() + this.retainMs, taskId), value: PRESENT }])
        continue
      }
      collected += await this.c.store.release(taskId)
      await this.c.db.del(key)
    }
    return collected
  }

  /**
   * Schedules the release of the blobs of each task this node holds blobs of and has no release scheduled for, when
   * the market state does not know the task or knows it ended: tasks that ended while this node was away (a
   * `--resync` replaced its market state) and inputs uploaded for an announce that never became final. Returns
   * how many were scheduled.
   */
  async adoptOrphans (): Promise<number> {
    const tasks = this.c.tasks
    if (tasks.task === undefined) return 0
    const scheduled = new Set<string>()
    for await (const key of this.c.db.keys(range(KEY_PREFIXES.blobs.releaseDue))) scheduled.add(keyTail(key))
    let adopted = 0
    let last = ''
    for await (const key of this.c.db.keys(range(KEY_PREFIXES.blobs.tag))) {
      const tag = keyRest(key).split('/')[0]
      if (tag === last) continue
      last = tag
      // only task ids: other tags name blobs this collector does not own
      if (!TASK_ID.test(tag) || scheduled.has(tag)) continue
      // called on the reader, never detached from it: MarketState.task reads its own records through `this`
      const task = await tasks.task(tag)
      if (task !== undefined && !TERMINAL_PHASES.has(task.phase)) continue
      await this.c.db.put(dueKey(this.now() + this.retainMs, tag), PRESENT)
      adopted++
    }
    if (adopted > 0) this.log.info({ adopted }, 'blobs of tasks unknown here or ended are scheduled for release')
    return adopted
  }
}

/** Fixed-width hex so keys sort by time. */
function hexTime (ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(16).padStart(16, '0')
}

function dueKey (atMs: number, taskId: string): Uint8Array {
  return keyBytes(KEY_PREFIXES.blobs.releaseDue, `${hexTime(atMs)}/${taskId}`)
}
