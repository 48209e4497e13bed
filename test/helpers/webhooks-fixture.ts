// The webhook service on a temporary LevelDB and behind a JSON-RPC server, as the webhook unit tests build it.
import type { Registry } from 'prom-client'
import { registerWebhookRpc } from '../../src/api/webhooks.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase, type BinaryDb } from '../../src/core/storage.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { HarmonyClient } from '../../src/sdk/index.ts'
import { WebhookService, type WebhookServiceInit } from '../../src/webhooks/index.ts'
import { startFixture } from './rpc-fixture.ts'

interface Teardowns { teardown: (fn: () => Promise<void>) => void }

/** Retries in tens of ms; private targets as the test says (a receiver on 127.0.0.1 needs them allowed). */
export const FAST_RETRIES: WebhookServiceInit = { retryBaseMs: 20, retryMaxMs: 200, requestTimeoutMs: 5000 }

export async function openDb (t: Teardowns, path: string): Promise<BinaryDb> {
  const db = await openDatabase(path)
  t.teardown(async () => { if (db.status === 'open') await db.close() })
  return db
}

/** A started service, stopped at the test's end. */
export async function startedService (t: Teardowns, db: BinaryDb, init: WebhookServiceInit, registry?: Registry): Promise<WebhookService> {
  const webhooks = new WebhookService({ db, logger: silentLogger(), registry }, init)
  await webhooks.start()
  t.teardown(async () => { await webhooks.stop() })
  return webhooks
}

/** A typed SDK client of a JSON-RPC server that serves only the webhook methods of `webhooks`. */
export async function webhookRpcClient (t: Teardowns, webhooks: WebhookService): Promise<HarmonyClient> {
  const registry = new RpcRegistry()
  registerWebhookRpc(registry, webhooks)
  const { server, url } = await startFixture({}, registry)
  t.teardown(async () => { await server.stop() })
  const client = new HarmonyClient({ url })
  t.teardown(async () => { await client.close() })
  return client
}
