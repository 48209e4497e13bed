import test from 'ava'
import { EventEmitter } from 'node:events'
import { f32Blob, makeBlob } from '../../src/compute/blob.ts'
import { DEFAULT_LIMITS, EXECUTION_PROFILE, type ComputeTask, type ExecutorInfo } from '../../src/compute/types.ts'
import { referenceResult } from '../../src/compute/verify.ts'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../src/core/address.ts'
import { bytesEqual, fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, openDatabase, sublevel } from '../../src/core/storage.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import { buildVertexInfo, type VertexInfo } from '../../src/dag/vertex.ts'
import { escrowAccount } from '../../src/market/accounts.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { buildTaskAnnounce, buildTaskAward } from '../../src/market/kinds/builders.ts'
import { registerMarketKinds } from '../../src/market/index.ts'
import {
  type InputClaimPayload, inputClaimKind, TX_KIND_INPUT_CLAIM,
  type BidCommitPayload, bidCommitKind, bidCommitment, bidCommitsKind, type BidRevealPayload, bidRevealKind, bidRevealsKind, providerRegisterKind, taskResultKind, TX_KIND_BID_COMMIT, TX_KIND_BID_COMMITS,
  TX_KIND_BID_REVEAL, TX_KIND_BID_REVEALS, TX_KIND_PROVIDER_REGISTER, TX_KIND_TASK_RESULT
} from '../../src/market/kinds/index.ts'
import type { MarketReaderEvents, ProviderView, TaskView } from '../../src/market/state/reader.ts'
import { ProviderAgent } from '../../src/market/provider/agent.ts'
import type { ProviderAgentComponents, ProviderAgentInit } from '../../src/market/provider/agent-types.ts'
import { type BidRecord, BidStore } from '../../src/market/provider/bid-store.ts'
import type { CapabilityRecord } from '../../src/market/provider/capability.ts'
import { parseProviderConfig } from '../../src/market/provider/config.ts'
import { ProviderBlobError, type ProviderBlobs } from '../../src/market/provider/blobs.ts'
import { EMPTY_OUTPUT_ID, INPUT_FAULT_PROFILE, inputFaultCommitment, reexecute } from '../../src/market/provider/job.ts'
import { waitFor } from '../helpers/dag-net.ts'
import { randomValues } from '../helpers/compute.ts'
import { tempDir } from '../helpers/harmonyd.ts'
import { matmulAnnounce } from '../helpers/market.ts'

// The provider agent against a market it is handed (the market state's read side is m1's; here a small in-memory
// one the test drives), a real LevelDB for its bids, and the CPU reference executor in this process.

registerMarketKinds()
const CHAIN = 'harmony-devnet'
const keys = generateKeyPair(new Uint8Array(32).fill(11))
const me = addressFromPublicKey(keys.publicKey)
const requesterKeys = generateKeyPair(new Uint8Array(32).fill(12))
const requester = addressFromPublicKey(requesterKeys.publicKey)
const capability: CapabilityRecord = { executor: 'cpu', adapter: 'CPU reference executor', memoryMiB: 4096, gflopsMilli: 300, profile: EXECUTION_PROFILE }
const info: ExecutorInfo = {
  kind: 'cpu',
  adapter: { vendor: 'harmony', architecture: '', device: 'cpu', description: 'CPU reference executor', backend: 'none', featureLevel: 'none', isFallbackAdapter: false },
  limits: { maxStorageBufferBindingSize: 1 << 27, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535 },
  taskLimits: DEFAULT_LIMITS,
  profile: EXECUTION_PROFILE,
  kernels: ['matmul', 'conv2d', 'elementwise', 'reduce', 'softmax', 'layernorm', 'mlp']
}
const executor = { info: () => info, run: async (task: ComputeTask) => referenceResult(task) }

class Market extends EventEmitter<MarketReaderEvents> {
  readonly views = new Map<string, TaskView>()
  providerView: ProviderView | undefined
  async task (id: string): Promise<TaskView | undefined> { return this.views.get(id) }
  async tasks (filter: { phase?: string } = {}): Promise<TaskView[]> { return [...this.views.values()].filter(v => filter.phase === undefined || v.phase === filter.phase) }
  async provider (address: string): Promise<ProviderView | undefined> { return address === me ? this.providerView : undefined }
  change (view: TaskView): void { this.views.set(view.taskId, view); this.emit('task:changed', view) }
}

/** A ledger: balances by address hex, and the provider's nonce = transactions admitted (all final at once here). */
class Ledger {
  readonly balances = new Map<string, bigint>()
  readonly txs: Transaction[] = []
  /** When each transaction was submitted (ms). */
  readonly submittedAt = new Map<Transaction, number>()
  async account (address: Uint8Array): Promise<{ balance: bigint, nonce: bigint }> {
    const mine = bytesEqual(address, addressBytesFromPublicKey(keys.publicKey))
    return { balance: this.balances.get(toHex(address)) ?? 0n, nonce: mine ? BigInt(this.txs.length) : 0n }
  }

  async submit (tx: Transaction): Promise<string> {
    if (tx.nonce !== BigInt(this.txs.length)) throw Object.assign(new Error('nonce'), { code: 'NONCE_GAP', meta: { expected: String(this.txs.length) } })
    this.txs.push(tx)
    this.submittedAt.set(tx, Date.now())
    return `0x${txInfo(encodeTx(tx)).idHex}`
  }

  of (kind: number): Transaction[] { return this.txs.filter(t => t.kind === kind) }

  /** Whether a transaction with this id (0x or not) was admitted and is still held. */
  holds (id: string): boolean { return this.txs.some(tx => txInfo(encodeTx(tx)).idHex === id.replace(/^0x/, '')) }

  /** Loses the last transaction admitted, as a validator's mempool does to a kill -9 (its nonce is free again). */
  loseLast (): Transaction {
    const tx = this.txs.pop()
    if (tx === undefined) throw new Error('nothing to lose')
    return tx
  }

  /** The bid commits submitted, one per task, each with the transaction that carried it (a single one or a batch). */
  commits (): Array<BidCommitPayload & { tx: Transaction }> {
    return this.txs.flatMap(tx => tx.kind === TX_KIND_BID_COMMIT ? [{ ...bidCommitKind.decode(tx.payload), tx }] : tx.kind === TX_KIND_BID_COMMITS ? bidCommitsKind.decode(tx.payload).map(e => ({ ...e, tx })) : [])
  }

  /** The bid reveals submitted, as `commits`. */
  reveals (): Array<BidRevealPayload & { tx: Transaction }> {
    return this.txs.flatMap(tx => tx.kind === TX_KIND_BID_REVEAL ? [{ ...bidRevealKind.decode(tx.payload), tx }] : tx.kind === TX_KIND_BID_REVEALS ? bidRevealsKind.decode(tx.payload).map(e => ({ ...e, tx })) : [])
  }
}

function inputs (): { a: Uint8Array, b: Uint8Array } {
  return { a: f32Blob(randomValues(4 * 3, 1)).bytes, b: f32Blob(randomValues(3 * 5, 2)).bytes }
}

function taskView (taskId: string, over: Partial<TaskView> = {}): TaskView {
  const now = Date.now()
  const { a, b } = inputs()
  return {
    taskId, requester, announceTx: '00'.repeat(32), announcedAtMs: now, phase: 'bidding',
    spec: { kernel: 'matmul', params: { m: 4, k: 3, n: 5 } }, inputs: [makeBlob(a).id, makeBlob(b).id], outputLimitBytes: 1024,
    budget: 10n ** 18n, redundancy: 1, k: 1, verification: 'none', bidWindowMs: 400, revealWindowMs: 60_000, executionDeadlineMs: 60_000,
    requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false }, private: false, reannounce: false,
    escrow: 10n ** 18n, bidsCloseAtMs: now + 400, revealsCloseAtMs: now + 60_400, awards: [], winners: [], results: [], slashes: [], inputClaims: [],
    cancelRequested: false, bidCount: 0, ...over
  }
}

function memoryBlobs (): ProviderBlobs & { stored: Map<string, Uint8Array> } {
  const { a, b } = inputs()
  const stored = new Map<string, Uint8Array>([[makeBlob(a).id, a], [makeBlob(b).id, b]])
  return {
    stored,
    input: async (_task, id) => { const bytes = stored.get(id); if (bytes === undefined) throw new Error('missing'); return bytes },
    output: async (_task, bytes) => { const blob = makeBlob(bytes); stored.set(blob.id, bytes); return blob.id }
  }
}

/** The ledger's `vertex:inserted` events, which the test emits. */
class Vertices extends EventEmitter<{ 'vertex:inserted': [VertexInfo] }> {}

interface Rig { agent: ProviderAgent, market: Market, ledger: Ledger, db: BinaryDb, blobs: ReturnType<typeof memoryBlobs>, vertices: Vertices }

async function rig (dir: string, config: object = {}, market = new Market(), ledger = new Ledger(), init: Partial<ProviderAgentInit> = {}, extra: Partial<ProviderAgentComponents> = {}): Promise<Rig> {
  const db = await openDatabase(dir)
  const blobs = memoryBlobs()
  const vertices = new Vertices()
  ledger.balances.set(toHex(addressBytesFromPublicKey(keys.publicKey)), 10n ** 21n)
  const agent = new ProviderAgent({
    market, ledger, chainId: CHAIN, fee: 1000n, submit: async (tx) => await ledger.submit(tx), keys,
    kemPublicKey: new Uint8Array(1184).fill(3), taskKeys: { publicKey: () => generateKemKeyPair(new Uint8Array(64).fill(3)).publicKey, seedToReveal: () => undefined },
    executor: () => executor, blobs, db: sublevel(db, 'market'), vertices, logger: silentLogger(), ...extra
  }, { config: parseProviderConfig({ enabled: true, bond: '1000', pricePerGflop: '1000000000', minPrice: '10', ...config }), capability, tickMs: 20, sweepMs: 100, ...init })
  return { agent, market, ledger, db, blobs, vertices }
}

/** An agent registered on a fresh market, its escrows for `funded` tasks funded (the caller starts and stops it). */
async function registeredRig (dir: string, config: object, funded: string[] = [], init: Partial<ProviderAgentInit> = {}, extra: Partial<ProviderAgentComponents> = {}): Promise<Rig> {
  const market = new Market()
  registered(market)
  const r = await rig(dir, config, market, new Ledger(), init, extra)
  for (const id of funded) r.ledger.balances.set(toHex(escrowAccount(fromHex(id))), 10n ** 18n)
  return r
}

function registered (market: Market): void {
  market.providerView = {
    address: me, bond: 1000n, kemPublicKey: toHex(new Uint8Array(1184).fill(3)), capability, registeredAtMs: Date.now(),
    reputation: 0, verified: 0, faults: 0, lates: 0, received: 0n, owed: 0n, openTasks: []
  }
}

test.serial('registers with its bond, commits a sealed bid only against a funded escrow, and reveals once the bid window closes', async t => {
  await using dir = await tempDir()
  const { agent, market, ledger, db } = await rig(dir.path)
  try {
    await agent.start()
    await waitFor(() => ledger.of(TX_KIND_PROVIDER_REGISTER).length === 1, 'the registration', 10_000)
    const registration = providerRegisterKind.decode(ledger.of(TX_KIND_PROVIDER_REGISTER)[0].payload)
    t.is(registration.bond, 1000n)
    t.deepEqual(registration.capability, capability)
    registered(market)
    await waitFor(() => agent.status().registered, 'the agent to see its registration', 10_000)

    // an announce whose escrow is short: no bid, and the reason is kept
    const unfunded = 'aa'.repeat(32)
    ledger.balances.set(toHex(escrowAccount(fromHex(unfunded))), 10n ** 18n - 1n)
    market.change(taskView(unfunded))
    await waitFor(() => agent.status().skipped.some(s => s.taskId === unfunded), 'the no-bid decision', 10_000)
    t.is(agent.status().skipped[0].reason, 'escrow-missing')

    // an announce seen here too late for a commit to be final in its bid window: no bid, and the reason is kept
    const late = 'cc'.repeat(32)
    ledger.balances.set(toHex(escrowAccount(fromHex(late))), 10n ** 18n)
    market.change(taskView(late, { bidsCloseAtMs: Date.now() + 100 }))
    await waitFor(() => agent.status().skipped.some(s => s.taskId === late), 'the too-late decision', 10_000)
    t.is(agent.status().skipped.find(s => s.taskId === late)?.reason, 'too-late')
    t.is(ledger.commits().length, 0)

    const funded = 'bb'.repeat(32)
    ledger.balances.set(toHex(escrowAccount(fromHex(funded))), 10n ** 18n)
    const view = taskView(funded)
    market.change(view)
    await waitFor(() => ledger.commits().length === 1, 'the commit', 10_000)
    await waitFor(() => ledger.reveals().length === 1, 'the reveal', 10_000)
    // the bid stays sealed while the bid window is open: the reveal is submitted only once it closed
    t.true((ledger.submittedAt.get(ledger.reveals()[0].tx) ?? 0) >= view.bidsCloseAtMs, 'nothing revealed while the bid window is open')
    const commit = ledger.commits()[0]
    const reveal = ledger.reveals()[0]
    // 2·4·3·5 = 120 FLOP at 10^9 per GFLOP: 120 base units
    t.is(reveal.price, 120n)
    t.deepEqual(commit.commitment, bidCommitment(fromHex(funded), addressBytesFromPublicKey(keys.publicKey), reveal.price, reveal.salt))
    t.deepEqual(agent.status().active.map(a => a.stage), ['revealed'])
  } finally {
    await agent.stop()
    await db.close()
  }
})

test.serial('a commit seen in a vertex stamped after the bid window is not revealed (the market refuses it); one stamped inside is', async t => {
  await using dir = await tempDir()
  const [late, onTime] = ['d1', 'd2'].map(p => p.repeat(32))
  const r = await registeredRig(dir.path, {}, [late, onTime])
  const commitOf = (taskId: string): Transaction | undefined => r.ledger.commits().find(e => toHex(e.taskId) === taskId)?.tx
  const revealOf = (taskId: string): Transaction | undefined => r.ledger.reveals().find(e => toHex(e.taskId) === taskId)?.tx
  // the provider's own node built the vertex carrying its commit at `timestampMs`
  const vertexWith = (tx: Transaction, timestampMs: number): VertexInfo => buildVertexInfo(CHAIN, { author: keys.publicKey, secretKey: keys.secretKey, parents: [new Uint8Array(32).fill(4)], txs: [txInfo(encodeTx(tx))], timestampMs: BigInt(timestampMs) })
  try {
    await r.agent.start()
    // windows long enough for both commits before the commit margin, on a loaded machine too
    const views = [late, onTime].map(id => taskView(id, { bidsCloseAtMs: Date.now() + 1500 }))
    // one auction after the other: two commits made together leave in one batch, one transaction in one vertex
    r.market.change(views[0])
    await waitFor(() => commitOf(late) !== undefined, 'the first commit', 10_000)
    r.market.change(views[1])
    await waitFor(() => commitOf(onTime) !== undefined, 'the second commit', 10_000)
    t.not(commitOf(late), commitOf(onTime))
    r.vertices.emit('vertex:inserted', vertexWith(commitOf(late) as Transaction, views[0].bidsCloseAtMs + 1))
    r.vertices.emit('vertex:inserted', vertexWith(commitOf(onTime) as Transaction, views[1].bidsCloseAtMs))
    await waitFor(() => revealOf(onTime) !== undefined, 'the reveal of the commit made in time', 10_000)
    await waitFor(() => !r.agent.status().active.some(a => a.taskId === late), 'the late commit given up', 10_000)
    t.is(revealOf(late), undefined)
    t.deepEqual(r.agent.status().active.map(a => [a.taskId, a.stage]), [[onTime, 'revealed']])
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('a provider restarted between its commit and its reveal still reveals with the salt it kept on disk', async t => {
  await using dir = await tempDir()
  const market = new Market()
  const ledger = new Ledger()
  registered(market)
  const first = await rig(dir.path, {}, market, ledger)
  const taskId = 'cc'.repeat(32)
  ledger.balances.set(toHex(escrowAccount(fromHex(taskId))), 10n ** 18n)
  const view = taskView(taskId, { bidsCloseAtMs: Date.now() + 1500 })
  try {
    await first.agent.start()
    market.change(view)
    await waitFor(() => ledger.commits().length === 1, 'the commit', 10_000)
    await waitFor(async () => (await new BidStore(sublevel(first.db, 'market')).all()).some(r => r.stage === 'committed'), 'the committed record', 10_000)
  } finally {
    await first.agent.stop()
    await first.db.close()
  }
  t.is(ledger.reveals().length, 0)
  const second = await rig(dir.path, {}, market, ledger)
  try {
    await second.agent.start()
    await waitFor(() => ledger.reveals().length === 1, 'the reveal after the restart', 10_000)
    const commit = ledger.commits()[0]
    const reveal = ledger.reveals()[0]
    t.deepEqual(commit.commitment, bidCommitment(fromHex(taskId), addressBytesFromPublicKey(keys.publicKey), reveal.price, reveal.salt))

    // the task settles: the bid record is gone from disk
    market.change({ ...view, phase: 'settled' })
    await waitFor(async () => (await new BidStore(sublevel(second.db, 'market')).all()).length === 0, 'the record to be deleted', 10_000)
  } finally {
    await second.agent.stop()
    await second.db.close()
  }
})

// A validator's mempool dies with its process: what the agent had admitted there and that never reached a vertex is
// unknown to the ledger after a restart (`txLost`), and the agent makes that step again or gives the bid up.
async function restarted (dir: string, market: Market, ledger: Ledger, lost: boolean): Promise<Rig> {
  return await rig(dir, {}, market, ledger, {}, lost ? { txLost: async (id) => !ledger.holds(id) } : {})
}

async function recordOf (r: Rig, taskId: string): Promise<BidRecord | undefined> {
  return (await new BidStore(sublevel(r.db, 'market')).all()).find(x => x.taskId === taskId)
}

/** An agent awarded `taskId` answers it and is stopped; then its result is lost. */
async function answeredThenLost (dir: string, taskId: string, lost: boolean): Promise<{ market: Market, ledger: Ledger, sent: Transaction }> {
  const market = new Market()
  const ledger = new Ledger()
  registered(market)
  const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
  market.change({ ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] })
  const first = await restarted(dir, market, ledger, lost)
  try {
    await first.agent.start()
    await waitFor(async () => (await recordOf(first, taskId))?.stage === 'answered', 'the result recorded', 10_000)
  } finally {
    await first.agent.stop()
    await first.db.close()
  }
  return { market, ledger, sent: ledger.loseLast() }
}

test.serial('a validator restarted after its result was lost with the mempool runs the award again and sends the same result; one its ledger holds is not sent again', async t => {
  await using dir = await tempDir()
  const taskId = 'e1'.repeat(32)
  const { market, ledger, sent } = await answeredThenLost(dir.path, taskId, true)
  t.is(sent.kind, TX_KIND_TASK_RESULT)
  const second = await restarted(dir.path, market, ledger, true)
  try {
    await second.agent.start()
    await waitFor(() => ledger.of(TX_KIND_TASK_RESULT).length === 1, 'the result sent again', 10_000)
    const again = ledger.of(TX_KIND_TASK_RESULT)[0]
    t.deepEqual(taskResultKind.decode(again.payload), taskResultKind.decode(sent.payload), 'the same result: the run is deterministic')
    t.is(again.nonce, sent.nonce, 'in the nonce the lost one left free')
    await waitFor(async () => (await recordOf(second, taskId))?.stage === 'answered', 'the new result recorded', 10_000)
  } finally {
    await second.agent.stop()
    await second.db.close()
  }
  // the result is held now: a restart leaves the award answered
  const third = await restarted(dir.path, market, ledger, true)
  try {
    await third.agent.start()
    const record = await recordOf(third, taskId)
    t.is(record?.stage, 'answered')
    t.deepEqual(record?.answeredRounds, [0])
    t.is(record?.resultTx, `0x${txInfo(encodeTx(ledger.of(TX_KIND_TASK_RESULT)[0])).idHex}`)
    t.false(third.agent.status().active.some(a => a.taskId === taskId))
  } finally {
    await third.agent.stop()
    await third.db.close()
  }
})

test.serial('a validator restarted after its reveal was lost reveals again; after its commit was lost, it gives the bid up', async t => {
  await using dir = await tempDir()
  const market = new Market()
  const ledger = new Ledger()
  registered(market)
  const [revealed, committed] = ['e2', 'e3'].map(p => p.repeat(32))
  for (const id of [revealed, committed]) ledger.balances.set(toHex(escrowAccount(fromHex(id))), 10n ** 18n)
  const run = async (taskId: string, until: 'revealed' | 'committed', bidWindowMs: number): Promise<Transaction> => {
    const r = await restarted(dir.path, market, ledger, true)
    try {
      await r.agent.start()
      market.change(taskView(taskId, { bidsCloseAtMs: Date.now() + bidWindowMs }))
      await waitFor(async () => (await recordOf(r, taskId))?.stage === until, `the bid ${until}`, 10_000)
    } finally {
      await r.agent.stop()
      await r.db.close()
    }
    return ledger.loseLast()
  }

  const reveal = await run(revealed, 'revealed', 1000)
  t.is(reveal.kind, TX_KIND_BID_REVEALS)
  t.is(ledger.reveals().length, 0)
  const second = await restarted(dir.path, market, ledger, true)
  try {
    await second.agent.start()
    await waitFor(() => ledger.reveals().length === 1, 'the reveal sent again', 10_000)
    const again = ledger.reveals()[0]
    t.deepEqual(bidRevealsKind.decode(again.tx.payload), bidRevealsKind.decode(reveal.payload), 'the same price and salt')
    t.deepEqual(ledger.commits()[0].commitment, bidCommitment(fromHex(revealed), addressBytesFromPublicKey(keys.publicKey), again.price, again.salt))
  } finally {
    await second.agent.stop()
    await second.db.close()
  }

  // a long bid window: the agent is stopped while the bid is sealed, its commit then lost
  const commit = await run(committed, 'committed', 60_000)
  t.true(commit.kind === TX_KIND_BID_COMMITS || commit.kind === TX_KIND_BID_COMMIT)
  const third = await restarted(dir.path, market, ledger, true)
  try {
    await third.agent.start()
    const record = await recordOf(third, committed)
    t.is(record?.stage, 'failed')
    t.regex(record?.detail ?? '', /commit sent before the restart is unknown/)
    t.false(third.agent.status().active.some(a => a.taskId === committed), 'its capacity is free again')
  } finally {
    await third.agent.stop()
    await third.db.close()
  }
})

test.serial('a forwarding node (no txLost) keeps what it sent: its transactions wait at the validator it forwarded them to', async t => {
  await using dir = await tempDir()
  const taskId = 'e4'.repeat(32)
  const { market, ledger } = await answeredThenLost(dir.path, taskId, false)
  const second = await restarted(dir.path, market, ledger, false)
  try {
    await second.agent.start()
    t.is((await recordOf(second, taskId))?.stage, 'answered', 'not undone: this node cannot tell a lost transaction from one not synced yet')
  } finally {
    await second.agent.stop()
    await second.db.close()
  }
})

for (const fault of ['none', 'wrong-result'] as const) {
  test.serial(`an awarded provider fetches the inputs, runs the task and commits to its output (fault injection: ${fault})`, async t => {
    await using dir = await tempDir()
    const market = new Market()
    registered(market)
    const r = await rig(dir.path, { faultInjection: fault }, market)
    const taskId = (fault === 'none' ? 'dd' : 'ee').repeat(32)
    const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
    try {
      await r.agent.start()
      market.change({ ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] })
      await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length === 1, 'the result', 10_000)
      const result = taskResultKind.decode(r.ledger.of(TX_KIND_TASK_RESULT)[0].payload)
      t.is(result.round, 0)
      t.is(result.profile, EXECUTION_PROFILE)
      const { a, b } = inputs()
      const honest = await reexecute(executor, { taskId, kernel: 'matmul', params: { m: 4, k: 3, n: 5 }, inputs: view.inputs, outputLimitBytes: 1024 }, [a, b])
      const served = r.blobs.stored.get(toHex(result.outputBlob))
      t.truthy(served, 'the output blob is stored to be served')
      t.is(result.outputBytes, 4 * 5 * 4)
      if (fault === 'none') {
        t.is(toHex(result.commitment), honest.commitment)
        t.deepEqual(served, honest.result?.outputs[0].bytes)
      } else {
        t.not(toHex(result.commitment), honest.commitment, 'the lying provider commits to a wrong output')
        t.notDeepEqual(served, honest.result?.outputs[0].bytes)
      }
    } finally {
      await r.agent.stop()
      await r.db.close()
    }
  })
}

// A requester's inputs that do not fit its task: the provider is not at fault, and must not miss its deadline for it
const misfits: Array<{ what: string, over: (view: TaskView) => Partial<TaskView>, fault: RegExp }> = [
  { what: 'one input where matmul takes two', over: v => ({ inputs: v.inputs.slice(0, 1) }), fault: /matmul takes 2 inputs, got 1/ },
  { what: 'inputs of the wrong size', over: () => ({ spec: { kernel: 'matmul', params: { m: 4, k: 4, n: 5 } } }), fault: /matmul input 0 must be 16 f32 values/ },
  { what: 'an output over the announced limit', over: () => ({ outputLimitBytes: 79 }), fault: /outputs total 80 bytes, over the task's output limit of 79/ }
]
for (const misfit of misfits) {
  test.serial(`an awarded task with ${misfit.what} gets an input-fault result at once, and a re-execution agrees with it`, async t => {
    await using dir = await tempDir()
    const market = new Market()
    registered(market)
    const r = await rig(dir.path, {}, market)
    const taskId = 'fa'.repeat(32)
    const base = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
    const view = { ...base, ...misfit.over(base) }
    try {
      await r.agent.start()
      market.change({ ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] })
      await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length === 1, 'the result', 10_000)
      const result = taskResultKind.decode(r.ledger.of(TX_KIND_TASK_RESULT)[0].payload)
      t.is(result.profile, INPUT_FAULT_PROFILE)
      t.is(result.outputBytes, 0)
      t.is(toHex(result.outputBlob), EMPTY_OUTPUT_ID)
      t.is(toHex(result.commitment), inputFaultCommitment(taskId))
      const { a, b } = inputs()
      const again = await reexecute(executor, { taskId, kernel: 'matmul', params: view.spec.params, inputs: view.inputs, outputLimitBytes: view.outputLimitBytes }, [a, b].slice(0, view.inputs.length))
      t.is(again.commitment, inputFaultCommitment(taskId), 'a validator re-executing the task finds the same fault')
      t.regex(again.fault ?? '', misfit.fault)
      t.is(again.result, undefined)
      t.not(inputFaultCommitment(taskId), inputFaultCommitment('fb'.repeat(32)), 'the commitment names its task')
    } finally {
      await r.agent.stop()
      await r.db.close()
    }
  })
}

test.serial('awarded tasks are handled at once (one\'s input fetch does not wait for another\'s), each run exactly once', async t => {
  await using dir = await tempDir()
  const r = await registeredRig(dir.path, {})
  const market = r.market
  // every input fetch waits until fetches of three different tasks are under way together: one job at a time
  // would never get there (and the results below would not come)
  const fetching = new Set<string>()
  let release = (): void => {}
  const together = new Promise<void>(resolve => { release = resolve })
  const input = r.blobs.input
  r.blobs.input = async (task, id, signal) => {
    fetching.add(task.taskId)
    if (fetching.size >= 3) release()
    await together
    return await input(task, id, signal)
  }
  const ids = ['d1', 'd2', 'd3'].map(p => p.repeat(32))
  try {
    await r.agent.start()
    for (const taskId of ids) {
      const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
      market.change({ ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] })
    }
    await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length === 3, 'the three results', 10_000)
    // the agent's sweep re-reads every held task each 100 ms while they run: none may be queued a second time
    await new Promise(resolve => setTimeout(resolve, 300))
    const answered = r.ledger.of(TX_KIND_TASK_RESULT).map(tx => toHex(taskResultKind.decode(tx.payload).taskId)).sort()
    t.deepEqual(answered, ids, 'one result per awarded task')
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('capacity bounds work that can be won: a commit past it is left unrevealed, with the reason kept', async t => {
  await using dir = await tempDir()
  const first = 'f1'.repeat(32)
  const second = 'f2'.repeat(32)
  const r = await registeredRig(dir.path, { capacity: 1 }, [first, second])
  const market = r.market
  try {
    await r.agent.start()
    market.change(taskView(first, { bidsCloseAtMs: Date.now() + 1000 }))
    market.change(taskView(second, { bidsCloseAtMs: Date.now() + 2500 }))
    // both commit: a sealed commit costs nothing to drop, so more than capacity may be open
    await waitFor(() => r.ledger.commits().length === 2, 'both commits', 10_000)
    await waitFor(() => r.ledger.reveals().length === 1, 'the first reveal', 10_000)
    // the first reveal can win the one slot until its award: the second is not revealed
    await waitFor(() => agentSkipped(r.agent, second) !== undefined, 'the second bid given up', 10_000)
    t.is(agentSkipped(r.agent, second)?.reason, 'capacity')
    t.regex(agentSkipped(r.agent, second)?.detail ?? '', /left unrevealed/)
    t.is(r.ledger.reveals().length, 1)
    t.deepEqual(toHex(r.ledger.reveals()[0].taskId), first)
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('auctions closing together at capacity: exactly one of their commits is revealed', async t => {
  await using dir = await tempDir()
  const ids = ['f3', 'f4', 'f5'].map(p => p.repeat(32))
  const r = await registeredRig(dir.path, { capacity: 1 }, ids)
  const market = r.market
  try {
    await r.agent.start()
    const closes = Date.now() + 2000
    for (const id of ids) market.change(taskView(id, { bidsCloseAtMs: closes }))
    await waitFor(() => r.ledger.commits().length === 3, 'three commits', 10_000)
    // the agent's clock starts all three reveals in one tick: the check and the reservation must not be split
    await waitFor(() => ids.filter(id => agentSkipped(r.agent, id) !== undefined).length === 2, 'two bids given up', 10_000)
    // the kept bid's reveal reaches the ledger a few turns after the others were given up (its send is queued)
    await waitFor(() => r.ledger.reveals().length > 0, 'the kept bid\'s reveal', 10_000)
    t.is(r.ledger.reveals().length, 1)
    t.deepEqual(ids.filter(id => agentSkipped(r.agent, id) !== undefined).map(id => agentSkipped(r.agent, id)?.reason), ['capacity', 'capacity'])
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

function agentSkipped (agent: ProviderAgent, taskId: string): { reason: string, detail: string } | undefined {
  return agent.status().skipped.find(s => s.taskId === taskId)
}

test.serial('an announce still pending in a vertex received here is bid on at once (commit, then reveal once the bid window closed); one never final is given up', async t => {
  await using dir = await tempDir()
  const r = await registeredRig(dir.path, {}, [], { unfinalRevealGraceMs: 3000 })
  r.ledger.balances.set(toHex(addressBytesFromPublicKey(requesterKeys.publicKey)), 10n ** 6n)
  const poorKeys = generateKeyPair(new Uint8Array(32).fill(13))
  const announce = (keys: typeof requesterKeys, nonce: bigint, bidWindowMs: number, revealWindowMs: number): { taskId: string, vertex: VertexInfo } => {
    const { tx, taskId } = buildTaskAnnounce({ chainId: CHAIN, keys, nonce, fee: 1000n }, matmulAnnounce({ bidWindowMs, revealWindowMs }))
    const vertex = buildVertexInfo(CHAIN, { author: keys.publicKey, secretKey: keys.secretKey, parents: [new Uint8Array(32).fill(nonce === 0n ? 1 : 2)], txs: [txInfo(encodeTx(tx))], timestampMs: BigInt(Date.now()) })
    return { taskId: toHex(taskId), vertex }
  }
  const revealOf = (taskId: string): Transaction | undefined => r.ledger.reveals().find(e => toHex(e.taskId) === taskId)?.tx
  try {
    await r.agent.start()
    // a requester whose balance cannot lock the budget: no commit, and why
    const poor = announce(poorKeys, 0n, 60_000, 1000)
    r.vertices.emit('vertex:inserted', poor.vertex)
    await waitFor(() => agentSkipped(r.agent, poor.taskId) !== undefined, 'the no-bid decision', 10_000)
    t.is(agentSkipped(r.agent, poor.taskId)?.reason, 'escrow-missing')

    const pending = announce(requesterKeys, 0n, 600, 60_000)
    const announcedAtMs = Number(pending.vertex.vertex.timestampMs)
    r.vertices.emit('vertex:inserted', pending.vertex)
    await waitFor(() => r.ledger.commits().length === 1, 'the commit on the pending announce', 10_000)
    t.is(toHex(r.ledger.commits()[0].taskId), pending.taskId)
    t.is(await r.market.task(pending.taskId), undefined, 'committed before the market state had the task')
    // sealed while the bid window is open, revealed once it closed, the announce still pending here
    await waitFor(() => revealOf(pending.taskId) !== undefined, 'the reveal', 10_000)
    t.true((r.ledger.submittedAt.get(revealOf(pending.taskId) as Transaction) ?? 0) >= announcedAtMs + 600, 'nothing revealed while the bid window is open')
    const reveal = r.ledger.reveals().find(e => toHex(e.taskId) === pending.taskId) as BidRevealPayload
    t.deepEqual(r.ledger.commits()[0].commitment, bidCommitment(fromHex(pending.taskId), addressBytesFromPublicKey(keys.publicKey), reveal.price, reveal.salt))
    // final now, its escrow locked: the bid is held
    r.ledger.balances.set(toHex(escrowAccount(fromHex(pending.taskId))), 1000n)
    r.market.change(taskView(pending.taskId, { announcedAtMs, phase: 'revealing', bidsCloseAtMs: announcedAtMs + 600, revealsCloseAtMs: announcedAtMs + 60_600, budget: 1000n, escrow: 1000n }))

    // an announce that never becomes final here: committed and revealed, then given up once the reveal window and
    // the grace passed, its capacity freed
    const never = announce(requesterKeys, 1n, 300, 300)
    r.vertices.emit('vertex:inserted', never.vertex)
    await waitFor(() => revealOf(never.taskId) !== undefined, 'the second reveal', 10_000)
    t.true(r.agent.status().active.some(a => a.taskId === never.taskId), 'held while the announce may still be final')
    await waitFor(() => !r.agent.status().active.some(a => a.taskId === never.taskId), 'the bid given up', 10_000)
    t.deepEqual(r.agent.status().active.map(a => [a.taskId, a.stage]), [[pending.taskId, 'revealed']])
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('an award naming this provider, still pending here, starts its job at once; one naming another, or of a private task, starts nothing', async t => {
  await using dir = await tempDir()
  const [mine, others, sealed] = ['a7', 'a8', 'a9'].map(p => p.repeat(32))
  const r = await registeredRig(dir.path, {}, [mine, others, sealed])
  const validator = generateKeyPair(new Uint8Array(32).fill(14))
  const someone = addressBytesFromPublicKey(generateKeyPair(new Uint8Array(32).fill(15)).publicKey)
  const pendingAward = (taskId: string, winner: Uint8Array, nonce: bigint): VertexInfo => {
    const award = buildTaskAward(CHAIN, validator, nonce, { taskId: fromHex(taskId), round: 0, considered: [], winners: [winner] })
    return buildVertexInfo(CHAIN, { author: validator.publicKey, secretKey: validator.secretKey, parents: [new Uint8Array(32).fill(3)], txs: [txInfo(encodeTx(award))], timestampMs: BigInt(Date.now()) })
  }
  const revealing = { phase: 'revealing' as const, bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() + 60_000 }
  try {
    await r.agent.start()
    r.market.change(taskView(mine, revealing))
    r.market.change(taskView(others, revealing))
    r.market.change(taskView(sealed, { ...revealing, private: true }))
    r.vertices.emit('vertex:inserted', pendingAward(others, someone, 0n))
    r.vertices.emit('vertex:inserted', pendingAward(sealed, addressBytesFromPublicKey(keys.publicKey), 1n))
    r.vertices.emit('vertex:inserted', pendingAward(mine, addressBytesFromPublicKey(keys.publicKey), 2n))
    await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length >= 1, 'the result', 10_000)
    t.deepEqual((await r.market.task(mine))?.awards, [], 'the market state holds no award yet')
    // the other two would have been queued before it (events in order; jobs run at once): none comes
    await new Promise(resolve => setTimeout(resolve, 300))
    t.deepEqual(r.ledger.of(TX_KIND_TASK_RESULT).map(tx => [toHex(taskResultKind.decode(tx.payload).taskId), taskResultKind.decode(tx.payload).round]), [[mine, 0]])
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('inputs no peer serves: the winner claims once instead of failing; after `available` it fetches again and answers, after `unavailable` it gives the round up', async t => {
  await using dir = await tempDir()
  const r = await registeredRig(dir.path, {})
  const market = r.market
  // the inputs are served only once a verdict says `available` (a validator fetched them and serves them)
  let served = false
  const input = r.blobs.input
  let fetches = 0
  r.blobs.input = async (task, id, signal) => {
    fetches++
    if (!served) throw new ProviderBlobError('INPUT_UNAVAILABLE', `no peer served input ${id}`, { taskId: task.taskId, blob: id })
    return await input(task, id, signal)
  }
  const [available, unavailable] = ['e1', 'e2'].map(p => p.repeat(32))
  const awarded = (taskId: string): TaskView => {
    const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
    return { ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] }
  }
  const claimsOf = (taskId: string): Transaction[] => r.ledger.of(TX_KIND_INPUT_CLAIM).filter(tx => toHex(inputClaimKind.decode(tx.payload).taskId) === taskId)
  try {
    await r.agent.start()
    for (const id of [available, unavailable]) market.change(awarded(id))
    await waitFor(() => claimsOf(available).length === 1 && claimsOf(unavailable).length === 1, 'a claim for each task', 10_000)
    t.like(inputClaimKind.decode(claimsOf(available)[0].payload), { round: 0 })
    t.is(r.ledger.of(TX_KIND_TASK_RESULT).length, 0, 'no result without the inputs')
    // the market applies the claims, then the verdicts
    const claim = (taskId: string, outcome: 'available' | 'unavailable'): TaskView => {
      const view = awarded(taskId)
      // `unavailable` here excuses alone (as where a single validator may judge the claimant)
      return { ...view, inputClaims: [{ txId: '21'.repeat(32), provider: me, round: 0, attempt: 0, timeMs: Date.now(), keyRevealed: false, verdict: { outcome, validator: requester, txId: '22'.repeat(32), timeMs: Date.now() }, dueAtMs: Date.now() + 60_000, excused: outcome === 'unavailable' }] }
    }
    market.change(claim(unavailable, 'unavailable'))
    served = true
    market.change(claim(available, 'available'))
    await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length === 1, 'the result after `available`', 10_000)
    t.is(toHex(taskResultKind.decode(r.ledger.of(TX_KIND_TASK_RESULT)[0].payload).taskId), available)
    // the round given up after `unavailable` is not queued again by the next views of the task (one claim per round)
    const before = fetches
    for (let i = 0; i < 3; i++) market.change(claim(unavailable, 'unavailable'))
    await new Promise(resolve => setTimeout(resolve, 300))
    t.is(claimsOf(unavailable).length, 1)
    t.is(claimsOf(available).length, 1)
    t.is(fetches, before, 'no fetch of a round given up')
    t.false(r.ledger.of(TX_KIND_TASK_RESULT).some(tx => toHex(taskResultKind.decode(tx.payload).taskId) === unavailable))
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('a judge that said `available` but serves nothing: the winner appeals (claim 1), and gives the round up after the next judge\'s `unavailable`', async t => {
  await using dir = await tempDir()
  const r = await registeredRig(dir.path, {})
  r.blobs.input = async (task, id) => { throw new ProviderBlobError('INPUT_UNAVAILABLE', `no peer served input ${id}`, { taskId: task.taskId, blob: id }) }
  const taskId = 'e5'.repeat(32)
  const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
  const awarded: TaskView = { ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] }
  const claims = (): Array<{ round: number, attempt: number }> => r.ledger.of(TX_KIND_INPUT_CLAIM).map(tx => inputClaimKind.decode(tx.payload))
  const claimView = (attempt: number, outcome?: 'available' | 'unavailable'): TaskView['inputClaims'][number] => ({
    txId: `2${attempt}`.repeat(32), provider: me, round: 0, attempt, timeMs: Date.now(), keyRevealed: false, dueAtMs: Date.now() + 60_000,
    ...(outcome === undefined ? { holdsSlashUntilMs: Date.now() + 60_000 } : { verdict: { outcome, validator: requester, txId: `3${attempt}`.repeat(32), timeMs: Date.now() } }),
    // the first judge said `available`: the second's `unavailable` is one of two, enough where only two may judge
    excused: outcome === 'unavailable'
  })
  try {
    await r.agent.start()
    r.market.change(awarded)
    await waitFor(() => claims().length === 1, 'the first claim', 10_000)
    t.like(claims()[0], { round: 0, attempt: 0 })
    // the judge says `available`: the winner fetches again, fails (nobody serves them), and appeals
    r.market.change({ ...awarded, inputClaims: [claimView(0, 'available')] })
    await waitFor(() => claims().length === 2, 'the appeal', 15_000)
    t.like(claims()[1], { round: 0, attempt: 1 })
    // the next judge finds them unavailable: the round is over, no third claim and no result
    r.market.change({ ...awarded, inputClaims: [claimView(0, 'available'), claimView(1, 'unavailable')] })
    await new Promise(resolve => setTimeout(resolve, 1500))
    t.is(claims().length, 2)
    t.is(r.ledger.of(TX_KIND_TASK_RESULT).length, 0)
    t.is(r.agent.status().active.find(a => a.taskId === taskId), undefined)
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('a provider restarted after its claim: past the award\'s deadline it still answers by the extended one after `available`, without claiming again', async t => {
  await using dir = await tempDir()
  const r = await registeredRig(dir.path, {})
  const taskId = 'e3'.repeat(32)
  const view = taskView(taskId, { phase: 'awarded', bidsCloseAtMs: Date.now() - 20_000, revealsCloseAtMs: Date.now() - 15_000 })
  const award = { txId: '11'.repeat(32), round: 0, timeMs: Date.now() - 10_000, deadlineMs: Date.now() - 1000, winners: [me], considered: [] }
  const claim = { txId: '21'.repeat(32), provider: me, round: 0, attempt: 0, timeMs: Date.now() - 5000, keyRevealed: false }
  try {
    await r.agent.start()
    // the claim answered `unavailable`: nothing to do
    r.market.change({ ...view, awards: [award], winners: [me], inputClaims: [{ ...claim, verdict: { outcome: 'unavailable', validator: requester, txId: '22'.repeat(32), timeMs: Date.now() - 2000 }, dueAtMs: award.deadlineMs, excused: true }] })
    await new Promise(resolve => setTimeout(resolve, 300))
    t.is(r.ledger.of(TX_KIND_TASK_RESULT).length, 0)
    // the same round with `available`: due 30 s from the verdict, past the award's own deadline
    const other = 'e4'.repeat(32)
    r.market.change({ ...view, taskId: other, awards: [award], winners: [me], inputClaims: [{ ...claim, verdict: { outcome: 'available', validator: requester, txId: '22'.repeat(32), timeMs: Date.now() - 2000 }, dueAtMs: Date.now() + 30_000, excused: false }] })
    await waitFor(() => r.ledger.of(TX_KIND_TASK_RESULT).length === 1, 'the result by the extended deadline', 10_000)
    t.is(toHex(taskResultKind.decode(r.ledger.of(TX_KIND_TASK_RESULT)[0].payload).taskId), other)
    t.is(r.ledger.of(TX_KIND_INPUT_CLAIM).length, 0, 'no second claim')
    // one judge's `unavailable` that a second must confirm (s48): past the award's deadline, within the verdict's
    // hold, the restarted provider appeals (its claim 1), and does not run the task
    const unconfirmed = 'e6'.repeat(32)
    r.market.change({ ...view, taskId: unconfirmed, awards: [award], winners: [me], inputClaims: [{ ...claim, verdict: { outcome: 'unavailable', validator: requester, txId: '23'.repeat(32), timeMs: Date.now() - 2000 }, dueAtMs: award.deadlineMs, holdsSlashUntilMs: Date.now() + 58_000, excused: false }] })
    await waitFor(() => r.ledger.of(TX_KIND_INPUT_CLAIM).length === 1, 'the appeal for a second judge', 10_000)
    t.like(inputClaimKind.decode(r.ledger.of(TX_KIND_INPUT_CLAIM)[0].payload), { round: 0, attempt: 1 })
    t.is(toHex(inputClaimKind.decode(r.ledger.of(TX_KIND_INPUT_CLAIM)[0].payload).taskId), unconfirmed)
    t.is(r.ledger.of(TX_KIND_TASK_RESULT).length, 1, 'no result for the unconfirmed task')
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})

test.serial('a private task: the bid is revealed alone with the task key; a claim carries the key\'s seed only after envelopes that did not open', async t => {
  await using dir = await tempDir()
  const pair = generateKemKeyPair(new Uint8Array(64).fill(6))
  const [bid, unopened, unfetched] = ['f1', 'f2', 'f3'].map(p => p.repeat(32))
  const seed = new Uint8Array(64).fill(6)
  const taskKeys = { publicKey: () => pair.publicKey, seedToReveal: (taskId: string) => taskId === unopened ? seed : undefined }
  const r = await registeredRig(dir.path, {}, [bid], {}, { taskKeys })
  r.blobs.input = async (task, id) => { throw new ProviderBlobError('INPUT_UNAVAILABLE', `no sealed-inputs notice gave input ${id}`, { taskId: task.taskId, blob: id }) }
  const claimsOf = (taskId: string): InputClaimPayload[] => r.ledger.of(TX_KIND_INPUT_CLAIM).map(tx => inputClaimKind.decode(tx.payload)).filter(c => toHex(c.taskId) === taskId)
  try {
    await r.agent.start()
    r.market.change(taskView(bid, { private: true }))
    await waitFor(() => r.ledger.reveals().length === 1, 'the reveal', 10_000)
    t.is(r.ledger.of(TX_KIND_BID_REVEALS).length, 0, 'not in a batch')
    t.deepEqual(bidRevealKind.decode(r.ledger.of(TX_KIND_BID_REVEAL)[0].payload).taskKey, pair.publicKey)
    for (const id of [unopened, unfetched]) {
      const view = taskView(id, { private: true, phase: 'awarded', bidsCloseAtMs: Date.now() - 2, revealsCloseAtMs: Date.now() - 1 })
      r.market.change({ ...view, awards: [{ txId: '11'.repeat(32), round: 0, timeMs: Date.now(), deadlineMs: Date.now() + 60_000, winners: [me], considered: [] }], winners: [me] })
    }
    await waitFor(() => claimsOf(unopened).length === 1 && claimsOf(unfetched).length === 1, 'a claim for each task', 10_000)
    t.deepEqual(claimsOf(unopened)[0].keySeed, seed, 'envelopes that did not open: the seed goes with the claim')
    t.is(claimsOf(unfetched)[0].keySeed, undefined, 'nothing fetched: the key stays secret')
  } finally {
    await r.agent.stop()
    await r.db.close()
  }
})
