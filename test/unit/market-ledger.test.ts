/**
 * The market's DAG changes on one ledger: the vertex time rule (a vertex never claims a time before its parents';
 * the proposer stamps max(now, parents)), and the queue of final market transactions that a market state started
 * later (a restart after kill -9) still finds and applies exactly once.
 */
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, verify } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { KEY_PREFIXES, keyBytes, openDatabase, sublevel } from '../../src/core/storage.ts'
import { generateGenesis } from '../../src/dag/genesis.ts'
import { DagLedger } from '../../src/dag/ledger.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'
import { buildVertex, encodeVertex, vertexInfo } from '../../src/dag/vertex.ts'
import { buildTaskAnnounce, MarketState, registerMarketKinds } from '../../src/market/index.ts'
import type { TaskView } from '../../src/market/state/reader.ts'
import { WebhookService } from '../../src/webhooks/index.ts'
import { transfer, finalizeAll } from '../helpers/dag-net.ts'
import { matmulAnnounce } from '../helpers/market.ts'
import { WebhookReceiver } from '../helpers/webhook-receiver.ts'

registerMarketKinds()
const verifier: SignatureVerifier = { verifyBatch: async items => items.map(i => verify(i.sig, i.msg, i.publicKey)) }

async function ledgerFixture (): Promise<{ ledger: DagLedger, validator: KeyPair, user: KeyPair, dir: string, close: () => Promise<void>, db: Awaited<ReturnType<typeof openDatabase>> }> {
  const validator = generateKeyPair()
  const user = generateKeyPair()
  const genesis = generateGenesis({
    // one validator decided by hand (finalizeAll: Avalanche's polls)
    consensus: { rule: 'avalanche' },
    chainId: 'harmony-market-ledger',
    validatorPublicKeys: [validator.publicKey],
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: [{ address: parseAddress(addressFromPublicKey(user.publicKey)), balance: 10n ** 18n }]
  })
  const dir = await mkdtemp(join(tmpdir(), 'harmony-market-ledger-'))
  const db = await openDatabase(join(dir, 'db'))
  const ledger = new DagLedger({ db, genesis, identity: validator, verifier, logger: silentLogger() })
  await ledger.start()
  return { ledger, validator, user, dir, db, close: async () => { await ledger.stop(); await db.close(); await rm(dir, { recursive: true, force: true }) } }
}


test.serial('a vertex stamped before its parent is refused with TIMESTAMP_BEFORE_PARENT; the proposer never builds one', async (t) => {
  const f = await ledgerFixture()
  try {
    const { ledger, validator, user } = f
    const chainId = ledger.chainId
    // a parent from a clock 5 s ahead (inside the 10 s future allowance)
    const aheadMs = BigInt(Date.now() + 5000)
    const parent = vertexInfo(encodeVertex(buildVertex(chainId, { author: validator.publicKey, secretKey: validator.secretKey, parents: [fromHex(ledger.genesisIdHex)], txs: [transfer(ledger.genesis, user, validator, 1n, 0n)], timestampMs: aheadMs })))
    await ledger.checkStandalone(parent)
    t.true(await ledger.insertVertex(parent))
    const before = vertexInfo(encodeVertex(buildVertex(chainId, { author: validator.publicKey, secretKey: validator.secretKey, parents: [parent.id], txs: [transfer(ledger.genesis, user, validator, 1n, 1n)], timestampMs: aheadMs - 1n })))
    const err = await t.throwsAsync(ledger.insertVertex(before))
    t.is((err as { code?: string }).code, 'TIMESTAMP_BEFORE_PARENT')
    t.false(ledger.hasVertex(before.idHex))
    // this node's own next vertex builds on the parent and takes its time, not the (earlier) local clock
    await ledger.submitTransaction(transfer(ledger.genesis, user, validator, 1n, 1n))
    const built = await ledger.buildVertex()
    t.truthy(built)
    t.true((built?.vertex.timestampMs ?? 0n) >= aheadMs)
    t.true(built?.parentHex.includes(parent.idHex))
  } finally {
    await f.close()
  }
})

test.serial('final market transactions wait in the decision\'s queue for a market state that starts later, and apply once', async (t) => {
  const f = await ledgerFixture()
  try {
    const { ledger, user } = f
    const taskId = await finalAnnounce(ledger, user)
    // no market state ran when it became final (as after a kill -9 between the decision and its application)
    const dag = Object.assign(new EventEmitter(), { reader: undefined as never })
    const start = async (): Promise<MarketState> => {
      const s = new MarketState({ db: f.db, dag: dag as never, logger: silentLogger() })
      await s.start()
      return s
    }
    const first = await start()
    const view = await first.task(toHex(taskId))
    t.is(view?.budget, 1000n)
    t.is(view?.requester, addressFromPublicKey(user.publicKey))
    t.deepEqual(first.openTaskIds(), [toHex(taskId)])
    await first.stop()
    // a second start finds nothing left to apply: the announce was applied exactly once
    let applied = 0
    const second = new MarketState({ db: f.db, dag: dag as never, logger: silentLogger() })
    second.onApplied(() => { applied++ })
    await second.start()
    t.is(applied, 0)
    t.deepEqual(second.openTaskIds(), [toHex(taskId)])
    await second.stop()
  } finally {
    await f.close()
  }
})

test.serial('a market state not started yet catches up, at each call, with everything final before it (the order checks of a node whose executor is still starting)', async (t) => {
  const f = await ledgerFixture()
  try {
    const { ledger, user } = f
    // the node's wiring: the DAG service forwards the ledger's tx:final (with its place) to whoever listens
    const dag = Object.assign(new EventEmitter(), { reader: undefined as never })
    ledger.on('tx:final', (tx, vertexId, at) => { dag.emit('tx:final', { id: `0x${tx.idHex}`, vertexId: `0x${vertexId}`, tx, at }) })
    const state = new MarketState({ db: f.db, dag: dag as never, logger: silentLogger() })
    // HarmonyNode starts the ledger before the market: a restarted validator catching up decides slots meanwhile,
    // and each slot carrying an award or a settle first asks the market state to catch up (coordinator.ts `ready`)
    const first = toHex(await finalAnnounce(ledger, user, 0n))
    await state.caughtUp()
    t.deepEqual(state.openTaskIds(), [first])
    // final after the first catch-up: the state listens to no event yet, so only the disk has it (s54's market-crash
    // failure: the second check read a state without it, refused a decision the other nodes took, and the restarted
    // node's tasks settled by other transactions than everyone else's)
    const second = toHex(await finalAnnounce(ledger, user, 1n))
    await state.caughtUp()
    t.deepEqual(state.openTaskIds().sort(), [first, second].sort())
    t.is((await state.task(second))?.budget, 1000n)
    // once started it follows the event; what became final before still applies once
    const third = toHex(await finalAnnounce(ledger, user, 2n))
    await state.start()
    await state.caughtUp()
    t.deepEqual(state.openTaskIds().sort(), [first, second, third].sort())
    await state.stop()
  } finally {
    await f.close()
  }
})

test.serial('a task change and its webhook outbox record commit in one batch: a webhook service started after a crash still delivers the task event', async (t) => {
  const f = await ledgerFixture()
  const receiver = await WebhookReceiver.start()
  try {
    const { ledger, user } = f
    const taskId = await finalAnnounce(ledger, user)
    const requester = addressFromPublicKey(user.publicKey)
    const first = new WebhookService({ db: f.db, logger: silentLogger() }, { retryBaseMs: 20, retryMaxMs: 200, allowPrivateTargets: true })
    await first.start()
    await first.add({ url: receiver.url, events: ['task'], accounts: [requester] })
    // the node's wiring (node.ts), except that nothing drains the outbox: as if killed right after the commit
    const dag = Object.assign(new EventEmitter(), { reader: undefined as never })
    const state = new MarketState({
      db: f.db,
      dag: dag as never,
      logger: silentLogger(),
      taskChangeRecords: (task) => first.eventRecords('task', { taskId: task.taskId, phase: task.phase }, { accounts: [task.requester] })
    })
    const outboxAtChange: Array<Promise<number>> = []
    const phases: Array<TaskView['phase']> = []
    state.on('task:changed', (task) => {
      phases.push(task.phase)
      outboxAtChange.push(outboxSize(f.db))
    })
    await state.start()
    await state.stop()
    await first.stop()
    t.deepEqual(await Promise.all(outboxAtChange), [1], 'the record was on disk when the change was reported')
    t.is(receiver.received.length, 0)
    // the change itself went to the market sublevel in that batch: a later start reads the task and applies nothing
    let applied = 0
    const again = new MarketState({ db: f.db, dag: dag as never, logger: silentLogger() })
    again.onApplied(() => { applied++ })
    await again.start()
    t.is((await again.task(toHex(taskId)))?.phase, phases[0])
    t.is(applied, 0)
    await again.stop()
    // a restart drains what the crash left: one signed task delivery, and an empty outbox
    const second = new WebhookService({ db: f.db, logger: silentLogger() }, { retryBaseMs: 20, retryMaxMs: 200, allowPrivateTargets: true })
    await second.start()
    await receiver.until((r) => r.length >= 1)
    const body = JSON.parse(receiver.received[0].body) as { kind: string, data: { taskId: string, phase: string } }
    t.is(body.kind, 'task')
    t.deepEqual(body.data, { taskId: toHex(taskId), phase: phases[0] })
    t.is(await outboxSize(f.db), 0)
    await second.stop()
  } finally {
    await receiver.close()
    await f.close()
  }
})

/** Announces a task from `user` and finalizes it on the one-validator ledger; its id. */
async function finalAnnounce (ledger: DagLedger, user: KeyPair, nonce = 0n): Promise<Uint8Array> {
  const { tx, taskId } = buildTaskAnnounce({ chainId: ledger.chainId, keys: user, nonce, fee: 1000n }, matmulAnnounce())
  await ledger.submitTransaction(encodeTx(tx))
  await ledger.buildVertex()
  await finalizeAll(ledger)
  return taskId
}

async function outboxSize (db: Awaited<ReturnType<typeof openDatabase>>): Promise<number> {
  const lo = keyBytes(KEY_PREFIXES.webhooks.outbox)
  const hi = lo.slice()
  hi[hi.length - 1]++
  return (await sublevel(db, 'webhooks').keys({ gte: lo, lt: hi }).all()).length
}
