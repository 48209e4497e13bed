/** Usage errors of the real `harmonyd` process: what it prints and its exit code (2: bad usage or configuration). */
import { truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { formatAddress } from '../../src/core/address.ts'
import { runHarmonyd, tempDir } from '../helpers/harmonyd.ts'

test('an unknown flag is named once', async (t) => {
  await using d = await tempDir()
  const run = await runHarmonyd(['start', '--datadir', d.path, '--bogus-flag', '1'])
  t.is(run.code, 2)
  t.is(run.stderr, 'error: Unknown argument: bogus-flag\nrun \'harmonyd --help\' for usage\n')
})

test('a node setting flag that is not a number is quoted as typed', async (t) => {
  await using d = await tempDir()
  const run = await runHarmonyd(['start', '--datadir', d.path, '--p2p-port', 'abc'])
  t.is(run.code, 2)
  t.is(run.stderr, 'harmonyd: flag --p2p-port: \'p2p-port\' must be an integer port from 0 to 65535, got "abc"\n')
})

test('task submit refuses an out-of-range flag by name before it opens the wallet', async (t) => {
  await using d = await tempDir()
  // no wallet and no node in this datadir: the refusal must come first
  const submit = ['task', 'submit', '--datadir', d.path, '--kernel', 'matmul', '--params', '{"m":1,"k":1,"n":1}', '--budget', '0.01']
  const redundancy = await runHarmonyd([...submit, '--redundancy', '9', '--verify', 'redundancy'])
  t.is(redundancy.code, 2, redundancy.stderr)
  t.regex(redundancy.stderr, /^harmonyd: --redundancy must be a whole number of providers, from 1 to 5, got 9\n$/)
  const k = await runHarmonyd([...submit, '--redundancy', '2', '-k', '3', '--verify', 'redundancy'])
  t.is(k.code, 2, k.stderr)
  t.regex(k.stderr, /^harmonyd: -k must be a whole number of agreeing results, from 1 to --redundancy \(2\), got 3\n$/)
  const window = await runHarmonyd([...submit, '--bid-window', '-5'])
  t.is(window.code, 2, window.stderr)
  t.regex(window.stderr, /^harmonyd: --bid-window must be a whole number of ms, from 1 to 600000, got -5\n$/)
  // an input over what task_submit takes (a sparse file: nothing is written) is refused by its path, unread
  const big = join(d.path, 'big.bin')
  await writeFile(big, '')
  await truncate(big, 1 << 30)
  const input = await runHarmonyd([...submit, '--inputs', big])
  t.is(input.code, 2, input.stderr)
  t.is(input.stderr, `harmonyd: --inputs: cannot read ${big}: it is larger than 524288 bytes, too large for what it should hold\n`)
})

test('wallet send and task submit and cancel refuse an amount or fee out of range by name before they open the wallet', async (t) => {
  await using d = await tempDir()
  // no wallet and no node in this datadir: the refusal must come first, as a usage error, not a stack trace
  const send = await runHarmonyd(['wallet', 'send', '--datadir', d.path, '--to', formatAddress(new Uint8Array(20).fill(1)), '--amount', '1', '--fee=-1'])
  t.is(send.code, 2, send.stderr)
  t.is(send.stderr, 'harmonyd: --fee must be a whole number of base units from 0 to 2^128-1, got -1\n')
  const cancel = await runHarmonyd(['task', 'cancel', `0x${'11'.repeat(32)}`, '--datadir', d.path, '--fee', '1e3'])
  t.is(cancel.code, 2, cancel.stderr)
  t.is(cancel.stderr, 'harmonyd: --fee must be a whole number of base units from 0 to 2^128-1, got 1e3\n')
  const budget = `${1n << 128n}wei`
  const submit = await runHarmonyd(['task', 'submit', '--datadir', d.path, '--kernel', 'matmul', '--params', '{"m":1,"k":1,"n":1}', '--budget', budget])
  t.is(submit.code, 2, submit.stderr)
  t.is(submit.stderr, `harmonyd: --budget must be AGC (e.g. 0.01) or base units (e.g. 10000wei) from 1 base unit to 2^120-1, got ${budget}\n`)
})
