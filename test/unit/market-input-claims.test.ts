/**
 * Input claims (docs/market.md "Inputs no peer serves"): the rules of `input-claim` and `input-verdict` as the market
 * state applies them, and what the plan does with them (no late slash and a refund after `unavailable`, one extension
 * after `available`, a bounded hold while no verdict comes), on a ledger model that applies effects as the DAG does,
 * so money is conserved through every path.
 */
import test from 'ava'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, sha256 } from '../../src/core/crypto.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { VertexAdmission, type VertexAdmissionComponents } from '../../src/dag/admission.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import { requireTxKind } from '../../src/dag/tx-kinds.ts'
import {
  bidCommitment, bondAccount, escrowAccount, escrowOf, inputClaimKind, inputVerdictKind, marketRules, registerMarketKinds, taskIdOf,
  TX_KIND_INPUT_CLAIM, TX_KIND_INPUT_VERDICT, type InputVerdict, type TaskAnnouncePayload
} from '../../src/market/index.ts'
import { inputVerdictAccount } from '../../src/market/accounts.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { type ApplyOutcome, applyMarketTx } from '../../src/market/state/apply.ts'
import { type TaskRecord, taskView } from '../../src/market/state/records.ts'
import { cpuProvider, matmulAnnounce } from '../helpers/market.ts'
import { LedgerModel, MemoryMarket, unsignedTx } from '../helpers/market-model.ts'

registerMarketKinds()
const { INPUT_JUDGE_WINDOW_MS, INPUT_VERDICT_WAIT_MS, MAX_INPUT_CLAIMS, MIN_BOND, SLASH_LATE_BPS, isInputJudge, nextStep, slashAmount, slashBeneficiary } = marketRules
const validator = generateKeyPair(new Uint8Array(32).fill(9))
const requesterKeys = generateKeyPair(new Uint8Array(32).fill(1))
const providerKeys = [2, 3, 4].map(b => generateKeyPair(new Uint8Array(32).fill(b)))
const FEE = 1000n
const GRACE = 500
const clockAt = (nowMs: number): { nowMs: number, lateGraceMs: number, verificationWindowMs: number } => ({ nowMs, lateGraceMs: GRACE, verificationWindowMs: 0 })

const tx = unsignedTx
/** The seed of provider i's key for a private task (blobs/seal.ts `taskKeySeed` in a node). */
const keySeed = (i: number): Uint8Array => new Uint8Array(64).fill(10 + i)

/**
 * A task awarded to the cheapest of three registered providers (r winners; the others are left in the ranking for
 * replacements), with the ledger model and the market state beside it.
 */
async function awardedTask (over: Partial<TaskAnnouncePayload> = {}): Promise<{
  ledger: LedgerModel
  market: MemoryMarket
  supply: bigint
  taskId: Uint8Array
  taskHex: string
  announce: TaskAnnouncePayload
  providers: Array<{ keys: ReturnType<typeof generateKeyPair>, address: Uint8Array, hex: string }>
  awardAtMs: number
  /** applies a transaction at market time `atMs` through the ledger model and the market state */
  send: (x: Transaction, atMs: number) => Promise<ApplyOutcome>
  /** the provider's signed transaction with its next nonce */
  by: (p: { keys: ReturnType<typeof generateKeyPair>, address: Uint8Array }, kind: number, payload: unknown) => Transaction
  task: () => TaskRecord
}> {
  const ledger = new LedgerModel()
  const market = new MemoryMarket()
  market.validators = [validator.publicKey]
  const requester = addressBytesFromPublicKey(requesterKeys.publicKey)
  ledger.balances.set(toHex(requester), 10n ** 12n)
  const providers = providerKeys.map(keys => ({ keys, address: addressBytesFromPublicKey(keys.publicKey), hex: toHex(addressBytesFromPublicKey(keys.publicKey)) }))
  for (const p of providers) ledger.balances.set(p.hex, 10n * MIN_BOND)
  const supply = ledger.total()
  const send = async (x: Transaction, atMs: number): Promise<ApplyOutcome> => {
    if (!ledger.apply(x)) throw new Error(`the ledger model refused kind ${x.kind}`)
    return await applyMarketTx(market, txInfo(encodeTx(x)), { txId: toHex(sha256(encodeTx(x))), timeMs: atMs })
  }
  const by = (p: { keys: ReturnType<typeof generateKeyPair>, address: Uint8Array }, kind: number, payload: unknown): Transaction => tx(kind, p.keys, ledger.nonce(p.address), FEE, payload)
  for (const p of providers) await send(by(p, 32, cpuProvider(3n * MIN_BOND)), 0)
  const announce = matmulAnnounce({ budget: 10_000n, executionDeadlineMs: 10_000, ...over })
  const taskId = taskIdOf(requester, 0n)
  const taskHex = toHex(taskId)
  const start = 1_000_000
  await send(tx(34, requesterKeys, 0n, FEE, announce), start)
  const salt = (i: number): Uint8Array => sha256(new Uint8Array([i]))
  const price = (i: number): bigint => 100n * BigInt(i + 1)
  for (const [i, p] of providers.entries()) await send(by(p, 35, { taskId, commitment: bidCommitment(taskId, p.address, price(i), salt(i)) }), start + 10)
  // a private task's bid reveals the provider's key for the task (its seed: keySeed(i))
  const taskKey = (i: number): object => announce.private ? { taskKey: generateKemKeyPair(keySeed(i)).publicKey } : {}
  for (const [i, p] of providers.entries()) await send(by(p, 36, { taskId, price: price(i), salt: salt(i), ...taskKey(i) }), start + announce.bidWindowMs + 10)
  const awardAtMs = start + announce.bidWindowMs + announce.revealWindowMs + 100
  const step = nextStep(market.tasks.get(taskHex) as TaskRecord, clockAt(awardAtMs + GRACE))
  if (step.kind !== 'award') throw new Error(`expected the award, got ${step.kind}`)
  const r = announce.redundancy
  await send(tx(37, validator, ledger.nonce(escrowAccount(taskId)), 0n, { taskId, round: 0, considered: step.considered.map(id => fromHex(id)), winners: providers.slice(0, r).map(p => p.address) }), awardAtMs)
  return { ledger, market, supply, taskId, taskHex, announce, providers, awardAtMs, send, by, task: () => market.tasks.get(taskHex) as TaskRecord }
}

/** `by`'s verdict (the only validator of awardedTask's network, unless named) on `provider`'s claim `attempt` of round `round`. */
function verdict (taskId: Uint8Array, provider: Uint8Array, round: number, outcome: InputVerdict, attempt = 0, by = validator): Transaction {
  return tx(TX_KIND_INPUT_VERDICT, by, 0n, 0n, { taskId, round, provider, attempt, outcome })
}

/** Issues what the plan says at `nowMs` (the slashes, the replacement, the settle) until it is done or must wait. */
async function settleAll (f: Awaited<ReturnType<typeof awardedTask>>, nowMs: number): Promise<void> {
  const requester = addressBytesFromPublicKey(requesterKeys.publicKey)
  for (let i = 0; i < 10; i++) {
    const step = nextStep(f.task(), clockAt(nowMs))
    if (step.kind === 'done' || step.kind === 'wait') return
    const escrow = escrowAccount(f.taskId)
    if (step.kind === 'settle') {
      const d = step.decision
      await f.send(tx(39, validator, f.ledger.nonce(escrow), 0n, { taskId: f.taskId, outcome: d.outcome, payouts: d.payouts.map(p => ({ provider: fromHex(p.provider), amount: p.amount })), fee: d.fee, refund: d.refund, requester }), nowMs)
    } else if (step.kind === 'slash-late') {
      for (const p of step.providers) {
        const amount = slashAmount(f.market.providers.get(p)?.bond ?? 0n, 'late')
        await f.send(tx(40, validator, f.ledger.nonce(bondAccount(fromHex(p))), 0n, { provider: fromHex(p), taskId: f.taskId, reason: 'late', amount, beneficiary: slashBeneficiary('late', requester) }), nowMs)
      }
    } else if (step.kind === 'replace') {
      await f.send(tx(37, validator, f.ledger.nonce(escrow), 0n, { taskId: f.taskId, round: step.round, considered: [], winners: step.winners.map(w => fromHex(w)) }), nowMs)
    } else {
      throw new Error(`unexpected step ${step.kind}`)
    }
  }
}

test('a claim is valid only from an assigned provider of that round, before its deadline, once, on a public or a private task', async (t) => {
  const f = await awardedTask()
  const [winner, loser] = f.providers
  const deadline = f.awardAtMs + f.announce.executionDeadlineMs
  // a provider that holds no award of the round
  t.like(await f.send(f.by(loser, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), f.awardAtMs + 100), { status: 'refused', code: 'CLAIM_NOT_AWARDED' })
  // a round not awarded (yet): parked, refused CLAIM_NOT_AWARDED if it never is
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 1, attempt: 0 }), f.awardAtMs + 100), { status: 'parked', code: 'CLAIM_NOT_AWARDED' })
  // an unknown task: parked (its announce may not be applied here yet), refused once it stays unknown
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: new Uint8Array(32).fill(5), round: 0, attempt: 0 }), f.awardAtMs + 100), { status: 'parked' })
  // after the deadline
  const late = await awardedTask()
  t.like(await late.send(late.by(late.providers[0], TX_KIND_INPUT_CLAIM, { taskId: late.taskId, round: 0, attempt: 0 }), deadline + 1), { status: 'refused', code: 'CLAIM_LATE' })
  t.is(late.task().inputClaims, undefined, 'nothing stored for a refused claim')
  // in time: stored; a second one of the same provider and round is a duplicate
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), deadline), { status: 'applied' })
  t.like(f.task().inputClaims, [{ provider: winner.hex, round: 0, timeMs: deadline }])
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), deadline), { status: 'refused', code: 'CLAIM_DUPLICATE' })
  t.is(f.task().inputClaims?.length, 1)
  // a provider that answered cannot claim afterwards
  const answered = await awardedTask()
  await answered.send(answered.by(answered.providers[0], 38, { taskId: answered.taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' }), answered.awardAtMs + 10)
  t.like(await answered.send(answered.by(answered.providers[0], TX_KIND_INPUT_CLAIM, { taskId: answered.taskId, round: 0, attempt: 0 }), answered.awardAtMs + 20), { status: 'refused', code: 'CLAIM_LATE' })
  // a private task: claimed like a public one (a validator checks the envelopes sealed to the winner)
  const sealed = await awardedTask({ private: true, requesterKemKey: new Uint8Array(1184).fill(3) })
  t.like(await sealed.send(sealed.by(sealed.providers[0], TX_KIND_INPUT_CLAIM, { taskId: sealed.taskId, round: 0, attempt: 0 }), sealed.awardAtMs + 10), { status: 'applied' })
  t.like(sealed.task().inputClaims, [{ provider: sealed.providers[0].hex, round: 0, timeMs: sealed.awardAtMs + 10 }])
  // a refused claim moves nothing but its fee (a provider transaction like a result)
  t.is(f.ledger.total(), f.supply)
})

test('a private task\'s bids reveal a task key, a public task\'s none; a claim\'s key seed must give the key its bid revealed', async (t) => {
  const sealed = await awardedTask({ private: true, requesterKemKey: new Uint8Array(1184).fill(3) })
  const [winner] = sealed.providers
  t.is(sealed.task().bids.get(winner.hex)?.taskKey, toHex(generateKemKeyPair(keySeed(0)).publicKey), 'the key is on the bid (the requester seals to it)')
  // a reveal without the key on a private task, or with one on a public task: refused, nothing stored
  const keyless = await awardedTask({ private: true, requesterKemKey: new Uint8Array(1184).fill(3) })
  const otherKeys = generateKeyPair(new Uint8Array(32).fill(7))
  const other = { keys: otherKeys, address: addressBytesFromPublicKey(otherKeys.publicKey) }
  keyless.ledger.balances.set(toHex(other.address), 10n * MIN_BOND)
  const taskId2 = taskIdOf(addressBytesFromPublicKey(requesterKeys.publicKey), 1n)
  await keyless.send(tx(34, requesterKeys, 1n, FEE, matmulAnnounce({ budget: 10_000n, private: true, requesterKemKey: new Uint8Array(1184).fill(3) })), 2_000_000)
  const salt = sha256(new Uint8Array([9]))
  await keyless.send(keyless.by(other, 35, { taskId: taskId2, commitment: bidCommitment(taskId2, other.address, 100n, salt) }), 2_000_010)
  const revealAt = 2_000_000 + keyless.announce.bidWindowMs + 10
  t.like(await keyless.send(keyless.by(other, 36, { taskId: taskId2, price: 100n, salt }), revealAt), { status: 'refused', code: 'REVEAL_KEY_INVALID' })
  t.is(keyless.market.tasks.get(toHex(taskId2))?.bids.get(toHex(other.address))?.revealTx, undefined, 'nothing stored: the provider may reveal again in the window')
  t.like(await keyless.send(keyless.by(other, 36, { taskId: taskId2, price: 100n, salt, taskKey: generateKemKeyPair(keySeed(7)).publicKey }), revealAt), { status: 'applied' })
  const plain = await awardedTask()
  plain.ledger.balances.set(toHex(other.address), 10n * MIN_BOND)
  await plain.send(tx(34, requesterKeys, 1n, FEE, matmulAnnounce({ budget: 10_000n })), 2_000_000)
  await plain.send(plain.by(other, 35, { taskId: taskId2, commitment: bidCommitment(taskId2, other.address, 100n, salt) }), 2_000_010)
  t.like(await plain.send(plain.by(other, 36, { taskId: taskId2, price: 100n, salt, taskKey: generateKemKeyPair(keySeed(7)).publicKey }), revealAt), { status: 'refused', code: 'REVEAL_KEY_INVALID' })
  // a claim with another provider's seed, or with a seed on a public task: refused, nothing stored
  const claim = (f: typeof sealed, seed?: Uint8Array): Transaction => f.by(f.providers[0], TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0, ...(seed === undefined ? {} : { keySeed: seed }) })
  t.like(await sealed.send(claim(sealed, keySeed(1)), sealed.awardAtMs + 10), { status: 'refused', code: 'CLAIM_KEY_INVALID' })
  const pub = await awardedTask()
  t.like(await pub.send(claim(pub, keySeed(0)), pub.awardAtMs + 10), { status: 'refused', code: 'CLAIM_KEY_INVALID' })
  t.is(sealed.task().inputClaims, undefined)
  // its own seed: stored on the claim, and the view says the key was revealed
  t.like(await sealed.send(claim(sealed, keySeed(0)), sealed.awardAtMs + 10), { status: 'applied' })
  t.like(sealed.task().inputClaims, [{ provider: winner.hex, attempt: 0, keySeed: toHex(keySeed(0)) }])
  t.like(taskView(sealed.task(), sealed.awardAtMs + 10).inputClaims, [{ attempt: 0, keyRevealed: true }])
  t.is(sealed.ledger.total(), sealed.supply)
})

test('a verdict answers a stored claim only: none for a provider without an award, parked while its claim is not applied; only a validator signs one', async (t) => {
  const f = await awardedTask()
  const [winner, loser] = f.providers
  t.like(await f.send(verdict(f.taskId, loser.address, 0, 'unavailable'), f.awardAtMs + 100), { status: 'refused', code: 'VERDICT_NO_CLAIM' })
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable'), f.awardAtMs + 100), { status: 'parked', code: 'VERDICT_NO_CLAIM' })
  t.like(await f.send(verdict(new Uint8Array(32).fill(6), winner.address, 0, 'unavailable'), f.awardAtMs + 100), { status: 'parked', code: 'VERDICT_NO_CLAIM' })
  t.is(f.task().inputClaims, undefined, 'nothing stored')
  // once the claim applies, the parked verdict applies (the market state retries it after its task's next entry)
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), f.awardAtMs + 50)
  const again = await applyMarketTx(f.market, txInfo(encodeTx(verdict(f.taskId, winner.address, 0, 'unavailable'))), { txId: 'ab'.repeat(32), timeMs: f.awardAtMs + 100 })
  t.like(again, { status: 'applied' })
  t.like(f.task().inputClaims, [{ provider: winner.hex, verdict: { outcome: 'unavailable', validator: toHex(addressBytesFromPublicKey(validator.publicKey)), timeMs: f.awardAtMs + 100 } }])
  // one verdict per claim: the ledger lets one transaction per (verdict account, nonce 0) be final, and only the
  // claim's judge has one; a second one reaching the market state anyway is refused
  t.like(await applyMarketTx(f.market, txInfo(encodeTx(verdict(f.taskId, winner.address, 0, 'available'))), { txId: 'cd'.repeat(32), timeMs: f.awardAtMs + 200 }), { status: 'refused', code: 'DECISION_INVALID' })
  t.is(f.task().inputClaims?.[0].verdict?.outcome, 'unavailable')
  // the verdict's slot: its own account with nonce 0, fee 0; the ledger admits it from a genesis validator only
  const kind = requireTxKind(TX_KIND_INPUT_VERDICT)
  t.deepEqual(kind.account?.(inputVerdictKind.decode(verdict(f.taskId, winner.address, 0, 'available').payload), { publicKey: validator.publicKey }), inputVerdictAccount(f.taskId, winner.address, 0, 0, addressBytesFromPublicKey(validator.publicKey)))
  t.throws(() => kind.validate?.(inputVerdictKind.decode(verdict(f.taskId, winner.address, 0, 'available').payload), { ...verdict(f.taskId, winner.address, 0, 'available'), nonce: 1n }), { message: /nonce 0/ })
  const admission = new VertexAdmission({ genesis: { validators: [{ publicKey: validator.publicKey }], minFee: FEE } } as unknown as VertexAdmissionComponents)
  t.notThrows(() => { admission.checkKindRules(kind, { fee: 0n, publicKey: validator.publicKey }) })
  const err = t.throws(() => { admission.checkKindRules(kind, { fee: 0n, publicKey: winner.keys.publicKey }) })
  t.true(isDagError(err))
  t.is((err as { code?: string }).code, 'AUTHOR_UNKNOWN')
})

test('unavailable: the claimant is not slashed, nobody replaces it, the task is refunded whole; money is conserved', async (t) => {
  const f = await awardedTask()
  const [winner] = f.providers
  const deadline = f.awardAtMs + f.announce.executionDeadlineMs
  const claimAt = f.awardAtMs + 1000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  // no verdict yet: past the deadline and its grace the late slash waits for one, until claim + INPUT_VERDICT_WAIT_MS
  t.is(nextStep(f.task(), clockAt(deadline + GRACE + 1)).kind, 'wait')
  t.like(nextStep(f.task(), clockAt(deadline + GRACE + 1)), { untilMs: claimAt + INPUT_VERDICT_WAIT_MS + GRACE })
  t.like(taskView(f.task(), deadline).inputClaims, [{ holdsSlashUntilMs: claimAt + INPUT_VERDICT_WAIT_MS, dueAtMs: deadline }])
  await f.send(verdict(f.taskId, winner.address, 0, 'unavailable'), claimAt + 3000)
  const step = nextStep(f.task(), clockAt(claimAt + 3000))
  t.like(step, { kind: 'settle', decision: { outcome: 'inputs-unavailable', payouts: [], fee: 0n, refund: escrowOf(f.announce) } })
  const bondBefore = f.ledger.balance(bondAccount(winner.address))
  const requesterBefore = f.ledger.balance(addressBytesFromPublicKey(requesterKeys.publicKey))
  await settleAll(f, claimAt + 3000)
  const end = f.task()
  t.is(end.settlement?.outcome, 'inputs-unavailable')
  t.deepEqual(end.slashes, [], 'nobody slashed')
  t.is(end.awards.length, 1, 'no replacement round: nobody else could fetch the inputs either')
  t.is(f.ledger.balance(bondAccount(winner.address)), bondBefore)
  t.is(f.ledger.balance(escrowAccount(f.taskId)), 0n)
  t.is(f.ledger.balance(addressBytesFromPublicKey(requesterKeys.publicKey)), requesterBefore + escrowOf(f.announce), 'the whole escrow back to the requester')
  t.is(taskView(end, claimAt + 3000).phase, 'refunded')
  t.is(f.ledger.total(), f.supply)
  t.is(nextStep(end, clockAt(claimAt + 4000)).kind, 'done')
})

test('available: the deadline is extended once from the verdict; a result by then is paid, past it the late slash applies as before', async (t) => {
  const deadlineMs = 10_000
  // the claimant answers after the old deadline and before the new one: in time, whichever of result and verdict this node applies first
  for (const order of ['verdict-first', 'result-first'] as const) {
    const f = await awardedTask()
    const [winner] = f.providers
    const claimAt = f.awardAtMs + 1000
    const verdictAt = f.awardAtMs + deadlineMs - 100
    await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
    const result = f.by(winner, 38, { taskId: f.taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' })
    const resultAt = f.awardAtMs + deadlineMs + 5000
    if (order === 'verdict-first') {
      await f.send(verdict(f.taskId, winner.address, 0, 'available'), verdictAt)
      t.like(taskView(f.task(), verdictAt).inputClaims, [{ dueAtMs: verdictAt + deadlineMs }])
      t.is(nextStep(f.task(), clockAt(f.awardAtMs + deadlineMs + GRACE + 1)).kind, 'wait', 'not late at the old deadline')
      await f.send(result, resultAt)
    } else {
      await f.send(result, resultAt)
      t.false(f.task().results.get(winner.hex)?.inTime, 'late by the old deadline until the verdict applies')
      await f.send(verdict(f.taskId, winner.address, 0, 'available'), verdictAt)
    }
    t.true(f.task().results.get(winner.hex)?.inTime, order)
    await settleAll(f, resultAt + 10)
    t.is(f.task().settlement?.outcome, 'paid', order)
    t.deepEqual(f.task().slashes, [])
    t.is(f.ledger.total(), f.supply)
  }
  // a claimant that still does not answer is slashed late once the extended deadline (and the grace) passed
  const f = await awardedTask()
  const [winner, second] = f.providers
  const verdictAt = f.awardAtMs + 2000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), f.awardAtMs + 1000)
  await f.send(verdict(f.taskId, winner.address, 0, 'available'), verdictAt)
  const due = verdictAt + deadlineMs
  t.is(nextStep(f.task(), clockAt(due + GRACE - 1)).kind, 'wait')
  t.like(nextStep(f.task(), clockAt(due + GRACE)), { kind: 'slash-late', providers: [winner.hex] })
  // its result after the extended deadline is late
  const lateResult = f.by(winner, 38, { taskId: f.taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' })
  await f.send(lateResult, due + 1)
  t.false(f.task().results.get(winner.hex)?.inTime)
  const bond = f.ledger.balance(bondAccount(winner.address))
  const pool = f.ledger.balance(FEE_POOL_ACCOUNT)
  await settleAll(f, due + GRACE)
  t.like(f.task().slashes, [{ provider: winner.hex, reason: 'late', amount: bond * SLASH_LATE_BPS / 10_000n }])
  t.is(f.ledger.balance(FEE_POOL_ACCOUNT), pool + bond * SLASH_LATE_BPS / 10_000n, 'a late slash pays the fee pool')
  t.deepEqual(f.task().awards.map(a => a.winners), [[winner.hex], [second.hex]], 'replaced by the next of the ranking')
  // the replacement answers; the task is paid
  const replacement = f.task().awards[1]
  await f.send(f.by(second, 38, { taskId: f.taskId, round: 1, commitment: new Uint8Array(32).fill(2), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' }), replacement.timeMs + 10)
  await settleAll(f, replacement.timeMs + 20)
  t.is(f.task().settlement?.outcome, 'paid')
  t.is(f.ledger.total(), f.supply)
})

test('no verdict ever: the late slash waits INPUT_VERDICT_WAIT_MS after the claim, then applies as before', async (t) => {
  const f = await awardedTask()
  const [winner] = f.providers
  const claimAt = f.awardAtMs + 500
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  t.is(nextStep(f.task(), clockAt(claimAt + INPUT_VERDICT_WAIT_MS + GRACE - 1)).kind, 'wait')
  t.like(nextStep(f.task(), clockAt(claimAt + INPUT_VERDICT_WAIT_MS + GRACE)), { kind: 'slash-late', providers: [winner.hex] })
  // a claim far before a long deadline holds nothing past the deadline itself
  const long = await awardedTask({ executionDeadlineMs: 5 * INPUT_VERDICT_WAIT_MS })
  await long.send(long.by(long.providers[0], TX_KIND_INPUT_CLAIM, { taskId: long.taskId, round: 0, attempt: 0 }), long.awardAtMs + 1)
  t.like(nextStep(long.task(), clockAt(long.awardAtMs + 5 * INPUT_VERDICT_WAIT_MS + GRACE)), { kind: 'slash-late' })
  await settleAll(f, claimAt + INPUT_VERDICT_WAIT_MS + GRACE)
  t.true(f.task().slashes.some(s => s.provider === winner.hex && s.reason === 'late'))
  t.is(f.ledger.total(), f.supply)
})

test('redundancy: one winner excused by an unavailable verdict and one that answered: refunded, nobody paid or slashed', async (t) => {
  const f = await awardedTask({ redundancy: 2, k: 2, verification: 'redundancy' })
  const [a, b] = f.providers
  await f.send(f.by(a, 38, { taskId: f.taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' }), f.awardAtMs + 100)
  await f.send(f.by(b, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), f.awardAtMs + 200)
  t.is(nextStep(f.task(), clockAt(f.awardAtMs + 300)).kind, 'wait')
  await f.send(verdict(f.taskId, b.address, 0, 'unavailable'), f.awardAtMs + 400)
  await settleAll(f, f.awardAtMs + 500)
  const s = f.task().settlement
  t.is(s?.outcome, 'inputs-unavailable')
  t.is(s?.refund, escrowOf(f.announce))
  t.deepEqual(f.task().slashes, [])
  t.deepEqual(s?.payouts, [])
  t.is((s?.fee ?? 0n) + (s?.refund ?? 0n), escrowOf(f.announce), 'the settle moves the whole escrow')
  t.is(f.ledger.total(), f.supply)
})

test('redundancy 3 of which 2 must agree: one winner excused, the two others agree: they are paid at their prices, the excused share goes back, nobody slashed', async (t) => {
  const f = await awardedTask({ redundancy: 3, k: 2, verification: 'redundancy' })
  const [a, b, c] = f.providers
  const answer = (p: typeof a): Transaction => f.by(p, 38, { taskId: f.taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' })
  await f.send(answer(a), f.awardAtMs + 100)
  await f.send(f.by(b, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), f.awardAtMs + 200)
  await f.send(answer(c), f.awardAtMs + 300)
  await f.send(verdict(f.taskId, b.address, 0, 'unavailable'), f.awardAtMs + 400)
  // the excused winner is neither waited for nor replaced: the settle comes once the verification window has passed
  const step = nextStep(f.task(), clockAt(f.awardAtMs + 500))
  t.like(step, { kind: 'settle', decision: { outcome: 'paid', faults: [] } })
  const balances = (): bigint[] => [a, b, c].map(p => f.ledger.balance(p.address))
  const before = balances()
  await settleAll(f, f.awardAtMs + 500)
  const s = f.task().settlement
  const prices = f.task().assigned.filter(x => x.provider !== b.hex).map(x => x.price)
  t.is(s?.outcome, 'paid')
  t.deepEqual(s?.payouts.map(p => p.provider).sort(), [a.hex, c.hex].sort())
  t.is(s?.refund, escrowOf(f.announce) - prices.reduce((x, y) => x + y, 0n), 'the excused winner\'s share and the rest of the escrow back')
  t.deepEqual(f.task().slashes, [])
  t.is(f.task().awards.length, 1)
  t.is(balances()[1], before[1], 'the excused winner is not paid')
  t.true(balances()[0] > before[0] && balances()[2] > before[2])
  t.is(f.ledger.total(), f.supply)
})

/** Three validators: the judge of each claim of `claimant` on the task, by attempt (rules/input-judge.ts). */
function judgesOf (f: Awaited<ReturnType<typeof awardedTask>>, claimant: Uint8Array): Array<ReturnType<typeof generateKeyPair>> {
  const all = [validator, ...[21, 22].map(b => generateKeyPair(new Uint8Array(32).fill(b)))]
  f.market.validators = all.map(k => k.publicKey)
  return [0, 1, 2].map(attempt => all.find(k => isInputJudge(f.market.validators, k.publicKey, f.taskHex, toHex(claimant), attempt)) as ReturnType<typeof generateKeyPair>)
}

/** A task among three validators whose cheapest winner claimed (attempt 0) 1 s after the award. */
async function claimedAmongThree (): Promise<{ f: Awaited<ReturnType<typeof awardedTask>>, winner: Awaited<ReturnType<typeof awardedTask>>['providers'][number], judges: Array<ReturnType<typeof generateKeyPair>>, claimAt: number }> {
  const f = await awardedTask()
  const [winner] = f.providers
  const judges = judgesOf(f, winner.address)
  const claimAt = f.awardAtMs + 1000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  return { f, winner, judges, claimAt }
}

test('an appeal after a false `available`: judged by the next validator, whose `unavailable` a third judge confirms; refunded, nobody slashed', async (t) => {
  const f = await awardedTask()
  const [winner] = f.providers
  const judges = judgesOf(f, winner.address)
  t.is(new Set(judges).size, 3, 'each claim its own judge')
  const claimAt = f.awardAtMs + 1000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  // only the claim's judge counts
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 0, judges[1]), claimAt + 100), { status: 'refused', code: 'VERDICT_NOT_JUDGE' })
  const lieAt = claimAt + 200
  await f.send(verdict(f.taskId, winner.address, 0, 'available', 0, judges[0]), lieAt)
  t.is(f.task().inputClaims?.[0].verdict?.outcome, 'available')
  // the claimant could not fetch from the judge (it lied): it appeals before the deadline that verdict gave
  const due = lieAt + f.announce.executionDeadlineMs
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), lieAt + 2000), { status: 'refused', code: 'CLAIM_DUPLICATE' })
  const appealAt = lieAt + 3000
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }), appealAt), { status: 'applied' })
  t.like(taskView(f.task(), appealAt).inputClaims, [{ attempt: 0, dueAtMs: due }, { attempt: 1, holdsSlashUntilMs: Math.max(due, appealAt + INPUT_VERDICT_WAIT_MS) }])
  // the first judge cannot answer the appeal; the second judge's `unavailable` is one of the two needed
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'available', 1, judges[0]), appealAt + 100), { status: 'refused', code: 'VERDICT_NOT_JUDGE' })
  const secondAt = appealAt + 500
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 1, judges[1]), secondAt), { status: 'applied' })
  t.is(f.task().inputClaims?.[1].verdict?.needs, 2)
  t.like(taskView(f.task(), secondAt).inputClaims, [{ excused: false }, { excused: false, holdsSlashUntilMs: Math.max(due, secondAt + INPUT_VERDICT_WAIT_MS) }])
  t.like(nextStep(f.task(), clockAt(Math.max(due, secondAt + INPUT_VERDICT_WAIT_MS) + GRACE - 1)), { kind: 'wait' })
  // the claimant appeals for a second judge's `unavailable`: the third judge concurs, and it is excused
  const thirdAt = secondAt + 2000
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 2 }), secondAt + 1000), { status: 'applied' })
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 2, judges[2]), thirdAt), { status: 'applied' })
  t.like(taskView(f.task(), thirdAt).inputClaims, [{ excused: true }, { excused: true }, { excused: true }])
  t.like(nextStep(f.task(), clockAt(thirdAt + 100)), { kind: 'settle', decision: { outcome: 'inputs-unavailable', refund: escrowOf(f.announce) } })
  await settleAll(f, thirdAt + 200)
  t.is(f.task().settlement?.outcome, 'inputs-unavailable')
  t.deepEqual(f.task().slashes, [], 'nobody slashed')
  t.is(f.ledger.total(), f.supply)
})

test('one judge\'s `unavailable` excuses nobody where another validator may judge: a lying judge is overruled by the next one\'s `available`, and the claimant that still does not answer is slashed late', async (t) => {
  // a judge that says `unavailable` without fetching (colluding with a claimant that wants out of its task)
  const f = await awardedTask()
  const [winner, second] = f.providers
  const judges = judgesOf(f, winner.address)
  const deadline = f.awardAtMs + f.announce.executionDeadlineMs
  const claimAt = f.awardAtMs + 1000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  const lieAt = claimAt + 200
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 0, judges[0]), lieAt), { status: 'applied' })
  // not excused: no settle, and the verdict holds the late slash as a claim without one does, for the appeal
  const holds = Math.max(deadline, lieAt + INPUT_VERDICT_WAIT_MS)
  t.like(taskView(f.task(), lieAt).inputClaims, [{ excused: false, holdsSlashUntilMs: holds }])
  t.like(nextStep(f.task(), clockAt(lieAt + 100)), { kind: 'wait', untilMs: holds + GRACE })
  // a claimant that never appeals is late once the hold is over
  t.like(nextStep(f.task(), clockAt(holds + GRACE)), { kind: 'slash-late', providers: [winner.hex] })
  // an appeal past the hold is refused; within it, it stands and the next judge fetches the inputs: `available`
  t.like(await applyMarketTx(f.market, txInfo(encodeTx(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }))), { txId: 'b1'.repeat(32), timeMs: holds + 1 }), { status: 'refused', code: 'CLAIM_LATE' })
  const appealAt = lieAt + 1000
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }), appealAt), { status: 'applied' })
  const verdictAt = appealAt + 300
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'available', 1, judges[1]), verdictAt), { status: 'applied' })
  const due = Math.max(deadline, verdictAt + f.announce.executionDeadlineMs)
  t.like(taskView(f.task(), verdictAt).inputClaims, [{ excused: false }, { excused: false, dueAtMs: due }])
  // the claimant does not answer: late once the extended deadline is over (the lone verdict's hold ended with the
  // appeal, which the next judge answered)
  t.true(due < holds)
  t.like(taskView(f.task(), verdictAt).inputClaims, [{ holdsSlashUntilMs: undefined }, { holdsSlashUntilMs: undefined }])
  t.like(nextStep(f.task(), clockAt(due + GRACE - 1)), { kind: 'wait', untilMs: due + GRACE })
  t.like(nextStep(f.task(), clockAt(due + GRACE)), { kind: 'slash-late', providers: [winner.hex] })
  await settleAll(f, due + GRACE)
  t.like(f.task().slashes, [{ provider: winner.hex, reason: 'late' }])
  t.deepEqual(f.task().awards.map(a => a.winners), [[winner.hex], [second.hex]], 'replaced by the next of the ranking')
  t.is(f.ledger.total(), f.supply)
})

test('two `unavailable` verdicts excuse only from two judges, in either order of their application; one judge excuses alone where it is the only one', async (t) => {
  // where the claimant's only possible judge is one validator (awardedTask's network), its `unavailable` excuses alone
  const alone = await awardedTask()
  await alone.send(alone.by(alone.providers[0], TX_KIND_INPUT_CLAIM, { taskId: alone.taskId, round: 0, attempt: 0 }), alone.awardAtMs + 100)
  await alone.send(verdict(alone.taskId, alone.providers[0].address, 0, 'unavailable'), alone.awardAtMs + 200)
  t.is(alone.task().inputClaims?.[0].verdict?.needs, 1)
  t.like(taskView(alone.task(), alone.awardAtMs + 300).inputClaims, [{ excused: true }])
  t.like(await alone.send(alone.by(alone.providers[0], TX_KIND_INPUT_CLAIM, { taskId: alone.taskId, round: 0, attempt: 1 }), alone.awardAtMs + 300), { status: 'refused', code: 'CLAIM_DUPLICATE' })
  // three validators: a silent first judge, an appeal past its window, then both `unavailable` (the first stamped in
  // its window, final late): excused once both apply, whichever first
  const records: unknown[] = []
  for (const order of ['first-verdict-first', 'appeal-verdict-first'] as const) {
    const { f, winner, judges, claimAt } = await claimedAmongThree()
    const appealAt = claimAt + INPUT_JUDGE_WINDOW_MS + 500
    await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }), appealAt)
    const first = (): Promise<ApplyOutcome> => f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 0, judges[0]), claimAt + INPUT_JUDGE_WINDOW_MS - 1)
    const second = (): Promise<ApplyOutcome> => f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 1, judges[1]), appealAt + 200)
    t.like(await (order === 'first-verdict-first' ? first() : second()), { status: 'applied' })
    t.like(taskView(f.task(), appealAt + 300).inputClaims, [{ excused: false }, { excused: false }], order)
    t.like(await (order === 'first-verdict-first' ? second() : first()), { status: 'applied' })
    t.like(nextStep(f.task(), clockAt(appealAt + 300)), { kind: 'settle', decision: { outcome: 'inputs-unavailable' } }, order)
    records.push(taskView(f.task(), appealAt + 300).inputClaims.map(c => ({ ...c, txId: '', verdict: { ...c.verdict, txId: '' } })))
  }
  t.deepEqual(records[0], records[1])
  t.like(records[0], [{ excused: true }, { excused: true }])
})

test('appeals stand only in time: before the last claim\'s judge window is over only after `available`; within that verdict\'s deadline; at most MAX_INPUT_CLAIMS', async (t) => {
  const f = await awardedTask()
  const [winner] = f.providers
  const judges = judgesOf(f, winner.address)
  const deadline = f.awardAtMs + f.announce.executionDeadlineMs
  const claimAt = f.awardAtMs + 1000
  await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 0 }), claimAt)
  // an appeal skipping a claim waits for it
  t.like(await applyMarketTx(f.market, txInfo(encodeTx(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 2 }))), { txId: 'a1'.repeat(32), timeMs: claimAt + 100 }), { status: 'parked', code: 'CLAIM_DUPLICATE' })
  // within the judge window and no verdict here yet: parked (its verdict may still come)
  t.like(await applyMarketTx(f.market, txInfo(encodeTx(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }))), { txId: 'a2'.repeat(32), timeMs: claimAt + 1000 }), { status: 'parked' })
  // a silent judge: past its window the appeal stands
  const appealAt = claimAt + INPUT_JUDGE_WINDOW_MS + 1
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 }), appealAt), { status: 'applied' })
  // the first judge's verdict, stamped past its window, does not count
  t.like(await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 0, judges[0]), claimAt + INPUT_JUDGE_WINDOW_MS + 2), { status: 'refused', code: 'VERDICT_LATE' })
  t.is(f.task().inputClaims?.[0].verdict, undefined)
  // the late slash waits for the appeal's verdict
  t.like(nextStep(f.task(), clockAt(Math.max(deadline, claimAt + INPUT_VERDICT_WAIT_MS) + GRACE + 1)), { kind: 'wait', untilMs: appealAt + INPUT_VERDICT_WAIT_MS + GRACE })
  // the second judge says `available`; an appeal past the deadline it gave is refused
  const verdictAt = appealAt + 100
  await f.send(verdict(f.taskId, winner.address, 0, 'available', 1, judges[1]), verdictAt)
  const due = Math.max(deadline, verdictAt + f.announce.executionDeadlineMs)
  t.is(taskView(f.task(), verdictAt).inputClaims[1].dueAtMs, due)
  t.like(await applyMarketTx(f.market, txInfo(encodeTx(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 2 }))), { txId: 'a3'.repeat(32), timeMs: Math.max(due, appealAt + INPUT_VERDICT_WAIT_MS) + 1 }), { status: 'refused', code: 'CLAIM_LATE' })
  t.like(await f.send(f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 2 }), verdictAt + 10), { status: 'applied' })
  // no fourth claim: the attempt does not even decode
  t.throws(() => inputClaimKind.decode(new Uint8Array([...f.taskId, 0, MAX_INPUT_CLAIMS])), { message: /attempt must be below/ })
  // the third judge's `unavailable` is the only one of the round: with no claim left to confirm it, it excuses
  // nothing, and the claimant (that the second judge found able to fetch) is late once that verdict's hold is over
  const thirdAt = verdictAt + 200
  await f.send(verdict(f.taskId, winner.address, 0, 'unavailable', 2, judges[2]), thirdAt)
  t.like(taskView(f.task(), thirdAt).inputClaims, [{ excused: false }, { excused: false }, { excused: false }])
  const lateAt = Math.max(due, thirdAt + INPUT_VERDICT_WAIT_MS)
  t.like(nextStep(f.task(), clockAt(lateAt + GRACE - 1)), { kind: 'wait' })
  await settleAll(f, lateAt + GRACE)
  t.like(f.task().slashes, [{ provider: winner.hex, reason: 'late' }])
  t.is(f.ledger.total(), f.supply)
})

test('an appeal and the last claim\'s late-final verdict give the same records in either order', async (t) => {
  const records: unknown[] = []
  for (const order of ['verdict-first', 'appeal-first'] as const) {
    const { f, winner, judges, claimAt } = await claimedAmongThree()
    // a verdict stamped inside the judge window, final after an appeal stamped past it
    const v = (): Transaction => verdict(f.taskId, winner.address, 0, 'available', 0, judges[0])
    const appeal = f.by(winner, TX_KIND_INPUT_CLAIM, { taskId: f.taskId, round: 0, attempt: 1 })
    const appealAt = claimAt + INPUT_JUDGE_WINDOW_MS + 500
    if (order === 'verdict-first') {
      t.like(await f.send(v(), claimAt + INPUT_JUDGE_WINDOW_MS - 1), { status: 'applied' })
      t.like(await f.send(appeal, appealAt), { status: 'applied' })
    } else {
      t.like(await f.send(appeal, appealAt), { status: 'applied' })
      t.like(await f.send(v(), claimAt + INPUT_JUDGE_WINDOW_MS - 1), { status: 'applied' })
    }
    records.push({ claims: f.task().inputClaims?.map(c => ({ ...c, txId: '' })), view: taskView(f.task(), appealAt).inputClaims.map(c => ({ ...c, txId: '' })) })
  }
  t.deepEqual(records[0], records[1])
})
