/**
 * The vertex body log (src/dag/body-log.ts): bodies in append-only segments, references in the LevelDB.
 */
import { randomBytes } from 'node:crypto'
import { open, readdir, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { bytesEqual } from '../../src/core/codec.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { decodeBodyRef, encodeBodyRef, VertexBodyLog } from '../../src/dag/body-log.ts'
import { DagStore } from '../../src/dag/store.ts'
import { tempDirUntilExit } from '../helpers/temp.ts'

const dir = async (): Promise<string> => await tempDirUntilExit('harmony-bodies-')

test('bodies read back across segments and after a reopen, which appends to a new segment', async t => {
  const d = await dir()
  const log = new VertexBodyLog(d, { maxSegmentBytes: 10_000 })
  const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(1500 + i * 300))
  const refs = bodies.map(b => log.append(b))
  // 10 kB segments: every body in one, none split across two
  const segments = new Set(refs.map(r => decodeBodyRef(r).segment))
  t.true(segments.size >= 3, `${segments.size} segments`)
  for (const r of refs) { const ref = decodeBodyRef(r); t.true(ref.offset + ref.length <= 10_000) }
  for (let i = 0; i < bodies.length; i++) t.true(bytesEqual((await log.read(refs[i])) as Uint8Array, bodies[i]))
  await log.close()

  const again = new VertexBodyLog(d, { maxSegmentBytes: 10_000 })
  for (let i = 0; i < bodies.length; i++) t.true(bytesEqual((await again.read(refs[i])) as Uint8Array, bodies[i]))
  const next = decodeBodyRef(again.append(randomBytes(10)))
  t.is(next.segment, Math.max(...segments) + 1)
  t.is(next.offset, 0)
  // a body larger than a segment gets one of its own
  const big = randomBytes(25_000)
  const bigRef = again.append(big)
  t.true(bytesEqual((await again.read(bigRef)) as Uint8Array, big))
  await again.close()
})

test('a body that comes back short or changed reads as absent, never as other bytes', async t => {
  const d = await dir()
  const log = new VertexBodyLog(d)
  const a = log.append(randomBytes(4000))
  const b = log.append(randomBytes(4000))
  await log.close()
  const file = join(d, (await readdir(d))[0])
  // a bit flipped inside the first body
  const fh = await open(file, 'r+')
  await fh.write(new Uint8Array([0xff ^ (await fh.read(new Uint8Array(1), 0, 1, 100)).buffer[0]]), 0, 1, 100)
  await fh.close()
  // the second body's tail lost (what a power loss can leave of bytes never made durable)
  await truncate(file, 6000)
  const reader = new VertexBodyLog(d)
  t.is(await reader.read(a), undefined)
  t.is(await reader.read(b), undefined)
  // a reference to a segment that is not there
  t.is(await reader.read(encodeBodyRef({ segment: 99, offset: 0, length: 10, crc: 0 })), undefined)
  await reader.close()
})

test('collect deletes the segments no reference names, never the one being appended to', async t => {
  const d = await dir()
  const log = new VertexBodyLog(d, { maxSegmentBytes: 1000 })
  const refs = Array.from({ length: 5 }, () => log.append(randomBytes(800)))
  t.deepEqual(log.segments().sort(), [1, 2, 3, 4, 5])
  // only segment 3 is still referenced; 5 is the active one
  t.is(log.collect(new Set([3])), 3)
  t.deepEqual(log.segments().sort(), [3, 5])
  t.is((await log.read(refs[2]))?.length, 800)
  t.is(await log.read(refs[0]), undefined)
  t.is((await log.read(refs[4]))?.length, 800)
  await log.close()
})

test('the store keeps new bodies in the log, still reads bodies stored in the LevelDB, and prunes both', async t => {
  const d = await dir()
  const db = await openDatabase(join(d, 'db'))
  try {
    // a datadir from before the log: its body is in the LevelDB
    const before = new DagStore(db)
    const oldId = randomBytes(32)
    const oldBody = randomBytes(3000)
    const b0 = before.batch()
    before.putVertex(b0, oldId, oldBody, [])
    await b0.commit()

    const log = new VertexBodyLog(join(d, 'bodies'), { maxSegmentBytes: 5000 })
    const store = new DagStore(db, log)
    const ids = Array.from({ length: 4 }, () => randomBytes(32))
    const bodies = ids.map(() => randomBytes(4000))
    const b1 = store.batch()
    ids.forEach((id, i) => { store.putVertex(b1, id, bodies[i], []) })
    await b1.commit({ sync: true })
    // the LevelDB holds a reference, not the body
    t.is(await store.vertices.get(ids[0]), undefined)
    t.is((await store.bodyRefs.get(ids[0]))?.length, 20)
    for (let i = 0; i < ids.length; i++) t.true(bytesEqual((await store.getVertex(ids[i])) as Uint8Array, bodies[i]))
    t.true(bytesEqual((await store.getVertex(oldId)) as Uint8Array, oldBody))
    const all = new Map<string, number>()
    for await (const [k, v] of store.allVertices()) all.set(Buffer.from(k).toString('hex'), v.length)
    t.is(all.size, 5)

    // pruning the old body and the first two logged ones: their segments go, the rest stays readable
    const b2 = store.batch()
    for (const id of [oldId, ids[0], ids[1]]) store.deleteVertexBody(b2, id)
    await b2.commit()
    t.is(await store.collectBodies(), 2)
    for (const id of [oldId, ids[0], ids[1]]) t.is(await store.getVertex(id), undefined)
    for (const i of [2, 3]) t.true(bytesEqual((await store.getVertex(ids[i])) as Uint8Array, bodies[i]))
    t.deepEqual(log.segments().sort(), [3, 4])
    // a batch that never commits leaves its body as dead space, referenced by nothing
    const lost = store.batch()
    store.putVertex(lost, randomBytes(32), randomBytes(4000), [])
    await log.close()
    t.is(await new DagStore(db, new VertexBodyLog(join(d, 'bodies'))).collectBodies(), 1)
  } finally {
    await db.close()
  }
})

test('a sync in flight while the segment it flushes is closed by a rotation: both bodies stay readable', async t => {
  const log = new VertexBodyLog(await dir(), { maxSegmentBytes: 1000 })
  const a = randomBytes(800)
  const b = randomBytes(800)
  const ra = log.append(a)
  const syncing = log.sync()
  // rotates: the fd the sync is flushing is closed only once the sync is done
  const rb = log.append(b)
  await syncing
  await log.sync()
  t.not(decodeBodyRef(ra).segment, decodeBodyRef(rb).segment)
  t.true(bytesEqual((await log.read(ra)) as Uint8Array, a))
  t.true(bytesEqual((await log.read(rb)) as Uint8Array, b))
  await log.close()
})
