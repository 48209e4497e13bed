/**
 * Four validators, each with its own market state and coordinator: an announce, sealed bids from two providers
 * (commit, then reveal, signed with their own keys), the award, the winner's result and the settle. Every node
 * recomputes and agrees on every decision, and balances + escrow + bonds (+ the fee pool) are conserved: under
 * Avalanche (each node checks a decision before it votes) and under the commit rule (each node checks it where the
 * order reaches it, on the market state as of that point).
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { toHex } from '../../src/core/codec.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import {
  bondAccount, buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskAnnounce, buildTaskResult, escrowAccount, type MarketService, marketRules, registerMarketKinds
} from '../../src/market/index.ts'
import type { Transaction } from '../../src/dag/tx.ts'
import { createTestNet, type TestNet, waitFor } from '../helpers/dag-net.ts'
import { cpuProvider, matmulAnnounce, Signer, startMarket } from '../helpers/market.ts'

registerMarketKinds()

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))

async function totalOf (net: TestNet, i: number, accounts: Uint8Array[]): Promise<bigint> {
  let sum = 0n
  for (const a of accounts) sum += (await net.nodes[i].dag.reader.account(a)).balance
  return sum
}

const agreeAndConserve = test.macro(async (t, rule: 'avalanche' | 'commit') => {
  const net = await createTestNet({ nodes: 4, accounts: 3, accountBalance: 10n ** 21n, consensus: { rule } })
  const markets: MarketService[] = []
  try {
    for (const node of net.nodes) markets.push(await startMarket(node))
    const chainId = net.genesis.chainId
    const [requester, p1, p2] = net.accounts.map(k => new Signer(chainId, k))
    // clients send to different validators; the DAG carries their transactions to all
    let next = 0
    const submit = async (tx: Transaction): Promise<string> => (await net.nodes[next++ % 4].dag.submitTransaction(tx)).slice(2)
    const finalEverywhere = async (id: string): Promise<void> => {
      await waitFor(async () => { for (const n of net.nodes) if ((await n.dag.reader.finalTx(id)) === undefined) return false; return true }, `tx ${id.slice(0, 8)} final on every node`)
    }
    const announce = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 8000, revealWindowMs: 8000, budget: 10_000n }))
    const taskId = announce.taskId
    const taskHex = toHex(taskId)
    const watched = [requester.address, p1.address, p2.address, bondAccount(p1.address), bondAccount(p2.address), escrowAccount(taskId), FEE_POOL_ACCOUNT]
    const before = await totalOf(net, 0, watched)

    const bond = marketRules.MIN_BOND
    await finalEverywhere(await submit(buildProviderRegister(p1.next(), cpuProvider(bond))))
    await finalEverywhere(await submit(buildProviderRegister(p2.next(), cpuProvider(bond * 2n))))
    const a = await submit(announce.tx)
    // the providers commit as soon as they see the announce: the windows run from its vertex's time, and a commit
    // that becomes final before the announce on some node waits there for it (parked), the same on every node
    const s1 = randomBytes(32)
    const s2 = randomBytes(32)
    const c1 = await submit(buildBidCommit(p1.next(), taskId, 7_000n, s1))
    const c2 = await submit(buildBidCommit(p2.next(), taskId, 6_500n, s2))
    await Promise.all([a, c1, c2].map(finalEverywhere))
    // both reveal once their commits are final (the windows are wide enough for a loaded 2-core machine: a reveal
    // final after its window would lose as `late`, which is the rule, not this test's subject)
    const r1 = await submit(buildBidReveal(p1.next(), { taskId, price: 7_000n, salt: s1 }))
    const r2 = await submit(buildBidReveal(p2.next(), { taskId, price: 6_500n, salt: s2 }))
    await Promise.all([r1, r2].map(finalEverywhere))

    // the award: every node holds the same one, won by the cheaper bid, the other lost on price
    await waitFor(async () => { for (const m of markets) if ((await m.reader.task(taskHex))?.awards.length !== 1) return false; return true }, 'award final on every node')
    for (const m of markets) {
      const v = await m.reader.task(taskHex)
      t.deepEqual(v?.winners, [p2.addressText])
      const bids = await m.reader.bids(taskHex)
      t.deepEqual(bids.map(b => [b.provider, b.status, b.lossReason ?? null, b.rank]), [[p2.addressText, 'won', null, 0], [p1.addressText, 'lost', 'price', 1]])
    }
    t.is((await markets[0].reader.provider(p2.addressText))?.owed, 6_500n)

    await finalEverywhere(await submit(buildTaskResult(p2.next(), { taskId, round: 0, commitment: randomBytes(32), outputBlob: randomBytes(32), outputBytes: 16, profile: 'cpu-ref-v1' })))
    await waitFor(async () => { for (const m of markets) if ((await m.reader.task(taskHex))?.settlement === undefined) return false; return true }, 'settle final on every node')

    // every node agrees on the whole record: award, result, settlement
    const views = await Promise.all(markets.map(async m => await m.reader.task(taskHex)))
    for (const v of views.slice(1)) t.is(json(v), json(views[0]))
    const s = views[0]?.settlement
    t.is(s?.outcome, 'paid')
    t.deepEqual(s?.payouts, [{ provider: p2.addressText, amount: 6_435n }])
    t.is(s?.fee, 65n)
    t.is(s?.refund, 3_500n)
    t.is(views[0]?.phase, 'settled')
    // money: conserved on every node (fees of the clients' own transactions went to the fee pool, which is watched)
    for (let i = 0; i < 4; i++) {
      t.is(await totalOf(net, i, watched), before, `node ${i}`)
      t.is((await net.nodes[i].dag.reader.account(escrowAccount(taskId))).balance, 0n)
      t.is((await net.nodes[i].dag.reader.account(bondAccount(p2.address))).balance, bond * 2n)
    }
    const provider = await markets[3].reader.provider(p2.addressText)
    t.is(provider?.received, 6_435n)
    t.is(provider?.owed, 0n)
    t.is(provider?.verified, 1)
    t.is(provider?.reputation, 1)
    if (rule === 'commit') {
      // the award the market state recorded passed its order check on every node's ledger
      const award = views[0]?.awards[0]?.txId as string
      for (const n of net.nodes) t.is((await n.dag.getTx(award))?.status, 'final')
    }
  } finally {
    for (const m of markets) await m.stop()
    await net.close()
  }
})

test('4 validators under Avalanche: announce, commits and reveals of two providers, award, result and settle agree on every node; money is conserved', agreeAndConserve, 'avalanche')
test('4 validators under the commit rule: the same, each decision checked where the order reaches it', agreeAndConserve, 'commit')
