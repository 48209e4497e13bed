/**
 * Task blobs: the store, `/harmony/blob/1.0.0` and sealing, each next to the bare operation it is built on,
 * measured in the same run.
 *
 *   npm run bench:blobs            table
 *   npm run bench:blobs -- --json  one JSON object per line
 *
 * Metrics (a 16 MiB blob, best of 3 runs each):
 * - store_put: BlobStore.put (chunking, sha256 of chunks and whole, pending marker, atomic commit) against raw
 *   LevelDB batches of the same 256 KiB values;
 * - store_get: BlobStore.get (every chunk and the whole verified) against raw reads of the same chunk keys;
 * - fetch_loopback: BlobService.fetch between two libp2p hosts on 127.0.0.1 (manifest, 8-chunk requests, every
 *   chunk checked and written, whole checked) against the same bytes sent as 256 KiB frames over a raw stream on
 *   the same connection;
 * - seal / open: ML-KEM-768 + HKDF + AES-256-GCM against AES-256-GCM alone with a fixed key;
 * - seal_small: sealing a 1 KiB payload (the KEM dominates) against AES-256-GCM of the same 1 KiB;
 * - task_key_derive: a provider's key for one private task (SHA-512 of its KEM secret and the task id, then ML-KEM
 *   KeyGen) against sealing 1 KiB.
 * - fetch_envelope_1KiB_access: BlobService.fetch of a 1 KiB envelope held for a private task from a host whose
 *   service asks the node's envelope access (market/envelope-access.ts: the blob's tags, the task's record, the
 *   peer's key) against the same fetch from a host serving every blob to anyone, same store; per fetch, a new stream
 *   each. fetch_input_256B_access: the same for a public task's 256-byte input (shorter than any envelope).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { silentLogger } from '../src/core/logger.ts'
import { KEY_PREFIXES, keyBytes, openDatabase, sublevel } from '../src/core/storage.ts'
import { createHost } from '../src/network/host.ts'
import { BlobService, BlobStore, CHUNK_BYTES, generateKemKeyPair, open, seal, taskKeySeed } from '../src/market/blobs/index.ts'
import { envelopeAccess } from '../src/market/envelope-access.ts'
import { matmulAnnounce } from './lib/market-payloads.ts'
import { generateKeyPair as generateLedgerKeyPair } from '../src/core/crypto.ts'
import { addressBytesFromPublicKey } from '../src/core/address.ts'
import { toHex } from '../src/core/codec.ts'
import type { TaskRecord } from '../src/market/state/records.ts'
import { type BenchResult, printResults } from './report.ts'

const BLOB_BYTES = 16 * 1024 * 1024
const RUNS = 3
/** Interleaved rounds of the access fetches (each 100 small fetches per host): their spread is larger than the bulk runs'. */
const ACCESS_ROUNDS = 7
const RAW_PROTOCOL = '/harmony/bench/raw-blob/1.0.0'

async function best (fn: () => Promise<void>): Promise<number> {
  let min = Infinity
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    await fn()
    min = Math.min(min, performance.now() - t0)
  }
  return min
}

async function timed (fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

const mibps = (bytes: number, ms: number): number => (bytes / (1024 * 1024)) / (ms / 1000)

function aesSeal (key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const nonce = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', key, nonce)
  const body = Buffer.concat([c.update(plaintext), c.final()])
  return Buffer.concat([nonce, c.getAuthTag(), body])
}

function aesOpen (key: Uint8Array, env: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-256-gcm', key, env.subarray(0, 12))
  d.setAuthTag(env.subarray(12, 28))
  return Buffer.concat([d.update(env.subarray(28)), d.final()])
}

async function main (): Promise<void> {
  const json = process.argv.includes('--json')
  const results: BenchResult[] = []
  const add = (metric: string, value: number, unit: string, baseline: string, baselineValue: number): void => {
    results.push({ bench: 'blobs', metric, value, unit, baseline, baseline_value: baselineValue })
  }
  const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-blobs-'))
  const dbA = await openDatabase(join(dir, 'a'))
  const dbB = await openDatabase(join(dir, 'b'))
  const hostA = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  const hostB = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  try {
    const storeA = new BlobStore({ db: sublevel(dbA, 'blobs'), logger: silentLogger() }, { sweepIntervalMs: 0 })
    const storeB = new BlobStore({ db: sublevel(dbB, 'blobs'), logger: silentLogger() }, { sweepIntervalMs: 0 })
    await storeA.start()
    await storeB.start()
    const serviceA = new BlobService({ libp2p: hostA, store: storeA, logger: silentLogger() })
    const serviceB = new BlobService({ libp2p: hostB, store: storeB, logger: silentLogger() })
    await serviceA.start()
    await serviceB.start()
    const raw = sublevel(dbA, 'meta')
    const chunks = BLOB_BYTES / CHUNK_BYTES

    // store: put and verified get against raw LevelDB of the same values
    let blobs: Uint8Array[] = []
    let n = 0
    const putMs = await best(async () => {
      const bytes = new Uint8Array(randomBytes(BLOB_BYTES))
      blobs.push(bytes)
      await storeA.put(bytes, { tags: [`bench-${n++}`] })
    })
    const rawPutMs = await best(async () => {
      const bytes = new Uint8Array(randomBytes(BLOB_BYTES))
      for (let i = 0; i < chunks; i += 16) {
        const ops = []
        for (let j = i; j < i + 16; j++) ops.push({ type: 'put' as const, key: new TextEncoder().encode(`bench/${n}/${j}`), value: bytes.subarray(j * CHUNK_BYTES, (j + 1) * CHUNK_BYTES) })
        await raw.batch(ops)
      }
      n++
    })
    add('store_put', mibps(BLOB_BYTES, putMs), 'MiB/s', 'raw LevelDB batches, same values', mibps(BLOB_BYTES, rawPutMs))
    const ids = await Promise.all(blobs.map(async b => await storeA.put(b)))
    const getMs = await best(async () => { await storeA.get(ids[0]) })
    // the same chunk keys of the same blob, read without the manifest or any hashing
    const blobsDb = sublevel(dbA, 'blobs')
    const rawGetMs = await best(async () => { for (let j = 0; j < chunks; j++) await blobsDb.get(keyBytes(KEY_PREFIXES.blobs.chunk, `${ids[0]}/${j.toString(16).padStart(8, '0')}`)) })
    add('store_get', mibps(BLOB_BYTES, getMs), 'MiB/s', 'raw LevelDB reads of its chunks', mibps(BLOB_BYTES, rawGetMs))

    // fetch over loopback against the same bytes over a raw stream on the same connection
    await hostB.dial(hostA.getMultiaddrs()[0])
    await hostA.handle(RAW_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: CHUNK_BYTES + 64 })
      await lp.read()
      for (let j = 0; j < chunks; j++) await lp.write(blobs[0].subarray(j * CHUNK_BYTES, (j + 1) * CHUNK_BYTES))
      await stream.close()
    })
    let k = 0
    // a new blob each run (the client would otherwise find it held)
    const fetchMs = await best(async () => { await serviceB.fetch(hostA.peerId, ids[k++]) })
    const rawStreamMs = await best(async () => {
      const stream = await hostB.dialProtocol(hostA.peerId, RAW_PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: CHUNK_BYTES + 64 })
      await lp.write(new Uint8Array([1]))
      for (let j = 0; j < chunks; j++) await lp.read()
      await stream.close()
    })
    add('fetch_loopback', mibps(BLOB_BYTES, fetchMs), 'MiB/s', 'raw libp2p stream, 256 KiB frames', mibps(BLOB_BYTES, rawStreamMs))

    // sealing against AES-256-GCM alone
    const keys = generateKemKeyPair()
    const aesKey = randomBytes(32)
    const plain = blobs[0]
    let env: Uint8Array = new Uint8Array(0)
    const sealMs = await best(async () => { env = seal(plain, keys.publicKey) })
    const aesMs = await best(async () => { aesSeal(aesKey, plain) })
    add('seal', mibps(BLOB_BYTES, sealMs), 'MiB/s', 'AES-256-GCM alone', mibps(BLOB_BYTES, aesMs))
    const aesEnv = aesSeal(aesKey, plain)
    const openMs = await best(async () => { open(env, keys.secretKey) })
    const aesOpenMs = await best(async () => { aesOpen(aesKey, aesEnv) })
    add('open', mibps(BLOB_BYTES, openMs), 'MiB/s', 'AES-256-GCM alone', mibps(BLOB_BYTES, aesOpenMs))
    const small = new Uint8Array(randomBytes(1024))
    const smallMs = await best(async () => { for (let i = 0; i < 100; i++) seal(small, keys.publicKey) })
    const smallAesMs = await best(async () => { for (let i = 0; i < 100; i++) aesSeal(aesKey, small) })
    add('seal_small_1KiB', smallMs / 100, 'ms', 'AES-256-GCM alone, 1 KiB', smallAesMs / 100)
    // a private task's key (s44): a provider derives it per task (KeyGen from a seed); every node checks a revealed
    // seed the same way. Against one seal of 1 KiB, which a requester's node does per input and provider anyway
    const seeds = Array.from({ length: 100 }, (_, i) => taskKeySeed(keys.secretKey, i.toString(16).padStart(64, '0')))
    const keyGenMs = await best(async () => { for (const seed of seeds) generateKemKeyPair(seed) })
    add('task_key_derive', keyGenMs / 100, 'ms', 'seal of 1 KiB', smallMs / 100)

    // a private task's small blobs through the envelope access (the peer proved an awarded provider's key) against the
    // same store served to anyone
    const hostC = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
    const provider = generateLedgerKeyPair()
    const taskId = toHex(randomBytes(32))
    const publicTaskId = toHex(randomBytes(32))
    const record: TaskRecord = {
      taskId, requester: '01'.repeat(20), announceTx: '02'.repeat(32), announcedAtMs: 0, announce: { ...matmulAnnounce(), private: true, requesterKemKey: keys.publicKey },
      bids: new Map(), awards: [], ranking: [], losses: new Map(), results: new Map(), slashes: [], cancelRequested: false,
      assigned: [{ provider: toHex(addressBytesFromPublicKey(provider.publicKey)), price: 1n, role: 'winner', round: 0, deadlineMs: 0, state: 'open' }]
    }
    const validators = Array.from({ length: 4 }, () => generateLedgerKeyPair().publicKey)
    const serviceC = new BlobService({
      libp2p: hostC,
      store: storeA,
      logger: silentLogger(),
      mayServe: envelopeAccess({ store: storeA, taskRecord: async (id) => id === taskId ? record : id === publicTaskId ? { ...record, taskId: id, announce: matmulAnnounce() } : undefined, validatorKeys: () => validators, provenKey: async () => provider.publicKey })
    })
    await serviceC.start()
    await hostB.dial(hostC.getMultiaddrs()[0])
    const SMALL_FETCHES = 100
    // per kind: 2 × ACCESS_ROUNDS × SMALL_FETCHES blobs, a new one for each fetch (the client would otherwise find it held)
    const envelopeIds: string[] = []
    const inputIds: string[] = []
    for (let i = 0; i < 2 * ACCESS_ROUNDS * SMALL_FETCHES; i++) {
      envelopeIds.push(await storeA.put(seal(new Uint8Array(randomBytes(1024)), keys.publicKey), { tags: [taskId] }))
      inputIds.push(await storeA.put(new Uint8Array(randomBytes(256)), { tags: [publicTaskId] }))
    }
    for (const [metric, ids] of [['fetch_envelope_1KiB_access', envelopeIds], ['fetch_input_256B_access', inputIds]] as const) {
      let next = 0
      const fetchSmall = async (from: typeof hostA): Promise<void> => { for (let i = 0; i < SMALL_FETCHES; i++) await serviceB.fetch(from.peerId, ids[next++]) }
      // interleaved, best of each: the machine's speed drifts between runs
      let withAccessMs = Infinity
      let openToAllMs = Infinity
      for (let r = 0; r < ACCESS_ROUNDS; r++) {
        withAccessMs = Math.min(withAccessMs, await timed(async () => { await fetchSmall(hostC) }))
        openToAllMs = Math.min(openToAllMs, await timed(async () => { await fetchSmall(hostA) }))
      }
      add(metric, withAccessMs / SMALL_FETCHES, 'ms', 'the same fetch served to anyone', openToAllMs / SMALL_FETCHES)
    }
    await serviceC.stop()
    await hostC.stop()

    await serviceB.stop()
    await serviceA.stop()
    await storeB.stop()
    await storeA.stop()
    blobs = []
  } finally {
    await hostA.stop()
    await hostB.stop()
    await dbA.close()
    await dbB.close()
    await rm(dir, { recursive: true, force: true })
  }
  printResults(results, json)
}

await main()
