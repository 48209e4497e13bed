import test from 'ava'
import { AdmissionControl, type BusyReason } from '../../src/dag/admission-control.ts'
import { DagError } from '../../src/dag/errors.ts'

function fixture (init: ConstructorParameters<typeof AdmissionControl>[1] = {}): { ac: AdmissionControl, load: { pending: number, oldest: number | undefined, final: number, pendingIds: Set<string> }, refused: BusyReason[] } {
  const load = { pending: 0, oldest: undefined as number | undefined, final: 0, pendingIds: new Set<string>() }
  const refused: BusyReason[] = []
  // each test sets the latency rule's target when it is about it: the other rules are tested alone
  const ac = new AdmissionControl({ pendingTxs: () => load.pending, oldestPendingMs: () => load.oldest, finalTxs: () => load.final, isPending: id => load.pendingIds.has(id) }, { targetLatencyMs: Number.POSITIVE_INFINITY, ...init }, r => { refused.push(r) })
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

/** Ten clients' transactions admitted at `fromMs` and final at `toMs`. */
function clientsFinal (ac: AdmissionControl, tag: string, fromMs: number, toMs: number): void {
  for (let i = 0; i < 10; i++) ac.admitted(`${tag}${i}`, fromMs)
  for (let i = 0; i < 10; i++) ac.decided(`${tag}${i}`, true, toMs)
}

/** `n` clients' transactions admitted at `atMs` and still pending. */
function clientsPending (ac: AdmissionControl, load: { pendingIds: Set<string> }, tag: string, n: number, atMs: number): string[] {
  const ids = Array.from({ length: n }, (_, i) => `${tag}${i}`)
  for (const id of ids) { ac.admitted(id, atMs); load.pendingIds.add(id) }
  return ids
}

test('the latency rule limits the clients\' transactions pending here while they take longer than the target: cut once per half a latency, grown back below it', t => {
  const { ac, load, refused } = fixture({ minPendingTxs: 40, targetLatencyMs: 600 })
  clientsFinal(ac, 'a', 0, 1000) // 1,000 ms each
  const waiting = clientsPending(ac, load, 'p', 400, 1000)
  const cut = ac.view(1100)
  t.is(cut.latencyMs, 1000)
  t.is(cut.clientPendingTxs, 400)
  t.is(cut.clientLimitTxs, 240, 'what is pending × 600 / 1,000')
  const err = busy(() => { ac.check(1150) })
  t.is(err.code, 'BUSY')
  t.is(err.meta.retryAfterMs, 500)
  t.is(err.meta.rule, 'latency')
  t.is(err.meta.clientPendingTxs, 400)
  t.is(err.meta.clientLimitTxs, 240)
  t.deepEqual(refused, ['latency'])
  t.is(ac.view(1150).refusedTxs, 1)
  ac.check(1150, false) // the node's own transaction: the rate rule only (nothing else pending)
  // the same latency before half of it has passed is what the cut has not reached yet: no second cut
  t.is(ac.view(1400).clientLimitTxs, 240)
  t.is(ac.view(1700).clientLimitTxs, 144, 'cut again: 240 × 0.6')
  // those leave (rejected: no sample) and the first samples leave the window; clients' transactions now final in
  // 250 ms, the limit in use: it grows
  for (const id of waiting) { ac.decided(id, false, 1750); load.pendingIds.delete(id) }
  clientsFinal(ac, 'b', 1800, 2050)
  const more = clientsPending(ac, load, 'q', 100, 2050)
  t.is(ac.view(2100).clientLimitTxs, 176, '+ 32')
  t.is(ac.view(2200).clientLimitTxs, 176, 'not before 250 ms')
  t.is(ac.view(2400).clientLimitTxs, 208)
  for (const id of more.slice(40)) { ac.decided(id, false, 2500); load.pendingIds.delete(id) }
  t.is(ac.view(2650).clientLimitTxs, 208, '40 pending, under half the limit: not in use, no growth')
})

test('the latency rule never limits a node to fewer than 32 clients\' transactions', t => {
  const { ac, load } = fixture({ minPendingTxs: 40, targetLatencyMs: 600 })
  clientsPending(ac, load, 'stuck', 1, 0)
  let ms = 1100
  for (let i = 0; i < 5; i++, ms += 1000) ac.view(ms)
  t.is(ac.view(ms).clientLimitTxs, 32)
})

test('a cold node: the oldest pending client\'s transaction\'s age cuts the limit before anything is final, from half the target until the first cut', t => {
  const { ac, load } = fixture({ minPendingTxs: 1000, targetLatencyMs: 600 })
  clientsPending(ac, load, 'c', 800, 0)
  t.is(ac.view(300).clientLimitTxs, Number.POSITIVE_INFINITY, 'younger than half the target: no limit yet')
  const v = ac.view(400)
  t.is(v.latencyMs, 400)
  t.is(v.clientLimitTxs, Math.floor(800 * 0.9), 'cut by at most 0.9 while under the target itself')
  // once cut, the age counts from the whole target again
  const after = ac.view(550)
  t.is(after.latencyMs, 0)
  t.is(after.clientLimitTxs, 720)
  const again = ac.view(700)
  t.is(again.latencyMs, 700)
  t.is(again.clientLimitTxs, Math.floor(720 * 600 / 700))
})

test('a client\'s transaction that left without a decision (dropped from a full mempool) is forgotten, not aged', t => {
  const { ac, load } = fixture({ minPendingTxs: 1000, targetLatencyMs: 600 })
  ac.admitted('gone', 0)
  clientsPending(ac, load, 'here', 1, 4000)
  const v = ac.view(4250)
  t.is(v.latencyMs, 0, 'the oldest still pending is 250 ms old')
  t.is(v.clientPendingTxs, 1)
  t.is(v.clientLimitTxs, Number.POSITIVE_INFINITY)
})

test('targetLatencyMs Infinity turns the latency rule off', t => {
  const { ac, load } = fixture({ minPendingTxs: 40, targetLatencyMs: Number.POSITIVE_INFINITY })
  clientsFinal(ac, 'a', 0, 5000)
  clientsPending(ac, load, 'old', 100, 0)
  const v = ac.view(5100)
  t.is(v.latencyMs, 0)
  t.is(v.clientPendingTxs, 0)
  ac.check(5100)
})
