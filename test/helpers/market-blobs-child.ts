// Writes blobs into a blob store without pause, for the kill -9 test (test/net/market-blobs.test.ts). Prints
// `writing <id>` before each blob and `committed <id>` once its write resolved (the blob is then reported held).
// Even blobs go through put (whole-blob batches), odd ones through a writer one chunk at a time, as a fetch does.
// With a second argument N, the first writer blob after N commits stops half-written and prints `paused <id>`, so
// the kill is sure to land mid-write.
import { randomBytes } from 'node:crypto'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import { BlobStore, buildManifest, CHUNK_BYTES } from '../../src/market/blobs/index.ts'

const db = await openDatabase(process.argv[2])
const store = new BlobStore({ db: sublevel(db, 'blobs'), logger: silentLogger() }, { sweepIntervalMs: 0 })
await store.start()
const pauseAfter = process.argv[3] === undefined ? Infinity : Number(process.argv[3])
let commits = 0
for (let i = 0; ; i++) {
  const bytes = new Uint8Array(randomBytes((6 + (i % 20)) * CHUNK_BYTES + i))
  const m = buildManifest(bytes)
  process.stdout.write(`writing ${m.id}\n`)
  if (i % 2 === 0) {
    await store.put(bytes, { tags: [`task-${i}`] })
  } else {
    const w = await store.openWriter(m, { tags: [`task-${i}`] })
    for (let c = 0; c < m.chunkHashes.length; c++) {
      if (commits >= pauseAfter && c === m.chunkHashes.length >> 1) {
        process.stdout.write(`paused ${m.id}\n`)
        setInterval(() => {}, 60_000)
        await new Promise(() => {})
      }
      await w.write(bytes.subarray(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES))
    }
    await w.commit()
  }
  commits++
  process.stdout.write(`committed ${m.id}\n`)
}
