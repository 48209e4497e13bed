import { once } from 'node:events'
import test from 'ava'
import { WebSocket } from 'ws'
import { post, startFixture } from '../helpers/rpc-fixture.ts'

// JSON-RPC 2.0: an answer's id is the same as its request's. A numeric id that a double cannot hold exactly
// (12345678901234567890 reads as 12345678901234567168) comes back as the client wrote it, as geth does.

const BIG = '12345678901234567890'
const NEGATIVE_BIG = '-9007199254740993'

test.serial('HTTP: a numeric id a double cannot hold is echoed exactly, in answers and in errors', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const answered = await post(url, `{"jsonrpc":"2.0","id":${BIG},"method":"test_echo","params":["x"]}`)
  t.is(answered.text, `{"jsonrpc":"2.0","id":${BIG},"result":"x"}`)
  const unknown = await post(url, `{"jsonrpc":"2.0","id":${NEGATIVE_BIG},"method":"nope_nothing"}`)
  t.true(unknown.text.startsWith(`{"jsonrpc":"2.0","id":${NEGATIVE_BIG},"error":{"code":-32601,`), unknown.text)
  const badParams = await post(url, '{"jsonrpc":"2.0","id":2.50,"method":"test_echo","params":[1]}')
  t.true(badParams.text.startsWith('{"jsonrpc":"2.0","id":2.50,"error":{"code":-32602,'), badParams.text)
  const badEnvelope = await post(url, `{"jsonrpc":"1.0","id":${BIG},"method":"test_echo"}`)
  t.true(badEnvelope.text.startsWith(`{"jsonrpc":"2.0","id":${BIG},"error":{"code":-32600,`), badEnvelope.text)

  // an answer with a bigint (written through JSON.stringify's replacer) keeps the id too
  const balance = await post(url, `{"jsonrpc":"2.0","id":${BIG},"method":"test_balance"}`)
  t.is(balance.text, `{"jsonrpc":"2.0","id":${BIG},"result":{"amount":"${(10n ** 30n).toString()}"}}`)
  // a params member named id is the method's business: it is parsed as a number, as before
  const params = await post(url, `{"jsonrpc":"2.0","id":${BIG},"method":"test_add","params":{"a":1,"b":2}}`)
  t.is(params.text, `{"jsonrpc":"2.0","id":${BIG},"result":3}`)
  // small integer ids take the ordinary path and still come back as they were
  t.is((await post(url, '{"jsonrpc":"2.0","id":7,"method":"test_echo","params":["y"]}')).text, '{"jsonrpc":"2.0","id":7,"result":"y"}')
})

test.serial('HTTP: every call of a batch keeps its own id exactly; a notification still gets no answer', async (t) => {
  const { server, url } = await startFixture()
  t.teardown(async () => { await server.stop() })

  const batch = await post(url, `[
    {"jsonrpc":"2.0","id":1,"method":"test_echo","params":["a"]},
    {"jsonrpc":"2.0","id":${BIG},"method":"test_echo","params":["b"]},
    {"jsonrpc":"2.0","method":"test_echo","params":["c"]},
    {"jsonrpc":"2.0","id":"s","method":"test_echo","params":["d"]},
    {"jsonrpc":"2.0","id":${NEGATIVE_BIG},"method":"nope_nothing"}
  ]`)
  t.true(batch.text.startsWith(`[{"jsonrpc":"2.0","id":1,"result":"a"},{"jsonrpc":"2.0","id":${BIG},"result":"b"},{"jsonrpc":"2.0","id":"s","result":"d"},{"jsonrpc":"2.0","id":${NEGATIVE_BIG},"error":{"code":-32601,`), batch.text)
})

test.serial('WebSocket: a numeric id a double cannot hold is echoed exactly, also in a refusal of an answer too large', async (t) => {
  const { server, wsUrl } = await startFixture({ maxWsBufferedBytes: 4096 })
  t.teardown(async () => { await server.stop() })
  const socket = new WebSocket(wsUrl)
  await once(socket, 'open')
  t.teardown(() => { socket.terminate() })
  const reply = async (text: string): Promise<string> => {
    const message = once(socket, 'message') as Promise<[Buffer]>
    socket.send(text)
    return (await message)[0].toString()
  }

  t.is(await reply(`{"jsonrpc":"2.0","id":${BIG},"method":"test_echo","params":["x"]}`), `{"jsonrpc":"2.0","id":${BIG},"result":"x"}`)
  t.is(await reply(`[{"jsonrpc":"2.0","id":${NEGATIVE_BIG},"method":"test_echo","params":["y"]}]`), `[{"jsonrpc":"2.0","id":${NEGATIVE_BIG},"result":"y"}]`)
  // 5,000 bytes of answer over a 4,096-byte send queue: refused with -32005 under the same id
  const big = `{"jsonrpc":"2.0","id":${BIG},"method":"test_echo","params":["${'z'.repeat(100)}",10]}`
  const tooBig = await reply(`[${Array.from({ length: 5 }, () => big).join(',')}]`)
  t.true(tooBig.startsWith(`[{"jsonrpc":"2.0","id":${BIG},"error":{"code":-32005,`), tooBig)
})
