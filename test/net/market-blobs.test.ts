/**
 * `/harmony/blob/1.0.0` between real libp2p hosts on loopback (port 0), each with its own LevelDB blob store:
 * fetch and verify, chunk ranges, a sealed payload only its recipient opens (a third node fetches the ciphertext
 * and cannot), and every bad answer a peer can give refused with its code (corrupted chunk, forged manifest,
 * oversize frame, silence, busy), with nothing stored; and a writer process killed with SIGKILL mid-write.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, type BinarySublevel, openDatabase, sublevel } from '../../src/core/storage.ts'
import { createHost, type HarmonyLibp2p } from '../../src/network/host.ts'
import { PROTOCOLS } from '../../src/network/protocols.ts'
import {
  BlobError, type BlobErrorCode, BlobService, type BlobServiceInit, BlobStore, type BlobStoreInit, buildManifest, CHUNK_BYTES,
  generateKemKeyPair, open, seal
} from '../../src/market/blobs/index.ts'
import { encodeManifest } from '../../src/market/blobs/manifest.ts'
import { chunkFrame, decodeRequest, manifestFrame, MAX_REQUEST_FRAME_BYTES, MSG_GET_MANIFEST } from '../../src/market/blobs/protocol.ts'

interface BlobNode {
  libp2p: HarmonyLibp2p
  db: BinarySublevel
  store: BlobStore
  service: BlobService
  faults: Array<{ peer: string, code: BlobErrorCode }>
}

const dirs: string[] = []
const dbs: BinaryDb[] = []
const nodes: BlobNode[] = []
const evils: HarmonyLibp2p[] = []

async function blobNode (storeInit: BlobStoreInit = {}, serviceInit: BlobServiceInit = {}): Promise<BlobNode> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-blobnet-'))
  dirs.push(dir)
  const root = await openDatabase(dir)
  dbs.push(root)
  const db = sublevel(root, 'blobs')
  const libp2p = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  const store = new BlobStore({ db, logger: silentLogger() }, { sweepIntervalMs: 0, ...storeInit })
  await store.start()
  const faults: BlobNode['faults'] = []
  const service = new BlobService({ libp2p, store, logger: silentLogger(), onPeerFault: (peer, code) => { faults.push({ peer: peer.toString(), code }) } }, serviceInit)
  await service.start()
  const node = { libp2p, db, store, service, faults }
  nodes.push(node)
  return node
}

/** A bare host that answers `/harmony/blob/1.0.0` with whatever `answer` writes. */
async function evilPeer (answer: (stream: Stream, request: ReturnType<typeof decodeRequest>, lp: ReturnType<typeof lpStream>) => Promise<void>): Promise<HarmonyLibp2p> {
  const libp2p = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  await libp2p.handle(PROTOCOLS.blob, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })
    try {
      for (;;) {
        const req = decodeRequest((await lp.read()).subarray())
        await answer(stream, req, lp)
      }
    } catch {
      stream.abort(new Error('evil peer done'))
    }
  })
  evils.push(libp2p)
  return libp2p
}

async function connect (from: { libp2p: HarmonyLibp2p }, to: HarmonyLibp2p): Promise<PeerId> {
  await from.libp2p.dial(to.getMultiaddrs()[0])
  return to.peerId
}

async function chunkKeys (db: BinarySublevel): Promise<number> {
  let n = 0
  for await (const _ of db.keys()) n++
  return n
}

async function blobCode (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return err instanceof BlobError ? err.code : `untyped: ${String(err)}` }
  return undefined
}

/** Resolves when `cond` holds (polled every 10 ms; the test waits on the condition, not on a time). */
async function until (cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise(resolve => setTimeout(resolve, 10))
}

test.after.always(async () => {
  for (const n of nodes) { await n.service.stop().catch(() => undefined); await n.store.stop().catch(() => undefined); await n.libp2p.stop() }
  for (const e of evils) await e.stop()
  for (const db of dbs) await db.close().catch(() => undefined)
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

test.serial('a sealed payload moves between three nodes: the third fetches and verifies the ciphertext and cannot open it', async t => {
  const requester = await blobNode()
  const winner = await blobNode()
  const stranger = await blobNode()
  const winnerKeys = generateKemKeyPair()
  const strangerKeys = generateKemKeyPair()
  const plaintext = new Uint8Array(randomBytes(2 * CHUNK_BYTES + 100))
  const envelope = seal(plaintext, winnerKeys.publicKey)
  const id = await requester.store.put(envelope, { tags: ['task-1'] })

  const fromRequester = await connect(winner, requester.libp2p)
  t.is(await winner.service.fetch(fromRequester, id, { tags: ['task-1'] }), id)
  t.deepEqual(open(await winner.store.get(id), winnerKeys.secretKey), plaintext)

  await connect(stranger, requester.libp2p)
  t.is(await stranger.service.fetch(fromRequester, id), id)
  const ciphertext = await stranger.store.get(id)
  t.deepEqual(ciphertext, envelope)
  t.is(await blobCode(Promise.resolve().then(() => open(ciphertext, strangerKeys.secretKey))), 'SEAL_OPEN_FAILED')
  // nor does the plaintext appear anywhere in what the stranger holds
  t.is(Buffer.from(ciphertext).indexOf(Buffer.from(plaintext.subarray(0, 64))), -1)
  t.deepEqual(winner.faults, [])
  t.deepEqual(stranger.faults, [])
})

test.serial('chunk ranges, a blob already held, concurrent fetches of one blob, and an unknown id', async t => {
  const server = await blobNode()
  const client = await blobNode()
  const bytes = new Uint8Array(randomBytes(10 * CHUNK_BYTES + 3))
  const id = await server.store.put(bytes)
  const peer = await connect(client, server.libp2p)
  const range = await client.service.fetchRange(peer, id, 1, 9)
  t.is(range.length, 9)
  t.deepEqual(range[0], bytes.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES))
  t.deepEqual(range[8], bytes.subarray(9 * CHUNK_BYTES, 10 * CHUNK_BYTES))
  t.is(await blobCode(client.service.fetchRange(peer, id, 10, 2)), 'BLOB_NOT_FOUND')
  t.false(await client.store.has(id))
  const [a, b] = await Promise.all([client.service.fetch(peer, id, { tags: ['x'] }), client.service.fetch(peer, id, { tags: ['y'] })])
  t.is(a, id)
  t.is(b, id)
  t.deepEqual(await client.store.get(id), bytes)
  t.deepEqual((await client.store.tags(id)).sort(), ['x', 'y'])
  const unknown = '11'.repeat(32)
  const err = await t.throwsAsync(client.service.fetch(peer, unknown))
  t.is((err as BlobError).code, 'BLOB_NOT_FOUND')
  t.is((err as BlobError).meta.peer, peer.toString())
  t.is(await blobCode(client.service.fetch(peer, 'not-an-id')), 'BLOB_ID_INVALID')
  t.deepEqual(client.faults, [])
})

test.serial('locate finds the one holder among peers that lack the blob, one that never answers and six more; none for an unknown id', async t => {
  const client = await blobNode({}, { requestTimeoutMs: 60_000 })
  const lacking = await Promise.all(Array.from({ length: 6 }, async () => await blobNode()))
  const holder = await blobNode()
  // a peer that reads the request and never answers: were peers asked one after another, it would hold the
  // search for the request timeout; asked in a wave, the holder's answer ends the wave and it is abandoned
  const silent = await evilPeer(async () => { await new Promise(() => {}) })
  const bytes = new Uint8Array(randomBytes(300))
  const id = await holder.store.put(bytes)
  const order = [
    await connect(client, silent),
    ...await Promise.all(lacking.slice(0, 2).map(async n => await connect(client, n.libp2p))),
    await connect(client, holder.libp2p),
    ...await Promise.all(lacking.slice(2).map(async n => await connect(client, n.libp2p)))
  ]
  t.is((await client.service.locate(order, id))?.toString(), holder.libp2p.peerId.toString())
  // in a later wave: the first wave (four peers without it) is asked out first
  const later = [...order.slice(1, 3), ...order.slice(4, 6), order[3]]
  t.is((await client.service.locate(later, id))?.toString(), holder.libp2p.peerId.toString())
  t.is(await client.service.locate(order.slice(1), '22'.repeat(32)), undefined)
  t.false(await client.store.has(id), 'locating stores nothing')
  t.deepEqual(client.faults, [])
})

test.serial('a blob over the fetching node\'s maximum is refused before any chunk moves', async t => {
  const server = await blobNode()
  const client = await blobNode({ maxBlobBytes: CHUNK_BYTES })
  const id = await server.store.put(new Uint8Array(randomBytes(CHUNK_BYTES + 1)))
  const peer = await connect(client, server.libp2p)
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_TOO_LARGE')
  t.is(await chunkKeys(client.db), 0)
  t.deepEqual(client.faults, [])
})

test.serial('a peer serving a corrupted chunk is refused and reported; nothing is stored', async t => {
  const client = await blobNode()
  const bytes = new Uint8Array(randomBytes(3 * CHUNK_BYTES))
  const m = buildManifest(bytes)
  const evil = await evilPeer(async (_stream, req, lp) => {
    if (req.type === MSG_GET_MANIFEST) { await lp.write(manifestFrame(encodeManifest(m))); return }
    for (let i = req.first; i < req.first + req.count; i++) {
      const chunk = bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)
      if (i === 1) chunk[12345] ^= 1
      await lp.write(chunkFrame(i, chunk))
    }
  })
  const peer = await connect(client, evil)
  const err = await t.throwsAsync(client.service.fetch(peer, m.id))
  t.is((err as BlobError).code, 'BLOB_PEER_BAD_DATA')
  t.deepEqual(client.faults, [{ peer: peer.toString(), code: 'BLOB_PEER_BAD_DATA' }])
  t.false(await client.store.has(m.id))
  t.is(await chunkKeys(client.db), 0)
})

test.serial('a forged manifest (chunks of other bytes under this id) is refused and reported; nothing is stored', async t => {
  const client = await blobNode()
  const real = new Uint8Array(randomBytes(CHUNK_BYTES + 9))
  const other = new Uint8Array(randomBytes(CHUNK_BYTES + 9))
  const id = buildManifest(real).id
  const evil = await evilPeer(async (_stream, req, lp) => {
    if (req.type === MSG_GET_MANIFEST) { await lp.write(manifestFrame(encodeManifest(buildManifest(other)))); return }
    for (let i = req.first; i < req.first + req.count; i++) await lp.write(chunkFrame(i, other.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)))
  })
  const peer = await connect(client, evil)
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_PEER_BAD_DATA')
  t.is(client.faults.length, 1)
  t.false(await client.store.has(id))
  t.is(await chunkKeys(client.db), 0)
})

test.serial('an answer frame over the protocol limit, or a malformed manifest, is bad data; silence is a timeout', async t => {
  const client = await blobNode({}, { requestTimeoutMs: 1000 })
  const id = '22'.repeat(32)
  let mode: 'oversize' | 'garbage' | 'silent' = 'oversize'
  const evil = await evilPeer(async (_stream, _req, lp) => {
    if (mode === 'oversize') await lp.write(new Uint8Array(CHUNK_BYTES + 1024))
    else if (mode === 'garbage') await lp.write(new Uint8Array([0, 9, 9, 9]))
    // silent: read the request, never answer
  })
  const peer = await connect(client, evil)
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_PEER_BAD_DATA')
  mode = 'garbage'
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_PEER_BAD_DATA')
  t.is(client.faults.length, 2)
  mode = 'silent'
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_TIMEOUT')
  t.is(client.faults.length, 2, 'a slow peer is not reported as lying')
  t.is(await chunkKeys(client.db), 0)
})

test.serial('past its concurrent-stream cap a server answers BUSY; once a stream ends it serves again', async t => {
  const server = await blobNode({}, { maxConcurrentStreams: 1 })
  const client = await blobNode()
  const id = await server.store.put(new Uint8Array(randomBytes(100)))
  const peer = await connect(client, server.libp2p)
  // a client that opens a stream and sends nothing holds the one slot
  const holder = await client.libp2p.dialProtocol(peer, PROTOCOLS.blob)
  await until(() => server.service.activeStreams === 1)
  t.is(await blobCode(client.service.fetch(peer, id)), 'BLOB_PEER_BUSY')
  await holder.close()
  await until(() => server.service.activeStreams === 0)
  t.is(await client.service.fetch(peer, id), id)
  t.deepEqual(client.faults, [])
})

/** Runs the writer child until it has committed `commits` blobs and started the next, then SIGKILLs it. */
async function writeAndKill (dir: string, commits: number, pause: boolean): Promise<string[]> {
  const args = [new URL('../helpers/market-blobs-child.ts', import.meta.url).pathname, dir, ...(pause ? [String(commits)] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const committed: string[] = []
  const lines = createInterface({ input: child.stdout })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`blob writer exited early with ${code}`)) })
    lines.on('line', line => {
      if (line.startsWith('committed ')) committed.push(line.slice(10))
      // the kill lands while the next blob is being written (at a moment of its own, or surely, when paused)
      if (pause ? line.startsWith('paused ') : line.startsWith('writing ') && committed.length >= commits) resolve()
    })
  })
  child.kill('SIGKILL')
  await exited
  return committed
}

test.serial('kill -9 mid-write: every blob reported committed survives whole, no partial blob is ever visible, no stray chunk stays', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-blobcrash-'))
  dirs.push(dir)
  const committed: string[] = []
  let interrupted = 0
  for (const [commits, pause] of [[2, true], [2, false], [3, false], [4, false]] as const) {
    const before = interrupted
    committed.push(...await writeAndKill(dir, commits, pause))
    const root = await openDatabase(dir)
    const db = sublevel(root, 'blobs')
    try {
      for await (const _ of db.keys({ gte: new TextEncoder().encode('p'), lt: new TextEncoder().encode('q') })) interrupted++
      if (pause) t.is(interrupted, before + 1, 'the paused write left its pending marker and half its chunks')
      const store = new BlobStore({ db, logger: silentLogger() }, { sweepIntervalMs: 0 })
      await store.start()
      for (const id of committed) t.true(await store.has(id), `committed blob ${id} is held`)
      let used = 0
      const visible = new Set<string>()
      for await (const key of db.keys()) {
        const k = new TextDecoder().decode(key)
        t.false(k.startsWith('p') || k.startsWith('d'), `no marker left: ${k}`)
        if (k.startsWith('m')) visible.add(k.slice(1))
      }
      for (const id of visible) {
        // get verifies every chunk and the whole against the id
        used += (await store.get(id)).length
      }
      for await (const key of db.keys()) {
        const k = new TextDecoder().decode(key)
        if (k.startsWith('c')) t.true(visible.has(k.slice(1, 65)), `chunk ${k.slice(0, 12)}… belongs to a visible blob`)
      }
      t.is(store.usedBytes, used)
      t.is(store.blobCount, visible.size)
      await store.stop()
    } finally {
      await root.close()
    }
  }
  t.log(`${committed.length} blobs committed over 4 kills; ${interrupted} writes were cut mid-way and cleaned`)
})
