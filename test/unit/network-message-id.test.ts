import test from 'ava'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Message } from '@libp2p/gossipsub'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { buildVertexInfo, vertexHashes } from '../../src/dag/vertex.ts'
import { GossipMessageIds, gossipMessageId } from '../../src/network/message-id.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'

// The gossip message id is part of the wire format (docs/protocol.md §5): a peer that computes it differently sees
// our messages as new ones. Checked against an independent SHA-256 (noble's, in JS) of the documented layout.
const message = (topic: string, data: Uint8Array): Message => ({ type: 'unsigned', topic, data })
const bytes = (n: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31) & 0xff)

test('a topic\'s message id is the first 20 bytes of sha256(topic || 0x00 || data), and differs by topic and data', t => {
  const data = bytes(700 * 1024)
  const id = (topic: string, b: Uint8Array): Uint8Array => gossipMessageId(message(topic, b))
  const topic = GOSSIP_TOPICS.task
  const expected = sha256(new Uint8Array([...new TextEncoder().encode(topic), 0, ...data])).subarray(0, 20)
  t.deepEqual(Buffer.from(id(topic, data)), Buffer.from(expected))
  t.is(id(topic, data).length, 20)
  t.notDeepEqual(Buffer.from(id(GOSSIP_TOPICS.bid, data)), Buffer.from(expected))
  t.notDeepEqual(Buffer.from(id(topic, data.subarray(1))), Buffer.from(expected))
  // the empty message has an id too
  t.deepEqual(Buffer.from(id(topic, new Uint8Array(0))), Buffer.from(sha256(new Uint8Array([...new TextEncoder().encode(topic), 0])).subarray(0, 20)))
})

test('the vertex topic\'s message id is the first 20 bytes of sha256(data), the vertex id, with or without the ledger\'s hasher', t => {
  const author = generateKeyPair()
  const built = buildVertexInfo('c', { author: author.publicKey, secretKey: author.secretKey, parents: [new Uint8Array(32)], txs: [], timestampMs: 1n })
  const plain = gossipMessageId(message(GOSSIP_TOPICS.vertex, built.encoded))
  t.deepEqual(Buffer.from(plain), Buffer.from(sha256(built.encoded).subarray(0, 20)))
  t.deepEqual(Buffer.from(plain), Buffer.from(built.id.subarray(0, 20)))
  t.notDeepEqual(Buffer.from(plain), Buffer.from(gossipMessageId(message(GOSSIP_TOPICS.task, built.encoded))))

  // the hasher the ledger installs (vertexHashes: the prefix and the whole in one pass) gives the same bytes for
  // anything a peer may send, shorter than a signature included; a node without it agrees with one with it
  const ids = new GossipMessageIds()
  ids.setHasher(GOSSIP_TOPICS.vertex, data => vertexHashes(data).id)
  for (const data of [new Uint8Array(0), bytes(1), bytes(3308), bytes(3309), bytes(3310), bytes(700 * 1024), built.encoded]) {
    const hashes = vertexHashes(data)
    t.deepEqual(Buffer.from(hashes.id), Buffer.from(sha256(data)), `${data.length} bytes: id`)
    t.deepEqual(Buffer.from(hashes.unsignedDigest), Buffer.from(sha256(data.subarray(0, Math.max(0, data.length - 3309)))), `${data.length} bytes: prefix digest`)
    t.deepEqual(Buffer.from(ids.msgIdFn(message(GOSSIP_TOPICS.vertex, data))), Buffer.from(gossipMessageId(message(GOSSIP_TOPICS.vertex, data))), `${data.length} bytes: message id`)
  }
  // other topics keep the content id whatever is installed, and cannot take a hasher
  t.deepEqual(Buffer.from(ids.msgIdFn(message(GOSSIP_TOPICS.task, built.encoded))), Buffer.from(gossipMessageId(message(GOSSIP_TOPICS.task, built.encoded))))
  t.throws(() => ids.setHasher(GOSSIP_TOPICS.task, data => sha256(data)), { message: /content message id/ })
})

test('a removed hasher leaves the plain rule; removing a replaced one keeps its replacement', t => {
  const ids = new GossipMessageIds()
  const calls: string[] = []
  const first = ids.setHasher(GOSSIP_TOPICS.vertex, data => { calls.push('first'); return sha256(data) })
  const msg = message(GOSSIP_TOPICS.vertex, bytes(100))
  ids.msgIdFn(msg)
  first()
  ids.msgIdFn(msg)
  t.deepEqual(calls, ['first'])
  const second = ids.setHasher(GOSSIP_TOPICS.vertex, data => { calls.push('second'); return sha256(data) })
  const third = ids.setHasher(GOSSIP_TOPICS.vertex, data => { calls.push('third'); return sha256(data) })
  second()
  ids.msgIdFn(msg)
  t.deepEqual(calls, ['first', 'third'])
  third()
})
