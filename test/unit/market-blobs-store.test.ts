/**
 * BlobStore over a real LevelDB: content addressing, chunking, verified reads, size bounds, atomic writes (an
 * interrupted write is never visible and is cleaned on the next start), tagged collection.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { sha256Hex } from '../../src/compute/blob.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, type BinarySublevel, keyBytes, KEY_PREFIXES, openDatabase, sublevel } from '../../src/core/storage.ts'
import { BlobError, BlobStore, type BlobStoreInit, buildManifest, CHUNK_BYTES } from '../../src/market/blobs/index.ts'

const dirs: string[] = []
const dbs: BinaryDb[] = []
test.after.always(async () => {
  for (const db of dbs) await db.close().catch(() => undefined)
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function freshDb (): Promise<BinarySublevel> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-blobs-'))
  dirs.push(dir)
  const db = await openDatabase(dir)
  dbs.push(db)
  return sublevel(db, 'blobs')
}

async function startStore (db: BinarySublevel, init: BlobStoreInit = {}): Promise<BlobStore> {
  const store = new BlobStore({ db, logger: silentLogger() }, { sweepIntervalMs: 0, ...init })
  await store.start()
  return store
}

/** Every key in the sublevel, as text (prefix + rest). */
async function allKeys (db: BinarySublevel): Promise<string[]> {
  const out: string[] = []
  for await (const k of db.keys()) out.push(new TextDecoder().decode(k))
  return out
}

function code (err: unknown): string | undefined {
  return err instanceof BlobError ? err.code : undefined
}

test('round trip at chunk boundaries: id is sha256 of the whole, reads verified, chunks as the manifest says', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  for (const size of [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 7]) {
    const bytes = new Uint8Array(randomBytes(size))
    const id = await store.put(bytes)
    t.is(id, sha256Hex(bytes), `size ${size}`)
    t.true(await store.has(id))
    t.deepEqual(await store.get(id), bytes)
    const m = await store.manifest(id)
    t.is(m?.size, size)
    t.is(m?.chunkHashes.length, Math.ceil(size / CHUNK_BYTES))
    if (size > CHUNK_BYTES) t.deepEqual(await store.readChunk(id, 1), bytes.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES))
  }
  t.is(store.blobCount, 6)
  t.is(store.usedBytes, 0 + 1 + (CHUNK_BYTES - 1) + CHUNK_BYTES + (CHUNK_BYTES + 1) + (3 * CHUNK_BYTES + 7))
  await store.stop()
  // counts come back from disk on the next start
  const again = await startStore(db)
  t.is(again.blobCount, 6)
  t.is(again.usedBytes, store.usedBytes)
  await again.stop()
})

test('a second put of the same bytes keeps one copy and adds its tags (with fsync\'d commits)', async t => {
  const db = await freshDb()
  const store = await startStore(db, { syncWrites: true })
  const bytes = new Uint8Array(randomBytes(CHUNK_BYTES + 10))
  const id = await store.put(bytes, { tags: ['task-a'] })
  await store.put(bytes, { tags: ['task-b'] })
  t.deepEqual((await store.tags(id)).sort(), ['task-a', 'task-b'])
  t.true(await store.hasTag(id, 'task-b'))
  t.false(await store.hasTag(id, 'task-c'), 'a tag never written')
  t.is(store.blobCount, 1)
  t.is(store.usedBytes, bytes.length)
  await store.stop()
})

test('bad input: oversize blob, full store, invalid id or tag, unknown id, all typed and nothing stored', async t => {
  const db = await freshDb()
  const store = await startStore(db, { maxBlobBytes: 2 * CHUNK_BYTES, maxStoreBytes: 3 * CHUNK_BYTES })
  const big = await t.throwsAsync(store.put(new Uint8Array(2 * CHUNK_BYTES + 1)))
  t.is(code(big), 'BLOB_TOO_LARGE')
  t.deepEqual(await allKeys(db), [])
  await store.put(new Uint8Array(randomBytes(2 * CHUNK_BYTES)), { tags: ['t1'] })
  const full = await t.throwsAsync(store.put(new Uint8Array(randomBytes(2 * CHUNK_BYTES)), { tags: ['t2'] }))
  t.is(code(full), 'BLOB_STORE_FULL')
  t.is(store.blobCount, 1)
  t.is(code(await t.throwsAsync(store.get('zz'))), 'BLOB_ID_INVALID')
  t.is(code(await t.throwsAsync(store.get('AB'.repeat(32)))), 'BLOB_ID_INVALID')
  t.is(code(await t.throwsAsync(store.put(new Uint8Array(1), { tags: ['a/b'] }))), 'BLOB_ID_INVALID')
  t.is(code(await t.throwsAsync(store.get('00'.repeat(32)))), 'BLOB_NOT_FOUND')
  const few = await startStore(await freshDb(), { maxBlobCount: 2 })
  await few.put(new Uint8Array([1]), { tags: ['k'] })
  await few.put(new Uint8Array([2]), { tags: ['k'] })
  t.is(code(await t.throwsAsync(few.put(new Uint8Array([3]), { tags: ['k'] }))), 'BLOB_STORE_FULL')
  await few.stop()
  // releasing the first task frees the room
  t.is(await store.release('t1'), 1)
  await store.put(new Uint8Array(randomBytes(2 * CHUNK_BYTES)), { tags: ['t2'] })
  t.is(store.blobCount, 1)
  await store.stop()
})

test('a stored chunk that no longer matches is never returned: BLOB_CORRUPT, and the blob is removed', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  const bytes = new Uint8Array(randomBytes(2 * CHUNK_BYTES + 5))
  const id = await store.put(bytes, { tags: ['task'] })
  const key = keyBytes(KEY_PREFIXES.blobs.chunk, `${id}/00000001`)
  const chunk = await db.get(key)
  t.truthy(chunk)
  const bad = new Uint8Array(chunk!)
  bad[100] ^= 1
  await db.put(key, bad)
  t.is(code(await t.throwsAsync(store.get(id))), 'BLOB_CORRUPT')
  t.false(await store.has(id))
  t.deepEqual(await allKeys(db), [])
  t.is(store.usedBytes, 0)
  await store.stop()
})

test('a writer refuses a chunk that does not match, and a forged manifest never becomes visible', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  const bytes = new Uint8Array(randomBytes(CHUNK_BYTES + 3))
  const m = buildManifest(bytes)
  const w = await store.openWriter(m)
  const wrong = bytes.slice(0, CHUNK_BYTES)
  wrong[0] ^= 0xff
  t.is(code(await t.throwsAsync(w.write(wrong))), 'BLOB_CORRUPT')
  await w.abort()
  // chunk hashes of other bytes under this id: every chunk matches its manifest, the whole does not
  const other = new Uint8Array(randomBytes(CHUNK_BYTES + 3))
  const forged = { ...buildManifest(other), id: m.id }
  const fw = await store.openWriter(forged)
  await fw.write(other.subarray(0, CHUNK_BYTES))
  await fw.write(other.subarray(CHUNK_BYTES))
  t.is(code(await t.throwsAsync(fw.commit())), 'BLOB_CORRUPT')
  t.false(await store.has(m.id))
  t.deepEqual(await allKeys(db), [])
  t.is(code(await t.throwsAsync(store.openWriter({ ...m, size: 1 << 30 }))), 'BLOB_TOO_LARGE')
  await store.stop()
})

test('an interrupted write is invisible, and the next start removes its chunks', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  const bytes = new Uint8Array(randomBytes(3 * CHUNK_BYTES))
  const m = buildManifest(bytes)
  const w = await store.openWriter(m, { tags: ['task'] })
  await w.write(bytes.subarray(0, CHUNK_BYTES))
  await w.write(bytes.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES))
  // the process "dies" here: no commit, no abort; a second store over the same database plays the next start
  t.false(await store.has(m.id))
  t.is(code(await t.throwsAsync(store.get(m.id))), 'BLOB_NOT_FOUND')
  t.true((await allKeys(db)).some(k => k.startsWith('c')))
  const next = await startStore(db)
  t.false(await next.has(m.id))
  t.deepEqual(await allKeys(db), [])
  t.is(next.usedBytes, 0)
  // and the same blob can then be stored whole
  t.is(await next.put(bytes), m.id)
  t.deepEqual(await next.get(m.id), bytes)
  await next.stop()
})

test('a blob of one chunk is written whole at its commit, chunk and manifest in one batch: before it nothing is on disk, not even a pending marker, and an abort leaves nothing', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  const bytes = new Uint8Array(randomBytes(1000))
  const m = buildManifest(bytes)
  const w = await store.openWriter(m, { tags: ['task'] })
  await w.write(bytes)
  // a kill here leaves nothing to clean
  t.deepEqual(await allKeys(db), [])
  t.false(await store.has(m.id))
  await w.commit()
  t.deepEqual((await allKeys(db)).map(k => k[0]).sort(), ['c', 'm', 'r', 't'])
  t.deepEqual(await store.get(m.id), bytes)
  t.deepEqual(await store.readChunk(m.id, 0), bytes)
  t.is(store.usedBytes, 1000)
  // aborted after its chunk: nothing stays, and the size it reserved is free again
  const other = new Uint8Array(randomBytes(2000))
  const ow = await store.openWriter(buildManifest(other))
  await ow.write(other)
  await ow.abort()
  t.deepEqual((await allKeys(db)).map(k => k[0]).sort(), ['c', 'm', 'r', 't'])
  t.is(await store.put(other), buildManifest(other).id)
  t.is(store.usedBytes, 3000)
  await store.stop()
})

test('release(taskId) collects a blob once no task holds it; untagged blobs go after the grace period', async t => {
  const db = await freshDb()
  let now = 1_000_000
  const store = await startStore(db, { untaggedGraceMs: 60_000, now: () => now })
  const shared = await store.put(new Uint8Array(randomBytes(CHUNK_BYTES * 2)), { tags: ['a', 'b'] })
  const onlyA = await store.put(new Uint8Array(randomBytes(10)), { tags: ['a'] })
  const upload = await store.put(new Uint8Array(randomBytes(20)))
  t.is(await store.release('a'), 1)
  t.false(await store.has(onlyA))
  t.true(await store.has(shared))
  t.deepEqual(await store.tags(shared), ['b'])
  t.is(await store.sweep(), 0)
  now += 60_000
  t.is(await store.sweep(), 1)
  t.false(await store.has(upload))
  t.is(await store.release('b'), 1)
  t.is(await store.release('b'), 0)
  t.deepEqual(await allKeys(db), [])
  t.is(store.usedBytes, 0)
  t.is(store.blobCount, 0)
  // a write tagged with a task released before it committed does not hold the blob: it is swept like an upload
  const late = await store.put(new Uint8Array(randomBytes(40)), { tags: ['b'] })
  t.deepEqual(await store.tags(late), [])
  now += 60_000
  t.is(await store.sweep(), 1)
  t.false(await store.has(late))
  // tagging an upload before its grace ends keeps it past the sweep
  const kept = await store.put(new Uint8Array(randomBytes(30)))
  await store.tag(kept, ['c'])
  now += 120_000
  t.is(await store.sweep(), 0)
  t.true(await store.has(kept))
  await store.stop()
})

test('property: after any history of puts, releases and sweeps the store holds exactly the held blobs, counted right, no stray keys', async t => {
  const db = await freshDb()
  let now = 0
  const store = await startStore(db, { untaggedGraceMs: 10, now: () => now })
  const tagNames = ['t0', 't1', 't2']
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), seed: fc.integer({ min: 0, max: 5 }), size: fc.constantFrom(0, 7, CHUNK_BYTES, CHUNK_BYTES + 1), tags: fc.subarray(tagNames) }),
    fc.record({ kind: fc.constant('release' as const), tag: fc.constantFrom(...tagNames) }),
    fc.record({ kind: fc.constant('sweep' as const), advance: fc.integer({ min: 0, max: 20 }) })
  )
  let run = 0
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (generated) => {
    // every run starts from an empty store and uses task ids never released before (a released id stays dead)
    for (const tag of tagNames) await store.release(`${run}-${tag}`)
    now += 1000
    await store.sweep()
    run++
    const ops = generated.map(o => o.kind === 'put' ? { ...o, tags: o.tags.map(x => `${run}-${x}`) } : o.kind === 'release' ? { ...o, tag: `${run}-${o.tag}` } : o)
    // model: id -> { size, tags, untaggedSince }
    const model = new Map<string, { size: number, tags: Set<string>, since: number | undefined }>()
    const released = new Set<string>()
    for (const o of ops) {
      if (o.kind === 'put') {
        const bytes = new Uint8Array(o.size).fill(o.seed)
        const id = await store.put(bytes, { tags: o.tags })
        // a released task's tag no longer holds anything
        const live = o.tags.filter(x => !released.has(x))
        const entry = model.get(id) ?? { size: o.size, tags: new Set<string>(), since: live.length === 0 ? now : undefined }
        for (const tag of live) entry.tags.add(tag)
        if (entry.tags.size > 0) entry.since = undefined
        model.set(id, entry)
      } else if (o.kind === 'release') {
        await store.release(o.tag)
        released.add(o.tag)
        for (const [id, e] of model) {
          if (e.tags.delete(o.tag) && e.tags.size === 0) model.delete(id)
        }
      } else {
        now += o.advance
        await store.sweep()
        for (const [id, e] of model) if (e.since !== undefined && e.since <= now - 10) model.delete(id)
      }
    }
    for (const [id, e] of model) {
      if (!await store.has(id)) return false
      if ((await store.tags(id)).sort().join() !== [...e.tags].sort().join()) return false
    }
    if (store.blobCount !== model.size) return false
    if (store.usedBytes !== [...model.values()].reduce((n, e) => n + e.size, 0)) return false
    // no chunk without its manifest, no pending or dead marker left behind
    const keys = await allKeys(db)
    for (const k of keys) {
      if (k.startsWith('p') || k.startsWith('d')) return false
      if (k.startsWith('c') && !model.has(k.slice(1, 65))) return false
    }
    return true
  }), { numRuns: 40 }))
  await store.stop()
})

test('the blobs sublevel\'s key prefixes are the bytes existing datadirs hold', t => {
  t.deepEqual({ ...KEY_PREFIXES.blobs }, { manifest: 'm', chunk: 'c', pending: 'p', tag: 't', tagOfBlob: 'r', untagged: 'u', dead: 'd', releaseDue: 'x' })
})

test('a manifest damaged on disk does not stop the store from starting: that blob is removed, the others stay', async t => {
  const db = await freshDb()
  const store = await startStore(db)
  const bad = await store.put(new Uint8Array(randomBytes(CHUNK_BYTES + 1)), { tags: ['a'] })
  const good = await store.put(new Uint8Array(randomBytes(50)), { tags: ['a'] })
  await store.stop()
  await db.put(keyBytes(KEY_PREFIXES.blobs.manifest, bad), new Uint8Array([0, 1, 2]))
  const again = await startStore(db)
  t.false(await again.has(bad))
  t.true(await again.has(good))
  t.is(again.blobCount, 1)
  t.is(again.usedBytes, 50)
  t.false((await allKeys(db)).some(k => k.includes(bad)), 'its chunks and tags are gone too')
  await again.stop()
})
