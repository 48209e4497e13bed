import test from 'ava'
import { ConfigError } from '../../src/core/errors.ts'
import { MAX_CAPACITY, parseProviderConfig } from '../../src/market/provider/config.ts'
import { parseConfigText, readEnv, readFlags, renderConfigFile, resolveConfig } from '../../src/node/config.ts'

// The `provider` block of the node config, through every source a setting comes from.

const ADDRESS = 'hmy1' + '00'.repeat(20)

test('the provider block is a mapping in the config file, JSON in a flag or env, and off by default', async t => {
  const defaults = await resolveConfig({})
  t.false(defaults.provider.enabled)
  t.is(defaults.provider.bond, (100n * 10n ** 18n).toString())
  t.is(parseProviderConfig(defaults.provider).bond, 100n * 10n ** 18n, 'the settings parse back into amounts')

  const file = parseConfigText('provider:\n  enabled: true\n  bond: "5000"\n  pricePerGflop: 7\n  capacity: 3\n', 'c.yaml')
  t.true(file.provider?.enabled)
  t.is(file.provider?.bond, '5000')
  t.is(file.provider?.pricePerGflop, '7')
  t.is(file.provider?.capacity, 3)
  t.is(readEnv({ HARMONY_PROVIDER: '{"enabled":true,"minPrice":"9"}' }).provider?.minPrice, '9')
  t.is(readFlags({ provider: '{"capacity":5}' }).provider?.capacity, 5)
})

test('a bad provider block is refused with the key, where it came from and what is wrong', t => {
  const bad = t.throws(() => parseConfigText('provider:\n  enabled: yes please\n', 'c.yaml'), { instanceOf: ConfigError })
  t.is(bad.code, 'CONFIG_INVALID')
  t.regex(bad.message, /config file c.yaml: provider: [^]*expected boolean[^]*at enabled/)
  t.regex(t.throws(() => readEnv({ HARMONY_PROVIDER: '{enabled' }), { instanceOf: ConfigError }).message, /HARMONY_PROVIDER: 'provider' must be a provider mapping/)
  t.regex(t.throws(() => parseConfigText('provider:\n  bond: -3\n', 'c.yaml'), { instanceOf: ConfigError }).message, /bond/)
  t.regex(t.throws(() => parseConfigText('provider:\n  capcity: 3\n', 'c.yaml'), { instanceOf: ConfigError }).message, /capcity/)
  // capacity is bounded (a bid record per task held, and the heartbeat's u16), up to what a machine running many small tasks holds
  t.is(readFlags({ provider: `{"capacity":${MAX_CAPACITY}}` }).provider?.capacity, MAX_CAPACITY)
  t.regex(t.throws(() => readFlags({ provider: `{"capacity":${MAX_CAPACITY + 1}}` }), { instanceOf: ConfigError }).message, /capacity/)
  t.regex(t.throws(() => parseConfigText(`provider:\n  deny: ["${ADDRESS}"]\n`, 'c.yaml'), { instanceOf: ConfigError }).message, /hmy1/, 'a checksum typo in an address')
})

test('the rendered config file writes the provider block back as it reads it', t => {
  const provider = parseConfigText('provider:\n  enabled: true\n  bond: "340282366920938463463374607431768211455"\n', 'c.yaml').provider
  t.truthy(provider)
  const text = renderConfigFile({ provider })
  t.deepEqual(parseConfigText(text, 'rendered').provider, provider)
  // the commented default parses too
  t.notThrows(() => parseConfigText(renderConfigFile({}).replace(/^# provider:/m, 'provider:'), 'rendered'))
})
