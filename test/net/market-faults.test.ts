import test from 'ava'
import { once } from 'node:events'
import { submitMatmul } from '../../src/cli/market-workload.ts'
import { slashAmount } from '../../src/market/rules/settle.ts'
import { waitForTask } from '../../src/sdk/index.ts'
import { waitFor } from '../helpers/harmonyd.ts'
import { AGC, FAULT_WINDOWS, HONEST_CHEAP, LIAR, spotCheckCatchesTheLiar, startFaultsDevnet, taskTheLiarWon, type MarketDevnet } from '../helpers/market-devnet.ts'

// node 4 lies (devnet-only fault injection) and bids the lowest price, node 3 is honest and second cheapest, the
// others honest at the default price: node 4 wins every auction it may enter
let net: MarketDevnet
/** The liar's bond before its first slash (the bond its config asks for). */
let liarBond = 0n
test.before(async () => {
  net = await startFaultsDevnet()
})
test.after.always(async () => { await net?.stop() })

async function providerOf (address: string): Promise<{ bond: bigint, faults: number }> {
  const { providers } = await net.clients[0].call('market_providers', [{ limit: 100 }])
  const p = providers.find(p => p.address === address)
  return { bond: BigInt(p?.bond ?? '0'), faults: p?.faults ?? 0 }
}
/** A task's whole story for a failure message: its rounds, results with their times and verdicts, slashes. */
function story (v: Awaited<ReturnType<typeof waitForTask>>): string {
  return JSON.stringify({ awards: v.awards, results: v.results, slashes: v.slashes, settlement: v.settlement, deadline: v.executionDeadlineMs })
}
async function bondOf (address: string): Promise<bigint> { return (await providerOf(address)).bond }
/** For a failure message: each live node's view of a task (state, rounds, bids, seal) and of its ledger. */
async function liveView (taskId: string): Promise<string> {
  const views = await Promise.all(net.clients.map(async (c, i) => {
    if (net.nodes[i].process.exitCode !== null || net.nodes[i].process.signalCode !== null) return { node: i, down: true }
    const said = async <T>(p: Promise<T>): Promise<T | string> => await p.catch((err: unknown) => String(err))
    const task = await said(c.call('task_get', [taskId]))
    return {
      node: i,
      task: typeof task === 'object' && task !== null ? { state: task.state, awards: task.awards, slashes: task.slashes } : task,
      bids: await said(c.call('market_bids', [taskId])),
      dag: await said(c.call('dag_stats'))
    }
  }))
  return JSON.stringify(views)
}

// First, while nobody has been slashed (the liar, cheapest, then wins by price). A private task cannot be re-executed
// in a dispute (its inputs are sealed to its providers): when the liar (the winner) and the spot-checker disagree, the
// task settles `unresolved` on every node: the whole escrow back to the requester, nobody paid, nobody slashed
// (docs/market.md "Private tasks"). Before, the validators waited forever on a re-execution they could not run and the
// escrow stayed locked. (It had a devnet of its own, market-private-dispute, until s45: one 5-node start less.)
test.serial('a private task whose liar and spot-checker disagree is refunded whole, nobody paid or slashed', async (t) => {
  const liar = net.addresses[LIAR]
  const budget = AGC / 100n
  const { taskId, end } = await taskTheLiarWon(t, net, { private: true })
  t.is(end.state, 'refunded', JSON.stringify(end.settlement))
  t.deepEqual(end.awards[0].winners, [liar])
  t.truthy(end.awards[0].spotChecker)
  t.is(end.results.length, 2, 'both answered')
  t.not(end.results[0].commitment, end.results[1].commitment, 'and disagree')
  t.is(end.settlement?.outcome, 'unresolved')
  t.deepEqual(end.settlement?.payouts, [])
  t.is(end.settlement?.fee, '0')
  t.is(end.settlement?.refund, (budget * 2n).toString(), 'the escrow of the winner and the checker goes back whole')
  t.deepEqual(end.slashes, [])
  // every node holds the same settle, and none issued a slash for it (its settle names no fault)
  const views = await Promise.all(net.clients.map(async c => await waitFor('the settle everywhere', async () => {
    const v = await c.call('task_get', [taskId])
    return v?.settlement !== null && v?.settlement !== undefined ? v : undefined
  }, 30_000)))
  for (const v of views) t.deepEqual([v.awards, v.settlement, v.slashes], [end.awards, end.settlement, []])
})

test.serial('redundancy: the wrong result disagrees, re-execution settles the dispute, the liar is slashed and unpaid', async (t) => {
  const liar = net.addresses[LIAR]
  let before = await providerOf(liar)
  liarBond = before.bond
  const bidsSeen = async (taskId: string): Promise<string> => {
    const r = await net.clients[1].call('market_bids', [taskId])
    return JSON.stringify({ bidsClose: r?.bidsCloseAtMs, revealsClose: r?.revealsCloseAtMs, bids: r?.bids.map(b => [b.provider === net.addresses[HONEST_CHEAP] ? 'honest' : b.provider === liar ? 'liar' : 'other', b.status, b.reason, b.commitAtMs, b.revealAtMs]) })
  }
  // The liar bids the lowest price, so it wins a place whenever its bid is in time. On a loaded machine the announce
  // can become final on its node too late to commit inside the bid window (CI saw it: no liar bid at all; its
  // provider_status then says `too-late`), or on every provider's (the task expires with no valid bid, as
  // market-devnet's re-announces show), or its reveal may miss the award under load (`excluded`): another task is
  // announced, at most 5, each miss logged with the liar's reason and every bid. So is a task whose other winner
  // did not answer in time (slashed late, the liar's result alone then disputed and refunded: CI saw it under load):
  // the case needs an honest result to compare.
  let task: Awaited<ReturnType<typeof submitMatmul>> | undefined
  let end: Awaited<ReturnType<typeof waitForTask>> | undefined
  for (let attempt = 1; attempt <= 5; attempt++) {
    const next = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, verification: 'redundancy', redundancy: 2, ...FAULT_WINDOWS })
    const done = await waitForTask(net.clients[1], next.taskId, undefined, { timeoutMs: 90_000 })
    const lateOther = done.slashes.find(x => x.reason === 'late' && x.provider !== liar)
    if (done.awards[0]?.winners.includes(liar) === true && lateOther === undefined) { task = next; end = done; break }
    if (lateOther !== undefined) {
      t.log(`attempt ${attempt}: the other winner ${lateOther.provider} was late (${story(done)})`)
      t.false(done.settlement?.payouts.some(p => p.provider === liar) ?? false, 'the liar is not paid')
      // the liar's fault slash of that task, and its agent's top-up after it, before the next attempt
      await waitFor('the fault slash of the attempt', async () => (await net.clients[1].call('task_get', [next.taskId]))?.slashes.some(x => x.provider === liar) === true ? true : undefined, 60_000)
      await waitFor('the liar\'s bond topped up', async () => (await bondOf(liar)) >= liarBond ? true : undefined, 60_000)
      before = await providerOf(liar)
      continue
    }
    const id = next.taskId.replace(/^0x/, '').toLowerCase()
    const skipped = (await net.clients[LIAR].call('provider_status')).skipped.find(s => s.taskId.replace(/^0x/, '').toLowerCase() === id)
    t.log(`attempt ${attempt}: the liar won no place (its no-bid reason: ${skipped?.reason ?? 'none recorded'}); the task ${done.state} (${done.settlement?.outcome ?? 'no settlement'}); bids: ${await bidsSeen(next.taskId)}`)
  }
  if (task === undefined || end === undefined) { t.fail('no auction in five had the liar and an honest winner that answered in time (see the log)'); return }
  t.is(end.state, 'settled', story(end))
  t.false(end.settlement?.payouts.some(p => p.provider === liar) ?? true, 'the liar is not paid')
  // the other winner is honest (the cheapest honest bid that was in time: node 3 unless its commit missed the window)
  const honest = end.awards[0].winners.filter(w => w !== liar)
  t.is(honest.length, 1)
  t.true(end.settlement?.payouts.some(p => p.provider === honest[0]) ?? false, `the honest winner is paid; bids: ${await bidsSeen(task.taskId)}`)
  // the fault slash follows the settle (docs/market.md, Market state and coordinator)
  const slashed = await waitFor('the liar\'s fault slash', async () => {
    const now = await net.clients[1].call('task_get', [task.taskId])
    return now?.slashes.some(s => s.provider === liar && s.reason === 'fault') === true ? now : undefined
  }, 60_000)
  t.true(slashed.results.some(r => r.provider === liar && r.verdict === 'fault'))
  // the slash took its share of the bond the liar held (the bond before this test: no earlier slash in it)
  const slash = slashed.slashes.find(s => s.provider === liar && s.reason === 'fault')
  t.is(BigInt(slash?.amount ?? 0), slashAmount(before.bond, 'fault'), 'the fault slash is its share of the liar\'s bond')
  // and the liar's provider record counts the fault. Not its bond: the liar's agent tops the bond up again as
  // soon as it sees the slash, so a read of the bond may come after both (CI saw it: the bond never looked lower).
  await waitFor('the fault in the liar\'s record', async () => (await providerOf(liar)).faults > before.faults ? true : undefined, 30_000)
})

// Under the commit rule (the default) a spot-check's dispute is settled by the re-executions validators holding the
// quorum put in the order (task-reexec); market-spotcheck-avalanche runs it under Avalanche on a devnet of its own.
// The liar was slashed just above: once its agent has topped the bond up it is registered again and, cheapest, wins by
// price (it had a devnet of its own, market-spotcheck, until s46, from before the agent read its own registration
// before deciding; the killed winner below has relied on the same since).
test.serial('spot-check: the checker disagrees with the liar, which is slashed', async (t) => {
  await waitFor('the liar\'s bond topped up', async () => (await bondOf(net.addresses[LIAR])) >= liarBond ? true : undefined, 60_000)
  await spotCheckCatchesTheLiar(t, net)
})

test.serial('a winner killed before it can answer is slashed for lateness and replaced; the task completes', async (t) => {
  await waitFor('the liar\'s bond topped up again', async () => (await bondOf(net.addresses[LIAR])) >= liarBond ? true : undefined, 60_000)
  // The target is the cheapest provider: the liar asks 1 (the least a bid can: a price is positive), the others more.
  // Once its reveal is in (in time, on any node) no bid can undercut it, so it is the winner the award will name, and
  // it is stopped then, nearly always before it can run the award (checked below: the award may follow at once when
  // every commit is revealed, and the target may answer before the stop). (Stopping the cheapest revealed bid once the auction was sealed raced the award: under load
  // the winner had its award and answered in time before the kill, here 3 runs of 6.) It is frozen (SIGSTOP) until
  // the premise is known to hold, then killed. When the premise does not hold (the target answered first, or the award left its
  // reveal out: `excluded`, issued before the reveal was final there), it is let go, catches up, and the test tries
  // again on a new task with four of the five validators up (killing a second provider instead, as before, left three:
  // below the quorum of four, so nothing was final any more). A target that did not bid in time (its
  // provider_status says why) is tried again on another task too.
  const index = LIAR
  for (let attempt = 1; attempt <= 4; attempt++) {
    const target = net.addresses[index]
    const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, executionDeadlineMs: 4000, ...FAULT_WINDOWS })
    const revealed = await waitFor('the target\'s reveal or the seal', async () => {
      const seen = await Promise.all(net.clients.map(async (c, i) => (net.nodes[i].process.exitCode === null ? await c.call('market_bids', [task.taskId]).catch(() => null) : null)))
      if (seen.some(b => b?.bids.some(x => x.provider === target && x.status === 'revealed') === true)) return 'revealed'
      return seen.some(b => b?.sealed === true) ? 'sealed without it' : undefined
    }, 30_000, 20)
    if (revealed !== 'revealed') {
      const skipped = (await net.clients[index].call('provider_status')).skipped.find(x => x.taskId.replace(/^0x/, '').toLowerCase() === task.taskId.replace(/^0x/, '').toLowerCase())
      t.log(`provider ${index} did not bid in time (${skipped?.reason ?? 'no reason recorded'}): another task is announced`)
      continue
    }
    const node = net.nodes[index]
    node.process.kill('SIGSTOP')
    const kill = async (): Promise<void> => { const exited = once(node.process, 'exit'); node.process.kill('SIGKILL'); await exited }
    const end = await waitForTask(net.clients[1], task.taskId, undefined, { timeoutMs: 90_000 }).catch(async (err: unknown) => {
      await kill()
      throw new Error(`${(err as Error).message}; what each live node holds: ${await liveView(task.taskId)}`)
    })
    // The award can come as soon as every in-time commit is revealed (auctionSealed), not only once the reveal
    // window closes, and a provider starts on its award when the award's vertex is inserted, before it is final: in
    // two loop runs of 20 the target had answered 36 and 109 ms after the award, before it was stopped. The premise is
    // what the target did, not when the stop came: it won the first round and no result of its own reached the DAG
    // (an award built a moment before the stop, which the target never ran, is the case under test too: a loop run
    // saw it three times in a row). Otherwise, the next candidate.
    const answered = end.results.some(r => r.provider === target && r.round === 0)
    if (end.awards[0]?.winners.includes(target) !== true || answered) {
      t.log(answered ? `provider ${index} answered before it was stopped: ${story(end)}` : `the award left the stopped provider ${index}'s reveal out: ${story(end)}`)
      node.process.kill('SIGCONT')
      await waitFor(`provider ${index} running again, caught up with the task`, async () => (await net.clients[index].call('task_get', [task.taskId]).catch(() => null))?.state === end.state ? true : undefined, 90_000)
      continue
    }
    await kill()
    t.is(end.state, 'settled', story(end))
    t.deepEqual(end.awards[0].winners, [target])
    t.true(end.awards.length >= 2, `a replacement round: ${story(end)}`)
    t.true(end.slashes.some(s => s.provider === target && s.reason === 'late'))
    const paid = end.settlement?.payouts.map(p => p.provider) ?? []
    t.is(paid.length, 1)
    t.not(paid[0], target)
    return
  }
  t.fail('in four tries the cheapest provider was never stopped after a reveal the award named and before it answered (see the log)')
})
