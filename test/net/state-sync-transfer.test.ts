/**
 * The state-sync transfer (`/harmony/state/2.0.0`, docs/protocol.md "State sync") between real libp2p nodes on
 * loopback: a cut travels in chunks; a peer that fails mid-way is replaced by the next from where it stopped; a
 * download mixed from a liar's and an honest peer's chunks is refused and the honest peer's whole cut taken, as it is
 * after a liar that claimed another length; a peer sending chunks too short is skipped. The peers that misbehave are written from the protocol's text (a handler of
 * their own), the honest ones are StateSyncServer.
 */
import { randomBytes } from 'node:crypto'
import test from 'ava'
import type { Stream } from '@libp2p/interface'
import { fetchCheckpointCut, StateSyncServer } from '../../src/bridge/state-sync.ts'
import { Reader, toHex, Writer } from '../../src/core/codec.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { cutTree, encodeCut, type StateCut, syncDigest } from '../../src/dag/state-cut.ts'
import { PROTOCOLS } from '../../src/network/protocols.ts'
import { respondOnce } from '../../src/network/request.ts'
import { createDagLibp2p, type DagLibp2p } from '../helpers/dag-net.ts'

const CHUNK = 4096
const EPOCH = 7n
const options = { minChunkBytes: 1024, timeoutMs: 10_000 }

/** A cut of 2,000 accounts: ~100 KB encoded, 25 chunks of CHUNK bytes. */
function bigCut (): StateCut {
  const accounts = new Map<string, StateCut['accounts'] extends Map<string, infer A> ? A : never>()
  for (let i = 0; i < 2000; i++) accounts.set(toHex(randomBytes(20)), { balance: BigInt(i + 1) * 10n ** 18n, nonce: BigInt(i % 7), unproven: new Map() })
  return { vertexId: toHex(randomBytes(32)), height: 40, accounts, band: [], parts: new Map() }
}

const cut = bigCut()
const bytes = encodeCut(cut)
const checkpoint = { epoch: EPOCH, dagRoot: `0x${syncDigest(cut)}`, stateRoot: cutTree(cut).root }
const nodes: DagLibp2p[] = []
const servers: StateSyncServer[] = []

/**
 * A peer speaking the protocol from its text: `answer(offset)` gives the chunk it sends from `offset` (undefined:
 * it fails the request, as a peer that went away does).
 */
async function handRolledPeer (answer: (offset: number) => Uint8Array | undefined): Promise<DagLibp2p> {
  const node = await createDagLibp2p()
  nodes.push(node)
  await node.handle(PROTOCOLS.stateSync, (stream: Stream) => {
    void respondOnce(stream, async (req) => {
      const r = new Reader(req, 'request')
      if (r.u8() !== 2 || r.u64() !== EPOCH) throw new Error('unexpected request')
      const offset = Number(r.u64())
      r.end()
      const chunk = answer(offset)
      if (chunk === undefined) throw new Error('gone')
      return new Writer(9 + chunk.length).u8(0).u64(BigInt(bytes.length)).raw(chunk).finish()
    }, { timeoutMs: 10_000, signal: new AbortController().signal, maxRequestBytes: 64, log: silentLogger() })
  })
  return node
}

async function honestPeer (): Promise<DagLibp2p> {
  const node = await createDagLibp2p()
  nodes.push(node)
  const server = new StateSyncServer({ libp2p: node, cuts: { stateCut: async (e) => e === EPOCH ? cut : undefined }, logger: silentLogger() }, { chunkBytes: CHUNK })
  await server.start()
  servers.push(server)
  return node
}

let joiner: DagLibp2p
test.before(async () => {
  joiner = await createDagLibp2p()
  nodes.push(joiner)
})

test.after.always(async () => {
  for (const s of servers) await s.stop()
  for (const n of nodes) await n.stop()
})

async function connect (...peers: DagLibp2p[]): Promise<void> {
  for (const p of peers) await joiner.dial(p.getMultiaddrs()[0])
}

test('a cut travels in chunks and arrives whole', async (t) => {
  const honest = await honestPeer()
  await connect(honest)
  t.true(bytes.length > 20 * CHUNK)
  const got = await fetchCheckpointCut(joiner, [honest.peerId], checkpoint, silentLogger(), options)
  t.is(got.refused, 0)
  t.true(got.peer.equals(honest.peerId))
  t.is(syncDigest(got.cut), syncDigest(cut))
  t.is(got.cut.accounts.size, cut.accounts.size)
})

test('a peer that fails mid-way is replaced by the next from where it stopped', async (t) => {
  const asked: number[] = []
  // serves the first five chunks, then goes away
  const flaky = await handRolledPeer((offset) => { asked.push(offset); return offset < 5 * CHUNK ? bytes.subarray(offset, offset + CHUNK) : undefined })
  const honest = await honestPeer()
  await connect(flaky, honest)
  const got = await fetchCheckpointCut(joiner, [flaky.peerId, honest.peerId], checkpoint, silentLogger(), options)
  t.is(got.refused, 0)
  t.true(got.peer.equals(flaky.peerId)) // the first that served the cut taken
  t.is(syncDigest(got.cut), syncDigest(cut))
  t.deepEqual(asked, [0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, 5 * CHUNK])
})

test('a download mixed from a liar\'s and an honest peer\'s chunks is refused, and the honest peer\'s whole cut taken', async (t) => {
  // a liar: its first chunk has one byte changed, then it goes away, so the honest peer finishes the download
  const forged = bytes.slice(0, CHUNK)
  forged[CHUNK - 1] ^= 1
  const liar = await handRolledPeer((offset) => offset === 0 ? forged : undefined)
  const honest = await honestPeer()
  await connect(liar, honest)
  const got = await fetchCheckpointCut(joiner, [liar.peerId, honest.peerId], checkpoint, silentLogger(), options)
  t.is(got.refused, 1)
  t.true(got.peer.equals(honest.peerId))
  t.is(syncDigest(got.cut), syncDigest(cut))
  // the liar alone: nothing matches
  const err = await t.throwsAsync(fetchCheckpointCut(joiner, [liar.peerId], checkpoint, silentLogger(), options))
  t.true(isDagError(err))
  t.is((err as { code?: string }).code, 'SYNC_FAILED')
})

test('a liar that claims another length and goes away does not keep the honest peer\'s cut from being taken', async (t) => {
  const liar = await handRolledPeer(() => undefined)
  // its own handler: the first chunk of a cut twice as long, then nothing
  await liar.unhandle(PROTOCOLS.stateSync)
  let served = false
  await liar.handle(PROTOCOLS.stateSync, (stream: Stream) => {
    void respondOnce(stream, async () => {
      if (served) throw new Error('gone')
      served = true
      return new Writer(9 + CHUNK).u8(0).u64(BigInt(2 * bytes.length)).raw(bytes.subarray(0, CHUNK)).finish()
    }, { timeoutMs: 10_000, signal: new AbortController().signal, maxRequestBytes: 64, log: silentLogger() })
  })
  const honest = await honestPeer()
  await connect(liar, honest)
  const got = await fetchCheckpointCut(joiner, [liar.peerId, honest.peerId], checkpoint, silentLogger(), options)
  t.true(got.peer.equals(honest.peerId))
  t.is(syncDigest(got.cut), syncDigest(cut))
})

test('a peer sending chunks too short to end the cut is skipped', async (t) => {
  let asked = 0
  const trickle = await handRolledPeer((offset) => { asked++; return bytes.subarray(offset, offset + 10) })
  const honest = await honestPeer()
  await connect(trickle, honest)
  const got = await fetchCheckpointCut(joiner, [trickle.peerId, honest.peerId], checkpoint, silentLogger(), options)
  t.is(asked, 1)
  t.true(got.peer.equals(honest.peerId))
  t.is(syncDigest(got.cut), syncDigest(cut))
})
