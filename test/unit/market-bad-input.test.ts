/**
 * Bad input to the market on a one-validator ledger (real LevelDB, real ML-DSA, libp2p on loopback): each is
 * refused with its typed code, nothing is stored for it and nothing is paid.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { toHex } from '../../src/core/codec.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { encodeTx, signTx, TX_VERSION, txInfo } from '../../src/dag/tx.ts'
import {
  type ApplyOutcome, buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskAnnounce, buildTaskCancel, buildTaskResult, escrowAccount, type MarketService,
  registerMarketKinds, TX_KIND_TASK_ANNOUNCE, marketRules
} from '../../src/market/index.ts'
import { createTestNet, waitFor } from '../helpers/dag-net.ts'
import { cpuProvider, matmulAnnounce, Signer, startMarket } from '../helpers/market.ts'

registerMarketKinds()

function refusals (market: MarketService): Array<{ kind: number, code: string }> {
  const out: Array<{ kind: number, code: string }> = []
  market.state.onApplied((tx, o: ApplyOutcome) => { if (o.status === 'refused') out.push({ kind: tx.tx.kind, code: o.code }) })
  return out
}

test.serial('malformed and underfunded announces, a late bid, a reveal that does not open its commit, a result from a provider never awarded', async (t) => {
  const net = await createTestNet({ nodes: 1, accounts: 5, accountBalance: 10n ** 21n })
  const node = net.nodes[0]
  const market = await startMarket(node)
  try {
    const dag = node.dag
    const refused = refusals(market)
    const chainId = net.genesis.chainId
    const [requester, p1, p2, poor, p3] = net.accounts.map(k => new Signer(chainId, k))
    const submit = async (tx: Parameters<typeof dag.submitTransaction>[0]): Promise<string> => (await dag.submitTransaction(tx)).slice(2)
    const final = async (id: string): Promise<void> => { await waitFor(async () => (await dag.reader.finalTx(id)) !== undefined, `tx ${id.slice(0, 8)} final`) }

    // malformed: a payload that breaks the announce rules never enters the ledger
    const good = buildTaskAnnounce(requester.next(), matmulAnnounce()).tx
    requester.unuse()
    const bad = { ...good, payload: good.payload.slice(0, -1) }
    const err = await t.throwsAsync(submit(signTx(chainId, { version: TX_VERSION, kind: TX_KIND_TASK_ANNOUNCE, publicKey: bad.publicKey, nonce: bad.nonce, fee: bad.fee, payload: bad.payload }, requester.keys.secretKey)))
    t.true(isDagError(err))
    t.is((err as { code?: string }).code, 'ENCODING_INVALID')

    // underfunded: budget × replicas above the balance is refused by the ledger, no escrow is locked
    const { tx: costly, taskId: costlyId } = buildTaskAnnounce(poor.next(), matmulAnnounce({ budget: 10n ** 22n }))
    const under = await t.throwsAsync(submit(costly))
    t.is((under as { code?: string }).code, 'INSUFFICIENT_BALANCE')
    poor.unuse()
    t.is((await dag.reader.account(escrowAccount(costlyId))).balance, 0n)

    // providers register; a task with short windows
    const bond = marketRules.MIN_BOND
    await final(await submit(buildProviderRegister(p1.next(), cpuProvider(bond))))
    await final(await submit(buildProviderRegister(p2.next(), cpuProvider(bond))))
    await final(await submit(buildProviderRegister(p3.next(), cpuProvider(bond))))
    const { tx: announce, taskId } = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 2000, revealWindowMs: 2000 }))
    await final(await submit(announce))
    const taskHex = toHex(taskId)
    await waitFor(async () => (await market.reader.task(taskHex)) !== undefined, 'task applied')

    // p1 commits in time; its reveal opens a different price: REVEAL_MISMATCH, never considered
    const salt = randomBytes(32)
    const salt3 = randomBytes(32)
    await final(await submit(buildBidCommit(p1.next(), taskId, 900n, salt)))
    await final(await submit(buildBidCommit(p3.next(), taskId, 950n, salt3)))
    const task = await market.reader.task(taskHex)
    // p2 commits after the bid window: the node's admission refuses it with the market's code (any vertex of this
    // node would be stamped at or after now, where the rule refuses it too), and its nonce stays unused
    await waitFor(() => Date.now() > (task?.bidsCloseAtMs ?? 0) + 50, 'bid window closed')
    const lateCommit = buildBidCommit(p2.next(), taskId, 800n, randomBytes(32))
    t.like(await market.state.precheck(txInfo(encodeTx(lateCommit))), { status: 'refused', code: 'BID_LATE' })
    const late = await t.throwsAsync(submit(lateCommit))
    t.like(late, { code: 'TX_REFUSED', meta: { rule: 'BID_LATE' } })
    p2.unuse()
    t.is(await dag.getTx(`0x${txInfo(encodeTx(lateCommit)).idHex}`), undefined, 'the late commit is not in the ledger')
    // p1's reveal opens another price than it committed to: REVEAL_MISMATCH at admission, its nonce unused
    const mismatch = await t.throwsAsync(submit(buildBidReveal(p1.next(), { taskId, price: 901n, salt })))
    t.like(mismatch, { code: 'TX_REFUSED', meta: { rule: 'REVEAL_MISMATCH' } })
    p1.unuse()
    await final(await submit(buildBidReveal(p3.next(), { taskId, price: 950n, salt: salt3 })))
    // p2 answers a task it was never awarded: before the award it waits (parked), then RESULT_NOT_AWARDED
    await final(await submit(buildTaskResult(p2.next(), { taskId, round: 0, commitment: randomBytes(32), outputBlob: randomBytes(32), outputBytes: 16, profile: 'cpu-ref-v1' })))
    t.is((await market.reader.task(taskHex))?.results.length, 0, 'a result with no award is not stored')
    await waitFor(() => refused.length >= 1, 'the result refused where it applies', 30_000)
    t.deepEqual(refused.map(r => r.code), ['RESULT_NOT_AWARDED'])
    const awarded = await market.reader.task(taskHex)
    t.deepEqual(awarded?.winners, [p3.addressText])
    const bids = await market.reader.bids(taskHex)
    t.is(bids.length, 2, 'the late commit is not stored')
    const unopened = bids.find(b => b.provider === p1.addressText)
    t.is(unopened?.status, 'lost')
    t.is(unopened?.lossReason, 'unrevealed')
    t.is(awarded?.results.length, 0, 'a result from a provider never awarded is not stored')
    // now that the award is final here, a second result from p2 is refused at admission
    const notAwarded = await t.throwsAsync(submit(buildTaskResult(p2.next(), { taskId, round: 0, commitment: randomBytes(32), outputBlob: randomBytes(32), outputBytes: 16, profile: 'cpu-ref-v1' })))
    t.like(notAwarded, { code: 'TX_REFUSED', meta: { rule: 'RESULT_NOT_AWARDED' } })
    p2.unuse()
    const admissionRefusals = await node.registry.getSingleMetric('harmony_market_admission_refusals_total')?.get()
    t.deepEqual(Object.fromEntries((admissionRefusals?.values ?? []).map(v => [v.labels.code, v.value])), { BID_LATE: 1, REVEAL_MISMATCH: 1, RESULT_NOT_AWARDED: 1 })
    // nothing was paid yet: the escrow still holds the whole budget
    t.is((await dag.reader.account(escrowAccount(taskId))).balance, 1000n)
    // the winner's result is paid as bid, less the 1 % fee; the rest of the escrow goes back to the requester
    const before = (await dag.reader.account(requester.address)).balance
    await final(await submit(buildTaskResult(p3.next(), { taskId, round: 0, commitment: randomBytes(32), outputBlob: randomBytes(32), outputBytes: 16, profile: 'cpu-ref-v1' })))
    await waitFor(async () => (await market.reader.task(taskHex))?.settlement !== undefined, 'settled', 30_000)
    const settled = await market.reader.task(taskHex)
    t.is(settled?.phase, 'settled')
    t.deepEqual(settled?.settlement?.payouts, [{ provider: p3.addressText, amount: 941n }])
    t.is(settled?.settlement?.fee, 9n)
    t.is(settled?.settlement?.refund, 50n)
    t.is((await dag.reader.account(escrowAccount(taskId))).balance, 0n)
    t.is((await dag.reader.account(requester.address)).balance, before + 50n)
    t.is((await market.reader.provider(p3.addressText))?.received, 941n)
  } finally {
    await market.stop()
    await net.close()
  }
})

test.serial('a task nobody bids on expires and is refunded in full; a cancelled task is refunded before any award', async (t) => {
  const net = await createTestNet({ nodes: 1, accounts: 1, accountBalance: 10n ** 21n })
  const node = net.nodes[0]
  const market = await startMarket(node)
  try {
    const dag = node.dag
    const requester = new Signer(net.genesis.chainId, net.accounts[0])
    const final = async (id: string): Promise<void> => { await waitFor(async () => (await dag.reader.finalTx(id)) !== undefined, `tx ${id.slice(0, 8)} final`) }
    const expiring = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 500, revealWindowMs: 500, budget: 5000n }))
    const cancelled = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 60_000, revealWindowMs: 60_000, budget: 7000n }))
    await final((await dag.submitTransaction(expiring.tx)).slice(2))
    await final((await dag.submitTransaction(cancelled.tx)).slice(2))
    const funded = (await dag.reader.account(requester.address)).balance
    await final((await dag.submitTransaction(buildTaskCancel(requester.next(), cancelled.taskId))).slice(2))
    const settled = async (id: Uint8Array): Promise<boolean> => (await market.reader.task(toHex(id)))?.settlement !== undefined
    await waitFor(async () => await settled(expiring.taskId) && await settled(cancelled.taskId), 'both settled', 30_000)
    const e = await market.reader.task(toHex(expiring.taskId))
    t.is(e?.phase, 'expired')
    t.is(e?.awards[0]?.winners.length, 0)
    t.deepEqual({ payouts: e?.settlement?.payouts, fee: e?.settlement?.fee, refund: e?.settlement?.refund }, { payouts: [], fee: 0n, refund: 5000n })
    const c = await market.reader.task(toHex(cancelled.taskId))
    t.is(c?.phase, 'cancelled')
    t.is(c?.awards.length, 0)
    t.is(c?.settlement?.refund, 7000n)
    // both escrows came back whole; the cancel's own fee is the only cost
    t.is((await dag.reader.account(requester.address)).balance, funded + 5000n + 7000n - 1000n)
    t.is((await dag.reader.account(escrowAccount(expiring.taskId))).balance, 0n)
    t.is((await dag.reader.account(escrowAccount(cancelled.taskId))).balance, 0n)
    const payments = await market.reader.payments(requester.addressText)
    t.deepEqual(payments.map(p => [p.kind, p.amount]).sort(), [['refund', 5000n], ['refund', 7000n]])
  } finally {
    await market.stop()
    await net.close()
  }
})

test.serial('a result final after its task settled is refused TASK_CLOSED: a late winner replaced and slashed cannot change the settled record', async (t) => {
  const net = await createTestNet({ nodes: 1, accounts: 3, accountBalance: 10n ** 21n })
  const node = net.nodes[0]
  const market = await startMarket(node)
  try {
    const dag = node.dag
    const chainId = net.genesis.chainId
    const [requester, slow, backup] = net.accounts.map(k => new Signer(chainId, k))
    const submit = async (tx: Parameters<typeof dag.submitTransaction>[0]): Promise<string> => (await dag.submitTransaction(tx)).slice(2)
    const final = async (id: string): Promise<void> => { await waitFor(async () => (await dag.reader.finalTx(id)) !== undefined, `tx ${id.slice(0, 8)} final`) }
    const bond = marketRules.MIN_BOND
    await final(await submit(buildProviderRegister(slow.next(), cpuProvider(bond))))
    await final(await submit(buildProviderRegister(backup.next(), cpuProvider(bond))))
    const { tx: announce, taskId } = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 1500, revealWindowMs: 1500, executionDeadlineMs: 500 }))
    await final(await submit(announce))
    const taskHex = toHex(taskId)
    await waitFor(async () => (await market.reader.task(taskHex)) !== undefined, 'task applied')
    // the cheaper bid wins round 0 and never answers in time; the other is the replacement of round 1
    const bids = [{ by: slow, price: 500n, salt: randomBytes(32) }, { by: backup, price: 900n, salt: randomBytes(32) }]
    for (const b of bids) await final(await submit(buildBidCommit(b.by.next(), taskId, b.price, b.salt)))
    const opened = await market.reader.task(taskHex)
    await waitFor(() => Date.now() > (opened?.bidsCloseAtMs ?? 0) + 50, 'bid window closed')
    for (const b of bids) await final(await submit(buildBidReveal(b.by.next(), { taskId, price: b.price, salt: b.salt })))
    await waitFor(async () => (await market.reader.task(taskHex))?.awards.some(a => a.round === 1) === true, 'the late winner replaced', 30_000)
    const result = (round: number, by: Signer): ReturnType<typeof buildTaskResult> =>
      buildTaskResult(by.next(), { taskId, round, commitment: new Uint8Array(32).fill(round + 1), outputBlob: randomBytes(32), outputBytes: 16, profile: 'cpu-ref-v1' })
    await final(await submit(result(1, backup)))
    await waitFor(async () => (await market.reader.task(taskHex))?.settlement !== undefined, 'settled', 30_000)
    const settled = await market.reader.task(taskHex)
    t.is(settled?.phase, 'settled')
    t.true(settled?.slashes.some(s => s.provider === slow.addressText && s.reason === 'late'))
    // round 0's winner answers now: whether it reaches a vertex (sent before the settle was final, say) or not, the
    // market refuses it where it applies, and the settled task keeps the results it was decided on
    const lateResult = result(0, slow)
    t.like(await market.state.precheck(txInfo(encodeTx(lateResult))), { status: 'refused', code: 'TASK_CLOSED' })
    const closed = await t.throwsAsync(submit(lateResult))
    t.like(closed, { code: 'TX_REFUSED', meta: { rule: 'TASK_CLOSED' } })
    slow.unuse()
    t.deepEqual((await market.reader.task(taskHex))?.results, settled?.results)
  } finally {
    await market.stop()
    await net.close()
  }
})
