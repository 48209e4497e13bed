// The award closes on the validators' final vertex times (src/dag/final-clock.ts) instead of always waiting out the
// wall-clock grace: once every validator is final past the reveal window, no reveal still to come is in time.
import test from 'ava'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { FinalClock } from '../../src/dag/final-clock.ts'
import { FINALIZING_WAIT_MS, nextStep } from '../../src/market/rules/plan.ts'
import { ProcessingIndex } from '../../src/dag/processing.ts'
import type { VertexInfo } from '../../src/dag/vertex.ts'
import { buildTransfer, encodeTx, txInfo, type TxInfo } from '../../src/dag/tx.ts'
import { TX_KIND_TRANSFER } from '../../src/dag/tx-kinds.ts'
import type { TaskRecord } from '../../src/market/state/records.ts'

test('the final clock is the earliest of the validators\' latest final vertex times, once every validator has one', (t) => {
  const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  const clock = new FinalClock([a.publicKey, b.publicKey, c.publicKey])
  t.is(clock.sealedThroughMs(), undefined)
  clock.observe(a.publicKey, 100n)
  clock.observe(b.publicKey, 300n)
  t.is(clock.sealedThroughMs(), undefined, 'c has no final vertex yet')
  clock.observe(c.publicKey, 200n)
  t.is(clock.sealedThroughMs(), 100n)
  clock.observe(a.publicKey, 50n) // an older vertex decided later does not move a validator back
  t.is(clock.sealedThroughMs(), 100n)
  clock.observe(a.publicKey, 400n)
  t.is(clock.sealedThroughMs(), 200n)
  clock.observe(generateKeyPair().publicKey, 1n) // not a validator: ignored
  t.is(clock.sealedThroughMs(), 200n)
})

/** A task announced at 1,000 (windows of 1,000 and 500 ms: the reveals close at 2,500) whose one bidder has not revealed (yet). */
function unrevealedTask (): TaskRecord {
  return {
    announcedAtMs: 1000,
    announce: { budget: 10n, redundancy: 1, verification: 'none', bidWindowMs: 1000, revealWindowMs: 500 },
    awards: [],
    bids: new Map([['p0', { provider: 'p0', commitTx: 'c0', commitTimeMs: 1500, commitment: '00' }]]),
    cancelRequested: false
  } as unknown as TaskRecord
}

test('the first award waits for the grace unless every validator is final past the reveal window', (t) => {
  const task = unrevealedTask()
  const closes = 2500
  const base = { lateGraceMs: 2000, verificationWindowMs: 0 }
  t.is(nextStep(task, { ...base, nowMs: closes + 100 }).kind, 'wait')
  t.is(nextStep(task, { ...base, nowMs: closes + 100, sealedThroughMs: closes }).kind, 'wait', 'a vertex stamped at the close may still hold an in-time reveal')
  t.is(nextStep(task, { ...base, nowMs: closes + 100, sealedThroughMs: closes + 1 }).kind, 'award')
  t.is(nextStep(task, { ...base, nowMs: closes + 2000 }).kind, 'award', 'the grace still closes it when a validator is silent')
})

test('past the bid window, an auction whose every in-time commit is revealed is decided without waiting for the reveal window', (t) => {
  const bidsClose = 2000
  const bid = (provider: string, revealed: boolean): [string, unknown] => [provider, { provider, commitTx: `c${provider}`, commitTimeMs: 1500, commitment: '00', ...(revealed ? { revealTx: `r${provider}`, revealTimeMs: 2100, price: 5n, matches: true, inTime: true } : {}) }]
  const task = (revealed: boolean[]): TaskRecord => ({
    announcedAtMs: 1000,
    announce: { budget: 10n, redundancy: 1, verification: 'none', bidWindowMs: 1000, revealWindowMs: 500 },
    awards: [],
    bids: new Map(revealed.map((r, i) => bid(`p${i}`, r))),
    cancelRequested: false
  }) as unknown as TaskRecord
  const base = { lateGraceMs: 2000, verificationWindowMs: 0, nowMs: bidsClose + 200 }
  t.is(nextStep(task([true, true]), { ...base, sealedThroughMs: bidsClose + 1 }).kind, 'award')
  t.is(nextStep(task([true, false]), { ...base, sealedThroughMs: bidsClose + 1 }).kind, 'wait', 'a committed bidder may still reveal')
  t.is(nextStep(task([true, true]), { ...base, sealedThroughMs: bidsClose }).kind, 'wait', 'a commit stamped at the close may still come')
  t.is(nextStep(task([true, true]), base).kind, 'wait', 'no final clock: the grace decides')
  t.is(nextStep(task([]), { ...base, sealedThroughMs: bidsClose + 1 }).kind, 'award', 'no commit can still come: the empty award (then the refund) is due')
})

test('the issuer\'s grace waits while a vertex stamped by the close is undecided here; a check\'s (no such reading) for the wall clock alone', (t) => {
  const task = unrevealedTask()
  const closes = 2500
  const base = { lateGraceMs: 2000, verificationWindowMs: 0, nowMs: closes + 5000 }
  t.is(nextStep(task, base).kind, 'award', 'a check: the grace is over')
  t.is(nextStep(task, { ...base, finalizing: { fromMs: closes } }).kind, 'wait', 'the issuer: a vertex with a reveal of this task stamped at the close is still undecided')
  t.is(nextStep(task, { ...base, finalizing: { fromMs: closes + 1 } }).kind, 'award', 'what is undecided was stamped after the close')
  t.is(nextStep(task, { ...base, finalizing: { fromMs: undefined } }).kind, 'award', 'nothing of this task undecided (a quiet network)')
  t.is(nextStep(task, { ...base, finalizing: { fromMs: closes - 500 }, sealedThroughMs: closes + 1 }).kind, 'award', 'every validator final past the close: nothing in time can come')
  t.is(nextStep(task, { ...base, nowMs: closes + 1000, finalizing: { fromMs: undefined } }).kind, 'wait', 'never before the wall-clock grace, which the checks read')
  t.is(nextStep(task, { ...base, nowMs: closes + 2000 + FINALIZING_WAIT_MS, finalizing: { fromMs: closes - 500 } }).kind, 'award', 'a vertex that never decides holds the task only so long')
})

test('the undecided transactions of some kinds come with their vertex\'s signed time, and leave with it', (t) => {
  const index = new ProcessingIndex()
  const key = generateKeyPair()
  let nonce = 0n
  const transfer = (): TxInfo => txInfo(encodeTx(buildTransfer({ chainId: 'harmony-test', ...key, to: new Uint8Array(20), amount: 1n, nonce: nonce++, fee: 1n })))
  // the index reads a vertex's id, signed time and transactions
  const vertex = (id: string, timestampMs: bigint, txs: number): VertexInfo => ({ idHex: id, vertex: { timestampMs }, txs: Array.from({ length: txs }, transfer) }) as unknown as VertexInfo
  const transfers = new Set([TX_KIND_TRANSFER])
  t.deepEqual(index.ofKinds(transfers), [])
  const early = vertex('a', 200n, 1)
  const late = vertex('b', 300n, 2)
  for (const v of [late, early]) index.add(v, 0)
  t.deepEqual(index.ofKinds(transfers).map(x => [x.tx.idHex, x.stampMs]), [...late.txs.map(x => [x.idHex, 300n]), [early.txs[0].idHex, 200n]])
  t.deepEqual(index.ofKinds(new Set([TX_KIND_TRANSFER + 1])), [], 'other kinds only')
  index.drop(late)
  t.deepEqual(index.ofKinds(transfers).map(x => x.stampMs), [200n])
})
