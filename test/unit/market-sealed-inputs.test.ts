/**
 * Sealed-inputs notices (docs/market.md "Private tasks"): a notice is signed by the holder it names, so one that
 * names another node as holder is rejected by the gossip registry (gossipsub's Reject: the sender's score drops);
 * and a provider keeps a few distinct notices per task and tries each, so a forged notice (signed by a forger for
 * itself) arriving before or after the real one costs a failed open, never the inputs.
 */
import { generateKeyPair as generateP2pKey } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import test from 'ava'
import { createHash } from 'node:crypto'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { generateKemKeyPair, open, seal } from '../../src/market/blobs/index.ts'
import { MAX_NOTICES_PER_TASK, SealedInputsBoard, sealedInputsTopic } from '../../src/market/sealed-inputs-board.ts'
import { inputContext } from '../../src/market/seal-contexts.ts'
import { decodeNotice, encodeNotice, noticeKey, type SealedInputsNotice, verifyNotice } from '../../src/market/sealed-inputs.ts'
import { GossipRegistry } from '../../src/network/gossip.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'

const CHAIN = 'harmony-sealed-inputs'
const TASK = 'ab'.repeat(32)
const provider = addressFromPublicKey(generateKeyPair().publicKey)
const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function node (): Promise<{ key: PrivateKey, peer: string }> {
  const key = await generateP2pKey('Ed25519')
  return { key, peer: peerIdFromPrivateKey(key).toString() }
}

function notice (holder: string, envelopes: string[] = ['11'.repeat(32)], over: Partial<SealedInputsNotice> = {}): SealedInputsNotice {
  return { taskId: TASK, round: 0, provider, holder, envelopes, ...over }
}

const handlerSender = await generateP2pKey('Ed25519')

/** The registry as HarmonyNode installs it, over a pubsub double that records the topic validator. */
function registryWith (handler: ReturnType<typeof sealedInputsTopic>): (bytes: Uint8Array) => Promise<TopicValidatorResult> {
  const validators = new Map<string, (from: unknown, msg: { data: Uint8Array }) => Promise<TopicValidatorResult>>()
  const pubsub = { topicValidators: validators, subscribe: () => {}, unsubscribe: () => {}, publish: async () => ({ recipients: [] }) }
  const registry = new GossipRegistry({ pubsub: pubsub as never, logger: silentLogger() })
  registry.register(handler)
  const validate = validators.get(GOSSIP_TOPICS.inputs)
  if (validate === undefined) throw new Error('no validator installed')
  return async (bytes) => await validate(peerIdFromPrivateKey(handlerSender), { data: bytes })
}

test('a notice signed by its holder verifies; one naming another holder, tampered, from another chain or unsigned does not', async (t) => {
  const honest = await node()
  const forger = await node()
  const bytes = await encodeNotice(notice(honest.peer), CHAIN, honest.key)
  const decoded = decodeNotice(bytes)
  t.is(decoded.holder, honest.peer)
  t.deepEqual(decoded.envelopes, ['11'.repeat(32)])
  t.is(await verifyNotice(decoded, CHAIN), undefined)
  // the forger names the honest node as holder but can only sign with its own key
  t.is(await verifyNotice(decodeNotice(await encodeNotice(notice(honest.peer), CHAIN, forger.key)), CHAIN), 'NOTICE_SIGNATURE_INVALID')
  // an envelope id changed after signing
  const tampered = new Uint8Array(bytes)
  tampered[tampered.length - 64 - 1] ^= 1
  t.is(await verifyNotice(decodeNotice(tampered), CHAIN), 'NOTICE_SIGNATURE_INVALID')
  t.is(await verifyNotice(decoded, 'harmony-other-chain'), 'NOTICE_SIGNATURE_INVALID')
  // a holder that is not a peer id naming its key
  t.is(await verifyNotice(decodeNotice(await encodeNotice(notice('not-a-peer-id'), CHAIN, honest.key)), CHAIN), 'NOTICE_HOLDER_INVALID')
  // the unsigned version-1 notice and the version-2 one (no issue number) no longer decode
  for (const version of [1, 2]) {
    const old = bytes.slice(0, bytes.length - 64)
    old[0] = version
    t.throws(() => decodeNotice(old))
  }
  // a later issue of the same notice: other bytes (gossip does not drop it as a duplicate), the same board identity
  t.is(decoded.issue, 0)
  const again = await encodeNotice(notice(honest.peer, undefined, { issue: 3 }), CHAIN, honest.key)
  t.notDeepEqual(again, bytes)
  t.is(decodeNotice(again).issue, 3)
  t.is(await verifyNotice(decodeNotice(again), CHAIN), undefined)
  t.is(noticeKey(decodeNotice(again)), noticeKey(decoded))
})

test('the inputs topic rejects a notice its holder did not sign (the sender\'s score drops) and keeps a signed one', async (t) => {
  const honest = await node()
  const forger = await node()
  const board = new SealedInputsBoard({ keeps: (n) => n.provider === provider })
  const validate = registryWith(sealedInputsTopic(CHAIN, board))
  t.is(await validate(await encodeNotice(notice(honest.peer, ['22'.repeat(32)]), CHAIN, forger.key)), TopicValidatorResult.Reject)
  t.deepEqual(board.candidates(TASK, provider), [], 'a rejected notice is not kept')
  t.is(await validate(new Uint8Array([9, 9, 9])), TopicValidatorResult.Reject)
  t.is(await validate(await encodeNotice(notice(honest.peer), CHAIN, honest.key)), TopicValidatorResult.Accept)
  t.deepEqual(board.candidates(TASK, provider).map(n => n.holder), [honest.peer])
  // a forger signing for itself is accepted (its signature is good) and costs the provider a failed try below
  t.is(await validate(await encodeNotice(notice(forger.peer, ['33'.repeat(32)]), CHAIN, forger.key)), TopicValidatorResult.Accept)
  t.is(board.candidates(TASK, provider).length, 2)
})

test('the provider tries each distinct notice until one opens and matches: a forgery before or after the real one costs one try', async (t) => {
  const kem = generateKemKeyPair()
  const input = new Uint8Array([1, 2, 3, 4, 5])
  const realEnvelope = seal(input, kem.publicKey, { context: inputContext(TASK, provider, 0) })
  // a forger's envelope: sealed to the provider's key but not the announced input
  const fakeEnvelope = seal(new Uint8Array([6, 6, 6]), kem.publicKey, { context: inputContext(TASK, provider, 0) })
  const honest = await node()
  const forgers = await Promise.all([node(), node(), node(), node()])
  const served = new Map<string, Uint8Array>([[honest.peer, realEnvelope], ...forgers.map(f => [f.peer, fakeEnvelope] as [string, Uint8Array])])
  /** What the market node does with one notice: fetch from its holder, open, check against the announced id. */
  const attempt = async (n: SealedInputsNotice): Promise<Uint8Array> => {
    const plain = open(served.get(n.holder) as Uint8Array, kem.secretKey, { context: inputContext(TASK, provider, 0) })
    if (sha256Hex(plain) !== sha256Hex(input)) throw new Error('does not hash to the announced id')
    return plain
  }
  const signal = AbortSignal.timeout(10_000)

  // a forgery and the real notice, in both orders: the forgery is tried and fails, or the real one is kept (a later
  // forgery does not replace it) and opens first
  for (const realFirst of [false, true]) {
    const board = new SealedInputsBoard({ keeps: (n) => n.provider === provider })
    const failed: string[] = []
    if (realFirst) board.offer(notice(honest.peer))
    board.offer(notice(forgers[0].peer, ['44'.repeat(32)]))
    const got = board.firstThatOpens(TASK, provider, signal, attempt, (n) => { failed.push(n.holder) })
    if (!realFirst) board.offer(notice(honest.peer))
    t.deepEqual(await got, input)
    t.deepEqual(failed, realFirst ? [] : [forgers[0].peer])
  }

  // waiting: no notice yet, then a forgery, then the real one
  const board = new SealedInputsBoard({ keeps: (n) => n.provider === provider })
  const failed: string[] = []
  const got = board.firstThatOpens(TASK, provider, signal, attempt, (n) => { failed.push(n.holder) })
  board.offer(notice(forgers[1].peer, ['55'.repeat(32)]))
  await new Promise(resolve => setImmediate(resolve))
  board.offer(notice(honest.peer))
  t.deepEqual(await got, input)
  t.deepEqual(failed, [forgers[1].peer])
  // a notice to another provider is not kept; a duplicate is not kept twice
  t.false(board.offer(notice(honest.peer, undefined, { provider: addressFromPublicKey(generateKeyPair().publicKey) })))
  t.false(board.offer(notice(honest.peer)))
})

test('a task\'s set is bounded: when full of live untried notices a new one is dropped; one that failed or whose holder is unreachable gives way', async (t) => {
  const holders = await Promise.all([node(), node(), node(), node(), node(), node()])
  const unreachable = new Set<string>()
  const board = new SealedInputsBoard({ keeps: (n) => n.provider === provider, reachable: (h) => !unreachable.has(h) })
  for (const h of holders.slice(0, MAX_NOTICES_PER_TASK)) t.true(board.offer(notice(h.peer)))
  t.false(board.offer(notice(holders[4].peer)))
  t.is(board.dropped, 1)
  t.is(board.candidates(TASK, provider).length, MAX_NOTICES_PER_TASK)
  // the first holder's notice fails: the next one takes its place
  board.fail(notice(holders[0].peer))
  t.true(board.offer(notice(holders[4].peer)))
  // a holder this node is not connected to could not be fetched from anyway
  unreachable.add(holders[1].peer)
  t.true(board.offer(notice(holders[5].peer)))
  t.deepEqual(board.candidates(TASK, provider).map(n => n.holder).sort(), [holders[2], holders[3], holders[4], holders[5]].map(h => h.peer).sort())
  // the same holder sealing again (a restarted requester node) replaces its own notice
  t.true(board.offer(notice(holders[2].peer, ['66'.repeat(32)])))
  t.is(board.candidates(TASK, provider).length, MAX_NOTICES_PER_TASK)
  t.deepEqual(board.candidates(TASK, provider).find(n => n.holder === holders[2].peer)?.envelopes, ['66'.repeat(32)])
  // waiting gives up when the signal aborts
  const ctl = new AbortController()
  const waiting = board.next('cd'.repeat(32), provider, new Set(), ctl.signal)
  ctl.abort(new Error('deadline'))
  await t.throwsAsync(waiting, { message: 'deadline' })
})

test('a real notice crowded out by forgeries is kept when its holder publishes it again after they failed', async (t) => {
  const kem = generateKemKeyPair()
  const input = new Uint8Array([7, 7, 7])
  const honest = await node()
  const forgers = await Promise.all(Array.from({ length: MAX_NOTICES_PER_TASK }, async () => await node()))
  const board = new SealedInputsBoard({ keeps: (n) => n.provider === provider })
  const validate = registryWith(sealedInputsTopic(CHAIN, board))
  for (const [i, f] of forgers.entries()) {
    t.is(await validate(await encodeNotice(notice(f.peer, [String(i).repeat(64)]), CHAIN, f.key)), TopicValidatorResult.Accept)
  }
  // the requester's first notice arrives to a full set of live, untried forgeries: relayed, but not kept
  t.is(await validate(await encodeNotice(notice(honest.peer), CHAIN, honest.key)), TopicValidatorResult.Accept)
  t.is(board.dropped, 1)
  const real = seal(input, kem.publicKey, { context: inputContext(TASK, provider, 0) })
  const tried: string[] = []
  const got = board.firstThatOpens(TASK, provider, AbortSignal.timeout(10_000), async (n) => {
    tried.push(n.holder)
    if (n.holder !== honest.peer) throw new Error('does not open')
    return open(real, kem.secretKey, { context: inputContext(TASK, provider, 0) })
  })
  // every forgery is tried and fails; the provider waits; the holder's next issue takes a failed one's place
  while (tried.length < MAX_NOTICES_PER_TASK) await new Promise(resolve => setImmediate(resolve))
  t.is(await validate(await encodeNotice(notice(honest.peer, undefined, { issue: 1 }), CHAIN, honest.key)), TopicValidatorResult.Accept)
  t.deepEqual(await got, input)
  t.deepEqual(tried, [...forgers.map(f => f.peer), honest.peer])
})
