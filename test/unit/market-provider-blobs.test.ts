/**
 * A provider's (and a validator's) fetch of a public task's input (src/market/provider/blobs.ts): a holder that fails
 * a first round (busy under load) is asked again before the input counts as unavailable; one that never serves it
 * leaves it unavailable after a bounded number of rounds.
 */
import { generateKeyPair as generatePeerKey } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { BlobError } from '../../src/market/blobs/index.ts'
import { networkBlobs, ProviderBlobError } from '../../src/market/provider/index.ts'

const ID = 'ab'.repeat(32)
const BYTES = new Uint8Array([1, 2, 3])

/** A store and a service over a map: `failures` fetches fail (BLOB_PEER_BUSY) before one succeeds (Infinity: none). */
function blobsWith (failures: number, peers: PeerId[]): { blobs: ReturnType<typeof networkBlobs>, fetches: () => number } {
  const held = new Map<string, Uint8Array>()
  let fetches = 0
  const blobs = networkBlobs({
    store: {
      has: async (id) => held.has(id),
      get: async (id) => held.get(id) ?? new Uint8Array(0),
      put: async () => ID
    },
    service: {
      locate: async () => peers[0],
      fetch: async (_peer: PeerId, id: string) => {
        if (++fetches <= failures) throw new BlobError('BLOB_PEER_BUSY', 'the peer is busy')
        held.set(id, BYTES)
        return id
      }
    } as unknown as Parameters<typeof networkBlobs>[0]['service'],
    peers: () => peers
  })
  return { blobs, fetches: () => fetches }
}

test('a holder busy for a whole round is asked again: the input is fetched, not claimed unavailable', async (t) => {
  const peers = [peerIdFromPrivateKey(await generatePeerKey('Ed25519')), peerIdFromPrivateKey(await generatePeerKey('Ed25519'))]
  const { blobs, fetches } = blobsWith(2, peers)
  t.deepEqual(await blobs.input({ taskId: 'cd'.repeat(32), private: false }, ID), BYTES)
  t.is(fetches(), 3, 'both peers failed the first round; the holder served the second')
})

test('an input no peer serves is unavailable after three rounds over the peers', async (t) => {
  const peers = [peerIdFromPrivateKey(await generatePeerKey('Ed25519')), peerIdFromPrivateKey(await generatePeerKey('Ed25519'))]
  const { blobs, fetches } = blobsWith(Infinity, peers)
  const err = await t.throwsAsync(blobs.input({ taskId: 'cd'.repeat(32), private: false }, ID), { instanceOf: ProviderBlobError })
  t.is(err?.code, 'INPUT_UNAVAILABLE')
  t.is(fetches(), 3 * peers.length)
})

test('an abort ends the rounds: no further round is begun', async (t) => {
  const peers = [peerIdFromPrivateKey(await generatePeerKey('Ed25519'))]
  const { blobs, fetches } = blobsWith(Infinity, peers)
  const abort = new AbortController()
  const pending = blobs.input({ taskId: 'cd'.repeat(32), private: false }, ID, abort.signal)
  abort.abort()
  await t.throwsAsync(pending, { instanceOf: ProviderBlobError })
  t.true(fetches() <= 1)
})
