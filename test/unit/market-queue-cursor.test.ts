// The market queue's reader: each pass offers only what came after the last key read; a parked entry is offered
// again right after each entry of its task that leaves the queue, and once more to be refused when it is older than
// the consumer's expiry, checked after every entry (so pass boundaries change nothing); an undecodable record is
// dropped.
import test from 'ava'
import { toHex } from '../../src/core/codec.ts'
import { openDatabase, sublevel, type BinarySublevel } from '../../src/core/storage.ts'
import { decodeQueued, type QueuedTx, queueRecord } from '../../src/market/kinds/queue.ts'
import { type QueueConsumer, QueueCursor } from '../../src/market/state/queue-cursor.ts'
import { tempDir } from '../helpers/harmonyd.ts'

const PARK_MS = 10_000

interface Entry { seq: bigint, task: string, timeMs: number, needs?: bigint }

const idOf = (seq: bigint): string => toHex(new Uint8Array(32).fill(Number(seq)))

const recordOf = (e: Entry): ReturnType<typeof queueRecord> => queueRecord({ idHex: idOf(e.seq), vertexIdHex: '00'.repeat(32), vertexTimeMs: BigInt(e.timeMs), seq: e.seq, position: 0, encoded: new Uint8Array([Number(e.seq)]) })

async function put (db: BinarySublevel, e: Entry): Promise<void> {
  const r = recordOf(e)
  await db.put(r.key, r.value)
}

/** What the ledger's `tx:final` hands over for an entry (MarketState builds it with `queuedEntries`). */
const fedOf = (e: Entry): QueuedTx => decodeQueued(recordOf(e).key, recordOf(e).value)

/** An entry final while the cursor runs: written by its decision, then handed over by the event. */
async function final (db: BinarySublevel, cursor: QueueCursor, e: Entry): Promise<void> {
  await put(db, e)
  cursor.feed([fedOf(e)])
}

/**
 * MarketState's part as a model: an entry applies once the entry it `needs` applied (else it stays parked, or with
 * `expire` is refused); what leaves is deleted, as MarketState's batch does; `newest` is the newest applied time.
 */
function consumer (db: BinarySublevel, entries: Entry[], log: string[], gate: { park?: Set<string> } = {}): QueueConsumer {
  const byId = new Map(entries.map(e => [idOf(e.seq), e]))
  const applied = new Set<bigint>()
  let newest = 0
  return {
    async apply (q, expire) {
      const e = byId.get(q.txIdHex)!
      const waits = (e.needs !== undefined && !applied.has(e.needs)) || gate.park?.has(q.txIdHex) === true
      if (waits && !expire) { log.push(`offered ${e.seq}`); return { left: false, task: e.task } }
      log.push(`${waits ? 'refused' : 'applied'} ${e.seq}`)
      if (!waits) {
        applied.add(e.seq)
        newest = Math.max(newest, e.timeMs)
      }
      await db.del(q.key)
      return { left: true, task: e.task }
    },
    expiresBefore: () => newest - PARK_MS
  }
}

async function withDb (fn: (db: BinarySublevel) => Promise<void>): Promise<void> {
  await using dir = await tempDir()
  const root = await openDatabase(dir.path)
  try {
    await fn(sublevel(root, 'market'))
  } finally {
    await root.close()
  }
}

test('a pass reads what is new; a parked entry comes back only after an entry of its task left, or to expire; an undecodable record is dropped', async t => {
  await withDb(async db => {
    // a waits for an entry of task x that never comes, c for d (task z); b applies
    const entries: Entry[] = [
      { seq: 1n, task: 'x', timeMs: 1000, needs: 9n },
      { seq: 2n, task: 'y', timeMs: 2000 },
      { seq: 3n, task: 'z', timeMs: 3000, needs: 4n },
      { seq: 4n, task: 'z', timeMs: 4000 },
      { seq: 5n, task: 'w', timeMs: 1000 + PARK_MS + 1 }
    ]
    const log: string[] = []
    const c = consumer(db, entries, log)
    const cursor = new QueueCursor(db)
    for (const e of entries.slice(0, 3)) await put(db, e)
    t.true(await cursor.pass(c), 'b applied')
    t.deepEqual(log, ['offered 1', 'applied 2', 'offered 3'])
    t.is(cursor.parkedCount, 2)

    log.length = 0
    await final(db, cursor, entries[3])
    // a record that no longer decodes, not handed over (the disk is read for it): dropped, never offered
    await db.put(new TextEncoder().encode('q/00000000000000000004/00001'), new Uint8Array([1, 2]))
    cursor.unfed()
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 4', 'applied 3'], 'c right after d, its task\'s; a is not offered again (nothing of x came), b not read again')
    t.is(cursor.parkedCount, 1)
    t.is(await db.get(new TextEncoder().encode('q/00000000000000000004/00001')), undefined, 'the undecodable record is gone')

    log.length = 0
    t.false(await cursor.pass(c), 'nothing new: nothing offered')
    t.deepEqual(log, [])

    // e is of another task but newer than a's time + PARK_MS: a expires right after it, refused
    await final(db, cursor, entries[4])
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 5', 'refused 1'])
    t.is(cursor.parkedCount, 0)
    const left: Uint8Array[] = []
    for await (const k of db.keys()) left.push(k)
    t.deepEqual(left, [], 'every entry applied or refused, and deleted')
  })
})

test('what applies does not depend on where passes end: a parked entry expires after the entry that makes it old, before its task\'s next entry', async t => {
  // a waits for c (task x); b (task y) is PARK_MS newer than a, so a expires right after b, before c comes
  const entries: Entry[] = [
    { seq: 1n, task: 'x', timeMs: 0, needs: 3n },
    { seq: 2n, task: 'y', timeMs: PARK_MS + 1 },
    { seq: 3n, task: 'x', timeMs: PARK_MS + 2 },
    { seq: 4n, task: 'z', timeMs: PARK_MS + 3, needs: 5n },
    { seq: 5n, task: 'z', timeMs: PARK_MS + 4 }
  ]
  const runs: string[][] = []
  for (let split = 0; split <= entries.length; split++) {
    await withDb(async db => {
      const log: string[] = []
      const c = consumer(db, entries, log)
      const cursor = new QueueCursor(db)
      for (const e of entries.slice(0, split)) await put(db, e)
      await cursor.pass(c)
      for (const e of entries.slice(split)) await final(db, cursor, e)
      await cursor.pass(c)
      runs.push(log.filter(l => !l.startsWith('offered')))
    })
  }
  t.deepEqual(runs[0], ['applied 2', 'refused 1', 'applied 3', 'applied 5', 'applied 4'])
  for (const run of runs) t.deepEqual(run, runs[0])
})

test('past its bound of parked keys the next pass reads the whole queue again: no parked entry is left out', async t => {
  await withDb(async db => {
    const entries: Entry[] = [1n, 2n, 3n, 4n, 5n].map(seq => ({ seq, task: `t${seq}`, timeMs: 1000 }))
    for (const e of entries) await put(db, e)
    const log: string[] = []
    const park = new Set(entries.map(e => idOf(e.seq)))
    const c = consumer(db, entries, log, { park })
    const cursor = new QueueCursor(db, { maxParked: 2 })
    t.false(await cursor.pass(c))
    t.is(cursor.parkedCount, 2, 'two held, the rest over the bound')
    log.length = 0
    park.clear()
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 1', 'applied 2', 'applied 3', 'applied 4', 'applied 5'], 'every entry offered again, in order, once')
    t.is(cursor.parkedCount, 0)
  })
})

test('within a pass, an entry that leaves the queue is followed at once by the entries parked on its task, before what comes after it', async t => {
  await withDb(async db => {
    // a waits for b (same task x); c is another task's
    const entries: Entry[] = [{ seq: 1n, task: 'x', timeMs: 1000, needs: 2n }, { seq: 2n, task: 'x', timeMs: 2000 }, { seq: 3n, task: 'y', timeMs: 3000 }]
    for (const e of entries) await put(db, e)
    const log: string[] = []
    const cursor = new QueueCursor(db)
    t.true(await cursor.pass(consumer(db, entries, log)))
    t.deepEqual(log, ['offered 1', 'applied 2', 'applied 1', 'applied 3'])
    t.is(cursor.parkedCount, 0)
  })
})

test('entries handed over by the ledger\'s event are taken without reading the queue back, after what the disk held, none twice; past the feed\'s bound, or for an entry not handed over, the disk is read again', async t => {
  await withDb(async db => {
    const entries: Entry[] = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n].map(seq => ({ seq, task: `t${seq}`, timeMs: 1000 }))
    const log: string[] = []
    const c = consumer(db, entries, log)
    const cursor = new QueueCursor(db, { maxFed: 2 })
    // 1 and 2 were queued before the first pass (a restart); 2 was also handed over, as was 3 (final meanwhile)
    await put(db, entries[0])
    await put(db, entries[1])
    await put(db, entries[2])
    cursor.feed([fedOf(entries[1]), fedOf(entries[2])])
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 1', 'applied 2', 'applied 3'], 'the first pass reads the disk; what the feed also holds is offered once')

    // 4 is handed over but (here, unlike a node) not on disk: the pass takes it from the feed alone
    log.length = 0
    cursor.feed([fedOf(entries[3])])
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 4'])
    // 5 is queued on disk and never handed over: the cursor follows the feed, so it is not seen until told
    await put(db, entries[4])
    t.false(await cursor.pass(c))
    cursor.unfed()
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 4', 'applied 5'])

    // three handed over at once is past the bound of two: dropped, and read from the disk after the last key read
    log.length = 0
    for (const e of entries.slice(5)) await put(db, e)
    cursor.feed(entries.slice(5).map(fedOf))
    t.true(await cursor.pass(c))
    t.deepEqual(log, ['applied 6', 'applied 7', 'applied 8'])
    const left: Uint8Array[] = []
    for await (const k of db.keys()) left.push(k)
    t.deepEqual(left, [], 'every entry applied and deleted')
  })
})
