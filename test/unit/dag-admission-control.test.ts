import test from 'ava'
import { AdmissionControl, type BusyReason } from '../../src/dag/admission-control.ts'
import { DagError } from '../../src/dag/errors.ts'

function fixture (init: ConstructorParameters<typeof AdmissionControl>[1] = {}): { ac: AdmissionControl, load: { pending: number, oldest: number | undefined, final: number }, refused: BusyReason[] } {
  const load = { pending: 0, oldest: undefined as number | undefined, final: 0 }
  const refused: BusyReason[] = []
  // each test sets the latency rule's target when it is about it: the other rules are tested alone
  const ac = new AdmissionControl({ pendingTxs: () => load.pending, oldestPendingMs: () => load.oldest, finalTxs: () => load.final }, { targetLatencyMs: Number.POSITIVE_INFINITY, ...init }, r => { refused.push(r) })
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

/** 1,000 tx/s finalized for a second (rate rule's bound then rate × (base + targetQueueMs)). */
function finalizeAt1000 (ac: AdmissionControl, load: { final: number }): void {
  for (let ms = 0; ms <= 1000; ms += 100) { load.final += 100; ac.view(ms) }
}

test('the latency rule cuts a client\'s bound while clients wait past the target, once per latency, and grows it back below it', t => {
  const { ac, load } = fixture({ minPendingTxs: 40, targetQueueMs: 1000, targetLatencyMs: 600, rateWindowMs: 5000 })
  finalizeAt1000(ac, load)
  // vertices final in 900 ms, transactions waited 100 ms for one: clients see ~1,000 ms
  for (let i = 0; i < 3; i++) ac.observeFinality(900, 1000)
  ac.observeQueueWait(100, 1000)
  load.pending = 400
  const cut = ac.view(1100)
  t.is(cut.latencyMs, 1000)
  t.true(cut.rateBoundTxs > 1000, `the rate rule's own bound is far above: ${cut.rateBoundTxs}`)
  t.is(cut.boundTxs, 240, 'what is pending × 600 / 1,000')
  load.pending = 240
  t.is(busy(() => { ac.check(1150) }).meta.boundTxs, 240)
  ac.check(1150, false) // the node's own transaction: the rate rule only
  // the same latency half a latency later is what the cut has not reached yet: no second cut
  t.is(ac.view(1400).boundTxs, 240)
  t.is(ac.view(1700).boundTxs, 144, 'cut again: 240 × 0.6')
  // the old figures leave the window; vertices now final in 300 ms, the bound in use: it grows
  for (let i = 0; i < 3; i++) ac.observeFinality(300, 2050)
  load.pending = 100
  t.is(ac.view(2100).boundTxs, 176, '+ 32')
  t.is(ac.view(2200).boundTxs, 176, 'not before 250 ms')
  t.is(ac.view(2400).boundTxs, 208)
  load.pending = 50 // under half the limit: not in use, no growth
  t.is(ac.view(2700).boundTxs, 208)
})

test('the latency rule never cuts below a quarter of the floor', t => {
  const { ac, load } = fixture({ minPendingTxs: 40, targetLatencyMs: 600, rateWindowMs: 5000 })
  finalizeAt1000(ac, load)
  load.pending = 30
  let ms = 1100
  for (let i = 0; i < 10; i++, ms += 1000) {
    for (let k = 0; k < 3; k++) ac.observeFinality(5000, ms)
    ac.view(ms)
  }
  t.is(ac.view(ms).boundTxs, 10)
})

test('a cold node: the oldest pending transaction\'s age cuts the bound before anything is final', t => {
  const { ac, load } = fixture({ minPendingTxs: 1000, targetLatencyMs: 600 })
  load.pending = 800
  load.oldest = 0
  t.is(ac.view(500).boundTxs, 1000, 'younger than the target: the floor')
  const v = ac.view(700)
  t.is(v.latencyMs, 700)
  t.is(v.boundTxs, Math.floor(800 * 600 / 700))
})

test('targetLatencyMs Infinity turns the latency rule off', t => {
  const { ac, load } = fixture({ minPendingTxs: 40, targetLatencyMs: Number.POSITIVE_INFINITY, rateWindowMs: 5000 })
  finalizeAt1000(ac, load)
  for (let i = 0; i < 3; i++) ac.observeFinality(5000, 1000)
  load.pending = 1000
  load.oldest = 0
  const v = ac.view(1100)
  t.is(v.latencyMs, 0)
  t.true(v.boundTxs > 1000)
  t.is(v.boundTxs, v.rateBoundTxs)
})
