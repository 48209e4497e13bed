/**
 * The validators' input checker (src/market/input-checker.ts): one validator by turn (rotated by the task id) fetches
 * a claimed task's inputs and submits its verdict; the next in turn covers a silent one after the turn delay; a
 * validator never judges its own claim; a fetch that fails is `unavailable`.
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
import type { TaskRecord } from '../../src/market/state/records.ts'
import { matmulAnnounce } from '../helpers/market.ts'

registerMarketKinds()
const validators = [11, 12, 13].map(b => generateKeyPair(new Uint8Array(32).fill(b)))
const claimant = generateKeyPair(new Uint8Array(32).fill(20))
const claimantHex = toHex(addressBytesFromPublicKey(claimant.publicKey))
const TURN_MS = 10_000
const CLAIM_AT = 5_000_000
const TASK = 'ab'.repeat(32)

function task (over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId: TASK, requester: '01'.repeat(20), announceTx: '02'.repeat(32), announcedAtMs: CLAIM_AT - 10_000, announce: matmulAnnounce(),
    bids: new Map(), awards: [], ranking: [], losses: new Map(), assigned: [], results: new Map(), slashes: [], cancelRequested: false,
    inputClaims: [{ provider: claimantHex, round: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }],
    ...over
  }
}

/** The validators in rank order for TASK (rank 0 first), as the checker's turn reads them. */
function byRank (): Array<ReturnType<typeof generateKeyPair>> {
  const sorted = validators.map(k => toHex(k.publicKey)).sort()
  const rankOf = (k: { publicKey: Uint8Array }): number => turnRank(sorted.indexOf(toHex(k.publicKey)), BigInt(`0x${TASK.slice(0, 16)}`), validators.length)
  return [...validators].sort((a, b) => rankOf(a) - rankOf(b))
}

function checker (keys: { publicKey: Uint8Array, secretKey: Uint8Array }, record: () => TaskRecord, now: () => number, fetch: (id: string) => Promise<void>, fetchSealed: (provider: string) => Promise<void> = async () => {}): { checker: InputChecker, sent: Transaction[], fetched: string[] } {
  const sent: Transaction[] = []
  const fetched: string[] = []
  const c = new InputChecker({
    state: { onApplied: () => () => {}, openTaskIds: () => [TASK], taskRecord: async () => record() },
    ledger: { validatorKeys: () => validators.map(k => k.publicKey) },
    fetchInput: async (_taskId, id) => { fetched.push(id); await fetch(id) },
    fetchSealed: async (_taskId, provider) => { fetched.push(`sealed to ${provider}`); await fetchSealed(provider) },
    submit: async (tx) => { sent.push(tx); return txInfo(encodeTx(tx)).idHex },
    chainId: 'harmony-devnet',
    keys,
    logger: silentLogger(),
    now
  }, { turnDelayMs: TURN_MS, tickMs: 60_000 })
  return { checker: c, sent, fetched }
}

/** Lets the background check (fetch, then submit) finish. */
async function settle (): Promise<void> { for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve)) }

test('the validator in turn fetches every input and submits `available` at nonce 0 of the claim\'s verdict account; the next waits its turn', async (t) => {
  const [first, second] = byRank()
  let now = CLAIM_AT
  const a = checker(first, () => task(), () => now, async () => {})
  const b = checker(second, () => task(), () => now, async () => {})
  await a.checker.start()
  await b.checker.start()
  try {
    await a.checker.walk()
    await b.checker.walk()
    await settle()
    t.is(a.sent.length, 1, 'rank 0 acts at the claim')
    t.is(b.sent.length, 0, 'rank 1 waits its turn')
    t.deepEqual(a.fetched, matmulAnnounce().inputs.map(i => toHex(i)))
    const tx = a.sent[0]
    t.is(tx.kind, TX_KIND_INPUT_VERDICT)
    t.is(tx.nonce, 0n)
    t.is(tx.fee, 0n)
    const p = inputVerdictKind.decode(tx.payload)
    t.like(p, { round: 0, outcome: 'available' })
    t.is(toHex(p.provider), claimantHex)
    t.deepEqual(txInfo(encodeTx(tx)).account, inputVerdictAccount(p.taskId, p.provider, 0))
    // rank 1 covers a silent rank 0 once its turn comes
    now = CLAIM_AT + TURN_MS
    await b.checker.walk()
    await settle()
    t.is(b.sent.length, 1)
  } finally {
    await a.checker.stop()
    await b.checker.stop()
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
    record = task({ inputClaims: [{ provider: claimantHex, round: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT, verdict: { outcome: 'unavailable', validator: '04'.repeat(20), txId: '05'.repeat(32), timeMs: CLAIM_AT + 2 } }] })
    await a.checker.walk()
    await settle()
    t.is(a.sent.length, 1)
  } finally {
    await a.checker.stop()
  }
  const late = checker(first, () => task(), () => CLAIM_AT + 61_000, async () => {})
  await late.checker.start()
  await late.checker.walk()
  await settle()
  await late.checker.stop()
  t.is(late.sent.length, 0, 'past INPUT_VERDICT_WAIT_MS the late rule applies: no verdict is sent')
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
})

test('a validator never judges its own claim', async (t) => {
  const [first] = byRank()
  const own = task({ inputClaims: [{ provider: toHex(addressBytesFromPublicKey(first.publicKey)), round: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }] })
  const a = checker(first, () => own, () => CLAIM_AT + 3 * TURN_MS, async () => {})
  await a.checker.start()
  await a.checker.walk()
  await settle()
  await a.checker.stop()
  t.is(a.sent.length, 0)
  t.deepEqual(a.fetched, [])
})

test('a claimant that is a validator is left out of the turn: the first of the others acts at the claim, not a turn later', async (t) => {
  for (const claimer of validators) {
    const others = validators.filter(v => v !== claimer)
    const sorted = others.map(k => toHex(k.publicKey)).sort()
    const first = others.find(k => turnRank(sorted.indexOf(toHex(k.publicKey)), BigInt(`0x${TASK.slice(0, 16)}`), others.length) === 0)
    if (first === undefined) { t.fail('no rank 0'); return }
    const record = task({ inputClaims: [{ provider: toHex(addressBytesFromPublicKey(claimer.publicKey)), round: 0, txId: '03'.repeat(32), timeMs: CLAIM_AT }] })
    const runs = validators.map(v => checker(v, () => record, () => CLAIM_AT, async () => {}))
    for (const r of runs) { await r.checker.start(); await r.checker.walk() }
    await settle()
    for (const r of runs) await r.checker.stop()
    t.deepEqual(runs.map(r => r.sent.length), validators.map(v => (v === first ? 1 : 0)))
  }
})
