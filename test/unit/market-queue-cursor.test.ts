// The market queue's reader: each pass offers the parked entries first (oldest first), then only what came after the
// last key read; a parked entry is offered again until it applies; a record that no longer decodes is dropped.
import test from 'ava'
import { toHex } from '../../src/core/codec.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import { marketFinalRecords } from '../../src/market/kinds/queue.ts'
import { QueueCursor } from '../../src/market/state/queue-cursor.ts'
import { tempDir } from '../helpers/harmonyd.ts'

test('a pass reads what is new, parked entries come back first and in order, an undecodable record is dropped', async t => {
  await using dir = await tempDir()
  const root = await openDatabase(dir.path)
  const db = sublevel(root, 'market')
  try {
    const put = async (seq: bigint, position = 0): Promise<string> => {
      const idHex = toHex(new Uint8Array(32).fill(Number(seq)))
      const [r] = marketFinalRecords({ idHex, vertexIdHex: '00'.repeat(32), vertexTimeMs: 1000n * seq, seq, position, encoded: new Uint8Array([Number(seq)]) })
      await db.put(r.key, r.value)
      return idHex
    }
    const cursor = new QueueCursor(db)
    const [a, b, c] = [await put(1n), await put(2n), await put(3n)]
    const offered: string[] = []
    const parkable = new Set([a, c])
    // apply deletes what it applies, as MarketState's batch does
    const apply = async (q: { key: Uint8Array, txIdHex: string }): Promise<boolean> => {
      offered.push(q.txIdHex)
      if (parkable.has(q.txIdHex)) return false
      await db.del(q.key)
      return true
    }
    t.true(await cursor.pass(apply), 'b applied')
    t.deepEqual(offered, [a, b, c])
    t.is(cursor.parkedCount, 2)

    offered.length = 0
    const d = await put(4n)
    // a record that no longer decodes: dropped, never offered
    await db.put(new TextEncoder().encode('q/00000000000000000005/00000'), new Uint8Array([1, 2]))
    parkable.delete(c)
    t.true(await cursor.pass(apply))
    t.deepEqual(offered, [a, c, d], 'the parked ones first, oldest first, then only what is new (b is not read again)')
    t.is(cursor.parkedCount, 1)
    t.is(await db.get(new TextEncoder().encode('q/00000000000000000005/00000')), undefined, 'the undecodable record is gone')

    offered.length = 0
    t.false(await cursor.pass(apply), 'nothing applied: a is still parked')
    t.deepEqual(offered, [a])
    parkable.clear()
    offered.length = 0
    t.true(await cursor.pass(apply))
    t.deepEqual(offered, [a])
    t.is(cursor.parkedCount, 0)
    const left: Uint8Array[] = []
    for await (const k of db.keys()) left.push(k)
    t.deepEqual(left, [], 'every entry applied and deleted')
  } finally {
    await root.close()
  }
})

test('past its bound of parked keys the next pass reads the whole queue again: no parked entry is left out', async t => {
  await using dir = await tempDir()
  const root = await openDatabase(dir.path)
  const db = sublevel(root, 'market')
  try {
    const ids: string[] = []
    for (let seq = 1n; seq <= 5n; seq++) {
      const idHex = toHex(new Uint8Array(32).fill(Number(seq)))
      const [r] = marketFinalRecords({ idHex, vertexIdHex: '00'.repeat(32), vertexTimeMs: 1000n * seq, seq, position: 0, encoded: new Uint8Array([Number(seq)]) })
      await db.put(r.key, r.value)
      ids.push(idHex)
    }
    const cursor = new QueueCursor(db, 2)
    const offered: string[] = []
    let parkAll = true
    const apply = async (q: { key: Uint8Array, txIdHex: string }): Promise<boolean> => {
      offered.push(q.txIdHex)
      if (parkAll) return false
      await db.del(q.key)
      return true
    }
    t.false(await cursor.pass(apply))
    t.is(cursor.parkedCount, 2, 'two held, the rest over the bound')
    offered.length = 0
    parkAll = false
    t.true(await cursor.pass(apply))
    t.deepEqual(offered, ids, 'every entry offered again, in order, once')
    t.is(cursor.parkedCount, 0)
  } finally {
    await root.close()
  }
})

test('within a pass, an entry that leaves the queue is followed at once by the entries parked on its task, before what comes after it', async t => {
  await using dir = await tempDir()
  const root = await openDatabase(dir.path)
  const db = sublevel(root, 'market')
  try {
    const task = new Map<string, string>()
    const put = async (seq: bigint, of: string): Promise<string> => {
      const idHex = toHex(new Uint8Array(32).fill(Number(seq)))
      const [r] = marketFinalRecords({ idHex, vertexIdHex: '00'.repeat(32), vertexTimeMs: 1000n * seq, seq, position: 0, encoded: new Uint8Array([Number(seq)]) })
      await db.put(r.key, r.value)
      task.set(idHex, of)
      return idHex
    }
    // a waits for b (same task x); c is another task's
    const [a, b, c] = [await put(1n, 'x'), await put(2n, 'x'), await put(3n, 'y')]
    const applied = new Set<string>()
    const offered: string[] = []
    const apply = async (q: { key: Uint8Array, txIdHex: string }): Promise<boolean> => {
      offered.push(q.txIdHex)
      if (q.txIdHex === a && !applied.has(b)) return false
      applied.add(q.txIdHex)
      await db.del(q.key)
      return true
    }
    const cursor = new QueueCursor(db)
    t.true(await cursor.pass(apply, (q) => task.get(q.txIdHex)))
    t.deepEqual(offered, [a, b, a, c])
    t.is(cursor.parkedCount, 0)
  } finally {
    await root.close()
  }
})
