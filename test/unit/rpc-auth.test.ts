import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { request, type ClientRequest, type IncomingMessage } from 'node:http'
import { gunzipSync } from 'node:zlib'
import test from 'ava'
import { Registry } from 'prom-client'
import { WebSocket } from 'ws'
import { z } from 'zod'
import { RPC_METHODS } from '../../src/api/definitions.ts'
import { StartupError } from '../../src/core/errors.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { ApiKeyStore } from '../../src/rpc/api-keys.ts'
import { authorize, RpcAuth } from '../../src/rpc/auth.ts'
import { mintJwt } from '../../src/rpc/jwt.ts'
import type { OpenRpcDocument } from '../../src/rpc/openrpc.ts'
import { TokenBuckets } from '../../src/rpc/rate-limit.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { RpcServer, type RpcServerInit } from '../../src/rpc/server.ts'
import { HarmonyClient, RpcClientError } from '../../src/sdk/client.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'
import { post } from '../helpers/rpc-fixture.ts'

interface Reply { id: unknown, result?: unknown, error?: { code: number, message: string, data?: { reason?: string, retryAfterMs?: number } } }

const UNAUTHORIZED = -32010
const BIG_TEXT = 'x'.repeat(4096)

function accessRegistry (): RpcRegistry {
  const registry = new RpcRegistry()
  registry.register({ name: 't_read', class: 'public', summary: 'a read', params: z.tuple([]), result: z.string(), handler: () => 'read' })
  registry.register({ name: 't_admin', class: 'admin', summary: 'changes the node', params: z.tuple([]), result: z.string(), handler: () => 'admin' })
  registry.register({ name: 't_spend', class: 'spending', summary: 'moves funds', params: z.tuple([]), result: z.string(), handler: () => 'spent' })
  registry.register({ name: 't_unclassed', summary: 'declares no class', params: z.tuple([]), result: z.string(), handler: () => 'open?' })
  registry.register({ name: 't_big', class: 'public', summary: 'a large result', params: z.tuple([]), result: z.string(), handler: () => BIG_TEXT })
  return registry
}

interface AccessFixture { server: RpcServer, url: string, secret: Uint8Array, keys: ApiKeyStore }

async function startAccess (t: { teardown: (fn: () => Promise<void>) => void }, init: RpcServerInit = {}, now?: () => number): Promise<AccessFixture> {
  const dir = await tempDir()
  const secret = new Uint8Array(randomBytes(32))
  // the node's store re-reads the file on every use here, so a revocation by another writer shows at once
  const keys = new ApiKeyStore(`${dir.path}/api-keys.json`, { reloadIntervalMs: 0 })
  const server = new RpcServer({
    registry: accessRegistry(),
    logger: silentLogger(),
    metrics: new Registry(),
    health: () => ({ ok: true }),
    ready: () => ({ ok: true }),
    auth: new RpcAuth({ jwtSecret: secret, apiKeys: keys, ...(now === undefined ? {} : { now }) })
  }, { port: 0, ...init })
  await server.start()
  t.teardown(async () => { await server.stop(); await dir[Symbol.asyncDispose]() })
  return { server, url: server.url, secret, keys }
}

async function call (url: string, method: string, headers: Record<string, string> = {}): Promise<Reply> {
  return (await post(url, JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: [] }), headers)).json as Reply
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

test('admin and spending methods without credentials are refused with a typed error; public ones answer', async (t) => {
  const { url, secret } = await startAccess(t)
  t.is((await call(url, 't_read')).result, 'read')
  for (const method of ['t_admin', 't_spend', 't_unclassed']) {
    const reply = await call(url, method)
    t.is(reply.error?.code, UNAUTHORIZED, method)
    t.is(reply.error?.data?.reason, 'auth_required')
    t.regex(reply.error?.message ?? '', /Authorization: Bearer/)
    t.is(reply.id, 7, 'the refusal answers the call, with its id')
  }
  t.is((await call(url, 't_admin', bearer(mintJwt(secret)))).result, 'admin')
  t.is((await call(url, 't_spend', bearer(mintJwt(secret)))).result, 'spent')
  t.is((await call(url, 't_unclassed', bearer(mintJwt(secret)))).result, 'open?', 'a method without a class is admin')
})

test('a stale, future, forged or malformed token is refused and says why', async (t) => {
  const { url, secret } = await startAccess(t)
  const stale = await call(url, 't_admin', bearer(mintJwt(secret, Date.now() - 120_000)))
  t.is(stale.error?.code, UNAUTHORIZED)
  t.is(stale.error?.data?.reason, 'token_expired')
  t.regex(stale.error?.message ?? '', /^token expired: iat must be within 60 s of the node's clock/)
  t.is((await call(url, 't_admin', bearer(mintJwt(secret, Date.now() + 120_000)))).error?.data?.reason, 'token_expired')
  // a token minted 30 s ago is still inside the window
  t.is((await call(url, 't_admin', bearer(mintJwt(secret, Date.now() - 30_000)))).result, 'admin')

  const forged = await call(url, 't_admin', bearer(mintJwt(new Uint8Array(randomBytes(32)))))
  t.is(forged.error?.data?.reason, 'token_signature')
  const [header, payload] = mintJwt(secret).split('.')
  const unsigned = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
  t.is((await call(url, 't_admin', bearer(`${unsigned}.${payload}.`))).error?.data?.reason, 'token_malformed', 'alg none is refused')
  t.is((await call(url, 't_admin', bearer(`${header}.${payload}`))).error?.data?.reason, 'token_malformed')
  t.is((await call(url, 't_admin', { authorization: 'Basic dXNlcjpwdw==' })).error?.data?.reason, 'token_malformed')
  // refused credentials still leave the public methods open
  t.is((await call(url, 't_read', bearer('garbage'))).result, 'read')
})

test('a refusal names the method\'s class with its article', (t) => {
  const anonymous = { client: 'ip:127.0.0.1', principal: 'anonymous' as const, classes: new Set(['public'] as const) }
  t.regex(authorize(anonymous, 'net_announce', 'admin')?.message ?? '', /^net_announce is an admin method: send Authorization/)
  t.regex(authorize(anonymous, 'task_submit', 'spending')?.message ?? '', /^task_submit is a spending method: send Authorization/)
  const key = { client: 'key:1', principal: 'api-key' as const, label: 'wallet', classes: new Set(['public', 'spending'] as const) }
  t.regex(authorize(key, 'net_announce', 'admin')?.message ?? '', /^net_announce is an admin method and API key 'wallet' has scope public,spending;/)
  t.is(authorize(key, 'task_submit', 'spending'), undefined)
})

test('API keys: a key works within its scope only; a revoked or unknown key is refused', async (t) => {
  const { url, keys } = await startAccess(t)
  const spender = await keys.add('wallet', ['spending'])
  const admin = await keys.add('ops', ['admin'])
  t.deepEqual(spender.scope, ['public', 'spending'])

  t.is((await call(url, 't_spend', bearer(spender.key))).result, 'spent')
  t.is((await call(url, 't_read', { 'x-api-key': spender.key })).result, 'read')
  const outOfScope = await call(url, 't_admin', bearer(spender.key))
  t.is(outOfScope.error?.code, UNAUTHORIZED)
  t.is(outOfScope.error?.data?.reason, 'scope')
  t.regex(outOfScope.error?.message ?? '', /API key 'wallet' has scope public,spending/)
  t.is((await call(url, 't_admin', { 'x-api-key': admin.key })).result, 'admin')
  t.is((await call(url, 't_spend', { 'x-api-key': admin.key })).error?.data?.reason, 'scope')

  // the CLI revokes through its own store on the same file; the node's store sees it
  t.true(await new ApiKeyStore(keys.path).revoke(spender.id))
  const revoked = await call(url, 't_spend', bearer(spender.key))
  t.is(revoked.error?.data?.reason, 'key_revoked')
  t.regex(revoked.error?.message ?? '', /revoked/)
  const tampered = `${spender.key.slice(0, -2)}AA`
  t.is((await call(url, 't_spend', bearer(tampered))).error?.data?.reason, 'key_unknown')
  t.is((await call(url, 't_admin', bearer(admin.key))).result, 'admin', 'other keys keep working')
  const listed = await keys.list()
  t.is(listed.length, 2)
  t.false(JSON.stringify(listed).includes(spender.key.slice(`hk_${spender.id}_`.length)), 'the secret is never listed')
  t.truthy(listed.find((k) => k.id === spender.id)?.revokedAt)
})

test('over WebSocket the credentials of the upgrade hold for the connection (SDK)', async (t) => {
  const { url, secret, keys } = await startAccess(t)
  const wsUrl = url.replace('http:', 'ws:')
  const anonymous = new HarmonyClient({ url: wsUrl })
  const operator = new HarmonyClient({ url: wsUrl, auth: { jwtSecret: secret } })
  const key = await keys.add('reader', ['public'])
  const keyed = new HarmonyClient({ url, auth: { apiKey: key.key } })
  t.teardown(async () => { await Promise.all([anonymous.close(), operator.close(), keyed.close()]) })

  t.is(await anonymous.request('t_read'), 'read')
  const refused = await t.throwsAsync(anonymous.request('t_admin'), { instanceOf: RpcClientError })
  t.is(refused?.code, UNAUTHORIZED)
  t.is(await operator.request('t_admin'), 'admin')
  t.is(await operator.request('t_spend'), 'spent')
  t.is((await t.throwsAsync(keyed.request('t_spend'), { instanceOf: RpcClientError }))?.code, UNAUTHORIZED)
})

test('a non-loopback host without auth does not start; with auth it does', async (t) => {
  const bare = new RpcServer({ registry: accessRegistry(), logger: silentLogger(), metrics: new Registry(), health: () => ({ ok: true }), ready: () => ({ ok: true }) }, { host: '0.0.0.0', port: 0 })
  const err = await t.throwsAsync(bare.start(), { instanceOf: StartupError })
  t.is(err?.code, 'RPC_AUTH_REQUIRED')
  t.regex(err?.message ?? '', /without auth/)
  t.is(bare.address, undefined, 'nothing listens')
  const { server } = await startAccess(t, { host: '0.0.0.0' })
  t.is(server.address?.host, '0.0.0.0')
})

test('the rate limit refuses with -32005, retryAfterMs and 429, then recovers; the operator has its own bucket', async (t) => {
  // the buckets' own clock, moved by the test: on a loaded machine the refusals' holds alone outlasted a debt in real
  // time, and the bucket refilled before the calls that should find it empty (1 failure in a unit-suite run)
  let clockMs = 0
  const { url, secret } = await startAccess(t, { access: { rateLimit: { ratePerSecond: 10, burst: 10, operatorRatePerSecond: 1000, now: () => clockMs } } })
  // a batch of 40 passes on the full bucket and leaves it 30 tokens in debt: 3 s before the next call may pass
  const drained = (await post(url, JSON.stringify(Array.from({ length: 40 }, (_, id) => ({ jsonrpc: '2.0', id, method: 't_read', params: [] }))))).json as Reply[]
  t.true(drained.every((r) => r.result === 'read'))
  const response = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 't_read', params: [] }))
  const limited = response.json as Reply
  t.is(response.status, 429)
  t.truthy(response.headers.get('retry-after'))
  t.is(limited.id, 'x')
  t.is(limited.error?.code, -32005)
  t.true((limited.error?.data?.retryAfterMs ?? 0) > 0)
  t.regex(limited.error?.message ?? '', /rate limit/)

  // the flood does not touch the operator
  t.is((await call(url, 't_admin', bearer(mintJwt(secret)))).result, 'admin')
  // a batch spends one token per call; refused, every call gets the error with its own id
  const batch = (await post(url, JSON.stringify([1, 2].map((id) => ({ jsonrpc: '2.0', id, method: 't_read', params: [] }))))).json as Reply[]
  t.deepEqual(batch.map((r) => [r.id, r.error?.code]), [[1, -32005], [2, -32005]])

  // tokens come back with time (a refusal spends none): 2.9 s on, 29 of the debt's 30 tokens are back and the client
  // is still refused; at 3.3 s it is served again
  clockMs += 2900
  t.is((await call(url, 't_read')).error?.code, -32005)
  clockMs += 400
  t.is((await call(url, 't_read')).result, 'read')
})

test('an anonymous client is its IPv4 address, or its IPv6 /64: one host cannot claim a rate and a budget share per address', async (t) => {
  const auth = new RpcAuth({ jwtSecret: randomBytes(32) })
  const client = async (address: string): Promise<string> => (await auth.authenticate({}, address)).client
  t.is(await client('2001:db8:1:2::1'), await client('2001:db8:1:2:ffff:1:2:3'), 'two addresses of one /64')
  t.is(await client('2001:db8:1:2::1'), await client('2001:0db8:0001:0002:0000:0000:0000:0009'), 'spelled in full')
  t.is(await client('fe80::1%eth0'), await client('fe80::2'), 'a zone index is not part of the address')
  t.not(await client('2001:db8:1:2::1'), await client('2001:db8:1:3::1'), 'another /64 is another client')
  t.is(await client('::ffff:10.0.0.1'), await client('10.0.0.1'), 'an IPv4-mapped address is its IPv4')
  t.not(await client('10.0.0.1'), await client('10.0.0.2'))
  t.is(await client('::1'), await client('::2'), '::/64')
  t.not(await client('::1'), await client('127.0.0.1'))
})

test('token buckets: refill at the rate, cap at the burst, evict the least recently seen beyond the table cap', (t) => {
  let now = 0
  const buckets = new TokenBuckets({ ratePerSecond: 10, burst: 5, maxClients: 3, now: () => now })
  for (let i = 0; i < 5; i++) t.is(buckets.take('a'), 0)
  t.is(buckets.take('a'), 100, 'one token is 100 ms away at 10/s')
  now += 100
  t.is(buckets.take('a'), 0)
  now += 10_000
  for (let i = 0; i < 5; i++) t.is(buckets.take('a'), 0)
  t.true(buckets.take('a') > 0, 'a long pause refills only up to the burst')
  t.is(buckets.take('b', 6), 0, 'a cost over the burst passes on a full bucket...')
  t.is(buckets.take('b'), 200, '...and leaves it in debt')
  buckets.take('c')
  buckets.take('d')
  t.is(buckets.size, 3)
  buckets.take('a')
  buckets.take('e')
  t.is(buckets.size, 3, 'the table stays at its cap')
})

function rawGet (url: string, body: string, headers: Record<string, string>): Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

test('a Host outside the allowlist is refused over HTTP and WebSocket; listed hosts are served', async (t) => {
  const { url } = await startAccess(t, { access: { vhosts: ['localhost', '127.0.0.1', 'node.example'] } })
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 't_read', params: [] })
  const evil = await rawGet(url, body, { host: 'attacker.example:9545' })
  t.is(evil.status, 403)
  t.regex(JSON.parse(evil.body.toString()).error.message as string, /host not allowed.*--rpc-vhosts/)
  t.is((await rawGet(url, body, { host: 'node.example:9545' })).status, 200)
  t.is((await rawGet(url, body, { host: 'NODE.example' })).status, 200, 'host names compare case-insensitively')

  const ws = new WebSocket(url.replace('http:', 'ws:'), { headers: { host: 'attacker.example' } })
  const [req, response] = await once(ws, 'unexpected-response') as [ClientRequest, IncomingMessage]
  t.is(response.statusCode, 403)
  req.destroy()
})

test('responses of 1 KiB or more are gzip-compressed when the client accepts gzip', async (t) => {
  const { url } = await startAccess(t)
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 't_big', params: [] })
  const zipped = await rawGet(url, big, { 'accept-encoding': 'gzip, deflate' })
  t.is(zipped.headers['content-encoding'], 'gzip')
  t.true(zipped.body.length < BIG_TEXT.length / 4)
  t.is((JSON.parse(gunzipSync(zipped.body).toString()) as Reply).result, BIG_TEXT)
  const plain = await rawGet(url, big, {})
  t.is(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: identity')
  t.is((JSON.parse(plain.body.toString()) as Reply).result, BIG_TEXT)
  t.is((await rawGet(url, big, { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'], undefined)
  const small = await rawGet(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 't_read', params: [] }), { 'accept-encoding': 'gzip' })
  t.is(small.headers['content-encoding'], undefined, 'a small response is sent as it is')
})

test('every defined method declares its class; rpc.discover carries it as x-harmony-class', async (t) => {
  const classes = Object.fromEntries(Object.entries(RPC_METHODS).map(([name, d]) => [name, d.class]))
  t.is(classes.net_announce, 'admin')
  t.is(classes.account_sendTransaction, 'spending')
  t.is(classes.account_getBalance, 'public')
  t.is(classes.node_info, 'public')
  const { url } = await startAccess(t)
  const doc = (await call(url, 'rpc.discover')).result as OpenRpcDocument
  const byName = new Map(doc.methods.map((m) => [m.name, m['x-harmony-class']]))
  t.is(byName.get('t_admin'), 'admin')
  t.is(byName.get('t_spend'), 'spending')
  t.is(byName.get('t_unclassed'), 'admin')
  t.is(byName.get('rpc.discover'), 'public')
  t.is(byName.get('harmony_subscribe'), 'public')
})

test('a token verified once is remembered, and still refused once its iat falls outside the skew', async (t) => {
  const secret = new Uint8Array(randomBytes(32))
  let nowMs = Date.now()
  const auth = new RpcAuth({ jwtSecret: secret, now: () => nowMs })
  const token = mintJwt(secret, nowMs)
  const headers = { authorization: `Bearer ${token}` }
  t.is((await auth.authenticate(headers, '127.0.0.1')).principal, 'operator')
  t.is((await auth.authenticate(headers, '127.0.0.1')).principal, 'operator', 'the remembered token')
  nowMs += 61_000
  const late = await auth.authenticate(headers, '127.0.0.1')
  t.is(late.principal, 'anonymous')
  t.is(late.denial?.reason, 'token_expired')
  // a forged token that looks like a remembered one in all but its signature is checked in full
  const forged = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.from(randomBytes(32)).toString('base64url')}`
  nowMs -= 61_000
  t.is((await auth.authenticate({ authorization: `Bearer ${forged}` }, '127.0.0.1')).denial?.reason, 'token_signature')
})

/** Opens a WebSocket to the fixture and collects its replies and its close code. */
async function wsClient (url: string): Promise<{ socket: WebSocket, replies: Reply[], closeCode?: number }> {
  const socket = new WebSocket(url.replace('http:', 'ws:'))
  const client: { socket: WebSocket, replies: Reply[], closeCode?: number } = { socket, replies: [] }
  socket.on('message', (data) => { client.replies.push(JSON.parse(String(data)) as Reply) })
  socket.once('close', (code) => { client.closeCode = code })
  await once(socket, 'open')
  return client
}

test('over WebSocket a refused call holds its connection like HTTP: a flood gets its limit served, not a stream of refusals; every call answered once', async (t) => {
  const { url } = await startAccess(t, { access: { rateLimit: { ratePerSecond: 40, burst: 40 } } })
  const { socket, replies } = await wsClient(url)
  t.teardown(() => { socket.terminate() })
  const calls = 120
  // sent at once, never waiting for retryAfterMs: without the hold, 40 are served and 80 refused at once
  for (let id = 0; id < calls; id++) socket.send(JSON.stringify({ jsonrpc: '2.0', id, method: 't_read', params: [] }))
  await waitFor('every call answered', async () => replies.length >= calls ? true : undefined, 30_000, 50)
  t.deepEqual(replies.map((r) => r.id).sort((a, b) => Number(a) - Number(b)), Array.from({ length: calls }, (_, i) => i), 'each call answered once')
  const refused = replies.filter((r) => r.error?.code === -32005)
  const served = replies.filter((r) => r.result === 'read')
  t.is(refused.length + served.length, calls)
  t.true(refused.length >= 1, 'the limit refused')
  // each refusal holds the connection until the bucket (40 a second) has refilled: at most one refusal per 40 served
  t.true(refused.length <= Math.ceil(calls / 40), `${refused.length} refused, ${served.length} served`)
  t.true(refused.every((r) => (r.error?.data?.retryAfterMs ?? 0) > 0))
})

test('over WebSocket a client with more refusals held than HTTP allows is answered and disconnected (4029)', async (t) => {
  const { url } = await startAccess(t, { access: { rateLimit: { ratePerSecond: 1, burst: 1 } } })
  const clients = await Promise.all(Array.from({ length: 34 }, async () => await wsClient(url)))
  t.teardown(() => { for (const c of clients) c.socket.terminate() })
  // one call each: one is served, the rest refused; 32 refusals are held for this client, the one beyond is
  // answered at once and its connection closed
  clients.forEach((c, id) => { c.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method: 't_read', params: [] })) })
  await waitFor('every call answered', async () => clients.every((c) => c.replies.length === 1) ? true : undefined, 30_000, 20)
  await waitFor('the client past the held refusals disconnected', async () => clients.some((c) => c.closeCode === 4029) ? true : undefined, 30_000, 20)
  t.is(clients.filter((c) => c.closeCode === 4029).length, 1, `close codes: ${clients.map((c) => c.closeCode).join(' ')}`)
  t.is(clients.filter((c) => c.replies[0]?.result === 'read').length, 1)
  t.is(clients.filter((c) => c.replies[0]?.error?.code === -32005).length, 33)
})
