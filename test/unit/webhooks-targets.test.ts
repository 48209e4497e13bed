import test from 'ava'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { pino } from 'pino'
import { silentLogger } from '../../src/core/logger.ts'
import type { BinaryDb } from '../../src/core/storage.ts'
import { RpcClientError } from '../../src/sdk/index.ts'
import { WebhookService, type WebhookServiceInit } from '../../src/webhooks/index.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'
import { WebhookReceiver } from '../helpers/webhook-receiver.ts'
import { FAST_RETRIES, openDb, startedService, webhookRpcClient } from '../helpers/webhooks-fixture.ts'

// Admin credentials must not make the node POST into its own network (SSRF): unless private targets are allowed
// (allow-private-webhooks, on for devnets), a hook's host may not be or resolve to a loopback, private or link-local
// address, at registration and on every delivery.

const FAST: WebhookServiceInit = FAST_RETRIES

async function service (db: BinaryDb, init: WebhookServiceInit = FAST): Promise<WebhookService & AsyncDisposable> {
  return await startedService(db, init)
}

const PRIVATE_URLS = [
  'http://127.0.0.1:9/in',
  'http://localhost:9/in', // a name, resolved: 127.0.0.1 here
  'http://2130706433/in', // 127.0.0.1 in another spelling
  'http://0.0.0.0/in',
  'http://[::1]/in',
  'http://[::ffff:127.0.0.1]/in',
  'http://10.1.2.3/in',
  'http://172.16.5.4/in',
  'http://192.168.1.1/in',
  'http://100.64.0.1/in',
  'http://169.254.169.254/latest/meta-data', // the cloud metadata service
  'https://[fe80::1]/in',
  'https://[fd12:3456::1]/in'
]

test.serial('webhook_add refuses a loopback, private or link-local host by default, by address or by name; allowed, it accepts them', async (t) => {
  await using dir = await tempDir()
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db)
  for (const url of PRIVATE_URLS) {
    const error = await t.throwsAsync(webhooks.add({ url, events: ['tx'] }), { code: 'WEBHOOK_TARGET_PRIVATE' } as never, url)
    t.regex(error?.message ?? '', /allow-private-webhooks/)
  }
  t.deepEqual(webhooks.list(), [], 'nothing was registered')
  // public addresses are accepted (nothing is sent: no event is published)
  await webhooks.add({ url: 'http://93.184.216.34/hook', events: ['tx'] })
  await webhooks.add({ url: 'https://[2606:4700:4700::1111]/hook', events: ['tx'] })
  t.is(webhooks.list().length, 2)

  await using allowingDb = await openDb(join(dir.path, 'db-allowing'))
  await using allowing = await service(allowingDb, { ...FAST, allowPrivateTargets: true })
  for (const url of PRIVATE_URLS) await allowing.add({ url, events: ['tx'] })
  t.is(allowing.list().length, PRIVATE_URLS.length)
})

test.serial('over JSON-RPC a private target is -32000 with data.reason WEBHOOK_TARGET_PRIVATE', async (t) => {
  await using dir = await tempDir()
  await using db = await openDb(join(dir.path, 'db'))
  await using webhooks = await service(db)
  const client = await webhookRpcClient(t, webhooks)

  const refused = await t.throwsAsync(client.call('webhook_add', { url: 'http://169.254.169.254/latest/meta-data', events: ['tx'] }), { instanceOf: RpcClientError })
  t.is(refused?.code, -32000)
  t.like(refused?.data, { reason: 'WEBHOOK_TARGET_PRIVATE' })
  t.deepEqual(await client.call('webhook_list'), [])
})

test.serial('a delivery is checked on the address its connection resolves: hooks registered while private targets were allowed are not delivered once they are not', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  const port = new URL(receiver.url).port
  await using db = await openDb(join(dir.path, 'db'))

  // registered on a node that allowed them (as a devnet does), by address and by name
  const before = new WebhookService({ db, logger: silentLogger() }, { ...FAST, allowPrivateTargets: true })
  await before.start()
  const byAddress = await before.add({ url: receiver.url, events: ['task'] })
  const byName = await before.add({ url: `http://localhost:${port}/hook`, events: ['task'] })
  await before.stop()

  // the same hooks on a node that does not allow them: the start warns of the one by address (a name is resolved
  // when it connects), and each attempt fails before any connection is made
  const warnings: string[] = []
  const after = new WebhookService({ db, logger: pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line) } }) }, FAST)
  await after.start()
  await using _stopAfter = { [Symbol.asyncDispose]: async () => { await after.stop() } }
  t.is(warnings.length, 1, warnings.join(''))
  t.like(JSON.parse(warnings[0]) as object, { hook: byAddress.hook.id, host: '127.0.0.1' })
  t.regex(warnings[0], /deliveries will fail/)
  after.publish('task', { task: 'x' })
  const hooks = await waitFor('both hooks\' first attempts', async () => {
    const list = after.list()
    return list.every((h) => h.last !== null) ? list : undefined
  })
  t.deepEqual(hooks.map((h) => h.id).sort(), [byAddress.hook.id, byName.hook.id].sort())
  for (const hook of hooks) t.like(hook.last, { outcome: 'retrying', httpStatus: null, error: 'WEBHOOK_TARGET_PRIVATE' })
  t.is(receiver.received.length, 0, 'the receiver on 127.0.0.1 got nothing')
})

test.serial('a delivery never rides on a connection the guard did not check: an idle keep-alive socket of the process\'s global agent to the same host is not reused', async (t) => {
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  const local = `http://localhost:${new URL(receiver.url).port}`
  await using db = await openDb(join(dir.path, 'db'))
  const before = new WebhookService({ db, logger: silentLogger() }, { ...FAST, allowPrivateTargets: true })
  await before.start()
  const hook = await before.add({ url: `${local}/hook`, events: ['task'] })
  await before.stop()

  // other code of the process (an EVM RPC client, say) talks to the same host:port through http.globalAgent, which
  // keeps its connection open; its lookup was never the webhook guard's
  const answered = await fetchThroughGlobalAgent(`${local}/other`)
  t.is(answered, 200)
  t.is(receiver.received.length, 1)

  await using after = await service(db)
  after.publish('task', { task: 'x' })
  const [view] = await waitFor('the hook\'s first attempt', async () => {
    const list = after.list()
    return list[0]?.last !== null ? list : undefined
  })
  t.is(view.id, hook.hook.id)
  t.like(view.last, { outcome: 'retrying', httpStatus: null, error: 'WEBHOOK_TARGET_PRIVATE' })
  t.is(receiver.received.length, 1, 'the receiver on 127.0.0.1 got only the other client\'s request')
})

/** A POST through node:http's default (keep-alive) agent; resolves with the status once the answer is read. */
async function fetchThroughGlobalAgent (url: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end('{}')
  })
}
