import test, { type ExecutionContext } from 'ava'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { z } from 'zod'
import { RPC_METHODS, type RpcMethodName } from '../../src/api/definitions.ts'
import { HarmonyError } from '../../src/core/errors.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { RpcDispatcher } from '../../src/rpc/dispatcher.ts'
import { createRpcMetrics } from '../../src/rpc/metrics.ts'
import { RpcErrorCode, RpcRegistry, type RpcContext } from '../../src/rpc/registry.ts'
import { wrappedRegistry } from '../helpers/rpc-fixture.ts'

const ctx: RpcContext = { transport: 'http', signal: new AbortController().signal }

async function call (dispatcher: RpcDispatcher, method: string, params?: unknown): Promise<{ result?: unknown, error?: { code: number, message?: string, data?: unknown } }> {
  const text = await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), ctx)
  return JSON.parse(text ?? 'null') as { result?: unknown, error?: { code: number, message?: string, data?: unknown } }
}

function dispatcherFor (registry: RpcRegistry, errorCodes: Record<string, (typeof RpcErrorCode)[keyof typeof RpcErrorCode]> = {}): RpcDispatcher {
  return new RpcDispatcher({ registry, logger: silentLogger(), metrics: createRpcMetrics(new Registry()) }, { errorCodes })
}

test('params wrapped in optional() or a union are accepted in every form the schema allows', async (t) => {
  const dispatcher = dispatcherFor(wrappedRegistry())
  t.is((await call(dispatcher, 'w_none')).result, 'none')
  t.is((await call(dispatcher, 'w_none', [])).result, 'none')
  t.is((await call(dispatcher, 'w_none', {})).result, 'none')
  t.is((await call(dispatcher, 'w_none', [1])).error?.code, -32602)
  t.is((await call(dispatcher, 'w_text', ['a'])).result, 'a')
  t.is((await call(dispatcher, 'w_text', { text: 'b' })).result, 'b')
  t.is((await call(dispatcher, 'w_text', { other: 'b' })).error?.code, -32602)
  t.is((await call(dispatcher, 'w_opt')).result, -1)
  t.is((await call(dispatcher, 'w_opt', [4])).result, 4)
  t.is((await call(dispatcher, 'w_opt', ['x'])).error?.code, -32602)
})

/** The real params schemas of `names`, each answering with the params it received once parsed. */
function echoRegistry (names: readonly RpcMethodName[]): RpcRegistry {
  const registry = new RpcRegistry()
  for (const name of names) {
    registry.register({ name, summary: RPC_METHODS[name].summary, params: RPC_METHODS[name].params as z.ZodType, result: z.unknown(), handler: (params) => params ?? null })
  }
  return registry
}

test('named params of the API are accepted by position in the order docs/rpc.md lists them, and in the forms the SDK sends', async (t) => {
  const dispatcher = dispatcherFor(echoRegistry(['task_list', 'market_providers', 'task_submit', 'chain_checkpoints', 'webhook_add', 'net_announcements']))
  const announce = `0x${'01'.repeat(4)}`
  // by position, as documented
  t.deepEqual((await call(dispatcher, 'task_list', ['expired'])).result, { state: 'expired' })
  t.deepEqual((await call(dispatcher, 'task_list', ['expired', null, null, 'c1', 5])).result, { state: 'expired', cursor: 'c1', limit: 5 })
  t.deepEqual((await call(dispatcher, 'market_providers', [null, 5])).result, { limit: 5 })
  t.deepEqual((await call(dispatcher, 'task_submit', [announce, ['AAAA']])).result, { announce, inputs: ['AAAA'] })
  t.deepEqual((await call(dispatcher, 'webhook_add', ['https://example.org/h', ['task'], ['hmy1abc'], 'ops'])).result,
    { url: 'https://example.org/h', events: ['task'], accounts: ['hmy1abc'], label: 'ops' })
  // by name, and the forms the union lists itself (the SDK and the CLI send `[{...}]`)
  t.deepEqual((await call(dispatcher, 'task_list', { state: 'expired' })).result, { state: 'expired' })
  t.deepEqual((await call(dispatcher, 'task_list', [{ state: 'expired' }])).result, [{ state: 'expired' }])
  t.deepEqual((await call(dispatcher, 'task_list')).result, null)
  t.deepEqual((await call(dispatcher, 'task_list', [])).result, [])
  t.deepEqual((await call(dispatcher, 'task_submit', [{ announce, inputs: [] }])).result, [{ announce, inputs: [] }])
  t.deepEqual((await call(dispatcher, 'chain_checkpoints', [null, 5])).result, [null, 5])
  t.deepEqual((await call(dispatcher, 'webhook_add', ['https://example.org/h', ['task'], { label: 'ops' }])).result, ['https://example.org/h', ['task'], { label: 'ops' }])
  t.deepEqual((await call(dispatcher, 'net_announcements', [7])).result, [7])

  // refusals name what is wrong, by position or inside the one object
  const badState = await call(dispatcher, 'task_list', ['gone'])
  t.is(badState.error?.code, -32602)
  t.regex(badState.error?.message ?? '', /^invalid params: state: /)
  const badLimit = await call(dispatcher, 'task_list', [{ limit: 1000 }])
  t.regex(badLimit.error?.message ?? '', /^invalid params: limit: /)
  const tooMany = await call(dispatcher, 'market_providers', [null, 5, 6])
  t.regex(tooMany.error?.message ?? '', /takes at most 2 params \(cursor, limit\), got 3/)
  // null stands for a left-out optional param only: a required one stays refused
  t.regex((await call(dispatcher, 'task_submit', [null, []])).error?.message ?? '', /^invalid params: announce: /)
})

test('typed errors listed in errorCodes reach the caller with their code and reason; others stay internal', async (t) => {
  const registry = wrappedRegistry()
  registry.register({
    name: 'w_nonce',
    summary: 'fails with a typed error',
    params: z.tuple([z.boolean()]),
    result: z.null(),
    handler: ([listed]) => {
      if (listed) throw new HarmonyError('TX_NONCE_TOO_LOW', 'nonce 3 is below the account nonce 5; use 5')
      throw new HarmonyError('DB_CORRUPT', 'sublevel checksum mismatch at /var/lib/harmony')
    }
  })
  const dispatcher = dispatcherFor(registry, { TX_NONCE_TOO_LOW: RpcErrorCode.TRANSACTION_REJECTED })
  t.deepEqual((await call(dispatcher, 'w_nonce', [true])).error, {
    code: -32003,
    message: 'nonce 3 is below the account nonce 5; use 5',
    data: { reason: 'TX_NONCE_TOO_LOW' }
  })
  t.deepEqual((await call(dispatcher, 'w_nonce', [false])).error, { code: -32603, message: 'internal error' })
})

const KNOWN_CODES = new Set<number>(Object.values(RpcErrorCode))

/** Every reply is JSON-RPC 2.0 with exactly one of result/error and a known error code. */
function checkReply (t: ExecutionContext, reply: unknown): void {
  const replies = Array.isArray(reply) ? reply : [reply]
  for (const item of replies as Array<Record<string, unknown>>) {
    t.is(item.jsonrpc, '2.0')
    t.true(('result' in item) !== ('error' in item), JSON.stringify(item))
    if ('error' in item) t.true(KNOWN_CODES.has((item.error as { code: number }).code), JSON.stringify(item))
  }
}

test('any input gets a well-formed JSON-RPC reply (or none for notifications) and never throws', async (t) => {
  const dispatcher = dispatcherFor(wrappedRegistry())
  const request = fc.record({
    jsonrpc: fc.constantFrom('2.0', '2.0', '1.0', 2),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.object()),
    method: fc.oneof(fc.constantFrom('w_none', 'w_text', 'w_opt', 'rpc.discover', '__proto__', 'constructor'), fc.string()),
    params: fc.jsonValue()
  }, { requiredKeys: [] })
  const input = fc.oneof(
    fc.string().map((text) => ({ text })),
    fc.jsonValue().map((value) => ({ text: JSON.stringify(value) })),
    request.map((value) => ({ text: JSON.stringify(value) })),
    fc.array(request, { maxLength: 5 }).map((value) => ({ text: JSON.stringify(value) }))
  )
  await fc.assert(fc.asyncProperty(input, async ({ text }) => {
    const out = await dispatcher.handle(text, ctx)
    if (out !== null) checkReply(t, JSON.parse(out))
  }), { numRuns: 300 })
})

test('a notification is never answered, even when its method fails or does not exist; methods registered later are served', async (t) => {
  const registry = new RpcRegistry()
  const calls: string[] = []
  registry.register({
    name: 't_fail',
    summary: 'Fails with an unexpected error.',
    params: z.tuple([]),
    result: z.null(),
    handler: () => { calls.push('t_fail'); throw new Error('boom') }
  })
  const dispatcher = dispatcherFor(registry)
  t.is(await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', method: 't_fail' }), ctx), null)
  t.deepEqual(calls, ['t_fail'], 'the notification ran')
  t.is(await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', method: 't_absent' }), ctx), null)
  t.is(await dispatcher.handle(JSON.stringify([{ jsonrpc: '2.0', method: 't_fail' }, { jsonrpc: '2.0', method: 't_absent' }]), ctx), null)
  // the same calls with an id are answered, with the id
  const failed = await call(dispatcher, 't_fail')
  t.is(failed.error?.code, RpcErrorCode.INTERNAL_ERROR)
  t.is((await call(dispatcher, 't_later')).error?.code, RpcErrorCode.METHOD_NOT_FOUND)
  registry.register({ name: 't_later', summary: 'Registered after the first call.', params: z.tuple([]), result: z.string(), handler: () => 'here' })
  t.is((await call(dispatcher, 't_later')).result, 'here')
  const echoed = JSON.parse(await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', id: null, method: 't_later' }), ctx) ?? 'null') as { id: unknown, result: unknown }
  t.deepEqual(echoed, { jsonrpc: '2.0', id: null, result: 'here' })
})
