/**
 * BlobCollector: a task's blobs are released a retention period after the task reaches a terminal phase, on a
 * schedule kept on disk (a restart still collects), and only on nodes that hold blobs of the task.
 */
import test from 'ava'
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinarySublevel, openDatabase, sublevel } from '../../src/core/storage.ts'
import { BlobCollector, BlobStore } from '../../src/market/blobs/index.ts'
import type { MarketReaderEvents, TaskView } from '../../src/market/state/reader.ts'

/** Runs `run` with a started blob store on a fresh LevelDB's `blobs` sublevel (the test stops it), then closes the database and removes its directory. */
async function withStore (run: (db: BinarySublevel, store: BlobStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-blobcollect-'))
  const root = await openDatabase(dir)
  try {
    const db = sublevel(root, 'blobs')
    const store = new BlobStore({ db, logger: silentLogger() }, { sweepIntervalMs: 0 })
    await store.start()
    await run(db, store)
  } finally {
    await root.close()
    await rm(dir, { recursive: true, force: true })
  }
}

test('terminal tasks\' blobs are released after the retention period, across a restart; nothing is written for tasks this node holds nothing of', async t => {
  await withStore(async (db, store) => {
    let now = 1_000_000
    const tasks = new EventEmitter<MarketReaderEvents>()
    const collector = new BlobCollector({ db, store, tasks, logger: silentLogger() }, { retainMs: 60_000, intervalMs: 0, now: () => now })
    await collector.start()
    const input = await store.put(new Uint8Array([1, 2, 3]), { tags: ['aa11'] })
    const shared = await store.put(new Uint8Array([4, 5, 6]), { tags: ['aa11', 'bb22'] })
    const task = (taskId: string, phase: TaskView['phase']): TaskView => ({ taskId, phase }) as TaskView

    tasks.emit('task:changed', task('aa11', 'executing'))
    tasks.emit('task:changed', task('cc33', 'settled'))
    await collector.idle()
    const keysBefore: string[] = []
    for await (const k of db.keys()) keysBefore.push(new TextDecoder().decode(k))
    t.false(keysBefore.some(k => k.startsWith('x')), 'no schedule for a running task or a task held nowhere here')

    tasks.emit('task:changed', task('aa11', 'settled'))
    await collector.idle()
    t.is(await collector.sweep(), 0, 'kept during the retention period')
    t.true(await store.has(input))
    await collector.stop()
    await store.stop()

    // a restart: the schedule is on disk
    now += 60_000
    const store2 = new BlobStore({ db, logger: silentLogger() }, { sweepIntervalMs: 0 })
    await store2.start()
    const collector2 = new BlobCollector({ db, store: store2, tasks, logger: silentLogger() }, { retainMs: 60_000, intervalMs: 0, now: () => now })
    await collector2.start()
    t.is(await collector2.sweep(), 1)
    t.false(await store2.has(input))
    t.true(await store2.has(shared), 'still held by the other task')
    t.deepEqual(await store2.tags(shared), ['bb22'])
    t.is(await collector2.sweep(), 0, 'a schedule is used once')
    await collector2.stop()
    await store2.stop()
  })
})

test('at start, the blobs of tasks the market state does not know or knows ended are adopted for release; a release due while its task runs waits; other tags are left alone', async t => {
  await withStore(async (db, store) => {
    let now = 1_000_000
    const id = (n: number): string => n.toString(16).padStart(64, '0')
    // as after a --resync: 1 ended before the checkpoint (unknown now), 2 runs, 3 ended here (its event was
    // missed), 4 is not known yet (its announce in flight) and will be running when its release comes due
    const phases = new Map<string, TaskView['phase']>([[id(2), 'executing'], [id(3), 'settled']])
    const tasks = Object.assign(new EventEmitter<MarketReaderEvents>(), {
      task: async (taskId: string): Promise<TaskView | undefined> => {
        const phase = phases.get(taskId)
        return phase === undefined ? undefined : ({ taskId, phase }) as TaskView
      }
    })
    const blobs = new Map<number, string>()
    for (const n of [1, 2, 3, 4]) blobs.set(n, await store.put(new Uint8Array([n, n, n]), { tags: [id(n)] }))
    const other = await store.put(new Uint8Array([9]), { tags: ['not-a-task'] })
    const collector = new BlobCollector({ db, store, tasks, logger: silentLogger() }, { retainMs: 60_000, intervalMs: 0, now: () => now })
    await collector.start()
    t.is(await collector.adoptOrphans(), 0, 'adopted once: a second pass finds each scheduled')
    now += 60_000
    phases.set(id(4), 'executing')
    t.is(await collector.sweep(), 2)
    t.false(await store.has(blobs.get(1) as string))
    t.false(await store.has(blobs.get(3) as string))
    t.true(await store.has(blobs.get(2) as string), 'a running task keeps its blobs')
    t.true(await store.has(blobs.get(4) as string), 'its release waits another retention period')
    t.true(await store.has(other))
    // task 4 ends without this node seeing the event: its waiting release collects it
    phases.set(id(4), 'settled')
    now += 60_000
    t.is(await collector.sweep(), 1)
    t.false(await store.has(blobs.get(4) as string))
    await collector.stop()
    await store.stop()
  })
})

test('at start, the adoption asks the market state as a method: a reader that reads its own records (MarketState) starts with blobs of a running task held', async t => {
  // harmonyd hands the collector the MarketState itself, whose task() reads `this`; a lookup called detached from it
  // threw at start (`Cannot read properties of undefined`) on every start of a node holding blobs of a task with no
  // release scheduled yet: a provider restarted while it ran a task, or a requester's node while its tasks were open
  class Reader extends EventEmitter<MarketReaderEvents> {
    private readonly phases = new Map<string, TaskView['phase']>()
    set (taskId: string, phase: TaskView['phase']): void { this.phases.set(taskId, phase) }
    async task (taskId: string): Promise<TaskView | undefined> {
      const phase = this.phases.get(taskId)
      return phase === undefined ? undefined : ({ taskId, phase }) as TaskView
    }
  }
  await withStore(async (db, store) => {
    const id = (n: number): string => n.toString(16).padStart(64, '0')
    const reader = new Reader()
    reader.set(id(1), 'executing')
    reader.set(id(2), 'settled')
    const running = await store.put(new Uint8Array([1]), { tags: [id(1)] })
    await store.put(new Uint8Array([2]), { tags: [id(2)] })
    let now = 1_000_000
    const collector = new BlobCollector({ db, store, tasks: reader, logger: silentLogger() }, { retainMs: 60_000, intervalMs: 0, now: () => now })
    await collector.start()
    now += 60_000
    t.is(await collector.sweep(), 1, 'the ended task\'s blob was adopted at start and is collected')
    t.true(await store.has(running), 'the running task keeps its blob')
    await collector.stop()
    await store.stop()
  })
})
