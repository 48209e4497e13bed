import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import test from 'ava'
import { silentLogger } from '../../src/core/logger.ts'
import { WebhookService } from '../../src/webhooks/index.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'
import { FAST_RETRIES, openDb } from '../helpers/webhooks-fixture.ts'

const DELIVERIES = 20

test.serial('deliveries to one receiver reuse a keep-alive connection, and a stopped service closes it', async (t) => {
  // a receiver that counts the connections it is given and never closes an idle one itself
  const connections: Socket[] = []
  let received = 0
  let wake = (): void => {}
  const receiver = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(204).end()
      received++
      wake()
    })
  })
  receiver.keepAliveTimeout = 600_000
  receiver.on('connection', (socket: Socket) => { connections.push(socket) })
  receiver.listen(0, '127.0.0.1')
  await once(receiver, 'listening')
  t.teardown(async () => {
    receiver.closeAllConnections()
    receiver.close()
    await once(receiver, 'close')
  })

  await using dir = await tempDir('harmony-webhooks-keepalive-')
  await using db = await openDb(join(dir.path, 'db'))
  // the receiver is on 127.0.0.1: private targets allowed (webhooks-targets.test.ts tests the guarded pools' refusal)
  const webhooks = new WebhookService({ db, logger: silentLogger() }, { ...FAST_RETRIES, allowPrivateTargets: true })
  await webhooks.start()
  await using _stopWebhooks = { [Symbol.asyncDispose]: async () => { await webhooks.stop() } }
  await webhooks.add({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['payment'] })

  for (let n = 0; n < DELIVERIES; n++) webhooks.publish('payment', { account: `hmy1${'q'.repeat(38)}`, n })
  while (received < DELIVERIES) await new Promise<void>((resolve) => { wake = resolve })
  // one hook delivers one POST at a time: every one after the first went over the first one's connection
  t.is(connections.length, 1, `${connections.length} connections for ${DELIVERIES} deliveries`)

  // every attempt has ended (its outcome is stored): the connection is idle in the pool
  await waitFor('the deliveries recorded', async () => webhooks.list()[0]?.delivered === DELIVERIES ? true : undefined, 60_000, 20)
  t.false(connections[0].destroyed)

  // stop destroys the pools: the idle connection is closed then, not left to an idle timeout (5 s or more)
  await webhooks.stop()
  await waitFor('the receiver to see the idle connection closed', async () => connections.every((s) => s.destroyed) ? true : undefined, 2000, 20)
  t.true(connections[0].destroyed)
})
