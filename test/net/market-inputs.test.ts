/**
 * Input claims on a 5-process devnet (docs/market.md "Inputs no peer serves"): a task naming inputs no node holds
 * ends refunded with its winners claimed and excused, nobody slashed; a false claim (the inputs are served) gets an
 * `available` verdict from a validator that fetched them, and a claimant that still does not answer is slashed late
 * as before. Every node tells the same story, and money is conserved.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { toHex } from '../../src/core/codec.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { buildTaskAnnounce } from '../../src/market/kinds/index.ts'
import { submitMatmul } from '../../src/cli/market-workload.ts'
import { waitForTask, type TaskRecord } from '../../src/sdk/index.ts'
import { waitFor } from '../helpers/harmonyd.ts'
import { AGC, FAULT_WINDOWS, startMarketDevnet, totalHeld, type MarketDevnet } from '../helpers/market-devnet.ts'
import { matmulAnnounce } from '../helpers/market.ts'

/** Claims on every award without fetching, never answers (devnet fault injection), at the lowest price. */
const CLAIMER = 4
/** Honest, second cheapest. */
const HONEST = 3

let net: MarketDevnet
const taskIds: string[] = []
let supply = 0n

test.before(async () => {
  net = await startMarketDevnet({
    nodes: 5,
    provider: (i) => i === CLAIMER
      ? { enabled: true, capacity: 8, minPrice: '1', pricePerGflop: '0', faultInjection: 'false-input-claim' }
      : i === HONEST ? { enabled: true, capacity: 8, minPrice: '2', pricePerGflop: '0' } : { enabled: true, capacity: 8 }
  })
  supply = await held()
})
test.after.always(async () => { await net?.stop() })

/** Every base unit that can hold money here (faucet, nodes, bonds, escrows, fee pool), read twice alike. */
async function held (): Promise<bigint> {
  const accounts = [net.faucet.key.address, ...net.addresses]
  for (;;) {
    const a = await totalHeld(net.clients[0], accounts, net.addresses, taskIds)
    const b = await totalHeld(net.clients[0], accounts, net.addresses, taskIds)
    if (a === b) return a
  }
}

/** What every node must agree on about a task. */
function story (v: TaskRecord): unknown {
  return { state: v.state, awards: v.awards, slashes: v.slashes, inputClaims: v.inputClaims.map(c => ({ ...c, holdsSlashUntilMs: null })), settlement: v.settlement }
}

/** Each node's view of the task once it has `until`, compared with the first node's. */
async function sameEverywhere (t: import('ava').ExecutionContext, taskId: string, until: (v: TaskRecord) => boolean): Promise<TaskRecord[]> {
  const views = await Promise.all(net.clients.map(async c => await waitFor('the task\'s story on every node', async () => {
    const v = await c.call('task_get', [taskId])
    return v !== null && until(v) ? v : undefined
  }, 60_000)))
  for (const v of views.slice(1)) t.deepEqual(story(v), story(views[0]))
  return views
}

test.serial('inputs no node serves: each winner claims, a validator finds them unavailable, nobody is slashed, the task is refunded', async (t) => {
  const f = net.faucet
  const unserved = [randomBytes(32), randomBytes(32)].map(x => new Uint8Array(x))
  const { tx, taskId } = buildTaskAnnounce({ chainId: f.chainId, keys: f.key, nonce: f.nextNonce++, fee: 1000n }, {
    ...matmulAnnounce({ budget: AGC / 100n, redundancy: 2, k: 2, verification: 'redundancy', executionDeadlineMs: 20_000, ...FAULT_WINDOWS }), inputs: unserved
  })
  const id = `0x${toHex(taskId)}`
  taskIds.push(id)
  const bondsBefore = await Promise.all(net.addresses.map(async a => (await net.clients[0].call('market_providers', [{ limit: 100 }])).providers.find(p => p.address === a)?.bond))
  // sent as a bare transaction: task_submit would have stored the inputs on its node
  await f.client.call('account_sendTransaction', [`0x${toHex(encodeTx(tx))}`])
  const end = await waitForTask(net.clients[1], id, undefined, { timeoutMs: 120_000 })
  t.is(end.state, 'refunded', JSON.stringify(story(end)))
  t.is(end.settlement?.outcome, 'inputs-unavailable')
  t.is(end.settlement?.refund, end.escrow, 'the whole escrow back to the requester')
  t.deepEqual(end.settlement?.payouts, [])
  t.deepEqual(end.slashes, [], 'nobody slashed')
  t.is(end.awards.length, 1, 'no replacement round')
  const winners = end.awards[0].winners
  t.is(winners.length, 2)
  t.true(winners.some(w => w !== net.addresses[CLAIMER]), 'an honest winner is among them')
  // each winner claimed, and each claim is answered `unavailable` by a validator other than the claimant
  for (const w of winners) {
    const claim = end.inputClaims.find(c => c.provider === w)
    t.truthy(claim, `${w} claimed: ${JSON.stringify(end.inputClaims)}`)
    t.is(claim?.verdict?.outcome, 'unavailable')
    t.not(claim?.verdict?.validator, w)
    t.true((claim?.atMs ?? Infinity) <= end.awards[0].deadlineMs, 'claimed before the deadline')
    t.log(`${w === net.addresses[CLAIMER] ? 'claimer' : 'honest'} winner: award → claim ${(claim?.atMs ?? 0) - end.awards[0].atMs} ms, claim → verdict ${(claim?.verdict?.atMs ?? 0) - (claim?.atMs ?? 0)} ms (market time)`)
  }
  t.log(`award → settle ${(end.settlement?.atMs ?? 0) - end.awards[0].atMs} ms`)
  const views = await sameEverywhere(t, id, v => v.state === 'refunded')
  t.is(views.length, 5)
  // why was I not slashed: the winners' bids and their own status say so
  const bids = await net.clients[2].call('market_bids', [id])
  for (const w of winners) t.is(bids?.bids.find(b => b.provider === w)?.inputClaim?.verdict?.outcome, 'unavailable')
  const honestIndex = net.addresses.findIndex((a, i) => winners.includes(a) && i !== CLAIMER)
  const status = await net.clients[honestIndex].call('provider_status')
  t.like(status.inputClaims.find(c => c.taskId === id), { verdict: { outcome: 'unavailable' } })
  const bondsAfter = await Promise.all(net.addresses.map(async a => (await net.clients[0].call('market_providers', [{ limit: 100 }])).providers.find(p => p.address === a)?.bond))
  t.deepEqual(bondsAfter, bondsBefore, 'no bond moved')
  t.is(await held(), supply, 'money is conserved')
})

test.serial('a false claim: the validator fetches the inputs (available), the claimant still does not answer and is slashed late; the task completes', async (t) => {
  for (let attempt = 1; attempt <= 4; attempt++) {
    const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, executionDeadlineMs: 6000, ...FAULT_WINDOWS })
    taskIds.push(task.taskId)
    const end = await waitForTask(net.clients[1], task.taskId, undefined, { timeoutMs: 150_000 })
    const claimer = net.addresses[CLAIMER]
    if (end.awards[0]?.winners[0] !== claimer) {
      // on a loaded machine the claimer's bid can miss its window: another task
      t.log(`attempt ${attempt}: the claimer did not win (${JSON.stringify(story(end))})`)
      continue
    }
    t.is(end.state, 'settled', JSON.stringify(story(end)))
    const claim = end.inputClaims.find(c => c.provider === claimer)
    t.truthy(claim, JSON.stringify(end.inputClaims))
    t.is(claim?.verdict?.outcome, 'available', 'the requester\'s node serves the inputs: a validator fetched them')
    t.not(claim?.verdict?.validator, claimer)
    // the deadline was extended once, from the verdict's time, and the late slash came after it
    t.is(claim?.dueAtMs, Math.max(end.awards[0].deadlineMs, (claim?.verdict?.atMs ?? 0) + end.executionDeadlineMs))
    const slash = end.slashes.find(s => s.provider === claimer)
    t.is(slash?.reason, 'late')
    t.true((slash?.atMs ?? 0) > (claim?.dueAtMs ?? Infinity), `slashed after the extended deadline: ${JSON.stringify(story(end))}`)
    t.true(end.awards.length >= 2, 'replaced')
    t.log(`award → claim ${(claim?.atMs ?? 0) - end.awards[0].atMs} ms, claim → verdict ${(claim?.verdict?.atMs ?? 0) - (claim?.atMs ?? 0)} ms, verdict → slash ${(slash?.atMs ?? 0) - (claim?.verdict?.atMs ?? 0)} ms (extension ${end.executionDeadlineMs} ms)`)
    const paid = end.settlement?.payouts.map(p => p.provider) ?? []
    t.is(paid.length, 1)
    t.not(paid[0], claimer)
    await sameEverywhere(t, task.taskId, v => v.state === 'settled')
    const status = await net.clients[CLAIMER].call('provider_status')
    t.like(status.inputClaims.find(c => c.taskId === task.taskId), { verdict: { outcome: 'available' } })
    t.true(status.payments.slashed.some(s => s.taskId === task.taskId && s.reason === 'late'))
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in four tasks the claimer never won (see the log)')
})
