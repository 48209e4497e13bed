import test from 'ava'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Message } from '@libp2p/gossipsub'
import { contentMessageId } from '../../src/network/host.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'

// The gossip message id is part of the wire format (docs/protocol.md §5): a peer that computes it differently sees
// our messages as new ones. Checked against an independent SHA-256 (noble's, in JS) of the documented layout.
test('the gossip message id is the first 20 bytes of sha256(topic || 0x00 || data), and differs by topic and data', t => {
  const data = new Uint8Array(700 * 1024).map((_, i) => (i * 31) & 0xff)
  const id = (topic: string, bytes: Uint8Array): Uint8Array => contentMessageId({ type: 'unsigned', topic, data: bytes } satisfies Message)
  const topic = GOSSIP_TOPICS.vertex
  const expected = sha256(new Uint8Array([...new TextEncoder().encode(topic), 0, ...data])).subarray(0, 20)
  t.deepEqual(Buffer.from(id(topic, data)), Buffer.from(expected))
  t.is(id(topic, data).length, 20)
  t.notDeepEqual(Buffer.from(id(`${topic}x`, data)), Buffer.from(expected))
  t.notDeepEqual(Buffer.from(id(topic, data.subarray(1))), Buffer.from(expected))
  // the empty message has an id too
  t.deepEqual(Buffer.from(id(topic, new Uint8Array(0))), Buffer.from(sha256(new Uint8Array([...new TextEncoder().encode(topic), 0])).subarray(0, 20)))
})
