/**
 * The validators' input checker (src/market/input-checker.ts): each claim has one judge (rotated by the task id; the
 * next in turn for each appeal), which fetches the claimed task's inputs and submits its verdict within the judge
 * window; a validator never judges its own claim; a fetch that fails is `unavailable`; a lying judge (devnet fault
 * injection) answers `available` without fetching.
 */
import test from 'ava'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { turnRank } from '../../src/core/turn.ts'
import { type Transaction, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { inputVerdictAccount } from '../../src/market/accounts.ts'
import { InputChecker } from '../../src/market/input-checker.ts'
import { inputVerdictKind, registerMarketKinds, TX_KIND_INPUT_VERDICT } from '../../src/market/index.ts'
import { INPUT_JUDGE_WINDOW_MS } from '../../src/market/rules/constants.ts'
import type { TaskRecord } from '../../src/market/state/records.ts'
import { matmulAnnounce } from '../helpers/market.ts'

registerMarketKinds()
const validators = [11, 12, 13].map(b => generateKeyPair(new Uint8Array(32).fill(b)))
const claimant = generateKeyPair(new Uint8Array(32).fill(20))
const claimantHex = toHex(addressBytesFromPublicKey(claimant.publicKey))
const CLAIM_AT = 5_000_000
const TASK = 'ab'.repeat(32)

function task (over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId: TASK, requester: '01'.repeat(20), announceTx: '02'.repeat(32), announcedAtMs: CLAIM_AT - 10_000, announce: matmulAnnounce(),
    bids: new Map(), awards: [], ranking: [], losses: new Map(), assigned: [], results: new Map(), slashes: [], cancelRequested: false,
    inputClaims: [{ provider: claimantHex, round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }],
    ...over
  }
}

/** The validators in rank order for TASK (rank 0 first), as the checker's turn reads them. */
function byRank (): Array<ReturnType<typeof generateKeyPair>> {
  const sorted = validators.map(k => toHex(k.publicKey)).sort()
  const rankOf = (k: { publicKey: Uint8Array }): number => turnRank(sorted.indexOf(toHex(k.publicKey)), BigInt(`0x${TASK.slice(0, 16)}`), validators.length)
  return [...validators].sort((a, b) => rankOf(a) - rankOf(b))
}

function checker (keys: { publicKey: Uint8Array, secretKey: Uint8Array }, record: () => TaskRecord, now: () => number, fetch: (id: string) => Promise<void>, fetchSealed: (provider: string) => Promise<void> = async () => {}, lie = false): { checker: InputChecker, sent: Transaction[], fetched: string[] } {
  const sent: Transaction[] = []
  const fetched: string[] = []
  const c = new InputChecker({
    state: { onApplied: () => () => {}, openTaskIds: () => [TASK], taskRecord: async () => record() },
    ledger: { validatorKeys: () => validators.map(k => k.publicKey) },
    fetchInput: async (_taskId, id) => { fetched.push(id); await fetch(id) },
    fetchSealed: async (_taskId, provider, _signal, opens) => { fetched.push(`sealed to ${provider}${opens === undefined ? '' : ` opened with ${toHex(opens.keySeed)} to ${opens.ids.join(',')}`}`); await fetchSealed(provider) },
    submit: async (tx) => { sent.push(tx); return txInfo(encodeTx(tx)).idHex },
    chainId: 'harmony-devnet',
    keys,
    logger: silentLogger(),
    now,
    lie
  }, { tickMs: 60_000 })
  return { checker: c, sent, fetched }
}

/** Lets the background check (fetch, then submit) finish. */
async function settle (): Promise<void> { for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve)) }

test('the judge (rank 0) fetches every input and submits `available` at nonce 0 of its verdict account for the claim; the others never act on it', async (t) => {
  const [first, second, third] = byRank()
  let now = CLAIM_AT
  const runs = [first, second, third].map(k => checker(k, () => task(), () => now, async () => {}))
  for (const r of runs) await r.checker.start()
  try {
    for (const r of runs) await r.checker.walk()
    await settle()
    t.deepEqual(runs.map(r => r.sent.length), [1, 0, 0], 'rank 0 acts at the claim, alone')
    const [a] = runs
    t.deepEqual(a.fetched, matmulAnnounce().inputs.map(i => toHex(i)))
    const tx = a.sent[0]
    t.is(tx.kind, TX_KIND_INPUT_VERDICT)
    t.is(tx.nonce, 0n)
    t.is(tx.fee, 0n)
    const p = inputVerdictKind.decode(tx.payload)
    t.like(p, { round: 0, attempt: 0, outcome: 'available' })
    t.is(toHex(p.provider), claimantHex)
    t.deepEqual(txInfo(encodeTx(tx)).account, inputVerdictAccount(p.taskId, p.provider, 0, 0, addressBytesFromPublicKey(first.publicKey)))
    // no fallback inside a claim: a silent judge is covered by the claimant's appeal, not by the next in turn
    now = CLAIM_AT + 20_000
    for (const r of runs.slice(1)) await r.checker.walk()
    await settle()
    t.deepEqual(runs.map(r => r.sent.length), [1, 0, 0])
  } finally {
    for (const r of runs) await r.checker.stop()
  }
})

test('an appeal (claim 1, then claim 2) is judged by rank 1, then rank 2', async (t) => {
  const [first, second, third] = byRank()
  const claims = [
    { provider: claimantHex, round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT, verdict: { outcome: 'available' as const, validator: toHex(addressBytesFromPublicKey(first.publicKey)), txId: '04'.repeat(32), timeMs: CLAIM_AT + 100 } },
    { provider: claimantHex, round: 0, attempt: 1, txId: '05'.repeat(32), timeMs: CLAIM_AT + 5000 }
  ]
  let now = CLAIM_AT + 5000
  let record = task({ inputClaims: claims })
  const runs = [first, second, third].map(k => checker(k, () => record, () => now, async () => { throw new Error('no peer served it') }))
  for (const r of runs) { await r.checker.start(); await r.checker.walk() }
  await settle()
  t.deepEqual(runs.map(r => r.sent.length), [0, 1, 0], 'the appeal is rank 1\'s')
  t.like(inputVerdictKind.decode(runs[1].sent[0].payload), { attempt: 1, outcome: 'unavailable' })
  // the second appeal, rank 2's
  record = task({ inputClaims: [...claims.slice(0, 1), { ...claims[1], verdict: { outcome: 'available', validator: toHex(addressBytesFromPublicKey(second.publicKey)), txId: '06'.repeat(32), timeMs: CLAIM_AT + 6000 } }, { provider: claimantHex, round: 0, attempt: 2, txId: '07'.repeat(32), timeMs: CLAIM_AT + 9000 }] })
  now = CLAIM_AT + 9000
  for (const r of runs) await r.checker.walk()
  await settle()
  t.deepEqual(runs.map(r => r.sent.length), [0, 1, 1], 'rank 2 judges the second appeal')
  t.like(inputVerdictKind.decode(runs[2].sent[0].payload), { attempt: 2, outcome: 'unavailable' })
  for (const r of runs) await r.checker.stop()
})

test('a lying judge (fault injection) fetches and answers the opposite of what it found', async (t) => {
  const [first] = byRank()
  for (const [served, said] of [[false, 'available'], [true, 'unavailable']] as const) {
    const liar = checker(first, () => task(), () => CLAIM_AT, async () => { if (!served) throw new Error('no peer served it') }, async () => {}, true)
    await liar.checker.start()
    await liar.checker.walk()
    await settle()
    await liar.checker.stop()
    t.true(liar.fetched.length > 0, 'it fetched')
    t.is(liar.sent.length, 1)
    t.is(inputVerdictKind.decode(liar.sent[0].payload).outcome, said, served ? 'served: it says unavailable' : 'unserved: it says available')
  }
})

test('a fetch that fails is `unavailable`; an answered claim, and one held past the wait, are left alone', async (t) => {
  const [first] = byRank()
  let record = task()
  const a = checker(first, () => record, () => CLAIM_AT + 1, async (id) => { if (id === toHex(matmulAnnounce().inputs[1])) throw new Error('no peer served it') })
  await a.checker.start()
  try {
    await a.checker.walk()
    await settle()
    t.is(a.sent.length, 1)
    t.is(inputVerdictKind.decode(a.sent[0].payload).outcome, 'unavailable')
    // answered: nothing more, even after the resubmit time
    record = task({ inputClaims: [{ provider: claimantHex, round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT, verdict: { outcome: 'unavailable', validator: '04'.repeat(20), txId: '05'.repeat(32), timeMs: CLAIM_AT + 2 } }] })
    await a.checker.walk()
    await settle()
    t.is(a.sent.length, 1)
  } finally {
    await a.checker.stop()
  }
  const late = checker(first, () => task(), () => CLAIM_AT + INPUT_JUDGE_WINDOW_MS + 1, async () => {})
  await late.checker.start()
  await late.checker.walk()
  await settle()
  await late.checker.stop()
  t.is(late.sent.length, 0, 'past the judge window a verdict would be refused: none is sent')
})

test('a private task: the validator fetches the envelopes sealed to the claimant (not the announced inputs); none fetched is `unavailable`', async (t) => {
  const [first] = byRank()
  const sealed = (): TaskRecord => task({ announce: { ...matmulAnnounce(), private: true, requesterKemKey: new Uint8Array(1184).fill(3) } })
  const served = checker(first, sealed, () => CLAIM_AT, async () => { throw new Error('a private task\'s announced inputs are never fetched') })
  await served.checker.start()
  await served.checker.walk()
  await settle()
  await served.checker.stop()
  t.deepEqual(served.fetched, [`sealed to ${addressFromPublicKey(claimant.publicKey)}`])
  t.is(served.sent.length, 1)
  t.is(inputVerdictKind.decode(served.sent[0].payload).outcome, 'available')
  const withheld = checker(first, sealed, () => CLAIM_AT, async () => {}, async () => { throw new Error('no notice to the claimant came') })
  await withheld.checker.start()
  await withheld.checker.walk()
  await settle()
  await withheld.checker.stop()
  t.is(withheld.sent.length, 1)
  t.is(inputVerdictKind.decode(withheld.sent[0].payload).outcome, 'unavailable')
  // a claim that revealed the claimant's task key: the envelopes must open under it (the fetch is given the seed);
  // none that open is `unavailable`
  const seed = '5a'.repeat(64)
  const keyed = (): TaskRecord => ({ ...sealed(), inputClaims: [{ provider: claimantHex, round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT, keySeed: seed }] })
  const unopened = checker(first, keyed, () => CLAIM_AT, async () => {}, async () => { throw new Error('no notice\'s envelopes open') })
  await unopened.checker.start()
  await unopened.checker.walk()
  await settle()
  await unopened.checker.stop()
  t.deepEqual(unopened.fetched, [`sealed to ${addressFromPublicKey(claimant.publicKey)} opened with ${seed} to ${keyed().announce.inputs.map(i => toHex(i)).join(',')}`])
  t.is(inputVerdictKind.decode(unopened.sent[0].payload).outcome, 'unavailable')
})

test('a validator never judges its own claim', async (t) => {
  const [first] = byRank()
  const own = task({ inputClaims: [{ provider: toHex(addressBytesFromPublicKey(first.publicKey)), round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }] })
  const a = checker(first, () => own, () => CLAIM_AT + 1000, async () => {})
  await a.checker.start()
  await a.checker.walk()
  await settle()
  await a.checker.stop()
  t.is(a.sent.length, 0)
  t.deepEqual(a.fetched, [])
})

test('a claimant that is a validator is left out of the turn: the first of the others judges its claim', async (t) => {
  for (const claimer of validators) {
    const others = validators.filter(v => v !== claimer)
    const sorted = others.map(k => toHex(k.publicKey)).sort()
    const first = others.find(k => turnRank(sorted.indexOf(toHex(k.publicKey)), BigInt(`0x${TASK.slice(0, 16)}`), others.length) === 0)
    if (first === undefined) { t.fail('no rank 0'); return }
    const record = task({ inputClaims: [{ provider: toHex(addressBytesFromPublicKey(claimer.publicKey)), round: 0, attempt: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }] })
    const runs = validators.map(v => checker(v, () => record, () => CLAIM_AT, async () => {}))
    for (const r of runs) { await r.checker.start(); await r.checker.walk() }
    await settle()
    for (const r of runs) await r.checker.stop()
    t.deepEqual(runs.map(r => r.sent.length), validators.map(v => (v === first ? 1 : 0)))
  }
})
