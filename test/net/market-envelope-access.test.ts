/**
 * Who may fetch a private task's sealed inputs (market/envelope-access.ts) between real libp2p hosts on loopback, each
 * peer known by the ledger key it proved over `/harmony/id/1.0.0` (PeerBindingService): the holder serves the
 * envelopes to the task's provider and to a validator, and answers a stranger (bound to a key of its own, or never
 * bound) as if it held nothing; a private task's output, a public task's blob and a blob of a task it does not know
 * go to anyone.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { createIdentity, type NodeIdentity } from '../../src/core/keys/identity.ts'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, openDatabase, sublevel } from '../../src/core/storage.ts'
import { createHost, type HarmonyLibp2p } from '../../src/network/host.ts'
import { PeerBindingService } from '../../src/network/peer-binding.ts'
import { PROTOCOLS } from '../../src/network/protocols.ts'
import { BlobService, BlobStore, generateKemKeyPair, seal } from '../../src/market/blobs/index.ts'
import type { BlobServiceComponents } from '../../src/market/blobs/service.ts'
import { envelopeAccess } from '../../src/market/envelope-access.ts'
import type { ResultRecord, TaskRecord } from '../../src/market/state/records.ts'
import { matmulAnnounce } from '../helpers/market.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'

interface Peer {
  identity: NodeIdentity
  libp2p: HarmonyLibp2p
  binding?: PeerBindingService
  db: BinaryDb
  store: BlobStore
  service: BlobService
}

const cleanups: Array<() => Promise<void>> = []
test.after.always(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

const hex = (identity: NodeIdentity): string => toHex(addressBytesFromPublicKey(identity.ledgerKey.publicKey))

/**
 * A host with a blob store and service; `bound` runs the peer binding (a peer without it never proves a key), `late`
 * makes one whose binding the caller starts later (a node still starting: it does not speak `/harmony/id` yet).
 * `access` gives its service a `mayServe` over its own store and binding.
 */
async function peer (bound: boolean | 'late', access?: (own: { store: BlobStore, binding: PeerBindingService }) => BlobServiceComponents['mayServe']): Promise<Peer> {
  const dir = await tempDir()
  cleanups.push(async () => { await dir[Symbol.asyncDispose]() })
  const identity = await createIdentity(dir.path)
  const libp2p = await createHost({ privateKey: identity.p2pKey, listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  const db = await openDatabase(`${dir.path}/db`)
  const store = new BlobStore({ db: sublevel(db, 'blobs'), logger: silentLogger() }, { sweepIntervalMs: 0 })
  await store.start()
  const binding = bound !== false ? new PeerBindingService({ libp2p, identity, logger: silentLogger() }) : undefined
  if (bound === true) await binding?.start()
  const mayServe = binding === undefined ? undefined : access?.({ store, binding })
  const service = new BlobService({ libp2p, store, logger: silentLogger(), ...(mayServe === undefined ? {} : { mayServe }) })
  await service.start()
  cleanups.push(async () => { await service.stop(); await binding?.stop(); await store.stop(); await libp2p.stop(); await db.close() })
  return { identity, libp2p, ...(binding === undefined ? {} : { binding }), db, store, service }
}

function task (taskId: string, over: Partial<TaskRecord>): TaskRecord {
  return {
    taskId, requester: '01'.repeat(20), announceTx: '02'.repeat(32), announcedAtMs: 0, announce: matmulAnnounce(),
    bids: new Map(), awards: [], ranking: [], losses: new Map(), assigned: [], results: new Map(), slashes: [], cancelRequested: false,
    ...over
  }
}

function assigned (provider: string): TaskRecord['assigned'][number] {
  return { provider, price: 1n, role: 'winner', round: 0, deadlineMs: 0, state: 'open' }
}

function result (provider: string, outputBlob: string): ResultRecord {
  return { txId: '03'.repeat(32), provider, round: 0, timeMs: 0, commitment: '04'.repeat(32), outputBlob, outputBytes: 16, profile: 'cpu', inTime: true }
}

test.serial('a private task\'s envelopes go to its provider and a validator only; its output, public blobs and blobs of unknown tasks go to anyone', async (t) => {
  const [provider, validator, stranger, other, unbound, late] = await Promise.all([peer(true), peer(true), peer(true), peer(true), peer(false), peer('late')])
  // the holder (a requester's node) answers through the policy, waiting at most 3 s for a peer's binding
  const records = new Map<string, TaskRecord>()
  const own = new Set<string>()
  const holder = await peer(true, ({ store, binding }) => envelopeAccess({
    store,
    taskRecord: async (id) => records.get(id),
    validatorKeys: () => [validator.identity.ledgerKey.publicKey],
    provenKey: async (connection) => await binding.provenKey(connection, 3000),
    ownOutput: (id) => own.has(id)
  }))
  const { libp2p, store } = holder
  const binding = holder.binding as PeerBindingService

  const kem = generateKemKeyPair()
  const privateTask = toHex(randomBytes(32))
  const secondPrivate = toHex(randomBytes(32))
  const publicTask = toHex(randomBytes(32))
  const unknownTask = toHex(randomBytes(32))
  const put = async (tags: string[]): Promise<string> => await store.put(seal(new Uint8Array(randomBytes(64)), kem.publicKey), { tags })
  const envelope = await put([privateTask])
  const output = await put([privateTask])
  const ownOutput = await put([privateTask])
  own.add(ownOutput)
  const twoTasks = await put([privateTask, secondPrivate])
  const publicInput = await put([publicTask])
  const unknown = await put([unknownTask])
  records.set(privateTask, task(privateTask, {
    announce: { ...matmulAnnounce(), private: true, requesterKemKey: kem.publicKey },
    assigned: [assigned(hex(provider.identity))],
    results: new Map([[hex(provider.identity), result(hex(provider.identity), output)]])
  }))
  records.set(secondPrivate, task(secondPrivate, { announce: { ...matmulAnnounce(), private: true, requesterKemKey: kem.publicKey }, assigned: [assigned(hex(other.identity))] }))
  records.set(publicTask, task(publicTask, { assigned: [assigned(hex(other.identity))] }))

  /** Fetches `id` from the holder over a connection dialled just now: the id, or the error code. */
  const fetch = async (from: Peer, id: string): Promise<string> => {
    await from.libp2p.dial(libp2p.getMultiaddrs()[0])
    return await from.service.fetch(libp2p.peerId, id).catch((err: { code?: string }) => err.code ?? 'error')
  }

  // each asks right after dialling, while the holder checks its binding (the late provider below shows the wait)
  t.is(await fetch(provider, envelope), envelope, 'the task\'s provider fetches its envelope')
  t.is(await fetch(validator, envelope), envelope, 'a validator (a claim\'s judge) fetches it')
  t.is(await fetch(stranger, envelope), 'BLOB_NOT_FOUND', 'a bound stranger is answered as if the holder had none')
  t.is(await fetch(unbound, envelope), 'BLOB_NOT_FOUND', 'a peer that proves no key is refused once its check runs out')
  t.false(await stranger.store.has(envelope), 'nothing reached the stranger')
  t.is(binding.ledgerKeyOf(unbound.libp2p.peerId), undefined)
  // a provider that proves its key only after it asked (its binding starts a moment later) is served once it has
  records.get(privateTask)?.assigned.push(assigned(hex(late.identity)))
  const lateFetch = fetch(late, envelope)
  // its request is in: the holder has a blob stream open from it
  await waitFor('the late provider\'s blob request', async () => libp2p.getConnections(late.libp2p.peerId).some(c => c.streams.some(s => s.protocol === PROTOCOLS.blob)) ? true : undefined)
  t.is(binding.ledgerKeyOf(late.libp2p.peerId), undefined, 'not bound when it asked')
  await late.binding?.start()
  t.is(await lateFetch, envelope, 'the holder waited for its check instead of refusing it')

  // a blob held for two private tasks goes only to a provider of both (or a validator)
  t.is(await fetch(other, twoTasks), 'BLOB_NOT_FOUND', 'a provider of the second task only')
  t.is(await fetch(provider, twoTasks), 'BLOB_NOT_FOUND', 'a provider of the first task only')
  t.is(await fetch(validator, twoTasks), twoTasks)

  // the output (named by a result, or the node's own not yet final), public blobs and unknown tasks' blobs: anyone
  for (const id of [output, ownOutput, publicInput, unknown]) {
    t.is(await fetch(stranger, id), id)
    t.is(await fetch(unbound, id), id)
  }
})
