/**
 * A private task's sealed inputs over the network (src/market/sealed-input-fetch.ts) and the board a validator keeps
 * (src/market/sealed-inputs-board.ts): a validator keeps every provider's notices, each provider's apart, and only
 * those to a provider the task names; an envelope
 * comes from the notice's holder, else from a peer that holds it (a validator that fetched it to check a claim); a
 * notice whose envelopes could not be fetched is tried again later, one that does not open is not; a provider that
 * no notice gave its input within its wait gets INPUT_UNAVAILABLE (it then claims), and a validator checking a claim
 * gets the first notice whose envelopes all fetched.
 */
import { generateKeyPair as generatePeerKey } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { createHash } from 'node:crypto'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { BlobError, generateKemKeyPair, seal } from '../../src/market/blobs/index.ts'
import { ProviderBlobError } from '../../src/market/provider/index.ts'
import { SealedInputFetch } from '../../src/market/sealed-input-fetch.ts'
import { MAX_NOTICES_PER_TASK, NoticeNotFetched, offerIfAssigned, SealedInputsBoard } from '../../src/market/sealed-inputs-board.ts'
import { inputContext } from '../../src/market/seal-contexts.ts'
import type { SealedInputsNotice } from '../../src/market/sealed-inputs.ts'

const TASK = 'cd'.repeat(32)
const [alice, bob] = [generateKeyPair(), generateKeyPair()].map(k => addressFromPublicKey(k.publicKey))
const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

// AbortSignal.timeout's timer does not hold the process open (a node's sockets do): this does, while tests wait on one
let alive: NodeJS.Timeout | undefined
test.before(() => { alive = setInterval(() => {}, 1000) })
test.after.always(() => { clearInterval(alive) })

async function peer (): Promise<PeerId> { return peerIdFromPrivateKey(await generatePeerKey('Ed25519')) }

function notice (holder: PeerId, provider: string, envelopes: string[]): SealedInputsNotice {
  return { taskId: TASK, round: 0, provider, holder: holder.toString(), envelopes }
}

/**
 * A fetcher over a store and a service backed by maps: `serves` says what each peer serves; a fetch from a peer that
 * does not serve the blob fails as the network's would (BLOB_NOT_FOUND).
 */
function fetcher (board: SealedInputsBoard, connected: PeerId[], serves: Map<string, Map<string, Uint8Array>>): { fetch: SealedInputFetch, held: Map<string, Uint8Array>, asked: string[] } {
  const held = new Map<string, Uint8Array>()
  const asked: string[] = []
  const fetch = new SealedInputFetch({
    board,
    store: { has: async (id) => held.has(id), get: async (id) => held.get(id) ?? new Uint8Array(0) },
    service: {
      locate: async (peers: readonly PeerId[], id: string) => peers.find(p => serves.get(p.toString())?.has(id) === true),
      fetch: async (from: PeerId, id: string) => {
        asked.push(from.toString())
        const bytes = serves.get(from.toString())?.get(id)
        if (bytes === undefined) throw new BlobError('BLOB_NOT_FOUND', 'not here')
        held.set(id, bytes)
        return id
      }
    } as unknown as ConstructorParameters<typeof SealedInputFetch>[0]['service'],
    peers: () => connected,
    logger: silentLogger()
  })
  return { fetch, held, asked }
}

test('a validator keeps every provider\'s notices, each provider\'s apart: one provider\'s full set does not crowd out another\'s', async (t) => {
  const board = new SealedInputsBoard({ keeps: () => true })
  const holders = await Promise.all(Array.from({ length: MAX_NOTICES_PER_TASK + 1 }, peer))
  for (const [i, h] of holders.slice(0, MAX_NOTICES_PER_TASK).entries()) t.true(board.offer(notice(h, alice, [String(i).repeat(64)])))
  t.false(board.offer(notice(holders[MAX_NOTICES_PER_TASK], alice, ['99'.repeat(32)])), 'alice\'s set is full')
  t.true(board.offer(notice(holders[0], bob, ['88'.repeat(32)])), 'bob\'s notice has its own set')
  t.is(board.candidates(TASK, alice).length, MAX_NOTICES_PER_TASK)
  t.deepEqual(board.candidates(TASK, bob).map(n => n.envelopes), [['88'.repeat(32)]])
  // a provider's own board keeps only its notices
  const own = new SealedInputsBoard({ keeps: (n) => n.provider === alice })
  t.false(own.offer(notice(holders[0], bob, ['88'.repeat(32)])))
  t.deepEqual(own.candidates(TASK, bob), [])
})

test('a validator keeps a notice to another provider only when the task names it (a winner or the checker of a round), or before any award', async (t) => {
  const board = new SealedInputsBoard({ keeps: () => true })
  const holder = await peer()
  const made = addressFromPublicKey(generateKeyPair().publicKey)
  const views = new Map([
    [TASK, { awards: [{ winners: [alice] }, { winners: [made === alice ? bob : alice], checker: bob }] }],
    ['ef'.repeat(32), { awards: [] }]
  ])
  const task = async (id: string): Promise<{ awards: Array<{ winners: string[], checker?: string }> } | undefined> => views.get(id)
  t.true(await offerIfAssigned(board, notice(holder, alice, ['01'.repeat(32)]), task), 'a winner')
  t.true(await offerIfAssigned(board, notice(holder, bob, ['02'.repeat(32)]), task), 'the checker')
  t.false(await offerIfAssigned(board, notice(holder, made, ['03'.repeat(32)]), task), 'a provider the task does not name')
  t.deepEqual(board.candidates(TASK, made), [])
  t.true(await offerIfAssigned(board, { ...notice(holder, made, ['04'.repeat(32)]), taskId: 'ef'.repeat(32) }, task), 'no award applied here yet')
  t.false(await offerIfAssigned(board, { ...notice(holder, alice, ['05'.repeat(32)]), taskId: '99'.repeat(32) }, task), 'a task unknown here')
})

test('a notice whose envelopes could not be fetched stays a candidate and is tried again by a later call; one that did not open does not; a full set gives up a bad one first, then one not fetched', async (t) => {
  const board = new SealedInputsBoard({ keeps: () => true })
  const [gone, forger, holder5] = await Promise.all([peer(), peer(), peer()])
  board.offer(notice(gone, alice, ['11'.repeat(32)]))
  board.offer(notice(forger, alice, ['22'.repeat(32)]))
  const tried: string[] = []
  await t.throwsAsync(board.firstThatOpens(TASK, alice, AbortSignal.timeout(200), async (n) => {
    tried.push(n.holder)
    throw n.holder === gone.toString() ? new NoticeNotFetched('holder gone') : new Error('does not open')
  }))
  t.deepEqual(tried, [gone.toString(), forger.toString()])
  t.deepEqual(board.candidates(TASK, alice).map(n => n.holder), [gone.toString()], 'only the notice that did not open is out')
  // a full set: a new notice takes the place of a bad one first, then of one not fetched, never of a live untried one
  const fresh = await Promise.all(Array.from({ length: MAX_NOTICES_PER_TASK }, peer))
  for (const [i, f] of fresh.slice(0, 2).entries()) t.true(board.offer(notice(f, alice, [`3${i}`.repeat(32)])))
  t.true(board.offer(notice(fresh[2], alice, ['32'.repeat(32)])), 'the bad one gives way')
  t.deepEqual(board.candidates(TASK, alice).map(n => n.holder), [gone, fresh[0], fresh[1], fresh[2]].map(String))
  t.true(board.offer(notice(fresh[3], alice, ['33'.repeat(32)])), 'then the one not fetched')
  t.deepEqual(board.candidates(TASK, alice).map(n => n.holder), fresh.map(String))
  t.false(board.offer(notice(holder5, alice, ['34'.repeat(32)])), 'never a live untried one')
})

test('an envelope comes from the holder; when the holder does not serve it, from a connected peer that holds it; else from the holder dialled; else NoticeNotFetched', async (t) => {
  const [holder, validator, other] = await Promise.all([peer(), peer(), peer()])
  const id = 'ee'.repeat(32)
  const bytes = new Uint8Array([1, 2, 3])
  const n = notice(holder, alice, [id])
  const fromHolder = fetcher(new SealedInputsBoard({ keeps: () => true }), [other, holder, validator], new Map([[holder.toString(), new Map([[id, bytes]])], [validator.toString(), new Map([[id, bytes]])]]))
  t.is(await fromHolder.fetch.envelope(n, 0), id)
  t.deepEqual(fromHolder.asked, [holder.toString()])
  // the holder is gone (not connected): the validator that fetched it to check the claim serves it
  const fromValidator = fetcher(new SealedInputsBoard({ keeps: () => true }), [other, validator], new Map([[validator.toString(), new Map([[id, bytes]])]]))
  t.is(await fromValidator.fetch.envelope(n, 0), id)
  t.deepEqual(fromValidator.asked, [validator.toString()])
  t.deepEqual(fromValidator.held.get(id), bytes)
  // the holder is not connected and nobody connected has it: the holder is dialled
  const dialled = fetcher(new SealedInputsBoard({ keeps: () => true }), [other], new Map([[holder.toString(), new Map([[id, bytes]])]]))
  t.is(await dialled.fetch.envelope(n, 0), id)
  t.deepEqual(dialled.asked, [holder.toString()])
  // the holder is connected but does not serve it, and nobody else has it
  const nowhere = fetcher(new SealedInputsBoard({ keeps: () => true }), [other, holder], new Map())
  const err = await t.throwsAsync(nowhere.fetch.envelope(n, 0))
  t.true(err instanceof NoticeNotFetched, String(err))
  t.deepEqual(nowhere.asked, [holder.toString()], 'a connected holder is not asked twice')
  // gone: not connected, not reachable
  const gone = fetcher(new SealedInputsBoard({ keeps: () => true }), [other], new Map())
  t.true(await gone.fetch.envelope(n, 0).catch(e => e) instanceof NoticeNotFetched)
  t.deepEqual(gone.asked, [holder.toString()])
  await t.throwsAsync(nowhere.fetch.envelope(n, 1), { message: /no envelope 1/ })
})

test('a provider opens its input from the first notice that gives it; no notice within its wait is INPUT_UNAVAILABLE; its own abort is not', async (t) => {
  const kem = generateKemKeyPair()
  const input = new Uint8Array([4, 5, 6, 7])
  const envelope = seal(input, kem.publicKey, { context: inputContext(TASK, alice, 0) })
  const envelopeId = sha256Hex(envelope)
  const [holder, forger] = await Promise.all([peer(), peer()])
  const board = new SealedInputsBoard({ keeps: (n) => n.provider === alice })
  const garbage = seal(new Uint8Array([9]), kem.publicKey, { context: inputContext(TASK, alice, 0) })
  const f = fetcher(board, [holder, forger], new Map([[holder.toString(), new Map([[envelopeId, envelope]])], [forger.toString(), new Map([['77'.repeat(32), garbage]])]]))
  const task = { taskId: TASK, provider: alice, index: 0, id: sha256Hex(input) }
  // nothing on the board within the wait: the provider can claim (a wait of a fractional millisecond count too: half
  // the time to an odd deadline)
  for (const waitMs of [50, 50.5]) {
    const none = await t.throwsAsync(f.fetch.openInput(task, kem.secretKey, waitMs))
    t.true(none instanceof ProviderBlobError && none.code === 'INPUT_UNAVAILABLE', String(none))
  }
  // aborted by the caller (its deadline, a stop): that reason, not a claim
  const ctl = new AbortController()
  const stopped = f.fetch.openInput(task, kem.secretKey, 10_000, ctl.signal)
  ctl.abort(new Error('stopping'))
  await t.throwsAsync(stopped, { message: 'stopping' })
  // a forgery first, then the real notice: the real one gives the input
  board.offer(notice(forger, alice, ['77'.repeat(32)]))
  const got = f.fetch.openInput(task, kem.secretKey, 10_000)
  board.offer(notice(holder, alice, [envelopeId]))
  t.deepEqual(await got, input)
})

test('a validator checking a claim gets the first notice whose envelopes all fetch, waiting for one; none within the notice wait or the time rejects', async (t) => {
  const [holder, gone] = await Promise.all([peer(), peer()])
  const board = new SealedInputsBoard({ keeps: () => true })
  const served = new Map([['a1'.repeat(32), new Uint8Array([1])], ['a2'.repeat(32), new Uint8Array([2])]])
  const f = fetcher(board, [holder], new Map([[holder.toString(), served]]))
  await t.throwsAsync(f.fetch.fetchAll(TASK, alice, AbortSignal.timeout(50)), undefined, 'no notice to the claimant: rejected (unavailable)')
  await t.throwsAsync(f.fetch.fetchAll(TASK, alice, AbortSignal.timeout(10_000), undefined, 50), undefined, 'a notice not seen is waited for noticeWaitMs only')
  // a notice of a holder gone, whose envelopes nobody else holds: tried, not fetched
  board.offer(notice(gone, alice, ['a1'.repeat(32), 'b2'.repeat(32)]))
  board.offer(notice(holder, bob, ['a1'.repeat(32)]))
  const found = f.fetch.fetchAll(TASK, alice, AbortSignal.timeout(10_000))
  board.offer(notice(holder, alice, ['a1'.repeat(32), 'a2'.repeat(32)]))
  t.is((await found).holder, holder.toString())
  t.deepEqual([...f.held.keys()].sort(), ['a1'.repeat(32), 'a2'.repeat(32)])
  t.true(board.candidates(TASK, alice).some(n => n.holder === gone.toString()), 'not fetched is no proof of forgery: still a candidate')
})

test('with the claimant\'s task key revealed, the validator needs envelopes that open to the announced inputs: a forger\'s that fetch but do not open are not enough', async (t) => {
  const kem = generateKemKeyPair(new Uint8Array(64).fill(4))
  const input = new Uint8Array([1, 2, 3])
  const envelope = seal(input, kem.publicKey, { context: inputContext(TASK, alice, 0) })
  const garbage = seal(input, generateKemKeyPair().publicKey, { context: inputContext(TASK, alice, 0) })
  const [holder, forger] = await Promise.all([peer(), peer()])
  const board = new SealedInputsBoard({ keeps: () => true })
  const f = fetcher(board, [holder, forger], new Map([[holder.toString(), new Map([[sha256Hex(envelope), envelope]])], [forger.toString(), new Map([[sha256Hex(garbage), garbage]])]]))
  const opens = { kemSecretKey: kem.secretKey, ids: [sha256Hex(input)] }
  board.offer(notice(forger, alice, [sha256Hex(garbage)]))
  // the forger's alone: fetched, but nothing opens (the claim is `unavailable`); without the key it would do
  await t.throwsAsync(f.fetch.fetchAll(TASK, alice, AbortSignal.timeout(10_000), opens, 50))
  t.true(board.hasBad(TASK, alice), 'the forgery is marked bad')
  // the real notice: opens to the announced input
  board.offer(notice(holder, alice, [sha256Hex(envelope)]))
  t.is((await f.fetch.fetchAll(TASK, alice, AbortSignal.timeout(10_000), opens, 50)).holder, holder.toString())
  // the real envelopes, but announced ids they do not hash to: not enough either
  const other = new SealedInputsBoard({ keeps: () => true })
  const g = fetcher(other, [holder], new Map([[holder.toString(), new Map([[sha256Hex(envelope), envelope]])]]))
  other.offer(notice(holder, alice, [sha256Hex(envelope)]))
  await t.throwsAsync(g.fetch.fetchAll(TASK, alice, AbortSignal.timeout(10_000), { ...opens, ids: ['00'.repeat(32)] }, 50))
  t.true(other.hasBad(TASK, alice), 'envelopes that open to other bytes than announced are bad too')
})
