import test from 'ava'
import { AdmissionControl, type BusyReason } from '../../src/dag/admission-control.ts'
import { DagError } from '../../src/dag/errors.ts'

function fixture (init: ConstructorParameters<typeof AdmissionControl>[1] = {}): { ac: AdmissionControl, load: { pending: number, oldest: number | undefined, final: number }, refused: BusyReason[] } {
  const load = { pending: 0, oldest: undefined as number | undefined, final: 0 }
  const refused: BusyReason[] = []
  const ac = new AdmissionControl({ pendingTxs: () => load.pending, oldestPendingMs: () => load.oldest, finalTxs: () => load.final }, init, r => { refused.push(r) })
  return { ac, load, refused }
}

function busy (fn: () => void): DagError {
  try { fn() } catch (err) { if (err instanceof DagError) return err; throw err }
  throw new Error('expected BUSY')
}

test('the bound is the floor until a finalization rate is measured, then rate × target queue time', t => {
  const { ac, load, refused } = fixture({ minPendingTxs: 100, targetQueueMs: 500, rateWindowMs: 2000 })
  load.pending = 99
  ac.check(0)
  load.pending = 100
  const err = busy(() => { ac.check(50) })
  t.is(err.code, 'BUSY')
  t.is(err.meta.boundTxs, 100)
  t.true((err.meta.retryAfterMs as number) >= 50)
  t.deepEqual(refused, ['pending'])
  // 1,000 tx finalized per second for two seconds: bound 500
  for (let ms = 100; ms <= 2100; ms += 100) { load.final += 100; ac.view(ms) }
  t.is(Math.round(ac.finalRate(2100)), 1000)
  load.pending = 499
  ac.check(2100)
  load.pending = 600
  const over = busy(() => { ac.check(2150) })
  t.is(over.meta.boundTxs, 500)
  // 101 transactions over the bound at 1,000 tx/s: about 101 ms
  t.true(Math.abs((over.meta.retryAfterMs as number) - 101) <= 2, `retryAfterMs ${over.meta.retryAfterMs}`)
})

test('the rate is measured over the window only: a node that stopped finalizing falls back to the floor', t => {
  const { ac, load } = fixture({ minPendingTxs: 10, targetQueueMs: 1000, rateWindowMs: 1000 })
  for (let ms = 0; ms <= 1000; ms += 100) { load.final += 50; ac.view(ms) }
  t.is(ac.view(1000).boundTxs, 500)
  for (let ms = 1100; ms <= 3000; ms += 100) ac.view(ms)
  t.is(ac.view(3000).finalTxsPerSecond, 0)
  t.is(ac.view(3000).boundTxs, 10)
})

test('an old pending transaction refuses new ones (a stall), with its own metric label', t => {
  const { ac, load, refused } = fixture({ minPendingTxs: 1000, maxPendingAgeMs: 2000 })
  load.pending = 5
  load.oldest = 0
  ac.check(2000)
  const err = busy(() => { ac.check(2001) })
  t.regex(err.message, /oldest pending transaction has waited 2001 ms/)
  t.deepEqual(refused, ['age'])
  load.pending = 0
  load.oldest = undefined
  ac.check(5000)
})

test('the bound and the age limit sit on top of the node\'s own finality latency (shortest of the last 10 s)', t => {
  const { ac, load } = fixture({ minPendingTxs: 10, targetQueueMs: 500, maxPendingAgeMs: 1000, rateWindowMs: 1000 })
  for (let ms = 0; ms <= 1000; ms += 100) { load.final += 100; ac.view(ms) }
  t.is(ac.view(1000).boundTxs, 500, '1,000 tx/s × 500 ms while no latency is known')
  ac.observeFinality(2000, 1000)
  ac.observeFinality(800, 1000)
  t.is(ac.baseLatencyMs(1000), 800)
  t.is(ac.view(1000).boundTxs, 1300, '1,000 tx/s × (800 + 500) ms')
  load.pending = 5
  load.oldest = 0
  ac.check(1800) // 1,800 ms old: within 800 + 1,000
  t.throws(() => { ac.check(1900) }, { instanceOf: DagError, message: /oldest pending/ })
  // ten seconds later the old latency has left the window
  t.is(ac.baseLatencyMs(11_500), 0)
})

test('before anything is finalized a refusal\'s retryAfterMs comes from what is pending and the oldest one\'s age, not from 1 tx/s', t => {
  const { ac, load } = fixture({ minPendingTxs: 1000 })
  // 1,100 pending, the oldest admitted 1 s ago, nothing final yet: they drain at about 1,100 tx/s
  load.pending = 1100
  load.oldest = 0
  const err = busy(() => { ac.check(1000) })
  t.is(ac.view(1000).finalTxsPerSecond, 0)
  // 101 over the bound at ~1,100 tx/s: ~92 ms (counting 1 tx/s it was the 5 s maximum)
  t.true(Math.abs((err.meta.retryAfterMs as number) - 92) <= 2, `retryAfterMs ${err.meta.retryAfterMs}`)
  // a node that stopped finalizing: its oldest pending transaction ages, and the hint grows to the maximum
  const stalled = busy(() => { ac.check(60_000) })
  t.is(stalled.meta.retryAfterMs, 5000)
})
