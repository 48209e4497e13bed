import test from 'ava'
import { z } from 'zod'
import { renderRpcMarkdown } from '../../scripts/gen-rpc-docs.ts'
import { buildOpenRpcDocument } from '../../src/rpc/openrpc.ts'
import { DEFAULT_RECONNECT } from '../../src/sdk/client.ts'
import { SubscriptionHub } from '../../src/rpc/subscriptions.ts'
import { testRegistry, wrappedRegistry } from '../helpers/rpc-fixture.ts'

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

test('the SDK section says how the client reconnects, with its defaults', (t) => {
  const markdown = renderRpcMarkdown(testRegistry())
  t.false(markdown.includes('no automatic reconnect'))
  t.true(markdown.includes(`(${DEFAULT_RECONNECT.initialDelayMs} ms doubling up to ${DEFAULT_RECONNECT.maxDelayMs} ms, ${DEFAULT_RECONNECT.maxAttempts} attempts; the \`reconnect\` option)`))
  for (const hook of ['onDisconnect', 'onReconnect', 'onReconnectFailed']) t.true(markdown.includes(`\`${hook}\``), hook)
})
