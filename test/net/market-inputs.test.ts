/**
 * Input claims on a 5-process devnet (docs/market.md "Inputs no peer serves"): a task naming inputs no node holds
 * ends refunded with its winners claimed and excused (each by two judges' `unavailable`: the first judge's, and the
 * next one's on its appeal), nobody slashed, and so does a private task whose inputs no node sealed; a false claim (the inputs are served; of a private task, their envelopes) gets an `available` verdict from
 * a validator that fetched them, and a claimant that still does not answer is slashed late as before; an honest
 * claim (the inputs reach a node only after the winner failed to fetch them) gets `available`, and the winner
 * fetches them from the validator, answers by its extended deadline and is paid. A lying judge is covered by the
 * claimant's appeals, a lying `available` and a lying `unavailable` alike (one judge's `unavailable` excuses nobody:
 * the false claimant appeals for a second judge's, gets `available` and is slashed late); envelopes a requester's
 * node sealed to nobody's key are found not to open (the claims reveal the winner's task key) and the winner is
 * excused. Every node tells the same story, and money is conserved.
 */
import test from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { bytesToF32, f32ToBytes } from '../../src/compute/blob.ts'
import { canonicalJson } from '../../src/compute/task.ts'
import { matmulReference } from '../../src/compute/kernels/matmul.ts'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { walletFromSeed } from '../../src/core/keys/wallet.ts'
import { loadGenesis } from '../../src/dag/index.ts'
import { claimCheckRank } from '../../src/market/rules/input-judge.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { taskIdHexOf } from '../../src/market/accounts.ts'
import { buildTaskAnnounce, type TaskAnnouncePayload } from '../../src/market/kinds/index.ts'
import { fundAccounts, openAccount, seededF32, submitMatmul, type WorkloadAccount } from '../../src/cli/market-workload.ts'
import { fetchTaskOutput, FINAL_TASK_STATES, requesterKemKey, submitTask, waitForTask, type TaskRecord } from '../../src/sdk/index.ts'
import { waitFor } from '../helpers/harmonyd.ts'
import { AGC, FAULT_WINDOWS, startMarketDevnet, totalHeld, type MarketDevnet } from '../helpers/market-devnet.ts'
import { matmulAnnounce } from '../helpers/market.ts'

/** Claims on every award without fetching, never answers (devnet fault injection), at the lowest price. */
const CLAIMER = 4
/** Honest, second cheapest. */
const HONEST = 3
/** A second requester, which the claimer does not serve (its `deny` list): its tasks are won by honest providers. */
const REQUESTER = walletFromSeed(new Uint8Array(randomBytes(32)))
/**
 * A requester's node that seals garbage (devnet fault injection `bad-envelopes`; no other scenario submits to it),
 * then a lying judge for the last two scenarios (restarted with `false-input-verdict`: the opposite of its fetch).
 */
const LIAR = 2
let liarFault: 'false-input-verdict' | 'bad-envelopes' = 'bad-envelopes'

let net: MarketDevnet
let requester: WorkloadAccount
const taskIds: string[] = []
let supply = 0n

test.before(async () => {
  net = await startMarketDevnet({
    nodes: 5,
    provider: (i) => i === CLAIMER
      ? { enabled: true, capacity: 8, minPrice: '1', pricePerGflop: '0', faultInjection: 'false-input-claim', deny: [REQUESTER.address] }
      : i === HONEST
        ? { enabled: true, capacity: 8, minPrice: '2', pricePerGflop: '0' }
        : { enabled: true, capacity: 8, ...(i === LIAR ? { faultInjection: liarFault } : {}) }
  })
  await fundAccounts(net.faucet, [REQUESTER.address], 10n * AGC)
  requester = await openAccount(net.clients[1], REQUESTER)
  supply = await held()
})
test.after.always(async () => { await net?.stop() })

/** Every base unit that can hold money here (faucet, requester, nodes, bonds, escrows, fee pool), read twice alike. */
async function held (): Promise<bigint> {
  const accounts = [net.faucet.key.address, REQUESTER.address, ...net.addresses]
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

/**
 * `provider`'s claims of round 0, once it was excused: two `unavailable` verdicts of two validators other than the
 * claimant (rules/constants.ts INPUT_UNAVAILABLE_JUDGES: one judge alone excuses nobody here), every claim `excused`.
 */
function excusedClaims (t: import('ava').ExecutionContext, end: TaskRecord, provider: string): TaskRecord['inputClaims'] {
  const claims = end.inputClaims.filter(c => c.provider === provider && c.round === 0)
  const unavailable = claims.filter(c => c.verdict?.outcome === 'unavailable')
  t.is(unavailable.length, 2, `two judges found the inputs unavailable: ${JSON.stringify(claims)}`)
  t.is(new Set(unavailable.map(c => c.verdict?.validator)).size, 2, 'two distinct judges')
  t.false(unavailable.some(c => c.verdict?.validator === provider), 'never the claimant')
  t.true(claims.length > 0 && claims.every(c => c.excused), 'excused')
  return claims
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

test.serial('inputs no node serves: each winner claims, two validators in turn find them unavailable, nobody is slashed, the task is refunded', async (t) => {
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
  // each winner claimed, its judge found the inputs `unavailable`, and so did the next judge on its appeal
  for (const w of winners) {
    const [claim, appeal] = excusedClaims(t, end, w)
    t.true((claim?.atMs ?? Infinity) <= end.awards[0].deadlineMs, 'claimed before the deadline')
    t.log(`${w === net.addresses[CLAIMER] ? 'claimer' : 'honest'} winner: award → claim ${(claim?.atMs ?? 0) - end.awards[0].atMs} ms, claim → verdict ${(claim?.verdict?.atMs ?? 0) - (claim?.atMs ?? 0)} ms, verdict → appeal → verdict ${(appeal?.verdict?.atMs ?? 0) - (claim?.verdict?.atMs ?? 0)} ms (market time)`)
  }
  t.log(`award → settle ${(end.settlement?.atMs ?? 0) - end.awards[0].atMs} ms`)
  const views = await sameEverywhere(t, id, v => v.state === 'refunded')
  t.is(views.length, 5)
  // why was I not slashed: the winners' bids and their own status say so
  const bids = await net.clients[2].call('market_bids', [id])
  for (const w of winners) t.is(bids?.bids.find(b => b.provider === w)?.inputClaim?.verdict?.outcome, 'unavailable')
  const honestIndex = net.addresses.findIndex((a, i) => winners.includes(a) && i !== CLAIMER)
  const status = await net.clients[honestIndex].call('provider_status')
  t.like(status.inputClaims.find(c => c.taskId === id), { verdict: { outcome: 'unavailable' }, excused: true })
  const bondsAfter = await Promise.all(net.addresses.map(async a => (await net.clients[0].call('market_providers', [{ limit: 100 }])).providers.find(p => p.address === a)?.bond))
  t.deepEqual(bondsAfter, bondsBefore, 'no bond moved')
  t.is(await held(), supply, 'money is conserved')
})

test.serial('a private task whose inputs no node sealed: the winner waits for a notice, claims, two validators in turn find no envelopes (unavailable); nobody is slashed, the task is refunded', async (t) => {
  const r = requester
  const unserved = [randomBytes(32), randomBytes(32)].map(x => new Uint8Array(x))
  const { tx, taskId } = buildTaskAnnounce({ chainId: r.chainId, keys: r.key, nonce: r.nextNonce, fee: 1000n }, {
    // the winner waits for a notice half the time to its deadline, then claims
    ...matmulAnnounce({ budget: AGC / 100n, executionDeadlineMs: 10_000, ...FAULT_WINDOWS, private: true, requesterKemKey: requesterKemKey(r.key.secretKey).publicKey }), inputs: unserved
  })
  const id = `0x${toHex(taskId)}`
  taskIds.push(id)
  const providersBefore = await providerRecords()
  // sent as a bare transaction: no node holds the plaintext, so none seals it to the winner (a requester's node that
  // lost it, or never came back)
  await r.client.call('account_sendTransaction', [`0x${toHex(encodeTx(tx))}`])
  r.nextNonce++
  const end = await waitForTask(net.clients[1], id, undefined, { timeoutMs: 150_000 })
  t.is(end.state, 'refunded', JSON.stringify(story(end)))
  t.is(end.settlement?.outcome, 'inputs-unavailable')
  t.is(end.settlement?.refund, end.escrow, 'the whole escrow back to the requester')
  t.deepEqual(end.slashes, [], 'nobody slashed')
  t.is(end.awards.length, 1, 'no replacement round')
  const [winner] = end.awards[0].winners
  t.not(winner, net.addresses[CLAIMER], 'the claimer does not serve this requester')
  const [claim, appeal] = excusedClaims(t, end, winner)
  t.true((claim?.atMs ?? Infinity) <= end.awards[0].deadlineMs, 'claimed before the deadline')
  t.log(`award → claim ${(claim?.atMs ?? 0) - end.awards[0].atMs} ms, claim → verdict ${(claim?.verdict?.atMs ?? 0) - (claim?.atMs ?? 0)} ms, verdict → appeal → verdict ${(appeal?.verdict?.atMs ?? 0) - (claim?.verdict?.atMs ?? 0)} ms (market time)`)
  await sameEverywhere(t, id, v => v.state === 'refunded')
  const status = await net.clients[net.addresses.indexOf(winner)].call('provider_status')
  t.like(status.inputClaims.find(c => c.taskId === id), { verdict: { outcome: 'unavailable' } })
  t.deepEqual((await providerRecords()).map(p => p.slashed), providersBefore.map(p => p.slashed), 'nobody slashed')
  t.is(await held(), supply, 'money is conserved')
})

/**
 * A false claim: the validator in turn fetches the inputs, or a private task's envelopes sealed to the claimant (from
 * the requester's node, which published their notice), finds them `available`; the claimant still does not answer.
 */
async function falseClaim (t: import('ava').ExecutionContext, sealed: boolean): Promise<void> {
  for (let attempt = 1; attempt <= 4; attempt++) {
    const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, executionDeadlineMs: 6000, private: sealed, ...FAULT_WINDOWS })
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
    t.is(claim?.verdict?.outcome, 'available', 'the requester\'s node serves the inputs (sealed: their envelopes): a validator fetched them')
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
    if (sealed) {
      // the replacement opened its envelopes: its result is the CPU reference
      const output = await fetchTaskOutput(net.clients[0], task.taskId, requesterKemKey(net.faucet.key.secretKey).secretKey)
      const [a, b] = task.inputs.map(x => bytesToF32(x))
      t.true(Buffer.from(output as Uint8Array).equals(Buffer.from(f32ToBytes(matmulReference(a, b, 8, 8, 8)))), 'the output is the CPU reference')
    }
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in four tasks the claimer never won (see the log)')
}

test.serial('a false claim: the validator fetches the inputs (available), the claimant still does not answer and is slashed late; the task completes', async (t) => {
  await falseClaim(t, false)
})

test.serial('a false claim on a private task: the validator fetches the envelopes sealed to the claimant (available), the claimant is slashed late; the replacement opens its own and completes', async (t) => {
  await falseClaim(t, true)
})

/** Each node's provider bond and slashes counted (faults, lates), as node 0 holds them. */
async function providerRecords (): Promise<Array<{ bond: bigint, slashed: number }>> {
  const { providers } = await net.clients[0].call('market_providers', [{ limit: 100 }])
  return net.addresses.map(a => providers.find(p => p.address === a)).map(p => ({ bond: BigInt(p?.bond ?? -1), slashed: (p?.faults ?? -1) + (p?.lates ?? -1) }))
}

/** A series of node `index`'s Prometheus text: the sample whose labels include `labels` (0 when none is counted yet). */
async function metric (index: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(new URL('/metrics', net.nodes[index].rpc))).text()
  if (!text.includes(`# TYPE ${name} `)) throw new Error(`node ${index} has no metric ${name}`)
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  const line = text.split('\n').find(l => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every(w => l.includes(w)))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** The node of the validator that judges the first claim of `claimant` (`hmy1…`; rules/input-judge.ts). */
function validatorInTurn (keys: readonly Uint8Array[], taskId: string, claimant: string): number {
  const first = keys.find(k => claimCheckRank(keys, k, taskId, toHex(parseAddress(claimant))) === 0)
  return first === undefined ? -1 : net.addresses.indexOf(addressFromPublicKey(first))
}

test.serial('an honest claim: the winner could not fetch, the inputs then reach the validator in turn (available), the winner fetches them from it, answers by its extended deadline and is paid; nobody is slashed', async (t) => {
  const r = requester
  const keys = (await loadGenesis(net.devnet.genesisPath)).validators.map(v => v.publicKey)
  const providersBefore = await providerRecords()
  const claimsSent = async (i: number): Promise<number> => await metric(i, 'harmony_provider_transactions_total', { kind: 'input-claim', outcome: 'ok' })
  const m = 8
  for (let attempt = 1; attempt <= 5; attempt++) {
    // fresh inputs each attempt (seeded by the nonce): none is on any node
    const seed = `${r.key.address}/${r.nextNonce}`
    const inputs = [seededF32(`${seed}/a`, m * m), seededF32(`${seed}/b`, m * m)].map(x => f32ToBytes(x))
    const payload = (over: Partial<TaskAnnouncePayload>): TaskAnnouncePayload => matmulAnnounce({
      spec: { kernel: 'matmul', paramsJson: canonicalJson({ m, k: m, n: m }) },
      inputs: inputs.map(x => new Uint8Array(createHash('sha256').update(x).digest())),
      outputLimitBytes: m * m * 4,
      budget: AGC / 100n,
      executionDeadlineMs: 20_000,
      ...FAULT_WINDOWS,
      ...over
    })
    const task = buildTaskAnnounce({ chainId: r.chainId, keys: r.key, nonce: r.nextNonce, fee: 1000n }, payload({}))
    // what puts the inputs on a node later: task_submit of a task with the same inputs that no provider bids on
    // (none has a webgpu executor here); its node stores them before it submits the announce
    const carrier = buildTaskAnnounce({ chainId: r.chainId, keys: r.key, nonce: r.nextNonce + 1n, fee: 1000n }, payload({
      budget: AGC / 1000n, requirements: { executor: 'webgpu', minGflopsMilli: 0, minMemoryMiB: 0, attested: false }
    }))
    const id = `0x${toHex(task.taskId)}`
    taskIds.push(id)
    const sentBefore = await Promise.all(net.nodes.map(async (_, i) => await claimsSent(i)))
    // sent as a bare transaction: task_submit would have stored the inputs on its node
    await r.client.call('account_sendTransaction', [`0x${toHex(encodeTx(task.tx))}`])
    r.nextNonce++
    const awarded = await waitFor('the award', async () => {
      const v = await net.clients[0].call('task_get', [id])
      return v !== null && (v.awards.length > 0 || FINAL_TASK_STATES.includes(v.state)) ? v : undefined
    }, 60_000, 50)
    if (awarded.awards.length === 0) {
      t.log(`attempt ${attempt}: no award (${awarded.state}: no bid in time on a loaded machine): another task`)
      continue
    }
    const winner = awarded.awards[0].winners[0]
    const w = net.addresses.indexOf(winner)
    t.not(w, CLAIMER, 'the claimer does not serve this requester')
    const v = validatorInTurn(keys, id, winner)
    const servedBefore = await Promise.all(net.nodes.map(async (_, i) => await metric(i, 'harmony_blob_served_bytes_total')))
    const fetchedBefore = await metric(w, 'harmony_blob_fetches_total', { outcome: 'ok' })
    // the winner could not fetch and sent its claim: only now do the inputs reach a node, the validator in turn
    await waitFor(`node ${w}'s input claim`, async () => await claimsSent(w) > sentBefore[w] ? true : undefined, 30_000, 10)
    try {
      await submitTask(net.clients[v], `0x${toHex(encodeTx(carrier.tx))}`, inputs)
      r.nextNonce++
      taskIds.push(`0x${toHex(carrier.taskId)}`)
    } catch (err) {
      t.log(`attempt ${attempt}: the carrier was refused (${(err as Error).message}); its inputs went with it`)
    }
    const end = await waitForTask(net.clients[HONEST], id, undefined, { timeoutMs: 120_000 })
    const claim = end.inputClaims.find(c => c.provider === winner)
    t.truthy(claim, `the winner claimed: ${JSON.stringify(story(end))}`)
    if (claim?.verdict?.outcome === 'unavailable') {
      // the validator in turn acts as soon as the claim is final: this time before the inputs reached it (its
      // `unavailable` alone excuses nobody: the appeal's judge found them on node v, or did not)
      t.log(`attempt ${attempt}: node ${v} checked before the inputs reached it (unavailable; then ${end.state}, claims ${JSON.stringify(end.inputClaims.map(c => c.verdict?.outcome))}): another task`)
      t.deepEqual(end.slashes, [])
      continue
    }
    t.is(end.state, 'settled', JSON.stringify(story(end)))
    t.is(end.settlement?.outcome, 'paid')
    t.deepEqual(end.settlement?.payouts.map(p => p.provider), [winner], 'the claimant is paid')
    t.deepEqual(end.slashes, [], 'nobody slashed')
    t.is(end.awards.length, 1, 'no replacement round')
    // the verdict: `available`, from a validator other than the claimant (the one in turn, which holds the inputs)
    t.is(claim?.verdict?.outcome, 'available')
    t.not(claim?.verdict?.validator, winner)
    t.is(claim?.verdict?.validator, net.addresses[v], 'the validator first in turn gave it')
    // the deadline was extended once, from the verdict's time, and the result is in time by it
    const deadline = end.awards[0].deadlineMs
    t.is(claim?.dueAtMs, Math.max(deadline, (claim?.verdict?.atMs ?? 0) + end.executionDeadlineMs))
    t.true((claim?.dueAtMs ?? 0) > deadline, 'extended past the award\'s deadline')
    const result = end.results.find(x => x.provider === winner)
    t.is(result?.verdict, 'agrees')
    t.true((result?.atMs ?? Infinity) <= (claim?.dueAtMs ?? 0))
    t.true((claim?.atMs ?? Infinity) <= deadline && (claim?.atMs ?? Infinity) <= (result?.atMs ?? 0), 'claimed before the deadline and before its result')
    // where the winner fetched from: node v alone held the inputs (the carrier's node; nobody bid on the carrier),
    // and it served them, the winner downloading both
    const served = await Promise.all(net.nodes.map(async (_, i) => await metric(i, 'harmony_blob_served_bytes_total') - servedBefore[i]))
    const fetched = await metric(w, 'harmony_blob_fetches_total', { outcome: 'ok' }) - fetchedBefore
    t.true(served[v] >= inputs[0].length + inputs[1].length, `node ${v} served the inputs: ${JSON.stringify(served)}`)
    t.is(fetched, 2, 'the winner downloaded both inputs')
    t.log(`attempt ${attempt}: winner node ${w}, validator in turn node ${v}; award → claim ${(claim?.atMs ?? 0) - end.awards[0].atMs} ms, claim → verdict ${(claim?.verdict?.atMs ?? 0) - (claim?.atMs ?? 0)} ms, verdict → result ${(result?.atMs ?? 0) - (claim?.verdict?.atMs ?? 0)} ms (market time); bytes served since the award, by node: ${served.join(', ')}`)
    // the claimant's result is the CPU reference
    const output = await fetchTaskOutput(net.clients[0], id)
    t.true(Buffer.from(output as Uint8Array).equals(Buffer.from(f32ToBytes(matmulReference(bytesToF32(inputs[0]), bytesToF32(inputs[1]), m, m, m)))), 'the output is the CPU reference')
    await sameEverywhere(t, id, x => x.state === 'settled')
    // why I was paid after claiming: the winner's bid and its own status say so
    const bids = await net.clients[2].call('market_bids', [id])
    t.is(bids?.bids.find(b => b.provider === winner)?.inputClaim?.verdict?.outcome, 'available')
    const status = await net.clients[w].call('provider_status')
    t.like(status.inputClaims.find(c => c.taskId === id), { verdict: { outcome: 'available' } })
    // no slash of anyone (the claimer, slashed in the scenario before, may be topping its bond up again meanwhile)
    const providersAfter = await providerRecords()
    t.deepEqual(providersAfter.map(p => p.slashed), providersBefore.map(p => p.slashed), 'nobody slashed')
    for (const [i, p] of providersAfter.entries()) t.true(p.bond >= providersBefore[i].bond, `node ${i}'s bond did not go down`)
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in five tasks the honest path never came about (see the log)')
})

test.serial('envelopes that do not open: the requester\'s node seals garbage; the winner\'s claims reveal its task key, two judges open nothing (unavailable); nobody is slashed, the task is refunded', async (t) => {
  // node LIAR's requester side seals a private task's inputs to a key nobody holds (its start's fault injection): the
  // requester's tasks go to it here, on the same account record (its nonces run on for the scenarios after this one)
  const r = requester
  const home = r.client
  r.client = net.clients[LIAR]
  t.teardown(() => { r.client = home })
  const providersBefore = await providerRecords()
  for (let attempt = 1; attempt <= 4; attempt++) {
    // a budget under every default price: only HONEST bids (the claimer does not serve this requester); the winner
    // waits for envelopes that open half the time to its deadline, then claims
    const task = await submitMatmul(r, { m: 4, k: 4, n: 4, budget: 1000n, executionDeadlineMs: 10_000, private: true, ...FAULT_WINDOWS })
    taskIds.push(task.taskId)
    const end = await waitForTask(net.clients[HONEST], task.taskId, undefined, { timeoutMs: 150_000 })
    // before s44 the judge fetched the envelopes, said `available`, and the winner was slashed late
    if (!honestExcused(t, end, attempt)) continue
    // the claim and its appeal (for a second judge) both reveal the key; neither judge opens the envelopes
    const [claim, appeal, ...more] = excusedClaims(t, end, net.addresses[HONEST])
    t.deepEqual(more, [], 'two claims settle it')
    t.like(claim, { attempt: 0, keyRevealed: true, verdict: { outcome: 'unavailable' } })
    t.like(appeal, { attempt: 1, keyRevealed: true, verdict: { outcome: 'unavailable' } })
    t.log(`award → claim ${claim.atMs - end.awards[0].atMs} ms, claim → verdict ${(claim.verdict?.atMs ?? 0) - claim.atMs} ms, → appeal's verdict ${(appeal.verdict?.atMs ?? 0) - (claim.verdict?.atMs ?? 0)} ms (market time), judge nodes ${[claim, appeal].map(c => net.addresses.indexOf(c.verdict?.validator ?? '')).join(', ')}`)
    await sameEverywhere(t, task.taskId, v => v.state === 'refunded')
    const status = await net.clients[HONEST].call('provider_status')
    t.like(status.inputClaims.find(c => c.taskId === task.taskId), { keyRevealed: true, verdict: { outcome: 'unavailable' } })
    t.deepEqual((await providerRecords()).map(p => p.slashed), providersBefore.map(p => p.slashed), 'nobody slashed')
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in four tasks HONEST never won (see the log)')
})

/**
 * Whether HONEST won the task (else logged: the caller tries another); if so, asserts that it ended refunded whole,
 * `inputs-unavailable`, with nobody slashed.
 */
function honestExcused (t: import('ava').ExecutionContext, end: TaskRecord, attempt: number): boolean {
  if (end.awards[0]?.winners[0] !== net.addresses[HONEST]) {
    t.log(`attempt ${attempt}: HONEST did not win (${JSON.stringify(story(end))}): another task`)
    return false
  }
  t.is(end.state, 'refunded', JSON.stringify(story(end)))
  t.is(end.settlement?.outcome, 'inputs-unavailable')
  t.is(end.settlement?.refund, end.escrow, 'the whole escrow back to the requester')
  t.deepEqual(end.slashes, [], 'nobody slashed')
  return true
}

test.serial('a lying judge: its fetch fails, it says `available` and serves nothing; the winner appeals, the next two judges find them unavailable; nobody is slashed, the task is refunded', async (t) => {
  // node LIAR becomes a lying judge (a restart with the devnet fault injection)
  await net.kill(LIAR)
  liarFault = 'false-input-verdict'
  await net.restart(LIAR)
  const keys = (await loadGenesis(net.devnet.genesisPath)).validators.map(v => v.publicKey)
  const liarKey = keys.find(k => addressFromPublicKey(k) === net.addresses[LIAR]) as Uint8Array
  const honest = toHex(parseAddress(net.addresses[HONEST]))
  const r = requester
  const providersBefore = await providerRecords()
  for (let attempt = 1; attempt <= 4; attempt++) {
    // a task whose first claim by HONEST the liar judges: the requester's nonces are moved on (transfers to the
    // faucet) to the first task id that gives it rank 0
    let skip = 0n
    while (claimCheckRank(keys, liarKey, taskIdHexOf(parseAddress(r.key.address), r.nextNonce + skip), honest) !== 0) skip++
    if (skip > 0n) await fundAccounts(r, Array.from({ length: Number(skip) }, () => net.faucet.key.address), 1n)
    const unserved = [randomBytes(32), randomBytes(32)].map(x => new Uint8Array(x))
    // a budget under every default price: only HONEST bids (the claimer does not serve this requester)
    const { tx, taskId } = buildTaskAnnounce({ chainId: r.chainId, keys: r.key, nonce: r.nextNonce, fee: 1000n }, {
      ...matmulAnnounce({ budget: 1000n, executionDeadlineMs: 20_000, ...FAULT_WINDOWS }), inputs: unserved
    })
    const id = `0x${toHex(taskId)}`
    taskIds.push(id)
    // sent as a bare transaction: no node holds the inputs
    await r.client.call('account_sendTransaction', [`0x${toHex(encodeTx(tx))}`])
    r.nextNonce++
    const end = await waitForTask(net.clients[HONEST], id, undefined, { timeoutMs: 150_000 })
    if (!honestExcused(t, end, attempt)) continue
    const claims = excusedClaims(t, end, net.addresses[HONEST])
    t.is(claims.length, 3, JSON.stringify(claims))
    const [first, appeal, confirm] = claims
    // the liar judged the first claim: `available`, though it holds nothing
    t.like(first, { attempt: 0, verdict: { outcome: 'available', validator: net.addresses[LIAR] } })
    // the winner could not fetch from anyone, appealed before the deadline that verdict gave, and the next judge (not
    // the liar, not the claimant) found them unavailable; so did the judge after it, on the appeal for its concurrence
    t.is(appeal.attempt, 1)
    t.true(appeal.atMs <= first.dueAtMs, 'appealed in time')
    t.is(confirm.attempt, 2)
    for (const c of [appeal, confirm]) t.not(c.verdict?.validator, net.addresses[LIAR])
    t.log(`award → claim ${first.atMs - end.awards[0].atMs} ms, claim → lie ${(first.verdict?.atMs ?? 0) - first.atMs} ms, lie → appeal ${appeal.atMs - (first.verdict?.atMs ?? 0)} ms, appeal → verdict ${(appeal.verdict?.atMs ?? 0) - appeal.atMs} ms, → the second judge's ${(confirm.verdict?.atMs ?? 0) - (appeal.verdict?.atMs ?? 0)} ms (market time)`)
    await sameEverywhere(t, id, v => v.state === 'refunded')
    const status = await net.clients[HONEST].call('provider_status')
    t.like(status.inputClaims.findLast(c => c.taskId === id), { attempt: 2, verdict: { outcome: 'unavailable' }, excused: true })
    t.true(await metric(0, 'harmony_market_input_claims_total', { claim: 'appeal' }) >= 1, 'the appeal is counted')
    t.deepEqual((await providerRecords()).map(p => p.slashed), providersBefore.map(p => p.slashed), 'nobody slashed')
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in four tasks HONEST never won (see the log)')
})

test.serial('a lying `unavailable`: the liar judges the claimer\'s false claim unavailable though it fetched the inputs; alone that excuses nothing: the next judge finds them available, and the claimer is slashed late; the task completes', async (t) => {
  // the liar (restarted in the scenario before) answers the opposite of what its fetch found; the claimer claims
  // every award of the faucet's tasks without fetching, and never answers. Before s48 the liar's verdict alone
  // excused it: the task refunded, nobody slashed
  const keys = (await loadGenesis(net.devnet.genesisPath)).validators.map(v => v.publicKey)
  const liarKey = keys.find(k => addressFromPublicKey(k) === net.addresses[LIAR]) as Uint8Array
  const claimer = net.addresses[CLAIMER]
  const f = net.faucet
  for (let attempt = 1; attempt <= 4; attempt++) {
    // a task whose first claim by the claimer the liar judges (the faucet's nonces moved on to such a task id)
    let skip = 0n
    while (claimCheckRank(keys, liarKey, taskIdHexOf(parseAddress(f.key.address), f.nextNonce + skip), toHex(parseAddress(claimer))) !== 0) skip++
    if (skip > 0n) await fundAccounts(f, Array.from({ length: Number(skip) }, () => REQUESTER.address), 1n)
    const task = await submitMatmul(f, { m: 8, k: 8, n: 8, budget: AGC / 100n, executionDeadlineMs: 6000, ...FAULT_WINDOWS })
    taskIds.push(task.taskId)
    const end = await waitForTask(net.clients[1], task.taskId, undefined, { timeoutMs: 150_000 })
    if (end.awards[0]?.winners[0] !== claimer) {
      t.log(`attempt ${attempt}: the claimer did not win (${JSON.stringify(story(end))}): another task`)
      continue
    }
    t.is(end.state, 'settled', JSON.stringify(story(end)))
    const [lie, appeal, ...more] = end.inputClaims.filter(c => c.provider === claimer && c.round === 0)
    t.deepEqual(more, [], 'two claims')
    t.like(lie, { attempt: 0, verdict: { outcome: 'unavailable', validator: net.addresses[LIAR] }, excused: false })
    // the claimer appealed for a second judge's `unavailable`; the next judge fetched the inputs: `available`
    t.like(appeal, { attempt: 1, verdict: { outcome: 'available' }, excused: false })
    t.not(appeal?.verdict?.validator, net.addresses[LIAR])
    t.not(appeal?.verdict?.validator, claimer)
    const slash = end.slashes.find(s => s.provider === claimer)
    t.is(slash?.reason, 'late')
    t.true((slash?.atMs ?? 0) > (appeal?.dueAtMs ?? Infinity), `slashed after the extended deadline: ${JSON.stringify(story(end))}`)
    const paid = end.settlement?.payouts.map(p => p.provider) ?? []
    t.is(paid.length, 1)
    t.not(paid[0], claimer)
    t.log(`attempt ${attempt}: award → claim ${(lie?.atMs ?? 0) - end.awards[0].atMs} ms, claim → lie ${(lie?.verdict?.atMs ?? 0) - (lie?.atMs ?? 0)} ms, lie → appeal ${(appeal?.atMs ?? 0) - (lie?.verdict?.atMs ?? 0)} ms, appeal → verdict ${(appeal?.verdict?.atMs ?? 0) - (appeal?.atMs ?? 0)} ms, verdict → slash ${(slash?.atMs ?? 0) - (appeal?.verdict?.atMs ?? 0)} ms (market time)`)
    await sameEverywhere(t, task.taskId, v => v.state === 'settled')
    t.is(await held(), supply, 'money is conserved')
    return
  }
  t.fail('in four tasks the claimer never won (see the log)')
})
