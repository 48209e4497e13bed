import test from 'ava'
import { Registry } from 'prom-client'
import { z } from 'zod'
import { renderRpcMarkdown } from '../scripts/gen-rpc-docs.ts'
import { silentLogger } from '../src/node/logger.ts'
import { RpcDispatcher } from '../src/rpc/dispatcher.ts'
import { createRpcMetrics } from '../src/rpc/metrics.ts'
import { buildOpenRpcDocument } from '../src/rpc/openrpc.ts'
import { RpcRegistry, type RpcContext } from '../src/rpc/registry.ts'
import { SubscriptionHub } from '../src/rpc/subscriptions.ts'
import { testRegistry } from './helpers/rpc-fixture.ts'

const noParams = z.union([z.tuple([]), z.object({}).strict()]).optional()

function wrappedRegistry (): RpcRegistry {
  const registry = new RpcRegistry()
  registry.register({ name: 'w_none', summary: 'no params', params: noParams, result: z.literal('none'), handler: () => 'none' as const })
  registry.register({
    name: 'w_text',
    summary: 'text by position or name',
    params: z.union([z.tuple([z.string()]), z.object({ text: z.string().describe('the text') }).strict()]),
    result: z.string(),
    handler: (params) => Array.isArray(params) ? params[0] : params.text
  })
  registry.register({
    name: 'w_opt',
    summary: 'optional tuple',
    params: z.tuple([z.number()]).optional(),
    result: z.number(),
    handler: (params) => params?.[0] ?? -1
  })
  return registry
}

const ctx: RpcContext = { transport: 'http', signal: new AbortController().signal }

async function call (dispatcher: RpcDispatcher, method: string, params?: unknown): Promise<{ result?: unknown, error?: { code: number } }> {
  const text = await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), ctx)
  return JSON.parse(text ?? 'null') as { result?: unknown, error?: { code: number } }
}

test('params wrapped in optional() or a union are accepted in every form the schema allows', async (t) => {
  const dispatcher = new RpcDispatcher({ registry: wrappedRegistry(), logger: silentLogger(), metrics: createRpcMetrics(new Registry()) })
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

test('the OpenRPC document describes wrapped params by their shape', (t) => {
  const doc = buildOpenRpcDocument(wrappedRegistry().list(), { version: '9.9.9' })
  t.is(doc.info.version, '9.9.9')
  const byName = new Map(doc.methods.map((m) => [m.name, m]))
  t.deepEqual(byName.get('w_none')?.params, [])
  t.deepEqual(byName.get('w_text')?.params.map((p) => [p.name, p.description, p.required]), [['text', 'the text', true]])
  t.is(byName.get('w_text')?.paramStructure, 'either')
  t.is(byName.get('w_opt')?.paramStructure, 'by-position')
  t.is(byName.get('w_opt')?.params[0].schema.type, 'number')
  t.is(byName.get('w_none')?.result.schema.const, 'none')
})

test('renderRpcMarkdown documents every method, its params, the built-ins, topics and error codes', (t) => {
  const hub = new SubscriptionHub()
  hub.registerTopic({
    name: 'dag_finalized',
    summary: 'finalized vertices',
    filter: z.object({ author: z.string() }).optional(),
    matches: () => true
  })
  const markdown = renderRpcMarkdown(testRegistry(), { topics: hub.topics(), version: '1.2.3' })
  t.true(markdown.startsWith('# Harmony JSON-RPC\n'))
  t.true(markdown.includes('Version 1.2.3.'))
  for (const name of ['test_echo', 'test_add', 'rpc.discover', 'harmony_subscribe', 'harmony_unsubscribe']) {
    t.true(markdown.includes(`### ${name}\n`), name)
  }
  t.true(markdown.includes('| 0 | `text` | string | yes | what to repeat |'))
  t.true(markdown.includes('| 1 | `times` | integer | no |  |'))
  t.true(markdown.includes('| `dag_finalized` | finalized vertices | { author: string } |'))
  t.true(markdown.includes('| -32602 | INVALID_PARAMS |'))
  t.true(markdown.includes('{"jsonrpc":"2.0","id":1,"method":"test_add","params":{"a":"<a>","b":"<b>"}}'))
  t.false(renderRpcMarkdown(testRegistry(), { includeBuiltins: false }).includes('### rpc.discover'))
})
