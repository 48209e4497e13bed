/**
 * Property test over random task histories (providers with and without enough bond, bids in and out of time,
 * mismatched reveals, good, bad and missing results, cancels), driven by the market's own plan, kinds, rules and
 * state application on a small ledger model that applies effects exactly as the DAG does (acting account, nonce,
 * debit + fee, credits, the fee to the fee pool): balances + escrows + bonds are conserved, no settle moves more
 * than its escrow (and every settle empties it), and every award is what an independent reading of the rule gives.
 * A provider may lose its whole bond to other tasks' slashes after it won (`drained`): its own slash then takes
 * nothing, and the task still ends (the honest providers paid, the rest refunded) with the fault counted. The network
 * has one validator or three: with three, an input claim's `unavailable` excuses only with a second judge's (s48).
 */
import test from 'ava'
import fc from 'fast-check'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, sha256 } from '../../src/core/crypto.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import {
  bidCommitment, bidCommitKind, bidRevealKind, bondAccount, bondSlashKind, escrowAccount, escrowOf, marketRules, providerRegisterKind, registerMarketKinds,
  settleTotal, taskAnnounceKind, taskAwardKind, taskCancelKind, taskIdOf, taskResultKind, taskSettleKind, type VerificationMode
} from '../../src/market/index.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { applyMarketTx, awardTaskOf, revealedBids } from '../../src/market/state/apply.ts'
import { excusedByInputs, type TaskRecord } from '../../src/market/state/records.ts'
import { cpuProvider, matmulAnnounce } from '../helpers/market.ts'
import { LedgerModel, MemoryMarket, unsignedTx } from '../helpers/market-model.ts'

registerMarketKinds()
const { MIN_BOND, awardOf, isInputJudge, nextStep, slashAmount, slashBeneficiary } = marketRules
const validator = generateKeyPair(new Uint8Array(32).fill(9))
/** The validators of a history's network: the first (it signs the awards, settles and slashes), or all three. */
const validatorKeys = [validator, ...[21, 22].map(b => generateKeyPair(new Uint8Array(32).fill(b)))]
const requesterKeys = generateKeyPair(new Uint8Array(32).fill(1))
const providerKeys = [2, 3, 4, 5, 6].map(b => generateKeyPair(new Uint8Array(32).fill(b)))
const GOOD = 'aa'.repeat(32)
const BAD = 'bb'.repeat(32)
const FEE = 1000n
/** A private task's bids reveal an ML-KEM-768 key for the task: one valid key serves every bidder here. */
const TASK_KEY = generateKemKeyPair(new Uint8Array(64).fill(7)).publicKey

const tx = unsignedTx

const rarely = fc.constantFrom(false, false, false, false, true)
const providerArb = fc.record({
  bond: fc.constantFrom(0n, MIN_BOND / 2n, MIN_BOND, 3n * MIN_BOND, 3n * MIN_BOND, 5n * MIN_BOND),
  webgpu: fc.boolean(),
  bids: fc.constantFrom(true, true, true, false),
  priceBp: fc.integer({ min: 1, max: 11_000 }),
  mismatch: rarely,
  lateCommit: rarely,
  lateReveal: rarely,
  /**
   * `claim-*`: it claims it could not fetch the inputs (input-claim) right after its award; `unavailable`: the
   * judges agree (excused: no slash); `available`: a validator fetched them, it then answers (good);
   * `available-silent`: it still never answers; `unanswered`: no verdict ever comes; `appealed`: a lying `available`,
   * then `unavailable` on its appeals; `lied-unavailable`: a lying `unavailable`, which with three validators the next
   * judge's `available` overrules (it then answers; with one validator the lie excuses it)
   */
  behaviour: fc.constantFrom('good', 'good', 'bad', 'none', 'claim-unavailable', 'claim-available', 'claim-available-silent', 'claim-unanswered', 'claim-appealed', 'claim-lied-unavailable'),
  /** once awarded, other tasks' slashes take its whole bond before it answers */
  drained: fc.constantFrom(false, false, false, false, false, false, false, false, false, true)
})
const historyArb = fc.record({
  providers: fc.array(providerArb, { minLength: 1, maxLength: 5 }),
  verification: fc.constantFrom<VerificationMode>('none', 'redundancy', 'spot-check'),
  r: fc.integer({ min: 1, max: 3 }),
  budget: fc.bigInt({ min: 100n, max: 100_000n }),
  needGpu: rarely,
  cancel: rarely,
  /** inputs sealed to the providers: a dispute cannot be re-executed */
  private: rarely,
  validators: fc.constantFrom(1, 1, 3)
})

type History = typeof historyArb extends fc.Arbitrary<infer H> ? H : never
const BIDDER: History['providers'][number] = { bond: 3n * MIN_BOND, webgpu: false, bids: true, priceBp: 100, mismatch: false, lateCommit: false, lateReveal: false, behaviour: 'good', drained: false }
const EXAMPLE: History = { providers: [BIDDER], verification: 'none', r: 1, budget: 10_000n, needGpu: false, cancel: false, private: false, validators: 1 }

test('random task histories: conservation, settles within their escrow, awards as the rule says', async (t) => {
  const seen = new Map<string, number>()
  await fc.assert(fc.asyncProperty(historyArb, async (h) => {
    const ledger = new LedgerModel()
    const market = new MemoryMarket()
    const validators = validatorKeys.slice(0, h.validators)
    market.validators = validators.map(k => k.publicKey)
    const requester = addressBytesFromPublicKey(requesterKeys.publicKey)
    ledger.balances.set(toHex(requester), 10n ** 12n)
    const providers = h.providers.map((p, i) => ({ ...p, keys: providerKeys[i], address: addressBytesFromPublicKey(providerKeys[i].publicKey), hex: toHex(addressBytesFromPublicKey(providerKeys[i].publicKey)), salt: sha256(new Uint8Array([i])) }))
    for (const p of providers) ledger.balances.set(p.hex, 10n * MIN_BOND)
    const supply = ledger.total()
    let now = 1_000_000
    const parked: Transaction[] = []
    const tag = (name: string): void => { seen.set(name, (seen.get(name) ?? 0) + 1) }
    const send = async (x: Transaction): Promise<boolean> => {
      if (!ledger.apply(x)) return false
      t.is(ledger.total(), supply)
      for (const v of ledger.balances.values()) t.true(v >= 0n)
      const run = async (y: Transaction): Promise<boolean> => (await applyMarketTx(market, txInfo(encodeTx(y)), { txId: toHex(sha256(encodeTx(y))), timeMs: now })).status !== 'parked'
      if (!(await run(x))) parked.push(x)
      for (const y of [...parked]) if (await run(y)) parked.splice(parked.indexOf(y), 1)
      return true
    }
    for (const p of providers) if (p.bond > 0n) await send(tx(32, p.keys, 0n, FEE, cpuProvider(p.bond, p.webgpu ? { executor: 'webgpu' } : {})))
    const r = h.verification === 'none' ? 1 : h.verification === 'redundancy' ? Math.max(2, h.r) : h.r
    const k = h.verification === 'redundancy' ? 2 : 1
    const announce = matmulAnnounce({ budget: h.budget, redundancy: r, k, verification: h.verification, requirements: { executor: h.needGpu ? 'webgpu' : 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false }, ...(h.private ? { private: true, requesterKemKey: new Uint8Array(1184).fill(3) } : {}) })
    const taskId = taskIdOf(requester, 0n)
    const taskHex = toHex(taskId)
    t.true(await send(tx(34, requesterKeys, 0n, FEE, announce)))
    t.is(ledger.balance(escrowAccount(taskId)), escrowOf(announce))
    const start = now
    if (h.cancel) await send(tx(41, requesterKeys, 1n, FEE, { taskId }))
    // the other task whose (fault) slashes drain a `drained` provider's bond
    const otherTaskId = taskIdOf(requester, ledger.nonce(requester))
    t.true(await send(tx(34, requesterKeys, ledger.nonce(requester), FEE, matmulAnnounce())))
    const drainedDone = new Set<string>()
    const drain = async (p: typeof providers[number]): Promise<void> => {
      drainedDone.add(p.hex)
      for (let n = 0; n < 200; n++) {
        const amount = slashAmount(market.providers.get(p.hex)?.bond ?? 0n, 'fault')
        if (amount === 0n) break
        t.true(await send(tx(40, validator, ledger.nonce(bondAccount(p.address)), 0n, { provider: p.address, taskId: otherTaskId, reason: 'fault', amount, beneficiary: requester })))
      }
      t.is(ledger.balance(bondAccount(p.address)), 0n)
      t.is(market.providers.get(p.hex)?.bond, 0n)
    }
    const price = (p: typeof providers[number]): bigint => 1n + h.budget * BigInt(p.priceBp) / 10_000n
    for (const p of providers.filter(x => x.bids)) {
      now = p.lateCommit ? start + announce.bidWindowMs + 1 : start + 10
      await send(tx(35, p.keys, ledger.nonce(p.address), FEE, { taskId, commitment: bidCommitment(taskId, p.address, price(p), p.salt) }))
    }
    for (const p of providers.filter(x => x.bids)) {
      now = p.lateReveal ? start + announce.bidWindowMs + announce.revealWindowMs + 1 : start + announce.bidWindowMs + 10
      // a private task's bid reveals the provider's key for the task (what its inputs are sealed to)
      await send(tx(36, p.keys, ledger.nonce(p.address), FEE, { taskId, price: price(p) + (p.mismatch ? 1n : 0n), salt: p.salt, ...(h.private ? { taskKey: TASK_KEY } : {}) }))
    }
    const clock = { nowMs: 0, lateGraceMs: 500, verificationWindowMs: 0 }
    const answered = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const task = market.tasks.get(taskHex) as TaskRecord
      for (const a of task.assigned) {
        const p = providers.find(x => x.hex === a.provider)
        if (p !== undefined && p.drained && !drainedDone.has(p.hex)) await drain(p)
      }
      // assigned providers answer right after their award (or never), or claim the inputs unavailable first
      for (const a of task.assigned) {
        const p = providers.find(x => x.hex === a.provider)
        if (p === undefined || answered.has(p.hex) || p.behaviour === 'none' || a.state !== 'open') continue
        answered.add(p.hex)
        if (p.behaviour.startsWith('claim-')) {
          // claim `attempt` of the round, answered `outcome` by its judge (rules/input-judge.ts), unless none
          const claim = async (attempt: number, outcome?: 'available' | 'unavailable'): Promise<void> => {
            t.true(await send(tx(45, p.keys, ledger.nonce(p.address), FEE, { taskId, round: a.round, attempt })))
            const judge = validators.find(v => isInputJudge(market.validators, v.publicKey, taskHex, p.hex, attempt)) as typeof validator
            if (outcome !== undefined) t.true(await send(tx(46, judge, 0n, 0n, { taskId, round: a.round, provider: p.address, attempt, outcome })))
          }
          const more = h.validators > 1
          if (p.behaviour === 'claim-unavailable') {
            // the judge could not fetch either; with three validators a second judge must concur (the appeal)
            await claim(0, 'unavailable')
            if (more) await claim(1, 'unavailable')
          } else if (p.behaviour === 'claim-appealed') {
            // the judge said `available` and served nothing (it lied): the claimant appeals, the next judge (with one
            // validator, the same) finds the inputs unavailable, and with three the one after it concurs
            await claim(0, 'available')
            await claim(1, 'unavailable')
            if (more) await claim(2, 'unavailable')
            tag('claim:appealed')
          } else if (p.behaviour === 'claim-lied-unavailable') {
            // the judge said `unavailable` of inputs it could fetch; with three validators the claimant's appeal
            // reaches the next judge, whose `available` overrules it, and the claimant then answers
            await claim(0, 'unavailable')
            if (more) {
              await claim(1, 'available')
              tag('claim:lied-unavailable:overruled')
            }
          } else {
            await claim(0, p.behaviour === 'claim-unanswered' ? undefined : 'available')
          }
          if (p.behaviour !== 'claim-available' && !(p.behaviour === 'claim-lied-unavailable' && more)) continue
        }
        await send(tx(38, p.keys, ledger.nonce(p.address), FEE, { taskId, round: a.round, commitment: fromHex(p.behaviour === 'bad' ? BAD : GOOD), outputBlob: new Uint8Array(32), outputBytes: 4, profile: 'cpu-ref-v1' }))
      }
      const current = market.tasks.get(taskHex) as TaskRecord
      clock.nowMs = now
      const step = nextStep(current, clock, GOOD)
      const escrow = escrowAccount(taskId)
      if (step.kind === 'done') break
      if (step.kind === 'wait') { now = Math.max(now + 1, step.untilMs ?? now + 1000); continue }
      if (step.kind === 'award') {
        const revealed = await revealedBids(market, current, step.considered)
        const outcome = awardOf(awardTaskOf(current), revealed ?? [])
        // an independent reading of the rule: valid reveals by price, then sha256(taskId ‖ provider); the first r win
        const valid = providers.filter(p => p.bids && !p.mismatch && !p.lateCommit && !p.lateReveal && price(p) <= h.budget && p.bond >= MIN_BOND && (!h.needGpu || p.webgpu))
        valid.sort((a, b) => (price(a) !== price(b) ? (price(a) < price(b) ? -1 : 1) : toHex(sha256(taskId, a.address)) < toHex(sha256(taskId, b.address)) ? -1 : 1))
        t.deepEqual(outcome.winners, valid.slice(0, r).map(p => p.hex))
        if (h.verification !== 'spot-check') t.is(outcome.checker, undefined)
        else t.is(outcome.checker !== undefined, valid.length > r)
        await send(tx(37, validator, ledger.nonce(escrow), 0n, { taskId, round: 0, considered: step.considered.map(id => fromHex(id)), winners: outcome.winners.map(w => fromHex(w)), ...(outcome.checker !== undefined ? { checker: fromHex(outcome.checker) } : {}) }))
      } else if (step.kind === 'replace') {
        // an excused assignment stays outstanding and blocks replacement (nobody else could fetch the inputs either);
        // a replacement before any excuse (another winner late) is the usual path
        t.false(current.assigned.some(a => excusedByInputs(current, a)), 'no replacement once inputs are found unavailable')
        await send(tx(37, validator, ledger.nonce(escrow), 0n, { taskId, round: step.round, considered: [], winners: step.winners.map(w => fromHex(w)), ...(step.checker !== undefined ? { checker: fromHex(step.checker) } : {}) }))
      } else if (step.kind === 'slash-late' || step.kind === 'slash-fault') {
        const reason = step.kind === 'slash-late' ? 'late' : 'fault'
        for (const provider of step.providers) {
          const before = market.providers.get(provider)
          // an empty bond is slashed 0: the slash is still issued, so the task goes on
          const amount = slashAmount(before?.bond ?? 0n, reason)
          const acct = bondAccount(fromHex(provider))
          t.true(await send(tx(40, validator, ledger.nonce(acct), 0n, { provider: fromHex(provider), taskId, reason, amount, beneficiary: slashBeneficiary(reason, requester) })))
          const after = market.providers.get(provider)
          // the fault or the lateness counts in reputation whatever the bond
          t.is((after?.faults ?? 0) + (after?.lates ?? 0), (before?.faults ?? 0) + (before?.lates ?? 0) + 1)
          if (amount === 0n) tag(`slash:${reason}:empty-bond`)
        }
      } else if (step.kind === 'settle') {
        const d = step.decision
        const payload = { taskId, outcome: d.outcome, payouts: d.payouts.map(p => ({ provider: fromHex(p.provider), amount: p.amount })), fee: d.fee, refund: d.refund, requester }
        t.is(settleTotal(payload), escrowOf(announce), 'a settle moves exactly its escrow')
        t.true(await send(tx(39, validator, ledger.nonce(escrow), 0n, payload)))
        t.is(ledger.balance(escrow), 0n)
        for (const p of d.payouts) t.true(p.amount <= h.budget)
      } else {
        t.fail(`unexpected step ${step.kind}`)
      }
    }
    const final = market.tasks.get(taskHex) as TaskRecord
    t.not(final.settlement, undefined, 'every history ends settled')
    t.true(nextStep(final, clock, GOOD).kind === 'done', 'every history ends with nothing left to do (every fault slashed)')
    // no provider lost more bond than its slashes (this task's and the other's)
    for (const p of providers) {
      const slashed = [...market.tasks.values()].flatMap(x => x.slashes).filter(s => s.provider === p.hex).reduce((s, x) => s + x.amount, 0n)
      t.is(ledger.balance(bondAccount(p.address)), p.bond - slashed)
    }
    t.is(ledger.total(), supply)
    if (final.settlement?.outcome === 'unresolved') {
      // never a payout to a result nobody can check, never a slash without proof
      t.true(h.private)
      t.deepEqual(final.settlement.payouts, [])
      t.is(final.settlement.refund, escrowOf(announce))
      t.false(final.slashes.some(x => x.reason === 'fault'))
    }
    if (h.private) t.not(final.settlement?.outcome, 'disputed', 'a private task is never settled by a re-execution')
    // a claimant whose inputs the judges found unavailable (two with three validators; the one with one) is excused:
    // never slashed, never paid, whatever the outcome; one whose lying judge the next overruled is not excused
    const claimants = [...new Set((final.inputClaims ?? []).map(c => c.provider))]
    const behaviourOf = (hex: string): string | undefined => providers.find(x => x.hex === hex)?.behaviour
    const excused = claimants.filter(c => ['claim-unavailable', 'claim-appealed'].includes(behaviourOf(c) ?? '') || (behaviourOf(c) === 'claim-lied-unavailable' && h.validators === 1))
    for (const c of claimants) {
      const assignment = final.assigned.find(a => a.provider === c) as TaskRecord['assigned'][number]
      t.is(excusedByInputs(final, assignment), excused.includes(c), `${behaviourOf(c) ?? ''} with ${h.validators} validators`)
    }
    for (const e of excused) {
      t.false(final.slashes.some(x => x.provider === e), 'an excused claimant is not slashed')
      t.false(final.settlement?.payouts.some(x => x.provider === e) ?? false, 'an excused claimant is not paid')
    }
    if (final.settlement?.outcome === 'inputs-unavailable') {
      // no winner's result to settle besides: the whole escrow back, nobody paid
      if (h.private) tag('outcome:inputs-unavailable:private')
      t.deepEqual(final.settlement.payouts, [])
      t.is(final.settlement.refund, escrowOf(announce))
      t.true(excused.length > 0)
    }
    if (excused.length > 0 && final.settlement?.outcome === 'paid') {
      // the others' results settled as usual: a winner paid, the excused shares of the escrow back to the requester
      t.true(final.settlement.payouts.length > 0)
      t.true(final.settlement.refund >= final.assigned.filter(a => excused.includes(a.provider)).reduce((sum, a) => sum + a.price, 0n))
      tag('outcome:paid:excused')
      // the excused claimant may itself be a replacement (the winner before it late): checked at each replace above
      if (final.awards.length > 1) tag('replacement:then-excused')
    }
    // a claimant found `available` that never answered is slashed late, as is one whose claim nobody answered
    for (const c of final.inputClaims ?? []) {
      const p = providers.find(x => x.hex === c.provider)
      if (p?.behaviour === 'claim-available-silent' || p?.behaviour === 'claim-unanswered') t.true(final.slashes.some(x => x.provider === c.provider && x.reason === 'late'), p.behaviour)
    }
    tag(`outcome:${final.settlement?.outcome ?? 'none'}`)
    for (const s of final.slashes) tag(`slash:${s.reason}`)
    if (final.awards.length > 1) tag('replacement')
  }), {
    numRuns: 150,
    // besides the random histories, one history per path that moves money, so the coverage check below cannot
    // depend on the random seed (a late winner replaced, a fault slashed, an expiry, a cancel)
    examples: [
      [{ ...EXAMPLE, providers: [{ ...BIDDER, behaviour: 'none', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      [{ ...EXAMPLE, verification: 'redundancy', r: 2, providers: [{ ...BIDDER, priceBp: 100 }, { ...BIDDER, priceBp: 200 }, { ...BIDDER, behaviour: 'bad', priceBp: 300 }] }],
      [{ ...EXAMPLE, providers: [{ ...BIDDER, bids: false }] }],
      [{ ...EXAMPLE, cancel: true }],
      // a late winner with no bond left: slashed 0, replaced, the replacement paid
      [{ ...EXAMPLE, providers: [{ ...BIDDER, behaviour: 'none', drained: true, priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a faulty winner with no bond left: the honest one paid, the rest refunded, the fault slashed 0
      [{ ...EXAMPLE, verification: 'redundancy', r: 2, providers: [{ ...BIDDER, priceBp: 100 }, { ...BIDDER, behaviour: 'bad', drained: true, priceBp: 200 }, { ...BIDDER, priceBp: 300 }] }],
      // a private task whose winner and spot-checker disagree: nobody can re-execute it, so all is refunded
      [{ ...EXAMPLE, verification: 'spot-check', private: true, providers: [{ ...BIDDER, behaviour: 'bad', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a winner that cannot fetch the inputs and a validator that cannot either: refunded, nobody slashed
      [{ ...EXAMPLE, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a false claim: found available, the claimant still silent, slashed late and replaced
      [{ ...EXAMPLE, providers: [{ ...BIDDER, behaviour: 'claim-available-silent', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // redundancy 3 of which k = 2: one winner excused, the two others agree: they are paid, the excused share back
      [{ ...EXAMPLE, verification: 'redundancy', r: 3, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }, { ...BIDDER, priceBp: 300 }] }],
      // redundancy 2: one excused, one answered: fewer than k results, and nobody can re-execute: refunded whole
      [{ ...EXAMPLE, verification: 'redundancy', r: 2, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a private task whose winner got no sealed input (its requester's node never sealed them): excused, refunded
      [{ ...EXAMPLE, private: true, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a judge that lied (`available`), the claimant's appeal found unavailable: excused, refunded, nobody slashed
      [{ ...EXAMPLE, providers: [{ ...BIDDER, behaviour: 'claim-appealed', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // the same with three validators: two judges after the liar concur
      [{ ...EXAMPLE, validators: 3, providers: [{ ...BIDDER, behaviour: 'claim-appealed', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a judge that lied (`unavailable`) among three validators: the next judge's `available` overrules it, the
      // claimant answers and is paid
      [{ ...EXAMPLE, validators: 3, providers: [{ ...BIDDER, behaviour: 'claim-lied-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // inputs no judge could fetch, three validators: excused by two, refunded, nobody slashed
      [{ ...EXAMPLE, validators: 3, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, priceBp: 200 }] }],
      // a late winner replaced by one that cannot fetch the inputs: excused, no second replacement; the other winner
      // and the checker agree: paid, the excused share back
      [{ ...EXAMPLE, verification: 'spot-check', r: 2, providers: [{ ...BIDDER, priceBp: 100 }, { ...BIDDER, behaviour: 'none', priceBp: 200 }, { ...BIDDER, priceBp: 300 }, { ...BIDDER, behaviour: 'claim-unavailable', priceBp: 400 }] }],
      // of three winners one excused, one late, one answers: the late one is slashed and not replaced (the inputs
      // are unavailable, though a spare bidder waits); the winner that answered is paid, the rest refunded
      [{ ...EXAMPLE, verification: 'spot-check', r: 3, providers: [{ ...BIDDER, behaviour: 'claim-unavailable', priceBp: 100 }, { ...BIDDER, behaviour: 'none', priceBp: 200 }, { ...BIDDER, priceBp: 300 }, { ...BIDDER, priceBp: 400 }, { ...BIDDER, priceBp: 500 }] }],
      // a spot-check whose checker is excused: the winner is paid unchecked, as when a checker is late with no replacement
      [{ ...EXAMPLE, verification: 'spot-check', providers: [{ ...BIDDER, priceBp: 100 }, { ...BIDDER, behaviour: 'claim-unavailable', priceBp: 200 }] }]
    ]
  })
  // the histories reach every path that moves money (a generator that never slashes would prove little)
  t.log([...seen].sort().map(([k, v]) => `${k}=${v}`).join(' '))
  for (const path of ['outcome:paid', 'outcome:expired', 'outcome:cancelled', 'slash:late', 'slash:fault', 'replacement', 'slash:late:empty-bond', 'slash:fault:empty-bond', 'outcome:unresolved', 'outcome:inputs-unavailable', 'outcome:inputs-unavailable:private', 'outcome:paid:excused', 'replacement:then-excused', 'claim:appealed', 'claim:lied-unavailable:overruled']) t.true((seen.get(path) ?? 0) > 0, path)
})

// keep the payload kinds referenced (the model builds them by id)
void [bidCommitKind, bidRevealKind, bondSlashKind, providerRegisterKind, taskAnnounceKind, taskAwardKind, taskCancelKind, taskResultKind, taskSettleKind]
