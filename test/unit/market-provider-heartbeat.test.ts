import test from 'ava'
import type { PeerId } from '@libp2p/interface'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { type GossipTopicHandler, GossipValidationError } from '../../src/network/gossip.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat, HeartbeatSender, ProviderHeartbeats, signHeartbeat } from '../../src/market/provider/heartbeat.ts'
import { silentLogger } from '../../src/core/logger.ts'

// Provider heartbeats on `harmony/1/provider`: the codec and the topic's verdicts, through the handler the
// registry would install.

const CHAIN = 'harmony-devnet'
const provider = generateKeyPair(new Uint8Array(32).fill(21))
const stranger = generateKeyPair(new Uint8Array(32).fill(22))
const from = {} as PeerId

function topic (now: number): { heartbeats: ProviderHeartbeats, handler: () => GossipTopicHandler<Heartbeat>, published: Uint8Array[] } {
  let installed: GossipTopicHandler<Heartbeat> | undefined
  const published: Uint8Array[] = []
  const heartbeats = new ProviderHeartbeats({
    gossip: {
      register: <T>(h: GossipTopicHandler<T>) => { installed = h as unknown as GossipTopicHandler<Heartbeat>; return () => { installed = undefined } },
      publish: async (_topic, data) => { published.push(data); return 1 }
    },
    chainId: CHAIN,
    isProvider: async (address) => address === addressFromPublicKey(provider.publicKey),
    now: () => now
  }, { maxProviders: 2 })
  heartbeats.start()
  return { heartbeats, handler: () => { if (installed === undefined) throw new Error('not registered'); return installed }, published }
}

async function verdict (handler: GossipTopicHandler<Heartbeat>, bytes: Uint8Array): Promise<string> {
  try {
    const result = await handler.validate(handler.decode(bytes), from, bytes)
    return typeof result === 'string' ? result : result.verdict
  } catch (err) {
    return err instanceof GossipValidationError ? `${err.verdict}:${err.code}` : `throw:${(err as Error).message}`
  }
}

test('a heartbeat round-trips the codec, and malformed bytes do not decode', t => {
  const h = signHeartbeat(CHAIN, provider, { timeMs: 1_000_000, seq: 5n, active: 3, capacity: 16 })
  t.deepEqual(decodeHeartbeat(encodeHeartbeat(h)), h)
  const bytes = encodeHeartbeat(h)
  t.throws(() => decodeHeartbeat(bytes.subarray(1)))
  t.throws(() => decodeHeartbeat(new Uint8Array([...bytes, 0])))
  t.throws(() => decodeHeartbeat(new Uint8Array([2, ...bytes.subarray(1)])))
})

test('a registered provider\'s heartbeat is accepted and remembered; forged, replayed, stale and strangers\' ones are not', async t => {
  const now = 5_000_000
  const { heartbeats, handler, published } = topic(now)
  t.is(handler().topic, GOSSIP_TOPICS.provider)
  const good = signHeartbeat(CHAIN, provider, { timeMs: now, seq: 10n, active: 2, capacity: 8 })
  t.is(await verdict(handler(), encodeHeartbeat(good)), 'accept')
  t.deepEqual(heartbeats.liveness(addressFromPublicKey(provider.publicKey)), { address: addressFromPublicKey(provider.publicKey), lastSeenMs: now, active: 2, capacity: 8 })

  t.is(await verdict(handler(), encodeHeartbeat(good)), 'ignore:HEARTBEAT_REPLAY', 'the same heartbeat again')
  const forged = { ...signHeartbeat(CHAIN, provider, { timeMs: now, seq: 11n, active: 2, capacity: 8 }), active: 0 }
  t.is(await verdict(handler(), encodeHeartbeat(forged)), 'reject:SIGNATURE_INVALID')
  const otherChain = signHeartbeat('harmony-testnet', provider, { timeMs: now, seq: 12n, active: 2, capacity: 8 })
  t.is(await verdict(handler(), encodeHeartbeat(otherChain)), 'reject:SIGNATURE_INVALID')
  t.is(await verdict(handler(), encodeHeartbeat(signHeartbeat(CHAIN, provider, { timeMs: now - 61_000, seq: 13n, active: 0, capacity: 8 }))), 'ignore:HEARTBEAT_STALE')
  t.is(await verdict(handler(), encodeHeartbeat(signHeartbeat(CHAIN, stranger, { timeMs: now, seq: 1n, active: 0, capacity: 8 }))), 'ignore:NOT_PROVIDER')
  t.is(await verdict(handler(), encodeHeartbeat(signHeartbeat(CHAIN, provider, { timeMs: now + 1, seq: 14n, active: 1, capacity: 8 }))), 'accept')

  await heartbeats.publish(signHeartbeat(CHAIN, stranger, { timeMs: now, seq: 1n, active: 0, capacity: 1 }))
  t.is(published.length, 1)
  t.truthy(heartbeats.liveness(addressFromPublicKey(stranger.publicKey)), 'its own heartbeat is remembered without gossip delivering it back')
  heartbeats.stop()
  t.throws(() => handler())
})

test('a provider sends one heartbeat per period, each accepted by the topic: seq rising, its load carried; a failed publish does not throw', async t => {
  const { heartbeats, published } = topic(10_000)
  const sender = new HeartbeatSender({ chainId: CHAIN, keys: provider, heartbeats, log: silentLogger() }, 1000)
  sender.tick(10_000, { active: 2, capacity: 16 })
  sender.tick(10_500, { active: 3, capacity: 16 })
  sender.tick(11_000, { active: 4, capacity: 16 })
  await new Promise(resolve => setImmediate(resolve))
  const sent = published.map(b => decodeHeartbeat(b))
  t.deepEqual(sent.map(h => [h.seq, h.active, h.capacity]), [[10_000n, 2, 16], [11_000n, 4, 16]])
  // the receiving side's own checks (signature, seq, clock): a fresh topic accepts both, in order
  const receiver = topic(11_000)
  for (const bytes of published) t.is(await verdict(receiver.handler(), bytes), 'accept')
  t.deepEqual(receiver.heartbeats.liveness(addressFromPublicKey(provider.publicKey))?.active, 4)

  const failing = new HeartbeatSender({ chainId: CHAIN, keys: provider, heartbeats: { publish: async () => { throw new Error('no peers') } }, log: silentLogger() }, 1000)
  t.notThrows(() => { failing.tick(12_000, { active: 0, capacity: 16 }) })
  await new Promise(resolve => setImmediate(resolve))
})
