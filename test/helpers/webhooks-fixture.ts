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

// The database and the service are disposables, for `await using` after the temp dir they write into: disposed in
// reverse order, they are stopped and closed before the dir is removed (a teardown runs only after it is).

/** The database at `path`, closed when disposed (a closed one too). */
export async function openDb (path: string): Promise<BinaryDb> {
  return await openDatabase(path)
}

/** A started service, stopped when disposed. */
export async function startedService (db: BinaryDb, init: WebhookServiceInit, registry?: Registry): Promise<WebhookService & AsyncDisposable> {
  const webhooks = new WebhookService({ db, logger: silentLogger(), registry }, init)
  await webhooks.start()
  return Object.assign(webhooks, { [Symbol.asyncDispose]: async () => { await webhooks.stop() } })
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
