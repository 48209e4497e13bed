import test from 'ava'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { KEY_PREFIXES, keyBytes, sublevel, type BinaryDb } from '../../src/core/storage.ts'
import type { TxDecision } from '../../src/dag/decisions.ts'
import { buildTransfer, txInfo, encodeTx } from '../../src/dag/tx.ts'
import { RpcClientError } from '../../src/sdk/index.ts'
import {
  decodeOutboxRecord, eventRecord, ledgerEvents, outboxRecord, verifyWebhookSignature, WebhookService, type WebhookEventKind,
  type WebhookServiceInit
} from '../../src/webhooks/index.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'
import { WebhookReceiver, type ReceivedDelivery } from '../helpers/webhook-receiver.ts'
import { FAST_RETRIES, openDb, startedService, webhookRpcClient } from '../helpers/webhooks-fixture.ts'

// the receivers listen on 127.0.0.1: private targets allowed, as on a devnet (webhooks-targets.test.ts tests the refusal)
const FAST: WebhookServiceInit = { ...FAST_RETRIES, allowPrivateTargets: true }

interface Body { id: string, hook: string, kind: WebhookEventKind, createdAtMs: number, data: unknown }

/** Checks the signature the way a receiver written from the docs would: HMAC-SHA256(secret, t + "." + body). */
function signedBy (secret: string, delivery: ReceivedDelivery): boolean {
  const header = String(delivery.headers['x-harmony-signature'])
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)
  if (match === null) return false
  const expected = createHmac('sha256', secret).update(`${match[1]}.${delivery.body}`).digest('hex')
  return expected === match[2] && Math.abs(Number(match[1]) - Date.now() / 1000) < 300
}

async function service (db: BinaryDb, init: WebhookServiceInit = FAST, registry?: Registry): Promise<WebhookService & AsyncDisposable> {
  return await startedService(db, init, registry)
}

test.serial('a receiver gets signed deliveries in order, each with its id and kind; the account filter holds', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db)
  const alice = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(7)).publicKey)
  const bob = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(8)).publicKey)

  const all = await webhooks.add({ url: receiver.url, events: ['tx', 'task'], label: 'all' })
  const onlyBob = await webhooks.add({ url: `${receiver.url}?bob`, events: ['payment'], accounts: [bob] })
  t.regex(all.secret, /^[0-9a-f]{64}$/)
  t.not(all.secret, onlyBob.secret)

  webhooks.publish('tx', { n: 1, amount: 10n ** 30n }, { accounts: [alice] })
  webhooks.publish('task', { n: 2 })
  webhooks.publish('payment', { n: 3 }, { accounts: [alice] }) // nobody wants alice's payments
  webhooks.publish('payment', { n: 4 }, { accounts: [bob] })
  await receiver.until((r) => r.length >= 3)

  const toAll = receiver.received.filter((d) => d.headers['x-harmony-event'] !== 'payment')
  t.deepEqual(toAll.map((d) => (JSON.parse(d.body) as Body).data), [{ n: 1, amount: (10n ** 30n).toString() }, { n: 2 }])
  for (const d of toAll) {
    t.true(signedBy(all.secret, d), 'signed with the hook\'s secret')
    t.false(signedBy(onlyBob.secret, d), 'not with another hook\'s')
    t.true(verifyWebhookSignature(all.secret, String(d.headers['x-harmony-signature']), d.body))
    const body = JSON.parse(d.body) as Body
    t.is(d.headers['x-harmony-delivery'], body.id)
    t.is(d.headers['x-harmony-event'], body.kind)
    t.is(d.headers['content-type'], 'application/json')
    t.is(body.hook, all.hook.id)
  }
  const [payment] = receiver.received.filter((d) => d.headers['x-harmony-event'] === 'payment')
  t.deepEqual((JSON.parse(payment.body) as Body).data, { n: 4 })
  t.true(signedBy(onlyBob.secret, payment))
  t.false(verifyWebhookSignature(onlyBob.secret, String(payment.headers['x-harmony-signature']), `${payment.body} `), 'a changed body fails')
  t.is(new Set(receiver.received.map((d) => d.headers['x-harmony-delivery'])).size, 3)

  await waitFor('the statuses', async () => webhooks.list().every((h) => h.queued === 0) ? true : undefined)
  const [first, second] = webhooks.list()
  t.like(first, { id: all.hook.id, label: 'all', delivered: 2, failed: 0, dropped: 0, queued: 0, last: { outcome: 'delivered', attempts: 1, httpStatus: 200 } })
  t.like(second, { accounts: [bob], delivered: 1 })
  t.false('secret' in first, 'the list never shows a secret')
})

test.serial('a receiver that fails twice gets the same delivery on the third try; the status shows each step', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  receiver.answer = (_d, i) => i < 2 ? 500 : 200
  const registry = new Registry()
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db, FAST, registry)
  const { hook, secret } = await webhooks.add({ url: receiver.url, events: ['task'] })

  webhooks.publish('task', { task: 'x', state: 'awarded' })
  await receiver.until((r) => r.length >= 3)
  t.deepEqual(receiver.received.map((d) => d.status), [500, 500, 200])
  t.is(new Set(receiver.received.map((d) => d.headers['x-harmony-delivery'])).size, 1, 'one delivery id over the retries')
  t.is(new Set(receiver.received.map((d) => d.body)).size, 1, 'the same bytes each time')
  for (const d of receiver.received) t.true(signedBy(secret, d))

  const status = await waitFor('the delivered status', async () => webhooks.list()[0].delivered === 1 ? webhooks.list()[0] : undefined)
  t.like(status, { id: hook.id, queued: 0, failed: 0, last: { outcome: 'delivered', attempts: 3, httpStatus: 200, error: null } })
  const metrics = await registry.metrics()
  t.regex(metrics, /harmony_webhook_deliveries_total\{outcome="retry"\} 2/)
  t.regex(metrics, /harmony_webhook_deliveries_total\{outcome="delivered"\} 1/)
  t.regex(metrics, /harmony_webhook_queue_depth 0/)
})

test.serial('a restart mid-retry keeps the delivery: it arrives after the restart under the id it had (one id: a receiver that dedups by it sees it once)', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  let restarted = false
  receiver.answer = () => restarted ? 200 : 503
  const path = join(dir.path, 'db')
  await using db = await openDb(path)
  const before = new WebhookService({ db, logger: silentLogger() }, FAST)
  await before.start()
  const { hook, secret } = await before.add({ url: receiver.url, events: ['payment'] })
  before.publish('payment', { account: 'a', amount: '5' })
  await waitFor('two failed attempts recorded', async () => (before.list()[0].last?.attempts ?? 0) >= 2 ? true : undefined)
  t.like(before.list()[0], { queued: 1, last: { outcome: 'retrying', httpStatus: 503, error: 'HTTP 503' } })
  await before.stop()
  await db.close()
  const failedIds = new Set(receiver.received.map((d) => d.headers['x-harmony-delivery']))
  t.is(failedIds.size, 1)

  restarted = true
  await using reopenedDb = await openDb(path)
  await using after = await service(reopenedDb)
  t.like(after.list()[0], { id: hook.id, queued: 1 }, 'the hook and its queue came back from disk')
  await waitFor('the delivery after the restart', async () => after.list()[0].delivered === 1 ? true : undefined)
  // delivery is at least once: an attempt the stopping service aborted may still have reached the receiver after
  // it began accepting, so a second copy can arrive, always under the same id (the receiver dedups by it)
  const accepted = receiver.accepted()
  t.true(accepted.length >= 1)
  t.deepEqual(new Set(accepted.map((d) => d.headers['x-harmony-delivery'])), failedIds, 'under the id it had before the restart')
  for (const d of accepted) t.true(signedBy(secret, d), 'signed with the secret kept on disk')
  t.is(after.list()[0].delivered, 1, 'the service delivered it once')
  t.true((after.list()[0].last?.attempts ?? 0) >= 3, 'the attempt count survived the restart')
  t.is(after.list()[0].queued, 0)
})

test.serial('queues are bounded (oldest dropped, counted); a delivery is given up after its last attempt; remove is durable', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  const deadUrl = receiver.url
  await receiver.close() // nothing listens there now: every attempt fails at once
  const path = join(dir.path, 'db')
  await using db = await openDb(path)
  const registry = new Registry()
  const webhooks = new WebhookService({ db, logger: silentLogger(), registry }, { ...FAST, maxQueuePerHook: 3, retryBaseMs: 60_000, retryMaxMs: 60_000 })
  await webhooks.start()
  const full = await webhooks.add({ url: deadUrl, events: ['tx'] })
  for (let n = 0; n < 5; n++) webhooks.publish('tx', { n })
  const status = await waitFor('two dropped', async () => webhooks.list()[0].dropped === 2 ? webhooks.list()[0] : undefined)
  t.is(status.queued, 3)
  t.regex(await registry.metrics(), /harmony_webhook_deliveries_total\{outcome="dropped"\} 2/)
  t.regex(await registry.metrics(), /harmony_webhook_queue_depth 3/)
  t.true(await webhooks.remove(full.hook.id))
  t.regex(await registry.metrics(), /harmony_webhook_queue_depth 0/)
  await webhooks.stop()

  const gaveUp = new WebhookService({ db, logger: silentLogger() }, { ...FAST, maxAttempts: 2 })
  await gaveUp.start()
  await using _stopGaveUp = { [Symbol.asyncDispose]: async () => { await gaveUp.stop() } }
  const { hook } = await gaveUp.add({ url: deadUrl, events: ['tx'] })
  for (let n = 0; n < 3; n++) gaveUp.publish('tx', { n })
  // each delivery is attempted twice, then given up
  const final = await waitFor('every delivery given up', async () => gaveUp.list()[0].failed === 3 ? gaveUp.list()[0] : undefined)
  t.like(final, { queued: 0, delivered: 0, dropped: 0, last: { outcome: 'failed', attempts: 2, httpStatus: null, error: 'ECONNREFUSED' } })

  t.true(await gaveUp.remove(hook.id))
  t.false(await gaveUp.remove(hook.id))
  await gaveUp.stop()
  const reopened = new WebhookService({ db, logger: silentLogger() })
  await reopened.start()
  await using _stopReopened = { [Symbol.asyncDispose]: async () => { await reopened.stop() } }
  t.deepEqual(reopened.list(), [])
})

test.serial('bad registrations are refused with typed errors; the hook limit holds', async (t) => {
  await using dir = await tempDir()
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db, { maxHooks: 1, allowPrivateTargets: true })
  await t.throwsAsync(webhooks.add({ url: 'ftp://127.0.0.1/x', events: ['tx'] }), { code: 'WEBHOOK_URL_INVALID' } as never)
  await t.throwsAsync(webhooks.add({ url: 'http://user:pw@127.0.0.1/x', events: ['tx'] }), { code: 'WEBHOOK_URL_INVALID' } as never)
  await t.throwsAsync(webhooks.add({ url: 'not a url', events: ['tx'] }), { code: 'WEBHOOK_URL_INVALID' } as never)
  await t.throwsAsync(webhooks.add({ url: 'http://127.0.0.1/x', events: ['tx'], accounts: ['0x1234'] }), { code: 'WEBHOOK_ACCOUNT_INVALID' } as never)
  await webhooks.add({ url: 'http://127.0.0.1:1/x', events: ['tx'] })
  await t.throwsAsync(webhooks.add({ url: 'http://127.0.0.1:1/y', events: ['tx'] }), { code: 'WEBHOOK_LIMIT' } as never)
  webhooks.publish('tx', { big: 'x'.repeat(70_000) }) // over maxPayloadBytes: dropped, never thrown
  t.is(webhooks.list()[0].queued, 0)
})

function sampleTransfer (seed: number, nonce = 0n): ReturnType<typeof txInfo> {
  const sender = generateKeyPair(new Uint8Array(32).fill(seed))
  return txInfo(encodeTx(buildTransfer({ chainId: 'test', publicKey: sender.publicKey, secretKey: sender.secretKey, to: new Uint8Array(20).fill(9), amount: 5n, nonce, fee: 2n })))
}

test('the ledger\'s decisions become tx and payment events for the accounts they touch', (t) => {
  const info = sampleTransfer(1)
  const id = `0x${info.idHex}`
  const published = ledgerEvents(info, { status: 'final', vertexIdHex: 'ab'.repeat(32), reason: 'none' })
  const from = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(1)).publicKey)
  t.is(published.length, 3)
  t.like(published[0], { kind: 'tx', payload: { id, status: 'final', vertex: `0x${'ab'.repeat(32)}`, reason: null, tx: { kind: 'transfer', from, amount: '5' } } })
  t.like(published[1], { kind: 'payment', accounts: [from], payload: { account: from, direction: 'debit', amount: '7', txId: id, txKind: 'transfer' } })
  const to = (published[2].payload as { account: string }).account
  t.like(published[2], { kind: 'payment', accounts: [to], payload: { direction: 'credit', amount: '5' } })
  t.deepEqual(published[0].accounts, [from, to])
  const rejected = ledgerEvents(info, { status: 'rejected', vertexIdHex: 'cd'.repeat(32), reason: 'conflict' })
  t.is(rejected.length, 1)
  t.like(rejected[0], { kind: 'tx', accounts: [from], payload: { id, status: 'rejected', vertex: null, reason: 'conflict' } })
})

/** Writes records into the db as the ledger's decision batch does (one atomic batch in their sublevel). */
async function commitDecision (db: BinaryDb, records: ReturnType<WebhookService['txDecisionRecords']>): Promise<void> {
  await sublevel(db, 'webhooks').batch(records.map((r) => ({ type: 'put' as const, key: r.key, value: r.value })))
}

async function outboxSize (db: BinaryDb): Promise<number> {
  const lo = keyBytes(KEY_PREFIXES.webhooks.outbox)
  const hi = lo.slice()
  hi[hi.length - 1]++
  return (await sublevel(db, 'webhooks').keys({ gte: lo, lt: hi }).all()).length
}

test.serial('the ledger outbox: recorded only when a hook may take it, drained into the queues exactly once, also at start after a stop', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  const path = join(dir.path, 'db')
  await using db = await openDb(path)
  const first = new WebhookService({ db, logger: silentLogger() }, FAST)
  await first.start()
  const decision = (seq: bigint, status: TxDecision['status'] = 'final'): TxDecision => ({ status, vertexIdHex: 'ab'.repeat(32), reason: status === 'final' ? 'none' : 'conflict', seq, position: 0, decidedAtMs: Date.now() })
  const [a, b, c] = [sampleTransfer(1), sampleTransfer(2), sampleTransfer(3)]
  t.deepEqual(first.txDecisionRecords(a, decision(1n)), [], 'no hooks: nothing is written per decision')
  const stranger = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(4)).publicKey)
  await first.add({ url: receiver.url, events: ['payment'], accounts: [stranger] })
  t.deepEqual(first.txDecisionRecords(a, decision(1n)), [], 'no hook takes events of these accounts')
  await first.add({ url: receiver.url, events: ['task'] })
  t.deepEqual(first.txDecisionRecords(a, decision(1n)), [], 'no hook takes ledger events')
  const { hook } = await first.add({ url: receiver.url, events: ['tx', 'payment'] })

  // a final transfer: tx, debit, credit; a rejected one: tx
  await commitDecision(db, [...first.txDecisionRecords(a, decision(1n)), ...first.txDecisionRecords(b, decision(1n, 'rejected'))])
  t.is(await outboxSize(db), 2)
  first.drainOutbox()
  await receiver.until((r) => r.length >= 4)
  await waitFor('the outbox emptied and the deliveries settled', async () => (await outboxSize(db)) === 0 && first.list().find((h) => h.id === hook.id)?.delivered === 4 ? true : undefined)

  // committed while the service is stopped (a kill -9 after the decision's commit): drained by the next start
  await first.stop()
  const stopped = new WebhookService({ db, logger: silentLogger() }, FAST)
  await stopped.start()
  await commitDecision(db, stopped.txDecisionRecords(c, decision(2n)))
  await stopped.stop()
  t.is(await outboxSize(db), 1)
  await using second = await service(db)
  t.is(await outboxSize(db), 0, 'start drained the outbox before it resolved')
  const resumed = second.list().find((h) => h.id === hook.id)
  t.is((resumed?.queued ?? 0) + (resumed?.delivered ?? 0), 3 + 4, 'its three events queued once')
  await waitFor('the last three delivered', async () => second.list().find((h) => h.id === hook.id)?.delivered === 7 ? true : undefined)
  second.drainOutbox() // nothing left: queues nothing twice

  const bodies = receiver.accepted().map((d) => JSON.parse(d.body) as Body).filter((d) => d.hook === hook.id)
  t.is(bodies.length, 7)
  t.is(new Set(bodies.map((d) => d.id)).size, 7, 'one delivery id per event')
  const events = bodies.map((d) => { const data = d.data as Record<string, string>; return `${d.kind}:${data.id ?? data.txId}:${data.status ?? data.direction}` })
  t.deepEqual(events.sort(), [
    `payment:0x${a.idHex}:credit`, `payment:0x${a.idHex}:debit`, `payment:0x${c.idHex}:credit`, `payment:0x${c.idHex}:debit`,
    `tx:0x${a.idHex}:final`, `tx:0x${b.idHex}:rejected`, `tx:0x${c.idHex}:final`
  ].sort())
  t.is(second.list().find((h) => h.id === hook.id)?.queued, 0)
})

test('an outbox record round-trips', (t) => {
  const info = sampleTransfer(5, 3n)
  const record = outboxRecord(info, { status: 'rejected', vertexIdHex: '12'.repeat(32), reason: 'nonce', seq: 42n, position: 7, decidedAtMs: 1234 })
  t.is(record.sublevel, 'webhooks')
  t.is(new TextDecoder().decode(record.key), `o/${'42'.padStart(20, '0')}/00007/${info.idHex}`)
  const back = decodeOutboxRecord(record.key, record.value)
  if (back.type !== 'decision') return t.fail(`decoded as ${back.type}`)
  t.deepEqual(back.decision, { status: 'rejected', vertexIdHex: '12'.repeat(32), reason: 'nonce' })
  t.is(back.decidedAtMs, 1234)
  t.is(back.tx.idHex, info.idHex)
  t.throws(() => decodeOutboxRecord(record.key, record.value.subarray(1)))
  // a domain event's record: after every decision record, its JSON and accounts as written
  const event = eventRecord('task', '{"taskId":"ab"}', ['hmy1a', 'hmy1b'], 5678)
  t.true(Buffer.compare(Buffer.from(event.key), Buffer.from(record.key)) > 0)
  t.deepEqual(decodeOutboxRecord(event.key, event.value), { type: 'event', key: event.key, kind: 'task', data: '{"taskId":"ab"}', accounts: ['hmy1a', 'hmy1b'], createdAtMs: 5678 })
  t.notDeepEqual(eventRecord('task', '{}', [], 5678).key, eventRecord('task', '{}', [], 5678).key, 'two events of one millisecond get two keys')
  t.throws(() => decodeOutboxRecord(event.key, event.value.subarray(0, event.value.length - 1)))
})

test.serial('webhook_add, webhook_list and webhook_remove over JSON-RPC through the typed SDK', async (t) => {
  await using dir = await tempDir()
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db)
  const client = await webhookRpcClient(t, webhooks)

  const added = await client.call('webhook_add', ['http://127.0.0.1:9/in', ['tx', 'payment'], { label: 'ops' }])
  t.regex(added.secret, /^[0-9a-f]{64}$/)
  t.like(added, { events: ['tx', 'payment'], label: 'ops', queued: 0, last: null })
  const byName = await client.call('webhook_add', { url: 'http://127.0.0.1:9/other', events: ['task'] })
  const listed = await client.call('webhook_list')
  t.deepEqual(listed.map((h) => h.id), [added.id, byName.id])
  t.false(listed.some((h) => 'secret' in h))
  t.true(await client.call('webhook_remove', [added.id]))
  t.false(await client.call('webhook_remove', { id: added.id }))

  const badUrl = await t.throwsAsync(client.call('webhook_add', ['gopher://x', ['tx']]), { instanceOf: RpcClientError })
  t.is(badUrl?.code, -32602)
  t.like(badUrl?.data, { reason: 'WEBHOOK_URL_INVALID' })
  const badKind = await t.throwsAsync(client.request('webhook_add', ['http://127.0.0.1:9/in', ['blocks']]), { instanceOf: RpcClientError })
  t.is(badKind?.code, -32602)
})

