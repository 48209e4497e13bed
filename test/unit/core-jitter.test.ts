/**
 * A retry backoff's jitter (src/core/jitter.ts): within [ms/2, ms), spread over that range, from the CSPRNG.
 */
import test from 'ava'
import { jittered } from '../../src/core/jitter.ts'

test('a jittered delay lies in [ms/2, ms) and spreads over both halves of that range', (t) => {
  const draws = Array.from({ length: 2000 }, () => jittered(1000))
  t.true(draws.every(d => d >= 500 && d < 1000), `out of range: ${draws.filter(d => d < 500 || d >= 1000).join(', ')}`)
  // 2,000 uniform draws: each half of the range holds far more than 100 of them (a constant factor would hold none)
  t.true(draws.filter(d => d < 750).length > 100)
  t.true(draws.filter(d => d >= 750).length > 100)
  t.is(jittered(0), 0)
})
