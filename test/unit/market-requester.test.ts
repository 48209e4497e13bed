import test from 'ava'
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { registerMarketRpc, type MarketRpcSource } from '../../src/api/index.ts'
import { taskToRpc } from '../../src/api/market-views.ts'
import { registerMethod } from '../../src/api/method.ts'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { createLogger } from '../../src/core/logger.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import { DagError } from '../../src/dag/errors.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { BlobStore, generateKemKeyPair, open } from '../../src/market/blobs/index.ts'
import { buildTaskAnnounce, buildTaskCancel, registerMarketKinds } from '../../src/market/kinds/index.ts'
import { Requester } from '../../src/market/requester.ts'
import { inputContext } from '../../src/market/seal-contexts.ts'
import type { SealedInputsNotice } from '../../src/market/sealed-inputs.ts'
import type { BidView, MarketReaderEvents, TaskView } from '../../src/market/state/reader.ts'
import { type TaskRecord, taskView } from '../../src/market/state/records.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { HarmonyClient, RpcClientError } from '../../src/sdk/index.ts'
import { waitForTask } from '../../src/sdk/market.ts'
import { tempDir } from '../helpers/harmonyd.ts'
import { matmulAnnounce } from '../helpers/market.ts'
import { startFixture } from '../helpers/rpc-fixture.ts'

registerMarketKinds()
const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest())
const logger = createLogger({ level: 'silent' })
const CHAIN = 'harmony-test'
const requesterKeys = generateKeyPair()
const providerAddress = addressFromPublicKey(generateKeyPair().publicKey)

/**
 * The market state's read side as the requester uses it: tasks and each provider's task key (what its bid revealed)
 * set by the test, events emitted by it.
 */
class StateDouble extends EventEmitter<MarketReaderEvents> {
  readonly tasks = new Map<string, TaskView>()
  readonly keys = new Map<string, string>()
  async task (id: string): Promise<TaskView | undefined> { return this.tasks.get(id) }
  async bids (): Promise<BidView[]> { return [...this.keys].map(([provider, taskKey]) => ({ provider, taskKey }) as BidView) }
}

interface Setup {
  requester: Requester
  store: BlobStore
  state: StateDouble
  submitted: Uint8Array[]
  notices: SealedInputsNotice[]
  failSubmit: { on: boolean, error?: Error, answer?: (encoded: Uint8Array) => Promise<string> }
}

async function setup (t: { teardown: (fn: () => Promise<void>) => void }, badEnvelopes = false): Promise<Setup> {
  const dir = await tempDir()
  const db = await openDatabase(dir.path)
  const store = new BlobStore({ db: sublevel(db, 'blobs'), logger }, { sweepIntervalMs: 0 })
  await store.start()
  const state = new StateDouble()
  const submitted: Uint8Array[] = []
  const notices: SealedInputsNotice[] = []
  const failSubmit: Setup['failSubmit'] = { on: false }
  const requester = new Requester({
    db: sublevel(db, 'market'),
    blobs: store,
    submitTransaction: async (encoded) => {
      if (failSubmit.answer !== undefined) return await failSubmit.answer(encoded)
      if (failSubmit.on) throw failSubmit.error ?? new Error('admission refused')
      submitted.push(encoded)
      return `0x${toHex(sha(encoded))}`
    },
    reader: state,
    publishNotice: async (notice) => { notices.push(notice) },
    peerId: '12D3KooWTestPeer',
    badEnvelopes,
    logger
  }, { republishMs: 0, maxRepublish: 3 })
  await requester.start()
  t.teardown(async () => {
    await requester.stop()
    await store.stop()
    await db.close()
    await dir[Symbol.asyncDispose]()
  })
  return { requester, store, state, submitted, notices, failSubmit }
}

function announce (inputs: Uint8Array[], nonce = 0n, over: Parameters<typeof matmulAnnounce>[0] = {}): { bytes: Uint8Array, taskId: string } {
  const { tx, taskId } = buildTaskAnnounce({ chainId: CHAIN, keys: requesterKeys, nonce, fee: 1000n }, matmulAnnounce({ inputs: inputs.map(sha), ...over }))
  return { bytes: encodeTx(tx), taskId: toHex(taskId) }
}

// the inputs of the announces' 2×2 by 2×2 matmul (16 bytes each); a task of one input: a relu over 4 values
const a = new Uint8Array(16).fill(1)
const b = new Uint8Array(16).fill(2)
const oneInput = { spec: { kernel: 'elementwise' as const, paramsJson: '{"n":4,"op":"relu"}' } }

test('submit checks the inputs against the signed announce, stores them in the blob store, then submits', async (t) => {
  const { requester, store, submitted } = await setup(t)
  const { bytes, taskId } = announce([a, b])
  const out = await requester.submit(bytes, [a, b])
  t.is(out.taskId, `0x${taskId}`)
  t.is(submitted.length, 1)
  t.deepEqual(await store.get(toHex(sha(a))), a)
  t.deepEqual(await store.tags(toHex(sha(b))), [taskId])
})

test('a submit whose inputs differ from the announce, or that is no announce, keeps and sends nothing', async (t) => {
  const { requester, store, submitted, failSubmit } = await setup(t)
  const { bytes } = announce([a, b])
  const swapped = await t.throwsAsync(requester.submit(bytes, [b, a]))
  t.is((swapped as { code?: string }).code, 'TASK_INPUTS_MISMATCH')
  const missing = await t.throwsAsync(requester.submit(bytes, [a]))
  t.is((missing as { code?: string }).code, 'TASK_INPUTS_MISMATCH')
  const cancel = encodeTx(buildTaskCancel({ chainId: CHAIN, keys: requesterKeys, nonce: 1n, fee: 1000n }, new Uint8Array(32)))
  const notAnnounce = await t.throwsAsync(requester.submit(cancel, []))
  t.is((notAnnounce as { code?: string }).code, 'TASK_ANNOUNCE_INVALID')
  const garbage = await t.throwsAsync(requester.submit(new Uint8Array([1, 2, 3]), []))
  t.is((garbage as { code?: string }).code, 'TASK_ANNOUNCE_INVALID')
  // inputs that are the announced ones but cannot be the task's: one where a matmul takes two, one of the wrong size
  const short = await t.throwsAsync(requester.submit(announce([a]).bytes, [a]))
  t.like(short, { code: 'TASK_INPUTS_MISMATCH', message: 'the inputs do not fit the task: matmul takes 2 inputs, got 1' })
  const odd = new Uint8Array(12)
  const sized = await t.throwsAsync(requester.submit(announce([a, odd]).bytes, [a, odd]))
  t.like(sized, { code: 'TASK_INPUTS_MISMATCH', message: 'the inputs do not fit the task: matmul input 1 must be 4 f32 values (16 bytes), got 12 bytes' })
  const small = await t.throwsAsync(requester.submit(announce([a, b], 0n, { outputLimitBytes: 15 }).bytes, [a, b]))
  t.like(small, { code: 'TASK_INPUTS_MISMATCH', message: 'the inputs do not fit the task: outputs total 16 bytes, over the task\'s output limit of 15' })
  t.false(await store.has(toHex(sha(a))))
  t.is(submitted.length, 0)
  // refused by the DAG after the inputs were stored: they are released again
  failSubmit.on = true
  await t.throwsAsync(requester.submit(bytes, [a, b]), { message: /admission refused/ })
  t.false(await store.has(toHex(sha(a))))
})

test('the same announce sent again and refused (a resend: TX_KNOWN, NONCE_TOO_LOW) keeps what the first submit stored', async (t) => {
  const { requester, store, submitted, failSubmit } = await setup(t)
  const { bytes, taskId } = announce([a, b])
  await requester.submit(bytes, [a, b])
  t.is(submitted.length, 1)
  for (const code of ['TX_KNOWN', 'NONCE_TOO_LOW']) {
    Object.assign(failSubmit, { on: true, error: new DagError(code as 'TX_KNOWN', 'the announce again') })
    await t.throwsAsync(requester.submit(bytes, [a, b]), { message: 'the announce again' })
    // the task's inputs are still served, held for it
    for (const input of [a, b]) t.deepEqual(await store.tags(toHex(sha(input))), [taskId], code)
  }
  // a private task's plaintext as well
  const priv = announce([a, b], 1n, { private: true, requesterKemKey: generateKemKeyPair().publicKey })
  failSubmit.on = false
  await requester.submit(priv.bytes, [a, b])
  failSubmit.on = true
  await t.throwsAsync(requester.submit(priv.bytes, [a, b]))
  t.is(requester.heldTasks, 1)
  // what an earlier submit did not store goes, as before: a new task refused
  await t.throwsAsync(requester.submit(announce([b, a], 2n).bytes, [b, a]))
  t.deepEqual(await store.tags(toHex(sha(a))), [taskId])
  t.is(requester.heldTasks, 1)
})

test('a submit refused BUSY and sent again holds its inputs for the task; two submits of one task at once: the refused one leaves the admitted one its inputs', async (t) => {
  const { requester, store, failSubmit } = await setup(t)
  const { bytes, taskId } = announce([a, b])
  Object.assign(failSubmit, { on: true, error: new DagError('BUSY', 'node is at capacity', { retryAfterMs: 100 }) })
  await t.throwsAsync(requester.submit(bytes, [a, b]), { message: /capacity/ })
  t.deepEqual(await store.tags(toHex(sha(a))), [], 'a refused task holds nothing')
  failSubmit.on = false
  await requester.submit(bytes, [a, b])
  for (const input of [a, b]) t.deepEqual(await store.tags(toHex(sha(input))), [taskId], 'the inputs hold for the task sent again')

  // a client's resend while its first submit waits for admission: the first is admitted, the resend refused
  const second = announce([b, a], 1n)
  let admit = (): void => {}
  const admitted = new Promise<void>(resolve => { admit = resolve })
  let calls = 0
  failSubmit.answer = async (encoded) => {
    if (++calls === 1) { await admitted; return `0x${toHex(sha(encoded))}` }
    throw new DagError('TX_KNOWN', 'the announce again')
  }
  const first = requester.submit(second.bytes, [b, a])
  const resend = requester.submit(second.bytes, [b, a])
  setTimeout(admit, 50)
  await first
  await t.throwsAsync(resend, { message: 'the announce again' })
  for (const input of [a, b]) t.true((await store.tags(toHex(sha(input)))).includes(second.taskId), 'the admitted task keeps its inputs')
})

test('another announce of a live private task\'s id (its nonce), refused, leaves the live task its plaintext', async (t) => {
  const { requester, store, state, notices, failSubmit } = await setup(t)
  const kem = generateKemKeyPair()
  const live = announce([a, b], 3n, { private: true, requesterKemKey: generateKemKeyPair().publicKey })
  await requester.submit(live.bytes, [a, b])
  const other = announce([b, a], 3n, { private: true, requesterKemKey: generateKemKeyPair().publicKey })
  t.is(other.taskId, live.taskId)
  Object.assign(failSubmit, { on: true, error: new DagError('TX_CONFLICT', 'nonce 3 is taken') })
  await t.throwsAsync(requester.submit(other.bytes, [b, a]), { message: 'nonce 3 is taken' })
  // the winner of the live task gets its inputs, not the refused announce's
  state.keys.set(providerAddress, toHex(kem.publicKey))
  const task = { taskId: live.taskId, phase: 'awarded', inputs: [toHex(sha(a)), toHex(sha(b))], awards: [{ round: 0, winners: [providerAddress], considered: [], txId: '', timeMs: 0, deadlineMs: 0 }] } as unknown as TaskView
  state.tasks.set(live.taskId, task)
  state.emit('task:changed', task)
  await waitUntil(() => notices.length === 1)
  for (const [i, id] of notices[0].envelopes.entries()) {
    t.deepEqual(open(await store.get(id), kem.secretKey, { context: inputContext(live.taskId, providerAddress, i) }), [a, b][i])
  }
})

test('a private task\'s plaintext never enters the blob store; each awarded provider gets envelopes only its key opens', async (t) => {
  const { requester, store, state, notices } = await setup(t)
  const kem = generateKemKeyPair()
  const { bytes, taskId } = announce([a, b], 2n, { private: true, requesterKemKey: generateKemKeyPair().publicKey })
  await requester.submit(bytes, [a, b])
  t.false(await store.has(toHex(sha(a))), 'plaintext is not served')
  t.is(requester.heldTasks, 1)
  state.keys.set(providerAddress, toHex(kem.publicKey))
  const task = { taskId, phase: 'awarded', inputs: [toHex(sha(a)), toHex(sha(b))], awards: [{ round: 0, winners: [providerAddress], considered: [], txId: '', timeMs: 0, deadlineMs: 0 }] } as unknown as TaskView
  state.tasks.set(taskId, task)
  state.emit('task:changed', task)
  await waitUntil(() => notices.length === 1)
  const notice = notices[0]
  t.like(notice, { taskId, round: 0, provider: providerAddress, holder: '12D3KooWTestPeer' })
  for (const [i, id] of notice.envelopes.entries()) {
    const envelope = await store.get(id)
    t.deepEqual(open(envelope, kem.secretKey, { context: inputContext(taskId, providerAddress, i) }), [a, b][i])
    t.throws(() => open(envelope, generateKemKeyPair().secretKey, { context: inputContext(taskId, providerAddress, i) }))
  }
  // the same award again seals nothing more; the task's end drops the plaintext
  state.emit('task:changed', task)
  const settled = { ...task, phase: 'settled' } as TaskView
  state.emit('task:changed', settled)
  await waitUntil(() => requester.heldTasks === 0)
  t.is(notices.length, 1)
})

test('fault injection bad-envelopes: the envelopes are sealed to a key nobody holds, so the winner\'s task key does not open them', async (t) => {
  const { requester, store, state, notices } = await setup(t, true)
  const kem = generateKemKeyPair()
  const { bytes, taskId } = announce([a, b], 2n, { private: true, requesterKemKey: generateKemKeyPair().publicKey })
  await requester.submit(bytes, [a, b])
  state.keys.set(providerAddress, toHex(kem.publicKey))
  const task = { taskId, phase: 'awarded', inputs: [toHex(sha(a)), toHex(sha(b))], awards: [{ round: 0, winners: [providerAddress], considered: [], txId: '', timeMs: 0, deadlineMs: 0 }] } as unknown as TaskView
  state.tasks.set(taskId, task)
  state.emit('task:changed', task)
  await waitUntil(() => notices.length === 1)
  for (const [i, id] of notices[0].envelopes.entries()) {
    const envelope = await store.get(id)
    const err = t.throws(() => open(envelope, kem.secretKey, { context: inputContext(taskId, providerAddress, i) }))
    t.is((err as { code?: string }).code, 'SEAL_OPEN_FAILED')
  }
})

test('each provider\'s notice is published again, same envelopes and a new issue, until its result is final or the task ends, less often after the first repeats', async (t) => {
  const { requester, state, notices } = await setup(t)
  const other = addressFromPublicKey(generateKeyPair().publicKey)
  for (const p of [providerAddress, other]) state.keys.set(p, toHex(generateKemKeyPair().publicKey))
  const { bytes, taskId } = announce([a], 3n, { ...oneInput, private: true, requesterKemKey: generateKemKeyPair().publicKey })
  await requester.submit(bytes, [a])
  const task = { taskId, phase: 'awarded', inputs: [toHex(sha(a))], results: [], awards: [{ round: 0, winners: [providerAddress, other], considered: [], txId: '', timeMs: 0, deadlineMs: 0 }] } as unknown as TaskView
  state.tasks.set(taskId, task)
  state.emit('task:changed', task)
  await waitUntil(() => notices.length === 2)
  t.deepEqual(notices.map(n => n.issue), [0, 0])
  t.is(await requester.republish(), 2)
  const [first, second] = [notices.filter(n => n.provider === providerAddress), notices.filter(n => n.provider === other)]
  t.deepEqual(first.map(n => n.issue), [0, 1])
  t.deepEqual(first[1].envelopes, first[0].envelopes, 'the same envelopes, not sealed again')
  t.deepEqual(second.map(n => n.issue), [0, 1])
  // the first provider's result is final: only the other one's notice goes on
  state.tasks.set(taskId, { ...task, results: [{ provider: providerAddress, round: 0 }] } as unknown as TaskView)
  t.is(await requester.republish(), 1)
  t.is(notices.at(-1)?.provider, other)
  // after maxRepublish (3) repeats, one every slowRepublishMs (10 s) until the provider answers or the task ends (a
  // provider that restarted lost the notice it held)
  t.is(await requester.republish(), 1)
  const slow = Date.now()
  t.is(await requester.republish(slow), 0)
  t.is(await requester.republish(slow + 9_000), 0)
  t.is(await requester.republish(slow + 10_000), 1)
  t.is(await requester.republish(slow + 15_000), 0)
  t.deepEqual(notices.filter(n => n.provider === other).map(n => n.issue), [0, 1, 2, 3, 4])
  // a new round repeats until the task ends
  const next = { ...task, awards: [...task.awards, { round: 1, winners: [providerAddress], considered: [], txId: '', timeMs: 0, deadlineMs: 0 }] } as unknown as TaskView
  state.tasks.set(taskId, next)
  state.emit('task:changed', next)
  await waitUntil(() => notices.some(n => n.round === 1))
  state.tasks.set(taskId, { ...next, phase: 'settled' } as TaskView)
  t.is(await requester.republish(), 0)
})

/** An RPC server with the market's methods over `source`, and a client of it (both closed at the test's end). */
async function marketRpcClient (t: { teardown: (fn: () => Promise<void>) => void }, source: MarketRpcSource, transport: 'http' | 'ws', registry = new RpcRegistry()): Promise<HarmonyClient> {
  registerMarketRpc(registry, source)
  return await rpcClient(t, registry, transport)
}

/** An RPC server with `registry`'s methods, and a client of it (both closed at the test's end). */
async function rpcClient (t: { teardown: (fn: () => Promise<void>) => void }, registry: RpcRegistry, transport: 'http' | 'ws'): Promise<HarmonyClient> {
  const fixture = await startFixture({}, registry)
  t.teardown(async () => { await fixture.server.stop() })
  const client = new HarmonyClient({ url: transport === 'ws' ? fixture.wsUrl : fixture.url })
  t.teardown(async () => { await client.close() })
  return client
}

/** A task just announced by `requester` (hmy1…), as the market state records it. */
function record (taskId: string, requester: string): TaskRecord {
  return {
    taskId, requester: toHex(parseAddress(requester)), announceTx: 'ab'.repeat(32), announcedAtMs: 1_000, announce: matmulAnnounce(),
    bids: new Map(), awards: [], ranking: [], losses: new Map(), assigned: [], results: new Map(), slashes: [], cancelRequested: false
  }
}

/** The same task once its cancel is settled. */
function cancelled (t: TaskRecord): TaskRecord {
  return { ...t, cancelRequested: true, settlement: { outcome: 'cancelled', txId: 'cd'.repeat(32), timeMs: 1_200, payouts: [], fee: 0n, refund: 0n, faults: [] } }
}

async function waitUntil (done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise(resolve => setTimeout(resolve, 5))
  if (!done()) throw new Error('condition never held')
}

test('task_submit over RPC: bounded inputs, typed errors with their reason', async (t) => {
  const { requester, failSubmit } = await setup(t)
  const unused = async (): Promise<never> => { throw new Error('unused') }
  const source: MarketRpcSource = {
    reader: { task: async () => undefined, tasks: async () => [], bids: unused, provider: unused, providers: async () => [] },
    requester,
    output: unused,
    localProvider: () => { throw new Error('unused') }
  }
  const client = await marketRpcClient(t, source, 'http')
  const { bytes, taskId } = announce([a], 0n, oneInput)
  const hex = `0x${toHex(bytes)}`
  const ok = await client.call('task_submit', [{ announce: hex, inputs: [Buffer.from(a).toString('base64')] }])
  t.is(ok.taskId, `0x${taskId}`)

  const mismatch = await t.throwsAsync(client.call('task_submit', { announce: hex, inputs: [Buffer.from(b).toString('base64')] }))
  t.true(mismatch instanceof RpcClientError)
  t.is((mismatch as RpcClientError).code, -32602)
  t.like((mismatch as RpcClientError).data, { reason: 'TASK_INPUTS_MISMATCH' })
  // an input over the per-input bound is refused by the schema before anything is decoded
  const huge = 'A'.repeat(Math.ceil(512 * 1024 / 3) * 4 + 4)
  const oversize = await t.throwsAsync(client.call('task_submit', [{ announce: hex, inputs: [huge] }]))
  t.is((oversize as RpcClientError).code, -32602)
  // the ledger's refusal reaches the caller with its details, as from account_sendTransaction
  failSubmit.on = true
  failSubmit.error = new DagError('BUSY', 'clients\' transactions wait too long', { rule: 'latency', retryAfterMs: 350 })
  const other = announce([b], 1n, oneInput)
  const busy = await t.throwsAsync(client.call('task_submit', [{ announce: `0x${toHex(other.bytes)}`, inputs: [Buffer.from(b).toString('base64')] }]))
  t.is((busy as RpcClientError).code, -32005)
  t.like((busy as RpcClientError).data, { reason: 'BUSY', rule: 'latency', retryAfterMs: 350 })
  // and a cancel's: the market rule that refuses it is named
  failSubmit.error = new DagError('TX_REFUSED', 'the task is closed', { rule: 'TASK_CLOSED' })
  const closed = await t.throwsAsync(client.call('task_cancel', [`0x${toHex(encodeTx(buildTaskCancel({ chainId: CHAIN, keys: requesterKeys, nonce: 2n, fee: 1000n }, new Uint8Array(32))))}`]))
  t.like((closed as RpcClientError).data, { reason: 'TX_REFUSED', rule: 'TASK_CLOSED' })
  failSubmit.on = false
  const cancel = await t.throwsAsync(client.call('task_cancel', [hex]))
  t.like((cancel as RpcClientError).data, { reason: 'TASK_CANCEL_INVALID' })
  t.deepEqual(await client.call('task_list', [{ state: 'settled', limit: 5 }]), { tasks: [], next: null })
  const badLimit = await t.throwsAsync(client.call('task_list', [{ limit: 1000 }]))
  t.is((badLimit as RpcClientError).code, -32602)
  t.is(await client.call('task_get', [`0x${taskId}`]), null)
})

test('task_status over WebSocket: the task as task_get shows it after each change, filtered by id or requester', async (t) => {
  const state = new StateDouble()
  const unused = async (): Promise<never> => { throw new Error('unused') }
  const source: MarketRpcSource = {
    reader: { task: unused, tasks: unused, bids: unused, provider: unused, providers: unused },
    requester: { submit: unused, cancel: unused },
    output: unused,
    localProvider: () => { throw new Error('unused') },
    onTaskChanged: (listener) => { state.on('task:changed', listener) }
  }
  const client = await marketRpcClient(t, source, 'ws')
  const alice = addressFromPublicKey(generateKeyPair().publicKey)
  const bob = addressFromPublicKey(generateKeyPair().publicKey)
  const first = record('01'.repeat(32), alice)
  const second = record('02'.repeat(32), bob)

  const byId: string[] = []
  const byRequester: string[] = []
  await client.subscribe('task_status', { id: `0x${first.taskId}` }, (e) => { byId.push(`${e.taskId} ${e.state}`) })
  await client.subscribe('task_status', { requester: bob }, (e) => { byRequester.push(`${e.taskId} ${e.requester}`) })
  state.emit('task:changed', taskView(first, 1_100))
  state.emit('task:changed', taskView(second, 1_100))
  state.emit('task:changed', taskView(cancelled(first), 1_300))
  await waitUntil(() => byId.length === 2 && byRequester.length === 1)
  t.deepEqual(byId, [`0x${first.taskId} bidding`, `0x${first.taskId} cancelled`])
  t.deepEqual(byRequester, [`0x${second.taskId} ${bob}`])
  // a filter that is no task id is refused
  await t.throwsAsync(client.subscribe('task_status', { id: '0x12' }, () => {}), { instanceOf: RpcClientError })
})

test('waitForTask follows task_status when asked to (push), and polls a node without the topic', async (t) => {
  const state = new StateDouble()
  const unused = async (): Promise<never> => { throw new Error('unused') }
  // task_get keeps saying "bidding": only the pushed event can end the wait
  const task = record('03'.repeat(32), addressFromPublicKey(generateKeyPair().publicKey))
  const source: MarketRpcSource = {
    reader: { task: async () => taskView(task, 1_100), tasks: unused, bids: unused, provider: unused, providers: unused },
    requester: { submit: unused, cancel: unused },
    output: unused,
    localProvider: () => { throw new Error('unused') },
    onTaskChanged: (listener) => { state.on('task:changed', listener) }
  }
  const registry = new RpcRegistry()
  const client = await marketRpcClient(t, source, 'ws', registry)
  const waiting = waitForTask(client, `0x${task.taskId}`, undefined, { push: true, intervalMs: 3_600_000 })
  await waitUntil(() => registry.hub.subscriberCount('task_status') === 1)
  state.emit('task:changed', taskView(cancelled(task), 1_300))
  t.is((await waiting).state, 'cancelled')
  await waitUntil(() => registry.hub.subscriberCount('task_status') === 0)

  // a node without the topic: the subscribe is refused, the task is polled
  const bare = new RpcRegistry()
  registerMethod(bare, 'task_get', async () => taskToRpc(taskView(cancelled(task), 1_300)))
  const old = await rpcClient(t, bare, 'ws')
  t.is((await waitForTask(old, `0x${task.taskId}`, undefined, { push: true, intervalMs: 10 })).state, 'cancelled')
})
