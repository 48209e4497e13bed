import { EventEmitter } from 'node:events'
import test from 'ava'
import { z } from 'zod'
import { RPC_METHODS, RPC_TOPICS, ANNOUNCEMENT_MAX_CHARS } from '../../src/api/definitions.ts'
import { registerChainRpc, registerDagRpc, registerNodeRpc, registerMarketRpc, registerStateProofRpc, registerWebhookRpc, type DagRpcSource, type MarketRpcSource, type NodeRpcSource } from '../../src/api/index.ts'
import { HarmonyError } from '../../src/core/errors.ts'
import { BID_STATUSES } from '../../src/api/market-definitions.ts'
import { LOSS_REASONS } from '../../src/market/kinds/ids.ts'
import { decodeAnnouncement, encodeAnnouncement, MAX_ANNOUNCEMENT_CHARS } from '../../src/network/announce.ts'
import { parseParams } from '../../src/rpc/dispatcher.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { HarmonyClient, RpcClientError } from '../../src/sdk/index.ts'
import { documentedRegistry } from '../../scripts/gen-rpc-docs.ts'
import { rpc, startFixture, WsPeer } from '../helpers/rpc-fixture.ts'

class FakeDag extends EventEmitter implements DagRpcSource {
  balances = new Map<string, bigint>([['hmy1alice', 42n]])
  async getBalance (address: string): Promise<bigint> { return this.balances.get(address) ?? 0n }
  async getNonce (): Promise<bigint> { return 7n }
  async submitTransaction (): Promise<string> { return `0x${'ab'.repeat(32)}` }
  async getTx (): Promise<undefined> { return undefined }
  async getVertex (): Promise<undefined> { return undefined }
  tips (): string[] { return [] }
  async stats (): Promise<{ vertices: number, finalized: number, rejected: number, processing: number, finalTxs: number, stateRoot: string, mempool: number, peers: number, finalityP50Ms: number, busyRefusals: number }> {
    return { vertices: 1, finalized: 1, rejected: 0, processing: 0, finalTxs: 0, stateRoot: '0x00', mempool: 0, peers: 0, finalityP50Ms: 0, busyRefusals: 0 }
  }
}

const fakeNode: NodeRpcSource = {
  info: () => ({ peerId: 'p', ledgerKey: 'k', version: '0', network: 'devnet', listenAddrs: [], rpc: 'http://x' }),
  health: () => ({ state: 'running', uptimeSeconds: 1, peers: 0, boundPeers: 0 }),
  peers: () => [],
  announcements: { publish: async () => 0, recent: () => [], onAnnouncement: () => {} }
}

const fakeChain = {
  info: async () => { throw new Error('unused') },
  checkpoints: async () => []
}

const unused = async (): Promise<never> => { throw new Error('unused') }
const fakeMarket: MarketRpcSource = {
  reader: { task: unused, tasks: unused, bids: unused, provider: unused, providers: unused },
  requester: { submit: unused, cancel: unused },
  output: unused,
  localProvider: () => { throw new Error('unused') }
}

function apiRegistry (dag: DagRpcSource = new FakeDag()): RpcRegistry {
  const registry = new RpcRegistry()
  registerNodeRpc(registry, fakeNode)
  registerDagRpc(registry, dag)
  registerStateProofRpc(registry, { stateProof: async () => null })
  registerChainRpc(registry, fakeChain, { proofFor: async () => null })
  registerWebhookRpc(registry, { add: async () => { throw new Error('unused') }, list: () => [], remove: async () => false })
  registerMarketRpc(registry, fakeMarket)
  return registry
}

test('the API modules register exactly the defined methods and topics, with the defined schemas', (t) => {
  const registry = apiRegistry()
  t.deepEqual(registry.list().map(m => m.name), Object.keys(RPC_METHODS).sort())
  for (const method of registry.list()) {
    const definition = RPC_METHODS[method.name as keyof typeof RPC_METHODS]
    t.is(method.params, definition.params, method.name)
    t.is(method.result, definition.result, method.name)
  }
  t.deepEqual(registry.hub.topics().map(topic => topic.name), Object.keys(RPC_TOPICS).sort())
  // the docs are generated from the definitions, so they list the same surface
  const documented = documentedRegistry()
  t.deepEqual(documented.list().map(m => m.name), registry.list().map(m => m.name))
  t.deepEqual(documented.hub.topics().map(topic => topic.name), registry.hub.topics().map(topic => topic.name))
})

test('the announcement bound of the RPC definitions is the one the network enforces', (t) => {
  t.is(ANNOUNCEMENT_MAX_CHARS, MAX_ANNOUNCEMENT_CHARS)
})

test('net_announce takes exactly the texts every peer accepts (the bound counts UTF-16 units, not code points)', (t) => {
  const netAnnounce = { name: 'net_announce', summary: '', params: RPC_METHODS.net_announce.params, result: RPC_METHODS.net_announce.result, handler: () => ({ recipients: 0 }) }
  // an emoji is one code point and two UTF-16 units: zod's max() counts the first, the gossip decoder the second
  for (const text of ['a'.repeat(1024), 'a'.repeat(1025), '😀'.repeat(512), '😀'.repeat(513), '😀'.repeat(1024), `${'é'.repeat(1023)}😀`]) {
    const peersAccept = decodeAnnouncement(encodeAnnouncement({ origin: '12D3KooWorigin', sentAtMs: 1, text })) !== undefined
    for (const params of [[text], { text }]) {
      let rpcAccepts = true
      try { parseParams(netAnnounce, params) } catch { rpcAccepts = false }
      t.is(rpcAccepts, peersAccept, `${text.length} units, ${Array.isArray(params) ? 'by position' : 'by name'}`)
    }
  }
})

test('market_bids says which statuses and loss reasons a bid has, as the market names them', (t) => {
  const summary = RPC_METHODS.market_bids.summary
  const [, statuses = '', reasons = ''] = /status \(([^)]*)\).*its reason \(([^;]*)/.exec(summary) ?? []
  t.deepEqual(statuses.split(', '), [...BID_STATUSES])
  const named = reasons.split(', ').filter((r) => r !== '…')
  t.true(named.length > 0)
  for (const reason of named) t.true((LOSS_REASONS as readonly string[]).includes(reason), reason)
})

test('an error-code table registered with the methods maps typed errors; a conflicting table is refused', async (t) => {
  const registry = new RpcRegistry()
  registry.registerErrorCodes({ THING_REFUSED: -32003 })
  registry.register({
    name: 'test_refuse',
    summary: 'refuses',
    params: z.tuple([]),
    result: z.null(),
    handler: () => { throw new HarmonyError('THING_REFUSED', 'the thing was refused') }
  })
  t.throws(() => { registry.registerErrorCodes({ THING_REFUSED: -32602 }) }, { message: /THING_REFUSED/ })
  registry.registerErrorCodes({ THING_REFUSED: -32003 }) // the same mapping again is harmless
  const { server, url } = await startFixture({}, registry)
  t.teardown(async () => { await server.stop() })
  t.deepEqual((await rpc(url, 'test_refuse', [])).json, {
    jsonrpc: '2.0',
    id: 1,
    error: { code: -32003, message: 'the thing was refused', data: { reason: 'THING_REFUSED' } }
  })
})

test.serial('the SDK calls and subscribes typed end to end; the ledger publishes tx_status through its registered topic', async (t) => {
  const dag = new FakeDag()
  const { server, url, wsUrl } = await startFixture({}, apiRegistry(dag))
  t.teardown(async () => { await server.stop() })
  const client = new HarmonyClient({ url })
  t.teardown(async () => { await client.close() })

  const balance: string = await client.call('account_getBalance', ['hmy1alice'])
  t.is(balance, '42')
  const stats = await client.call('dag_stats')
  t.is(stats.vertices, 1)
  const refused = await t.throwsAsync(client.request('account_getBalance', [42]), { instanceOf: RpcClientError })
  t.is(refused?.code, -32602)
  // compile-time checks (tsc --noEmit runs over the tests): wrong params and unknown names do not type-check
  const typeChecks = (): void => {
    // @ts-expect-error account_getBalance takes an address string
    void client.call('account_getBalance', [42])
    // @ts-expect-error account_getBalance needs its params
    void client.call('account_getBalance')
    // @ts-expect-error a misspelt method name goes through request(), untyped
    void client.call('account_getBalanse', ['hmy1alice'])
  }
  t.is(typeof typeChecks, 'function')

  const peer = await WsPeer.open(wsUrl)
  t.teardown(async () => { await peer.close() })
  const id = `0x${'11'.repeat(32)}`
  const other = `0x${'22'.repeat(32)}`
  t.truthy((await peer.call('harmony_subscribe', ['tx_status', { id }])).result)
  const events: Array<{ id: string, status: string }> = []
  const { promise: gotEvent, resolve } = Promise.withResolvers<void>()
  const stop = await client.subscribe('tx_status', undefined, (event) => { events.push(event); resolve() })
  dag.emit('tx:final', { id: other, vertexId: '0xv' })
  dag.emit('tx:rejected', { id, reason: 'conflict' })
  await gotEvent
  await peer.notificationsReach(1)
  t.deepEqual(peer.notifications.map(n => n.params.result), [{ id, status: 'rejected', vertex: null, reason: 'conflict' }], 'the filter passes only its id')
  t.deepEqual(events[0], { id: other, status: 'final', vertex: '0xv', reason: null })
  await stop()
})
