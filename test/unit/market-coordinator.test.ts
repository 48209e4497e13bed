/**
 * The coordinator over a real MarketState (LevelDB, queue records as the ledger writes them, ML-DSA-signed
 * transactions) with a recording DAG side: a winner that lost its whole bond to other tasks' slashes and never
 * answered is still slashed (for 0), every validator's check finds that slash valid, and the task goes on to its
 * replacement round instead of waiting forever on a slash that could not be issued.
 */
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { RPC_METHODS } from '../../src/api/definitions.ts'
import { taskToRpc } from '../../src/api/market-views.ts'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import type { ExternalVerdict } from '../../src/dag/external-validity.ts'
import type { OrderChecker, OrderPoint } from '../../src/dag/order-checkers.ts'
import type { LedgerReader } from '../../src/dag/reader.ts'
import { encodeTx, type Transaction, txInfo, type TxInfo } from '../../src/dag/tx.ts'
import {
  bondAccount, bondSlashKind, buildBidCommit, buildBidReveal, buildBidReveals, buildBondSlash, buildProviderRegister, buildTaskAnnounce, escrowAccount, MarketCoordinator,
  MarketState, marketRules, type Reexecute, registerMarketKinds, taskAwardKind, taskSettleKind, TX_KIND_BOND_SLASH, TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE, buildTaskResult, escrowOf, buildTaskAward,
  buildTaskSettle, taskReexecKind, TX_KIND_TASK_REEXEC
} from '../../src/market/index.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { FINALIZING_WAIT_MS } from '../../src/market/rules/plan.ts'
import { cpuProvider, cutTxAt, matmulAnnounce, queueRecordsOf } from '../helpers/market.ts'

registerMarketKinds()
const CHAIN = 'harmony-market-coordinator'
const { MIN_BOND, slashAmount } = marketRules

interface Fixture {
  validator: KeyPair
  by: (k: KeyPair) => { chainId: string, keys: KeyPair, nonce: bigint, fee: bigint }
  state: MarketState
  coordinator: MarketCoordinator
  /** decisions the coordinator submitted, oldest first */
  submitted: Transaction[]
  checkers: Map<number, (tx: TxInfo) => Promise<ExternalVerdict>>
  /** under the commit rule: the checks the coordinator registered with the ledger, run where the order reaches a decision */
  orderCheckers: Map<number, OrderChecker>
  /** what the coordinator counted as refused at the order (its metric), `kind verdict` */
  orderRefusals: string[]
  /** after each walk, the tasks it held for a reveal or result still finalizing (its gauge) */
  finalizingHeld: number[]
  /** the awards and late slashes it issued once its wait for a reveal or result still finalizing ran out */
  finalizingCut: string[]
  /** times the coordinator asked the ledger to check held decisions again, and the kinds it named last */
  rechecks: { count: number, kinds: number[] }
  /** balances the ledger double reports (the settle needs the whole escrow on its account) */
  balances: Map<string, bigint>
  next: (account: Uint8Array) => bigint
  /** Makes `tx` final at market time `timeMs`: the queue record the ledger writes in the decision's batch. */
  final: (tx: Transaction, timeMs: number) => Promise<void>
  /** A vertex carrying `tx` is inserted here (pending, not final): the ledger's `vertex:inserted`. */
  insert: (tx: Transaction) => void
  close: () => Promise<void>
}

/** A MarketState on LevelDB and a one-validator coordinator over a ledger double that records what it submits. */
async function fixture (reexecute?: Reexecute, init: { resubmitMs?: number, rule?: 'commit', undecided?: () => Array<{ tx: TxInfo, stampMs: bigint }> } = {}): Promise<Fixture> {
  const { rule, undecided, ...coordinatorInit } = init
  const dir = await mkdtemp(join(tmpdir(), 'harmony-market-coordinator-'))
  const db = await openDatabase(join(dir, 'db'))
  const validator = generateKeyPair()
  // the ledger's side as the coordinator sees it: each account's next nonce (the decisions below are all final)
  const nonces = new Map<string, bigint>()
  const balances = new Map<string, bigint>()
  const next = (a: Uint8Array): bigint => nonces.get(toHex(a)) ?? 0n
  let seq = 0n
  const market = sublevel(db, 'market')
  const dag = Object.assign(new EventEmitter(), {
    reader: {
      chainId: CHAIN,
      isValidator: true,
      validatorKeys: () => [validator.publicKey],
      account: async (a: Uint8Array) => ({ nonce: next(a), balance: balances.get(toHex(a)) ?? 0n }),
      consensusRule: rule ?? 'avalanche',
      orderQuorum: () => rule === 'commit' ? { validators: [{ address: addressBytesFromPublicKey(validator.publicKey), stake: 1 }], quorum: 1 } : undefined,
      // no vertex times here, and nothing undecided unless a test says so: windows close on the wall-clock grace
      sealedThroughMs: () => undefined,
      undecidedOf: (kinds: ReadonlySet<number>) => (undecided?.() ?? []).filter(x => kinds.has(x.tx.tx.kind))
    } as unknown as LedgerReader
  })
  const state = new MarketState({ db, dag, logger: silentLogger() })
  const final = async (tx: Transaction, timeMs: number): Promise<void> => {
    const x = cutTxAt(tx, timeMs)
    nonces.set(x.tx.accountHex, tx.nonce + 1n)
    seq++
    for (const r of queueRecordsOf(x, seq)) await market.put(r.key, r.value)
    await state.drain()
  }
  const submitted: Transaction[] = []
  const checkers = new Map<number, (tx: TxInfo) => Promise<ExternalVerdict>>()
  const orderCheckers = new Map<number, OrderChecker>()
  const orderRefusals: string[] = []
  const finalizingHeld: number[] = []
  const finalizingCut: string[] = []
  const rechecks = { count: 0, kinds: [] as number[] }
  const coordinator = new MarketCoordinator({
    dag: {
      reader: dag.reader,
      submitTransaction: async (tx) => { submitted.push(tx); return txInfo(encodeTx(tx)).idHex },
      setExternalChecker: (kind, fn) => { if (fn === undefined) checkers.delete(kind); else checkers.set(kind, fn) },
      recheckExternal: (kinds) => { rechecks.count++; rechecks.kinds = [...kinds].sort((a, b) => a - b) },
      setOrderChecker: (kind, checker) => { if (checker === undefined) orderCheckers.delete(kind); else orderCheckers.set(kind, checker) }
    },
    state,
    vertices: dag,
    identity: validator,
    logger: silentLogger(),
    onOrderRefused: (kind, verdict) => { orderRefusals.push(`${kind} ${verdict}`) },
    onFinalizingHeld: (tasks) => { finalizingHeld.push(tasks) },
    onFinalizingCut: (kind) => { finalizingCut.push(kind) },
    ...(reexecute !== undefined ? { reexecute } : {})
  }, { tickMs: 60_000, proposeDelayMs: 0, ...coordinatorInit })
  await state.start()
  await coordinator.start()
  // what a signer needs to build its next transaction: the chain, its keys, its next nonce and the fee
  const by = (k: KeyPair): { chainId: string, keys: KeyPair, nonce: bigint, fee: bigint } => ({ chainId: CHAIN, keys: k, nonce: next(addressBytesFromPublicKey(k.publicKey)), fee: 1000n })
  return {
    by,
    validator,
    state,
    coordinator,
    submitted,
    checkers,
    orderCheckers,
    orderRefusals,
    finalizingHeld,
    finalizingCut,
    rechecks,
    balances,
    next,
    final,
    insert: (tx) => { dag.emit('vertex:inserted', { txs: [txInfo(encodeTx(tx))] }) },
    close: async () => {
      await coordinator.stop()
      await state.stop()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

const addr = (k: { publicKey: Uint8Array }): Uint8Array => addressBytesFromPublicKey(k.publicKey)

/** Two providers commit in the bid window (2 s from t0) and reveal in the reveal window, each at its price. */
async function bidTwo (f: Fixture, taskId: Uint8Array, t0: number, ...bids: Array<[KeyPair, bigint]>): Promise<void> {
  const salt = new Uint8Array(32).fill(5)
  // a private task's bid reveals the provider's key for the task
  const taskKey = (await f.state.taskRecord(toHex(taskId)))?.announce.private === true ? { taskKey: generateKemKeyPair(new Uint8Array(64).fill(5)).publicKey } : {}
  for (const [k, price] of bids) await f.final(buildBidCommit(f.by(k), taskId, price, salt), t0 + 10)
  for (const [k, price] of bids) await f.final(buildBidReveal(f.by(k), { taskId, price, salt, ...taskKey }), t0 + 2010)
}

/**
 * Three registered providers on a task announced at t0 (windows of 2 s, a 1-s deadline: the reveal window closes at
 * t0 + 4001): `cheap` and `dear` bid 100 and 200 and reveal, `third` commits 50 with `salt` and has not revealed.
 */
async function threeBids (f: Fixture, t0: number): Promise<{ taskId: Uint8Array, announce: ReturnType<typeof matmulAnnounce>, cheap: KeyPair, dear: KeyPair, third: KeyPair, salt: Uint8Array }> {
  const [requester, cheap, dear, third] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()]
  for (const k of [cheap, dear, third]) await f.final(buildProviderRegister(f.by(k), cpuProvider(MIN_BOND)), t0)
  const announce = matmulAnnounce({ bidWindowMs: 2000, revealWindowMs: 2000, executionDeadlineMs: 1000 })
  const { tx, taskId } = buildTaskAnnounce(f.by(requester), announce)
  await f.final(tx, t0 + 1)
  await bidTwo(f, taskId, t0, [cheap, 100n], [dear, 200n])
  const salt = new Uint8Array(32).fill(9)
  await f.final(buildBidCommit(f.by(third), taskId, 50n, salt), t0 + 20)
  return { taskId, announce, cheap, dear, third, salt }
}

/** Two registered providers bid 100 (`cheap`) and 200 (`dear`) on a fresh task announced at t0 (windows of 2 s): its award is due. */
async function auctionAt (f: Fixture, t0: number, requester: KeyPair, cheap: KeyPair, dear: KeyPair): Promise<Uint8Array> {
  await f.final(buildProviderRegister(f.by(cheap), cpuProvider(MIN_BOND)), t0)
  await f.final(buildProviderRegister(f.by(dear), cpuProvider(MIN_BOND)), t0)
  const { tx: announce, taskId } = buildTaskAnnounce(f.by(requester), matmulAnnounce({ bidWindowMs: 2000, revealWindowMs: 2000, executionDeadlineMs: 10_000 }))
  await f.final(announce, t0 + 1)
  await bidTwo(f, taskId, t0, [cheap, 100n], [dear, 200n])
  return taskId
}

test('a late winner with no bond left is slashed 0, the slash checks valid, and its replacement is awarded', async (t) => {
  const f = await fixture()
  const { validator, state, coordinator, submitted, checkers, next, final, by } = f
  const [requester, liar, honest] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  try {
    // the whole history lies a minute in the past, so every window and deadline has passed on the coordinator's clock
    const t0 = Date.now() - 60_000
    const taskId = await auctionAt(f, t0, requester, liar, honest)
    // its bid window is long: it needs no decision during this test
    const { tx: other, taskId: otherTaskId } = buildTaskAnnounce(by(requester), matmulAnnounce({ bidWindowMs: 600_000 }))
    await final(other, t0 + 1)

    // the first award, as the coordinator issues it: the liar is cheapest and wins
    await coordinator.tick()
    t.is(submitted.length, 1)
    const award = submitted.shift()
    t.is(award?.kind, TX_KIND_TASK_AWARD)
    t.deepEqual(taskAwardKind.decode((award as Transaction).payload).winners.map(w => toHex(w)), [toHex(addr(liar))])
    t.is(await checkers.get(TX_KIND_TASK_AWARD)?.(txInfo(encodeTx(award as Transaction))), 'valid')
    await final(award as Transaction, t0 + 4500)

    // other tasks' slashes take the liar's whole bond (halves, then the last unit) before its deadline passes
    const bond = bondAccount(addr(liar))
    for (let amount = slashAmount(MIN_BOND, 'fault'); amount > 0n; amount = slashAmount((await state.providerRecord(toHex(addr(liar))))?.bond ?? 0n, 'fault')) {
      await final(buildBondSlash(CHAIN, validator, next(bond), { provider: addr(liar), taskId: otherTaskId, reason: 'fault', amount, beneficiary: addr(requester) }), t0 + 5000)
    }
    const drained = await state.providerRecord(toHex(addr(liar)))
    t.is(drained?.bond, 0n)
    const lates = drained?.lates ?? 0

    // its deadline passed with no result: the late slash is issued for what is left (nothing)
    await coordinator.tick()
    t.is(submitted.length, 1)
    const slash = submitted.shift()
    t.is(slash?.kind, TX_KIND_BOND_SLASH, 'a late slash of an empty bond is issued')
    const p = bondSlashKind.decode((slash as Transaction).payload)
    t.is(p.reason, 'late')
    t.is(p.amount, 0n)
    t.deepEqual(bondSlashKind.effects(p, { account: bond, nonce: (slash as Transaction).nonce }), { debit: 0n, credits: [] })
    t.is(await checkers.get(TX_KIND_BOND_SLASH)?.(txInfo(encodeTx(slash as Transaction))), 'valid', 'every validator recomputes the same 0')
    // a late slash pays the validators' fee pool, never the requester, who decides whether its inputs can be fetched
    t.deepEqual(p.beneficiary, FEE_POOL_ACCOUNT)
    const toRequester = buildBondSlash(CHAIN, validator, (slash as Transaction).nonce, { ...p, beneficiary: addr(requester) })
    t.is(await checkers.get(TX_KIND_BOND_SLASH)?.(txInfo(encodeTx(toRequester))), 'invalid', 'a late slash paying the requester is refused')
    await final(slash as Transaction, t0 + 20_000)
    t.is((await state.providerRecord(toHex(addr(liar))))?.lates, lates + 1, 'the lateness counts in reputation whatever the bond')

    // the task goes on: the honest bidder gets the replacement round
    await coordinator.tick()
    t.is(submitted.length, 1)
    const replacement = submitted.shift()
    t.is(replacement?.kind, TX_KIND_TASK_AWARD)
    const r = taskAwardKind.decode((replacement as Transaction).payload)
    t.is(r.round, 1)
    t.deepEqual(r.winners.map(w => toHex(w)), [toHex(addr(honest))])
    t.is(replacement?.nonce, next(escrowAccount(taskId)))
    t.is(await checkers.get(TX_KIND_TASK_AWARD)?.(txInfo(encodeTx(replacement as Transaction))), 'valid')
  } finally {
    await f.close()
  }
})

test('a private task whose winner and spot-checker disagree is settled unresolved: all refunded, nobody paid or slashed, no re-execution', async (t) => {
  let reexecutions = 0
  // as the market node's hook: a private task's inputs are sealed to its providers, no validator can re-run it
  const f = await fixture(async (task) => { reexecutions++; throw new Error(`task ${task.taskId} is private`) })
  const { state, coordinator, submitted, checkers, balances, final, by } = f
  const [requester, liar, honest] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  try {
    const t0 = Date.now() - 60_000
    await final(buildProviderRegister(by(liar), cpuProvider(MIN_BOND)), t0)
    await final(buildProviderRegister(by(honest), cpuProvider(MIN_BOND)), t0)
    const announced = matmulAnnounce({ verification: 'spot-check', private: true, requesterKemKey: new Uint8Array(1184).fill(3), bidWindowMs: 2000, revealWindowMs: 2000, executionDeadlineMs: 10_000 })
    const { tx: announce, taskId } = buildTaskAnnounce(by(requester), announced)
    await final(announce, t0 + 1)
    balances.set(toHex(escrowAccount(taskId)), escrowOf(announced))
    await bidTwo(f, taskId, t0, [liar, 100n], [honest, 200n])
    await coordinator.tick()
    const award = submitted.shift() as Transaction
    const awarded = taskAwardKind.decode(award.payload)
    t.deepEqual(awarded.winners.map(w => toHex(w)), [toHex(addr(liar))])
    t.is(awarded.checker !== undefined ? toHex(awarded.checker) : undefined, toHex(addr(honest)))
    await final(award, t0 + 4500)
    const result = (k: KeyPair, fill: number): Transaction => buildTaskResult(by(k), { taskId, round: 0, commitment: new Uint8Array(32).fill(fill), outputBlob: new Uint8Array(32).fill(fill), outputBytes: 16, profile: 'cpu-ref-v1' })
    await final(result(liar, 1), t0 + 5000)
    await final(result(honest, 2), t0 + 5000)

    await coordinator.tick()
    t.is(submitted.length, 1)
    const settle = submitted.shift() as Transaction
    t.is(settle.kind, TX_KIND_TASK_SETTLE)
    const p = taskSettleKind.decode(settle.payload)
    t.is(p.outcome, 'unresolved')
    t.deepEqual(p.payouts, [])
    t.is(p.fee, 0n)
    t.is(p.refund, escrowOf(announced), 'the whole escrow goes back to the requester')
    t.is(await checkers.get(TX_KIND_TASK_SETTLE)?.(txInfo(encodeTx(settle))), 'valid')
    await final(settle, t0 + 6000)
    const view = await state.task(toHex(taskId))
    t.is(view?.phase, 'refunded')
    t.deepEqual(view?.results.map(r => r.verdict), ['unresolved', 'unresolved'], 'neither result reads as pending once settled unresolved')
    // as task_get shows it, valid against the method's result schema
    const rpc = RPC_METHODS.task_get.result.parse(taskToRpc(view as NonNullable<typeof view>))
    t.deepEqual(rpc?.results.map(r => r.verdict), ['unresolved', 'unresolved'])
    t.deepEqual(state.openTaskIds(), [], 'nothing left to do: no fault to slash')
    await coordinator.tick()
    t.deepEqual(submitted, [], 'no slash without proof')
    t.is(reexecutions, 0, 'a private task is never sent to re-execution')
    t.is((await state.providerRecord(toHex(addr(liar))))?.faults, 0)
  } finally {
    await f.close()
  }
})

test('each final market transaction the state applies asks the ledger to check held decisions again, until the coordinator stops', async (t) => {
  const f = await fixture()
  const provider = generateKeyPair()
  try {
    const before = f.rechecks.count
    await f.final(buildProviderRegister(f.by(provider), cpuProvider(MIN_BOND)), Date.now())
    t.is(f.rechecks.count, before + 1, 'an award or settle held pending on this state is checked again as soon as it moves')
    t.deepEqual(f.rechecks.kinds, [TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE, TX_KIND_BOND_SLASH], 'its own decisions only (a deposit credit waits on the chain, not on this state)')
    await f.coordinator.stop()
    const { tx } = buildTaskAnnounce(f.by(generateKeyPair()), matmulAnnounce({}))
    await f.final(tx, Date.now())
    t.is(f.rechecks.count, before + 1, 'a stopped coordinator asks nothing')
  } finally {
    await f.close()
  }
})

test('a decision another validator issued, pending in an inserted vertex, is not issued again at its slot until the resubmit time', async (t) => {
  const f = await fixture(undefined, { resubmitMs: 300 })
  const { coordinator, submitted, next } = f
  const [requester, cheap, dear, other] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()]
  try {
    const taskId = await auctionAt(f, Date.now() - 60_000, requester, cheap, dear)
    // the award is due and it is this validator's turn, but another validator's award for the escrow's next nonce
    // is already in a vertex here: a second one would conflict with it
    f.insert(buildTaskAward(CHAIN, other, next(escrowAccount(taskId)), { taskId, round: 0, considered: [], winners: [addr(cheap)] }))
    await coordinator.tick()
    t.is(submitted.length, 0, 'no second decision at that account and nonce while the first may still be accepted')
    // it never became final: after the resubmit time the turn is this validator's again
    await new Promise(resolve => setTimeout(resolve, 350))
    await coordinator.tick()
    t.is(submitted.length, 1)
    t.is(submitted[0].kind, TX_KIND_TASK_AWARD)
    t.is(submitted[0].nonce, next(escrowAccount(taskId)))
  } finally {
    await f.close()
  }
})

test('the issuer closes a window only once no reveal or result of the task stamped by its close is undecided here: one still finalizing is counted', async (t) => {
  // the transactions in vertices this node holds undecided, with their vertices' signed times
  let undecided: Array<{ tx: Transaction, stampMs: number }> = []
  const f = await fixture(undefined, { undecided: () => undecided.map(u => ({ tx: txInfo(encodeTx(u.tx)), stampMs: BigInt(u.stampMs) })) })
  const { coordinator, submitted, checkers, by, final } = f
  try {
    // the wall clock is past every grace below, not past its longest wait
    const t0 = Date.now() - 9500
    const { taskId, announce, dear, third, salt } = await threeBids(f, t0)
    const elsewhere = new Uint8Array(32).fill(7) // a task this node knows nothing of
    // the reveal window closes at t0 + 4001. Another task's reveal undecided since t0 + 100 holds nothing here
    const otherReveal = buildBidReveal(by(dear), { taskId: elsewhere, price: 1n, salt })
    undecided = [{ tx: otherReveal, stampMs: t0 + 100 }]
    // the third bidder's reveal (in a batch with another task's) sits in a vertex stamped t0 + 3990, undecided
    const batch = buildBidReveals(by(third), [{ taskId: elsewhere, price: 50n, salt }, { taskId, price: 50n, salt }])
    undecided.push({ tx: batch, stampMs: t0 + 3990 })
    await coordinator.tick()
    t.is(submitted.length, 0, 'the wall-clock grace is over, an in-time reveal of the task is still finalizing: no award')
    t.is(f.finalizingHeld.at(-1), 1, 'the gauge shows the task held')
    await final(batch, t0 + 3990)
    undecided = [{ tx: otherReveal, stampMs: t0 + 100 }]
    await coordinator.tick()
    t.is(submitted.length, 1)
    t.is(f.finalizingHeld.at(-1), 0, 'another task\'s reveal holds nothing here')
    const award = submitted.shift() as Transaction
    const p = taskAwardKind.decode(award.payload)
    t.is(p.considered.length, 3, 'the reveal final after the grace is considered')
    t.deepEqual(p.winners.map(w => toHex(w)), [toHex(addr(third))], 'and, cheapest, it wins')
    t.is(await checkers.get(TX_KIND_TASK_AWARD)?.(txInfo(encodeTx(award))), 'valid', 'a check (the grace alone) finds the later award due')
    t.deepEqual(f.finalizingCut, [], 'issued once the reveal was final, not on the bound')
    await final(award, t0 + 6100)

    // the deadline (t0 + 7100) and its grace pass on the wall clock; the result, stamped in time, is not final yet
    const result = buildTaskResult(by(third), { taskId, round: 0, commitment: new Uint8Array(32).fill(1), outputBlob: new Uint8Array(32).fill(1), outputBytes: 16, profile: 'cpu-ref-v1' })
    undecided = [{ tx: result, stampMs: t0 + 7000 }]
    await coordinator.tick()
    t.is(submitted.length, 0, 'no late slash while the winner\'s in-time result is undecided')
    t.is(f.finalizingHeld.at(-1), 1)
    await final(result, t0 + 7000)
    undecided = []
    f.balances.set(toHex(escrowAccount(taskId)), escrowOf(announce))
    await coordinator.tick()
    t.is(submitted.length, 1)
    t.is(submitted[0].kind, TX_KIND_TASK_SETTLE, 'the in-time result is paid, its provider not slashed')
    t.deepEqual(taskSettleKind.decode(submitted[0].payload).payouts.map(x => toHex(x.provider)), [toHex(addr(third))])
  } finally {
    await f.close()
  }
})

test('an in-time reveal still undecided once the issuer\'s wait ran out is left out of the award, and the award is counted as cut', async (t) => {
  let undecided: Array<{ tx: Transaction, stampMs: number }> = []
  const f = await fixture(undefined, { undecided: () => undecided.map(u => ({ tx: txInfo(encodeTx(u.tx)), stampMs: BigInt(u.stampMs) })) })
  const { coordinator, submitted, by } = f
  try {
    // the reveal window closes at t0 + 4001: the wall clock is past its grace (2 s) and the wait (FINALIZING_WAIT_MS)
    const t0 = Date.now() - 4001 - 2000 - FINALIZING_WAIT_MS - 500
    const { taskId, cheap, third, salt } = await threeBids(f, t0)
    undecided = [{ tx: buildBidReveal(by(third), { taskId, price: 50n, salt }), stampMs: t0 + 3990 }]
    await coordinator.tick()
    t.is(submitted.length, 1, 'the wait ran out: the award is issued')
    const p = taskAwardKind.decode(submitted[0].payload)
    t.is(p.considered.length, 2, 'the reveal still finalizing is left out')
    t.deepEqual(p.winners.map(w => toHex(w)), [toHex(addr(cheap))])
    t.deepEqual(f.finalizingCut, ['award'], 'and the award is counted as issued on the bound')
    t.is(f.finalizingHeld.at(-1), 0, 'no task is held any more')
  } finally {
    await f.close()
  }
})

test('under the commit rule a decision is checked where the order reaches it: at its vertex\'s signed time and the final clock of its slot, on the state as of its slot', async (t) => {
  const f = await fixture(undefined, { rule: 'commit' })
  const { coordinator, submitted, checkers, orderCheckers, orderRefusals, final, validator } = f
  const [requester, cheap, dear] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  try {
    t.is(checkers.size, 0, 'nothing is held for a vote under the commit rule')
    t.deepEqual([...orderCheckers.keys()].sort((a, b) => a - b), [TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE, TX_KIND_BOND_SLASH].sort((a, b) => a - b))
    const t0 = Date.now() - 60_000
    await auctionAt(f, t0, requester, cheap, dear)
    await coordinator.tick()
    const award = submitted.shift() as Transaction
    t.is(award.kind, TX_KIND_TASK_AWARD)
    const check = orderCheckers.get(TX_KIND_TASK_AWARD) as OrderChecker
    await check.ready()
    const info = txInfo(encodeTx(award))
    // the bid window closed at t0 + 2,001, the reveal window at t0 + 4,001, and the grace is 2 s: a vertex stamped
    // before that carries it too early, whatever this node's clock says now, unless the auction is sealed on the final
    // clock as of the slot (every validator's ordered vertices past the bid window, and every in-time commit revealed)
    const at = (ms: number, sealedMs?: number): OrderPoint => ({ vertexTimeMs: BigInt(t0 + ms), sealedThroughMs: sealedMs === undefined ? undefined : BigInt(t0 + sealedMs) })
    t.is(await check.check(info, at(4500)), 'pending')
    t.is(await check.check(info, at(4500, 1900)), 'pending', 'a validator not final past the bid window yet')
    t.is(await check.check(info, at(4500, 2100)), undefined, 'sealed: every validator final past the bid window, both commits revealed')
    t.is(await check.check(info, at(7000)), undefined)
    // a second round-0 award at the escrow's next nonce is the same award until the first is in the state the order reached
    const again = txInfo(encodeTx(buildTaskAward(CHAIN, validator, 1n, taskAwardKind.decode(award.payload))))
    t.is(await check.check(again, at(7000)), undefined)
    await final(award, t0 + 7000)
    await check.ready()
    t.is(await check.check(again, at(7100)), 'invalid', 'round 0 is awarded in the state the order reached')
    t.deepEqual(orderRefusals, ['award pending', 'award pending', 'award invalid'], 'each refusal counted (harmony_market_order_refusals_total)')
  } finally {
    await f.close()
  }
})

test('under the commit rule a dispute is settled by the re-execution validators holding the quorum put in the order, not by a node\'s own', async (t) => {
  const honestCommitment = toHex(new Uint8Array(32).fill(2))
  let reexecutions = 0
  const f = await fixture(async () => { reexecutions++; return honestCommitment }, { rule: 'commit' })
  const { state, coordinator, submitted, orderCheckers, balances, final, by, validator } = f
  const [requester, liar, honest] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  try {
    const t0 = Date.now() - 60_000
    await final(buildProviderRegister(by(liar), cpuProvider(MIN_BOND)), t0)
    await final(buildProviderRegister(by(honest), cpuProvider(MIN_BOND)), t0)
    const announced = matmulAnnounce({ verification: 'spot-check', bidWindowMs: 2000, revealWindowMs: 2000, executionDeadlineMs: 10_000 })
    const { tx: announce, taskId } = buildTaskAnnounce(by(requester), announced)
    await final(announce, t0 + 1)
    balances.set(toHex(escrowAccount(taskId)), escrowOf(announced))
    await bidTwo(f, taskId, t0, [liar, 100n], [honest, 200n])
    await coordinator.tick()
    await final(submitted.shift() as Transaction, t0 + 6500)
    const result = (k: KeyPair, fill: number): Transaction => buildTaskResult(by(k), { taskId, round: 0, commitment: new Uint8Array(32).fill(fill), outputBlob: new Uint8Array(32).fill(fill), outputBytes: 16, profile: 'cpu-ref-v1' })
    await final(result(liar, 1), t0 + 7000)
    await final(result(honest, 2), t0 + 7000)

    // the winner and the checker disagree: a settle is not due until the order holds a quorum of re-executions
    const early = buildTaskSettle(CHAIN, validator, 1n, { taskId, outcome: 'disputed', payouts: [{ provider: addr(honest), amount: 198n }], fee: 2n, refund: escrowOf(announced) - 200n, requester: addr(requester) })
    const check = orderCheckers.get(TX_KIND_TASK_SETTLE) as OrderChecker
    t.is(await check.check(txInfo(encodeTx(early)), { vertexTimeMs: BigInt(t0 + 8000), sealedThroughMs: undefined }), 'pending')
    // this validator re-executes (in the background) and puts its commitment in the order, not a settle
    await coordinator.tick()
    for (let i = 0; i < 50 && reexecutions === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
    await coordinator.tick()
    t.deepEqual(submitted.map(x => x.kind), [TX_KIND_TASK_REEXEC])
    const attest = submitted.shift() as Transaction
    t.is(attest.kind, TX_KIND_TASK_REEXEC)
    t.deepEqual(taskReexecKind.decode(attest.payload).commitment, fromHex(honestCommitment))
    await final(attest, t0 + 8500)
    t.deepEqual([...(await state.taskRecord(toHex(taskId)))?.reexecutions ?? []], [[toHex(addr(validator)), honestCommitment]])

    // with the quorum's re-execution in the order, the settle pays the checker that agrees with it, and every node checks it so
    await coordinator.tick()
    const settle = submitted.shift() as Transaction
    t.is(settle?.kind, TX_KIND_TASK_SETTLE)
    const p = taskSettleKind.decode(settle.payload)
    t.is(p.outcome, 'disputed')
    t.deepEqual(p.payouts.map(x => toHex(x.provider)), [toHex(addr(honest))])
    t.is(await check.check(txInfo(encodeTx(settle)), { vertexTimeMs: BigInt(t0 + 9000), sealedThroughMs: undefined }), undefined)
    await final(settle, t0 + 9000)
    t.deepEqual((await state.taskRecord(toHex(taskId)))?.settlement?.faults, [toHex(addr(liar))], 'the liar is at fault: its slash comes next')
  } finally {
    await f.close()
  }
})
