/** Node settings given as flags (src/cli/config-flags.ts withConfigFlags) reach src/node/config.ts as the user typed them. */
import test from 'ava'
import yargs from 'yargs'
import { configFromArgs, withConfigFlags } from '../../src/cli/config-flags.ts'
import { ConfigError } from '../../src/core/errors.ts'
import { parseConfigText, readFlags } from '../../src/node/config.ts'
import { tempDir } from '../helpers/harmonyd.ts'

async function configOf (datadir: string, argv: string[]): Promise<Awaited<ReturnType<typeof configFromArgs>>['config']> {
  const args = await withConfigFlags(yargs(argv)).strict().parseAsync()
  return (await configFromArgs({ ...args, datadir })).config
}

test('number flags are read as typed: a value that is not one is refused quoting it', async (t) => {
  await using d = await tempDir()
  const config = await configOf(d.path, ['--p2p-port', '9401', '--rpc-port=0', '--latency-target-ms', '250'])
  t.is(config['p2p-port'], 9401)
  t.is(config['rpc-port'], 0)
  t.is(config['latency-target-ms'], 250)
  const cases: Array<[string[], string]> = [
    [['--p2p-port', 'abc'], 'flag --p2p-port: \'p2p-port\' must be an integer port from 0 to 65535, got "abc"'],
    [['--rpc-port', 'xyz'], 'flag --rpc-port: \'rpc-port\' must be an integer port from 0 to 65535, got "xyz"'],
    [['--latency-target-ms', '1e400'], 'flag --latency-target-ms: \'latency-target-ms\' must be a positive integer, got "1e400"'],
    [['--max-connections=-3'], 'flag --max-connections: \'max-connections\' must be a positive integer, got "-3"']
  ]
  for (const [argv, message] of cases) {
    await t.throwsAsync(configOf(d.path, argv), { instanceOf: ConfigError, message }, argv.join(' '))
  }
})

test('numbers JSON cannot spell are named, not shown as null', (t) => {
  t.throws(() => readFlags({ 'p2p-port': Number.NaN }), { instanceOf: ConfigError, message: /got NaN$/ })
  t.throws(() => parseConfigText('latency-target-ms: .inf\n', 'c.yaml'), { instanceOf: ConfigError, message: /got Infinity$/ })
})
