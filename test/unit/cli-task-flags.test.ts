import test from 'ava'
import { checkAnnounceFlags, type AnnounceFlags } from '../../src/cli/task-flags.ts'
import { ConfigError } from '../../src/core/errors.ts'
import { MAX_DEADLINE_MS, MAX_REDUNDANCY, MAX_WINDOW_MS } from '../../src/market/kinds/index.ts'

// the defaults of `harmonyd task submit`
const DEFAULTS: AnnounceFlags = { redundancy: 1, verify: 'none', 'bid-window': 2000, 'reveal-window': 1000, deadline: 30_000, 'output-limit': 1 << 20, 'min-gflops': 0 }

test('task submit flags within the task-announce bounds pass', (t) => {
  t.true(checkAnnounceFlags(DEFAULTS))
  t.true(checkAnnounceFlags({ ...DEFAULTS, redundancy: MAX_REDUNDANCY, verify: 'redundancy' }))
  t.true(checkAnnounceFlags({ ...DEFAULTS, redundancy: 3, k: 2, verify: 'redundancy' }))
  t.true(checkAnnounceFlags({ ...DEFAULTS, redundancy: 2, verify: 'spot-check' }))
  t.true(checkAnnounceFlags({ ...DEFAULTS, 'bid-window': MAX_WINDOW_MS, 'reveal-window': 1, deadline: MAX_DEADLINE_MS, 'min-gflops': 2.5 }))
})

test('a task submit flag out of range is refused naming the flag and its range, as a usage error', (t) => {
  const cases: Array<[Partial<AnnounceFlags>, string]> = [
    [{ redundancy: MAX_REDUNDANCY + 4, verify: 'redundancy' }, `--redundancy must be a whole number of providers, from 1 to ${MAX_REDUNDANCY}, got ${MAX_REDUNDANCY + 4}`],
    [{ redundancy: 0 }, `--redundancy must be a whole number of providers, from 1 to ${MAX_REDUNDANCY}, got 0`],
    [{ redundancy: 2, k: 3, verify: 'redundancy' }, '-k must be a whole number of agreeing results, from 1 to --redundancy (2), got 3'],
    [{ redundancy: 2 }, '--verify none runs one replica, so --redundancy and -k must be 1, got 2 and 1; for more replicas use --verify redundancy or --verify spot-check'],
    [{ redundancy: 2, k: 1, verify: 'redundancy' }, '--verify redundancy needs --redundancy and -k of at least 2, got 2 and 1'],
    [{ redundancy: 3, k: 2, verify: 'spot-check' }, '--verify spot-check takes -k 1 (the checker agrees with each winner), got 2'],
    [{ 'bid-window': -5 }, `--bid-window must be a whole number of ms, from 1 to ${MAX_WINDOW_MS}, got -5`],
    [{ 'reveal-window': MAX_WINDOW_MS + 1 }, `--reveal-window must be a whole number of ms, from 1 to ${MAX_WINDOW_MS}, got ${MAX_WINDOW_MS + 1}`],
    [{ deadline: 0.5 }, `--deadline must be a whole number of ms, from 1 to ${MAX_DEADLINE_MS}, got 0.5`],
    [{ 'output-limit': 0 }, '--output-limit must be a whole number of bytes, from 1 to 4294967295, got 0'],
    [{ 'min-gflops': Number.NaN }, '--min-gflops must be a number of GFLOP/s from 0 to 4294967, got NaN']
  ]
  for (const [flags, message] of cases) {
    const err = t.throws(() => checkAnnounceFlags({ ...DEFAULTS, ...flags }), { instanceOf: ConfigError, message }, JSON.stringify(flags))
    t.is(err?.code, 'CONFIG_INVALID')
  }
})
