import test from 'ava'
import { agcFlag, budgetFlag, feeFlag } from '../../src/cli/amount-flags.ts'
import { ConfigError } from '../../src/core/errors.ts'

const U128_MAX = (1n << 128n) - 1n

test('amount flags within what a transaction carries are read as base units', (t) => {
  t.is(feeFlag('1000'), 1000n)
  t.is(feeFlag('0'), 0n)
  t.is(feeFlag(U128_MAX.toString()), U128_MAX)
  t.is(agcFlag('1.5'), 1_500_000_000_000_000_000n)
  t.is(agcFlag('0.000000000000000001'), 1n)
  t.is(budgetFlag('0.01'), 10_000_000_000_000_000n)
  t.is(budgetFlag('10000wei'), 10_000n)
  t.is(budgetFlag(`${(1n << 120n) - 1n}wei`), (1n << 120n) - 1n)
})

test('an amount flag out of range is refused naming the flag and its range, as a usage error', (t) => {
  const fee = (got: string, flag = '--fee'): string => `${flag} must be a whole number of base units from 0 to 2^128-1, got ${got}`
  const amount = (got: string): string => `--amount must be an amount of AGC above 0 with at most 18 decimals, e.g. 1.5, got ${got}`
  const budget = (got: string): string => `--budget must be AGC (e.g. 0.01) or base units (e.g. 10000wei) from 1 base unit to 2^120-1, got ${got}`
  const cases: Array<[() => bigint, string]> = [
    [() => feeFlag('-1'), fee('-1')],
    [() => feeFlag((U128_MAX + 1n).toString()), fee((U128_MAX + 1n).toString())],
    [() => feeFlag('1e3'), fee('1e3')],
    [() => feeFlag('', '--tip'), fee('', '--tip')],
    [() => agcFlag('0'), amount('0')],
    [() => agcFlag('-2'), amount('-2')],
    [() => agcFlag('1.0000000000000000001'), amount('1.0000000000000000001')],
    [() => budgetFlag('0wei'), budget('0wei')],
    [() => budgetFlag('-5wei'), budget('-5wei')],
    [() => budgetFlag('abcwei'), budget('abcwei')],
    [() => budgetFlag(`${1n << 120n}wei`), budget(`${1n << 120n}wei`)],
    [() => budgetFlag(`${1n << 128n}wei`), budget(`${1n << 128n}wei`)]
  ]
  for (const [read, message] of cases) {
    const err = t.throws(read, { instanceOf: ConfigError, message })
    t.is(err?.code, 'CONFIG_INVALID')
  }
})
