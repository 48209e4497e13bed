/**
 * The validators' external checks of market decisions (src/market/coordinator.ts) answer `invalid` only where the
 * decision can never become right, and `pending` or `valid` where views differ by timing. Four validators that
 * only check (no coordinator issues): the test issues the awards itself, with a validator's key.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import {
  buildBidCommit, buildBidReveal, buildProviderRegister, buildTaskAnnounce, buildTaskAward, escrowAccount, type MarketService, marketRules, registerMarketKinds
} from '../../src/market/index.ts'
import { createTestNet, waitFor } from '../helpers/dag-net.ts'
import { cpuProvider, matmulAnnounce, Signer, startMarket } from '../helpers/market.ts'

registerMarketKinds()

test.serial('an award that leaves out an in-time reveal is valid (the bid shows as excluded); a duplicate of a final award is invalid; wrong winners are invalid; an unknown reveal or an earlier nonce not final is pending', async (t) => {
  const net = await createTestNet({ nodes: 4, accounts: 3, accountBalance: 10n ** 21n })
  const markets: MarketService[] = []
  try {
    for (const node of net.nodes) markets.push(await startMarket(node, { issue: false }))
    const chainId = net.genesis.chainId
    const [requester, p1, p2] = net.accounts.map(k => new Signer(chainId, k))
    let next = 0
    const submit = async (tx: Transaction): Promise<string> => (await net.nodes[next++ % 4].dag.submitTransaction(tx)).slice(2)
    const finalEverywhere = async (id: string): Promise<void> => {
      await waitFor(async () => { for (const n of net.nodes) if ((await n.dag.reader.finalTx(id)) === undefined) return false; return true }, `tx ${id.slice(0, 8)} final on every node`)
    }
    const announce = buildTaskAnnounce(requester.next(), matmulAnnounce({ bidWindowMs: 8000, revealWindowMs: 8000, budget: 10_000n }))
    const taskId = announce.taskId
    const taskHex = toHex(taskId)
    await finalEverywhere(await submit(buildProviderRegister(p1.next(), cpuProvider(marketRules.MIN_BOND))))
    await finalEverywhere(await submit(buildProviderRegister(p2.next(), cpuProvider(marketRules.MIN_BOND))))
    const a = await submit(announce.tx)
    const s1 = randomBytes(32)
    const s2 = randomBytes(32)
    const c1 = await submit(buildBidCommit(p1.next(), taskId, 7_000n, s1))
    const c2 = await submit(buildBidCommit(p2.next(), taskId, 6_500n, s2))
    await Promise.all([a, c1, c2].map(finalEverywhere))
    const r1 = await submit(buildBidReveal(p1.next(), { taskId, price: 7_000n, salt: s1 }))
    const r2 = await submit(buildBidReveal(p2.next(), { taskId, price: 6_500n, salt: s2 }))
    await Promise.all([r1, r2].map(finalEverywhere))

    const validator = net.nodes[0].key
    const award = (nonce: bigint, considered: string[], winners: Uint8Array[]): Transaction =>
      buildTaskAward(chainId, validator, nonce, { taskId, round: 0, considered: considered.map(id => fromHex(id)).sort((x, y) => (toHex(x) < toHex(y) ? -1 : 1)), winners })
    const verdicts = async (tx: Transaction): Promise<string[]> => {
      const info = txInfo(encodeTx(tx))
      return await Promise.all(markets.map(async m => await m.coordinator.checkAward(info)))
    }
    const complete = award(0n, [r1, r2], [p2.address])
    // the reveal window closes (plus the grace) on every node's clock: the complete award becomes valid everywhere
    await waitFor(async () => (await verdicts(complete)).every(v => v === 'valid'), 'the complete award valid on every node', 60_000)

    // a reveal no node holds: pending (it may become final later), not a veto
    t.deepEqual(await verdicts(award(0n, [r1, toHex(randomBytes(32))], [p1.address])), ['pending', 'pending', 'pending', 'pending'])
    // winners that are not the rule over the listed reveals can never become right
    t.deepEqual(await verdicts(award(0n, [r1, r2], [p1.address])), ['invalid', 'invalid', 'invalid', 'invalid'])
    // an award at a nonce whose predecessor is not final here waits for it
    t.deepEqual(await verdicts(award(1n, [r1, r2], [p2.address])), ['pending', 'pending', 'pending', 'pending'])
    // an award that leaves out p2's in-time reveal (the issuer's lag looks the same): valid; p1 wins over the list
    const partial = award(0n, [r1], [p1.address])
    t.deepEqual(await verdicts(partial), ['valid', 'valid', 'valid', 'valid'])
    await finalEverywhere(await submit(partial))
    await waitFor(async () => { for (const m of markets) if ((await m.reader.task(taskHex))?.awards.length !== 1) return false; return true }, 'the partial award applied on every node')
    for (const [i, m] of markets.entries()) {
      const bids = await m.reader.bids(taskHex)
      t.deepEqual(bids.map(b => [b.provider, b.status]).sort(), [[p1.addressText, 'won'], [p2.addressText, 'excluded']].sort())
      t.is((await net.nodes[i].dag.reader.account(escrowAccount(taskId))).nonce, 1n)
    }
    // the same first award again at the next nonce (what a validator whose market state lagged its ledger issued):
    // invalid on every node, for good
    t.deepEqual(await verdicts(award(1n, [r1, r2], [p2.address])), ['invalid', 'invalid', 'invalid', 'invalid'])
  } finally {
    for (const m of markets) await m.stop()
    await net.close()
  }
})
