import test from 'ava'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseConfigText, readEnv, renderConfigFile, resolveConfig } from '../../src/node/config.ts'
import { ConfigError } from '../../src/core/errors.ts'
import { tempDir } from '../helpers/harmonyd.ts'

test('precedence is flags > env > config file > defaults', async (t) => {
  await using d = await tempDir()
  const file = join(d.path, 'config.yaml')
  await writeFile(file, 'p2p-port: 9001\nrpc-port: 9002\nlog-level: debug\n')
  const fromFile = await resolveConfig({ configFile: file })
  t.is(fromFile['p2p-port'], 9001)
  t.is(fromFile['max-connections'], 128)
  const withEnv = await resolveConfig({ configFile: file, env: { HARMONY_P2P_PORT: '9003', HARMONY_LOG_LEVEL: 'warn' } })
  t.is(withEnv['p2p-port'], 9003)
  t.is(withEnv['rpc-port'], 9002)
  const withFlags = await resolveConfig({ configFile: file, env: { HARMONY_P2P_PORT: '9003' }, flags: { 'p2p-port': 9004 } })
  t.is(withFlags['p2p-port'], 9004)
  t.is(withFlags['log-level'], 'debug')
})

test('the devnet preset allows private addresses unless a setting says otherwise', async (t) => {
  t.true((await resolveConfig({ flags: { network: 'devnet' } }))['allow-private-addrs'])
  t.false((await resolveConfig({ flags: { network: 'devnet', 'allow-private-addrs': false } }))['allow-private-addrs'])
  t.false((await resolveConfig({}))['allow-private-addrs'])
})

test('webhooks may target private addresses on a devnet, elsewhere only when a setting says so', async (t) => {
  t.false((await resolveConfig({}))['allow-private-webhooks'])
  t.true((await resolveConfig({ flags: { network: 'devnet' } }))['allow-private-webhooks'])
  t.false((await resolveConfig({ flags: { network: 'devnet' }, env: { HARMONY_ALLOW_PRIVATE_WEBHOOKS: 'false' } }))['allow-private-webhooks'])
  t.true((await resolveConfig({ env: { HARMONY_ALLOW_PRIVATE_WEBHOOKS: 'true' } }))['allow-private-webhooks'])
  t.true((await resolveConfig({ flags: { network: 'devnet', 'allow-private-addrs': false } }))['allow-private-webhooks'], 'each setting on its own')
})

test('bad settings are refused with the key and what was expected', (t) => {
  const port = t.throws(() => parseConfigText('rpc-port: 70000\n', 'c.yaml'), { instanceOf: ConfigError })
  t.regex(port.message, /'rpc-port' must be an integer port from 0 to 65535, got 70000/)
  const unknown = t.throws(() => parseConfigText('rpcport: 1\n', 'c.yaml'), { instanceOf: ConfigError })
  t.is(unknown.code, 'CONFIG_UNKNOWN_KEY')
  t.regex(unknown.message, /unknown key 'rpcport'/)
  const level = t.throws(() => readEnv({ HARMONY_LOG_LEVEL: 'loud' }), { instanceOf: ConfigError })
  t.regex(level.message, /HARMONY_LOG_LEVEL: 'log-level' must be one of trace, debug/)
  const env = t.throws(() => readEnv({ HARMONY_P2P_PROT: '1' }), { instanceOf: ConfigError })
  t.regex(env.message, /HARMONY_P2P_PROT is not a setting/)
  const addr = t.throws(() => parseConfigText('bootstrap: ["not-a-multiaddr"]\n', 'c.yaml'), { instanceOf: ConfigError })
  t.regex(addr.message, /'bootstrap' has an invalid multiaddr/)
  const host = t.throws(() => parseConfigText('rpc-host: "example.com"\n', 'c.yaml'), { instanceOf: ConfigError })
  t.regex(host.message, /'rpc-host' must be an IPv4\/IPv6 address/)
  t.throws(() => parseConfigText('- a\n- b\n', 'c.yaml'), { message: /must be a mapping/ })
})

test('the rendered config file parses back to the same settings', (t) => {
  const text = renderConfigFile({ network: 'devnet', 'p2p-port': 9100, bootstrap: ['/ip4/127.0.0.1/tcp/9400/p2p/12D3KooWGRUVh9QQGTpaoJLgbjRjZ7KyZ3K2NhX2wh3pL4wuBfNq'] })
  t.regex(text, /^# /m)
  t.deepEqual(parseConfigText(text, 'rendered'), {
    network: 'devnet',
    'p2p-port': 9100,
    bootstrap: ['/ip4/127.0.0.1/tcp/9400/p2p/12D3KooWGRUVh9QQGTpaoJLgbjRjZ7KyZ3K2NhX2wh3pL4wuBfNq']
  })
})

test('the webhook queue per hook: 1,000 events by default, set by env, flag or file, a positive integer up to 100,000', async (t) => {
  t.is((await resolveConfig({}))['webhook-queue'], 1000)
  t.is((await resolveConfig({ env: { HARMONY_WEBHOOK_QUEUE: '20000' } }))['webhook-queue'], 20_000)
  t.is((await resolveConfig({ flags: { 'webhook-queue': 5000 } }))['webhook-queue'], 5000)
  t.throws(() => readEnv({ HARMONY_WEBHOOK_QUEUE: '0' }), { instanceOf: ConfigError, message: /'webhook-queue' must be a positive integer/ })
  t.throws(() => readEnv({ HARMONY_WEBHOOK_QUEUE: '100001' }), { instanceOf: ConfigError, message: /'webhook-queue' must be at most 100000, got "100001"/ })
})

test('the admission latency target: 600 ms by default, set by env or flag, a positive integer', async (t) => {
  t.is((await resolveConfig({}))['latency-target-ms'], 600)
  t.is((await resolveConfig({ env: { HARMONY_LATENCY_TARGET_MS: '900' } }))['latency-target-ms'], 900)
  t.is((await resolveConfig({ flags: { 'latency-target-ms': 400 } }))['latency-target-ms'], 400)
  t.throws(() => readEnv({ HARMONY_LATENCY_TARGET_MS: '0' }), { instanceOf: ConfigError, message: /'latency-target-ms' must be a positive integer/ })
})
