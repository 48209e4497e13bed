// npm run bench:market [-- --json] [--nodes 5] [--tasks 20] [--seconds 15] [--bid-window 1000] [--reveal-window 500] [--in-flight 3,10]
//   [--follow subscribe|poll] [--capacity 256] [--metrics-dir d] [--rule commit|avalanche] (commit: the default)
//   [--validators V] (the first V nodes are validators, the rest plain nodes whose providers and requesters forward
//   their transactions; default: every node) [--private] (each saturation level runs twice: public tasks, then private
//   ones, whose inputs the requester's node seals to each winner's task key; the public rate is the baseline). KEEP_BENCH_DIR=1 keeps the devnet's datadirs (each node's
//   harmonyd.log) and prints where.
//
// A devnet of --nodes harmonyd processes (real libp2p on loopback, every node a CPU provider and a validator),
// one requester account per node submitting small matmul tasks (8×8×8) to its own node:
// (1) announce → award: the award's market time minus the announce's, p50/p99 over --tasks tasks submitted one
//     by one; floor: the bid + reveal windows (no award can come earlier), and the DAG's finality p50 of the
//     announces themselves (submit → final), measured in the same run;
// (2) end-to-end latency of a small task (submit → settled seen by the requester's node), p50/p99, next to the
//     same floors;
// (3) tasks/s at saturation: every requester keeps --in-flight tasks in flight for --seconds (once per level of the
//     list: 3 per requester is latency-bound, 10 loads the 2-core machine past what it finalizes in time, where
//     announces final too late for a bid expire); tasks settled per second, next to
//     the DAG's finalized transactions per second over the same window (each task costs 3 + 2 × bidders + results transactions:
//     announce, a commit and a reveal per bidder, award, a result per replica, settle: 14 with five bidders).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fundAccounts, openAccount, submitMatmul, type WorkloadAccount } from '../src/cli/market-workload.ts'
import { generateKeyPair } from '../src/core/crypto.ts'
import { addressFromPublicKey } from '../src/core/address.ts'
import { loadWalletFile } from '../src/core/keys/wallet.ts'
import { createLogger } from '../src/core/logger.ts'
import { Devnet, devnetClient, type DevnetNode } from '../src/node/devnet.ts'
import { HarmonyClient, RpcClientError, type TaskRecord } from '../src/sdk/index.ts'
import { type BenchResult, percentile, printResults } from './report.ts'
import { treeCpuSeconds } from './lib/proc-cpu.ts'
import { measureVerifyLimit } from './lib/verify-rate.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '15' },
    'bid-window': { type: 'string', default: '1000' },
    'reveal-window': { type: 'string', default: '500' },
    'in-flight': { type: 'string', default: '3,10' },
    // each provider's `capacity` (tasks held at once: revealed bids and awards not yet answered). 64 left the providers
    // declining to reveal at 30 in flight (half the tasks expired) while their sandboxes idled: the bench's tasks are
    // milliseconds of work (2026-12-03: 256 settled 0.996–1.0 of them, 64 0.48–0.53)
    capacity: { type: 'string', default: '256' },
    // each node's Prometheus metrics after each saturation level: <dir>/<N>-node<i>.prom (bench/lib/metrics-summary.ts)
    'metrics-dir': { type: 'string' },
    // how the saturation phase learns a task ended: the task_status topic over WebSocket, or task_get polls
    follow: { type: 'string', default: 'subscribe' },
    // the ledger's consensus rule (genesis consensus.rule): under commit the market's decisions are checked where the
    // order reaches them, and there are no polls (docs/consensus-next.md step 4)
    rule: { type: 'string', default: 'commit' },
    validators: { type: 'string' },
    private: { type: 'boolean', default: false }
  }
})
if (values.rule !== 'avalanche' && values.rule !== 'commit') throw new Error('--rule is avalanche or commit')
const RULE = values.rule
const NODES = Number(values.nodes)
const VALIDATORS = values.validators === undefined ? NODES : Number(values.validators)
const TASKS = Number(values.tasks)
const SATURATION_S = Number(values.seconds)
const BID_WINDOW_MS = Number(values['bid-window'])
const REVEAL_WINDOW_MS = Number(values['reveal-window'])
// tasks each requester keeps in flight at saturation (a closed loop: an open one that submits as fast as the node
// admits announces measures collapse, every task expiring, not the rate the market sustains)
const IN_FLIGHT_LEVELS = values['in-flight'].split(',').map(Number)
if (values.follow !== 'subscribe' && values.follow !== 'poll') throw new Error('--follow is subscribe or poll')
const FOLLOW = values.follow
const AGC = 10n ** 18n
const FINAL = new Set(['settled', 'refunded', 'expired', 'cancelled'])
const POLL_MS = 50
// at saturation every task in flight is polled: at 50 ms, 100 tasks in flight were 2,000 task_get/s on the nodes
// being measured (the bench's own load); a task's end is seen up to this much late, which the rate tolerates
const SATURATION_POLL_MS = 250
// a task followed over task_status is read with task_get after this long without its end event
const FOLLOW_CHECK_MS = 5000
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }
const results: BenchResult[] = []
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)

async function waitFinal (client: HarmonyClient, txId: string): Promise<number> {
  for (;;) {
    const tx = await client.call('tx_get', [txId])
    if (tx?.status === 'final') return Date.now()
    if (tx?.status === 'rejected') throw new Error(`${txId} rejected: ${tx.reason ?? ''}`)
    await sleep(POLL_MS)
  }
}

async function waitTask (client: HarmonyClient, taskId: string, deadlineMs: number, pollMs = POLL_MS): Promise<TaskRecord | undefined> {
  while (Date.now() < deadlineMs) {
    const task = await client.call('task_get', [taskId])
    if (task !== null && FINAL.has(task.state)) return task
    await sleep(pollMs)
  }
  return undefined
}

/**
 * The counters of a node's /metrics that the saturation log reads: provider decisions by outcome, consensus polls,
 * and the provider's bid transactions admitted against the bids they carried (its batching).
 */
interface NodeCounters { decisions: Map<string, number>, polls: number, bidTxs: number, bidEntries: number, notAdmitted: number }

/** `harmony_provider_decisions_total` by outcome (bid, or the reason it did not) and `harmony_dag_polls_total` (all results), from a node's /metrics. */
async function nodeCounters (rpcUrl: string, saveAs?: string): Promise<NodeCounters> {
  const text = await (await fetch(new URL('/metrics', rpcUrl))).text()
  if (saveAs !== undefined) {
    await mkdir(dirname(saveAs), { recursive: true })
    await writeFile(saveAs, text)
  }
  const decisions = new Map<string, number>()
  for (const m of text.matchAll(/^harmony_provider_decisions_total\{outcome="([^"]+)"\} (\S+)$/gm)) decisions.set(m[1], Number(m[2]))
  let polls = 0
  for (const m of text.matchAll(/^harmony_dag_polls_total\{[^}]*\} (\S+)$/gm)) polls += Number(m[1])
  let bidTxs = 0
  for (const m of text.matchAll(/^harmony_provider_transactions_total\{([^}]*)\} (\S+)$/gm)) if (/kind="bid-(commits|reveals|reveal)"/.test(m[1]) && m[1].includes('outcome="ok"')) bidTxs += Number(m[2])
  let bidEntries = 0
  for (const m of text.matchAll(/^harmony_provider_bid_entries_total\{[^}]*\} (\S+)$/gm)) bidEntries += Number(m[1])
  // the provider's transactions not admitted, by error code (its sender gave them up)
  let notAdmitted = 0
  for (const m of text.matchAll(/^harmony_provider_transactions_total\{([^}]*)\} (\S+)$/gm)) if (!m[1].includes('outcome="ok"')) notAdmitted += Number(m[2])
  return { decisions, polls, bidTxs, bidEntries, notAdmitted }
}

/**
 * The ends of one requester's tasks, pushed by its node's task_status topic (WebSocket): a task in flight waits for
 * its event, not for polls. A task with no event by its deadline is read once with task_get.
 */
class TaskEnds {
  private readonly ended = new Map<string, TaskRecord>()
  private readonly waiters = new Map<string, (t: TaskRecord) => void>()
  private readonly client: HarmonyClient
  private constructor (client: HarmonyClient) { this.client = client }

  static async open (node: Pick<DevnetNode, 'rpc' | 'datadir'>, requester: string): Promise<TaskEnds> {
    const client = await devnetClient({ ...node, rpc: node.rpc.replace(/^http/, 'ws') })
    const ends = new TaskEnds(client)
    await client.subscribe('task_status', { requester }, (t) => { if (FINAL.has(t.state)) ends.end(t) })
    return ends
  }

  private end (t: TaskRecord): void {
    const waiter = this.waiters.get(t.taskId)
    if (waiter !== undefined) { this.waiters.delete(t.taskId); waiter(t) } else this.ended.set(t.taskId, t)
  }

  async wait (taskId: string, deadlineMs: number): Promise<TaskRecord | undefined> {
    const done = this.ended.get(taskId)
    if (done !== undefined) { this.ended.delete(taskId); return done }
    // read every FOLLOW_CHECK_MS without an event: an event missed while the subscription was down (the node disconnects a
    // reader it finds too slow, as this loaded process can be) must not hold the task until the deadline
    for (;;) {
      let timer: NodeJS.Timeout | undefined
      const pushed = await new Promise<TaskRecord | undefined>(resolve => {
        this.waiters.set(taskId, resolve)
        timer = setTimeout(() => { this.waiters.delete(taskId); resolve(undefined) }, Math.max(0, Math.min(deadlineMs, Date.now() + FOLLOW_CHECK_MS) - Date.now()))
      })
      clearTimeout(timer)
      if (pushed !== undefined) return pushed
      const task = await this.client.call('task_get', [taskId])
      if (task !== null && FINAL.has(task.state)) { this.missed++; return task }
      if (Date.now() >= deadlineMs) return undefined
    }
  }

  /** Ends found by a read, not pushed. */
  missed = 0

  async close (): Promise<void> { await this.client.close() }
}

/** Where one task's time went (ms): wall clock at the requester's side, market (vertex) times in between. */
interface TaskStages { state: string, bids: number, submit: number, award: number, execute: number, settle: number, seen: number, total: number }

function stagesOf (t: TaskRecord, submittedAt: number, seenAt: number): TaskStages {
  const awardAt = t.awards[0]?.atMs
  const resultAt = t.results.length > 0 ? Math.max(...t.results.map(r => r.atMs)) : undefined
  const settleAt = t.settlement?.atMs
  return {
    state: t.state,
    bids: t.bidCount,
    submit: t.announcedAtMs - submittedAt,
    award: awardAt === undefined ? NaN : awardAt - t.announcedAtMs,
    execute: awardAt === undefined || resultAt === undefined ? NaN : resultAt - awardAt,
    settle: resultAt === undefined || settleAt === undefined ? NaN : settleAt - resultAt,
    seen: settleAt === undefined ? NaN : seenAt - settleAt,
    total: seenAt - submittedAt
  }
}

/** The stage breakdown at saturation, p50 / p90 of each stage over the tasks that reached it, and the end states. */
function logStages (all: TaskStages[]): void {
  const states = new Map<string, number>()
  for (const s of all) states.set(s.state, (states.get(s.state) ?? 0) + 1)
  log(`end states: ${[...states].map(([k, v]) => `${k} ${v}`).join(', ')}; bids per task p50 ${percentile(sorted(all.map(s => s.bids)), 0.5)}`)
  for (const key of ['submit', 'award', 'execute', 'settle', 'seen', 'total'] as const) {
    const xs = sorted(all.map(s => s[key]).filter(x => Number.isFinite(x)))
    if (xs.length > 0) log(`stage ${key.padEnd(8)} p50 ${Math.round(percentile(xs, 0.5))} ms, p90 ${Math.round(percentile(xs, 0.9))} ms (${xs.length} tasks)`)
  }
}

// the machine's signature limit, before the devnet starts: each task's DAG transactions are verified by every node
// and its vertices by every node but their author, so (3) reports how many tasks/s that limit alone allows
const verifyLimit = await measureVerifyLimit(2000)
log(`verify: ${Math.round(verifyLimit.rate)} sig/s on ${availableParallelism()} cores, ${verifyLimit.cpuUsPerSig.toFixed(0)} µs of CPU per signature`)
const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-market-'))
const devnet = new Devnet({
  nodes: NODES,
  basePort: 0,
  datadir: dir,
  chain: false,
  logLevel: 'warn',
  logger: createLogger({ level: 'warn' }),
  consensus: RULE,
  validators: VALIDATORS,
  nodeArgs: ['--executor', 'cpu', '--provider', JSON.stringify({ enabled: true, capacity: Number(values.capacity) })]
})
try {
  log(`starting a ${NODES}-node devnet (every node a CPU provider, ${VALIDATORS < NODES ? `nodes ${VALIDATORS}-${NODES - 1} plain` : 'every node a validator'}), consensus rule ${RULE}`)
  const nodes = await devnet.start()
  const clients = await Promise.all(nodes.map(async n => await devnetClient(n)))
  const faucet = await openAccount(clients[0], await loadWalletFile(devnet.faucetPath))
  const providerAddresses = (await Promise.all(clients.map(async c => await c.call('node_info')))).map(i => i.address as string)
  // one requester per node: nonces chain on the node that admits them
  const requesterKeys = clients.map(() => { const k = generateKeyPair(); return { ...k, address: addressFromPublicKey(k.publicKey) } })
  await fundAccounts(faucet, [...providerAddresses, ...requesterKeys.map(k => k.address)], 10_000n * AGC)
  for (;;) {
    if ((await clients[0].call('market_providers', [{ limit: 100 }])).providers.length === NODES) break
    await sleep(250)
  }
  const requesters: WorkloadAccount[] = await Promise.all(clients.map(async (c, i) => await openAccount(c, requesterKeys[i])))
  const task = { m: 8, k: 8, n: 8, budget: AGC / 100n, bidWindowMs: BID_WINDOW_MS, revealWindowMs: REVEAL_WINDOW_MS, executionDeadlineMs: 20_000 }
  const windowMs = BID_WINDOW_MS + REVEAL_WINDOW_MS

  // (1) and (2): one task at a time, from each requester in turn
  log(`(1, 2) ${TASKS} tasks one by one`)
  const awardMs: number[] = []
  const e2eMs: number[] = []
  const finalityMs: number[] = []
  for (let i = 0; i < TASKS; i++) {
    const r = requesters[i % requesters.length]
    const t0 = Date.now()
    const submitted = await submitMatmul(r, task)
    const [finalAt, end] = await Promise.all([waitFinal(r.client, submitted.txId), waitTask(r.client, submitted.taskId, Date.now() + 60_000)])
    finalityMs.push(finalAt - t0)
    if (end === undefined || end.state !== 'settled') { log(`task ${submitted.taskId} ended ${end?.state ?? 'not in 60 s'}`); continue }
    e2eMs.push(Date.now() - t0)
    if (end.awards.length > 0) awardMs.push(end.awards[0].atMs - end.announcedAtMs)
  }
  const finalityP50 = percentile(sorted(finalityMs), 0.5)
  const award = sorted(awardMs)
  const e2e = sorted(e2eMs)
  results.push(
    { bench: 'market', metric: 'announce→award p50', value: percentile(award, 0.5), unit: 'ms', baseline: 'bid + reveal window', baseline_value: windowMs },
    { bench: 'market', metric: 'announce→award p99', value: percentile(award, 0.99), unit: 'ms', baseline: 'bid + reveal window', baseline_value: windowMs },
    { bench: 'market', metric: 'announce→award p50', value: percentile(award, 0.5), unit: 'ms', baseline: 'window + 2 × DAG finality p50 (the goal)', baseline_value: windowMs + 2 * finalityP50 },
    { bench: 'market', metric: 'DAG finality p50 (announces)', value: finalityP50, unit: 'ms', baseline: 'bid + reveal window', baseline_value: windowMs },
    { bench: 'market', metric: 'small task end-to-end p50', value: percentile(e2e, 0.5), unit: 'ms', baseline: 'window + DAG finality p50', baseline_value: windowMs + finalityP50 },
    { bench: 'market', metric: 'small task end-to-end p99', value: percentile(e2e, 0.99), unit: 'ms', baseline: 'window + DAG finality p50', baseline_value: windowMs + finalityP50 }
  )

  // (3) saturation: every requester keeps IN_FLIGHT tasks in flight (submit, wait for its end, submit the next) for
  // SATURATION_S seconds; its submits go one at a time (one account's nonces chain)
  // with --private, each level's public rate and CPU per task are the private run's baselines
  const publicAt = new Map<number, { rate: number, cpuPerTask?: number }>()
  for (const [IN_FLIGHT, PRIVATE] of IN_FLIGHT_LEVELS.flatMap(n => (values.private ? [false, true] : [false]).map(p => [n, p] as const))) {
    const level = `${IN_FLIGHT} in flight per requester${PRIVATE ? ', private' : ''}`
    log(`(3) saturation for ${SATURATION_S} s, ${level}`)
    const statsBefore = await Promise.all(clients.map(async c => await c.call('dag_stats')))
    const countersBefore = await Promise.all(nodes.map(async n => await nodeCounters(n.rpc)))
    const nodePids = nodes.flatMap(n => n.process.pid === undefined ? [] : [n.process.pid])
    const cpuBefore = await treeCpuSeconds(nodePids)
    const started = Date.now()
    const stopAt = started + SATURATION_S * 1000
    const submittedIds: Array<{ client: HarmonyClient, taskId: string }> = []
    const refusals = new Map<string, number>()
    const ends: Array<TaskRecord | undefined> = []
    const stages: TaskStages[] = []
    // the slowest submit (task_submit's answer) and the slowest task (submit to its end), with the node it went to
    const slowest: { submitMs: number, submitNode?: number, taskMs: number, task?: TaskRecord, taskNode?: number } = { submitMs: 0, taskMs: 0 }
    const follow = FOLLOW === 'subscribe' ? await Promise.all(requesters.map(async (r, i) => await TaskEnds.open(nodes[i], r.key.address))) : []
    await Promise.all(requesters.map(async (r, i) => {
      let turn = Promise.resolve()
      const submitOne = async (): Promise<string | undefined> => {
        const previous = turn
        let release = (): void => {}
        turn = new Promise<void>(resolve => { release = resolve })
        await previous
        try {
          return (await submitMatmul(r, { ...task, private: PRIVATE })).taskId
        } catch (err) {
          // a retryable refusal (the market full, the ledger busy) is counted and retried when it says
          const data = err instanceof RpcClientError ? err.data as { reason?: string, retryAfterMs?: number } | undefined : undefined
          const reason = data?.reason ?? 'other'
          refusals.set(reason, (refusals.get(reason) ?? 0) + 1)
          if (data?.retryAfterMs === undefined) {
            // not a load refusal (a nonce this account already used): take the node's next nonce again
            log(`submit refused: ${(err as Error).message}`)
            r.nextNonce = BigInt(await r.client.call('account_getNonce', [r.key.address]))
          }
          await sleep(data?.retryAfterMs ?? 100)
          return undefined
        } finally {
          release()
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (Date.now() < stopAt) {
          const submittedAt = Date.now()
          const taskId = await submitOne()
          if (Date.now() - submittedAt > slowest.submitMs) Object.assign(slowest, { submitMs: Date.now() - submittedAt, submitNode: i })
          if (taskId === undefined) continue
          submittedIds.push({ client: r.client, taskId })
          const end = follow[i] === undefined ? await waitTask(r.client, taskId, Date.now() + 120_000, SATURATION_POLL_MS) : await follow[i].wait(taskId, Date.now() + 120_000)
          ends.push(end)
          if (end !== undefined) stages.push(stagesOf(end, submittedAt, Date.now()))
          if (Date.now() - submittedAt > slowest.taskMs) Object.assign(slowest, { taskMs: Date.now() - submittedAt, task: end, taskNode: i })
        }
      }))
    }))
    const elapsedS = (Date.now() - started) / 1000
    const missed = follow.reduce((n, f) => n + f.missed, 0)
    if (missed > 0) log(`task ends not pushed by task_status (read after ${FOLLOW_CHECK_MS / 1000} s without an event): ${missed}`)
    await Promise.all(follow.map(async f => { await f.close() }))
    const cpuAfter = await treeCpuSeconds(nodePids)
    const settled = ends.filter(e => e?.state === 'settled').length
    const statsAfter = await Promise.all(clients.map(async c => await c.call('dag_stats')))
    const finalTxs = Math.max(...statsAfter.map((s, i) => s.finalTxs - statsBefore[i].finalTxs))
    // vertices each node inserted in the window (every node inserts every vertex): the DAG's per-vertex work
    const vertices = Math.max(...statsAfter.map((s, i) => s.vertices - statsBefore[i].vertices))
    log(`${submittedIds.length} submitted, ${settled} settled, ${ends.filter(e => e === undefined).length} unfinished, in ${elapsedS.toFixed(1)} s`)
    const st = slowest.task
    log(`slowest submit ${slowest.submitMs} ms (node ${slowest.submitNode ?? '-'}); slowest task ${slowest.taskMs} ms (node ${slowest.taskNode ?? '-'}): ${st === undefined ? 'no end' : `${st.state}, ${st.awards.length} award rounds, ${st.slashes.length} slashes, ${st.inputClaims.length} input claims (${st.inputClaims.map(c => c.verdict?.outcome ?? 'no verdict').join(', ')}), announce → award ${(st.awards[0]?.atMs ?? NaN) - st.announcedAtMs} ms`}`)
    // the providers' decisions in the window (bid, or why not), summed over the nodes
    const decisions = new Map<string, number>()
    let polls = 0
    let bidTxs = 0
    let bidEntries = 0
    const notAdmitted: number[] = []
    for (const [i, n] of nodes.entries()) {
      const after = await nodeCounters(n.rpc, values['metrics-dir'] === undefined ? undefined : join(values['metrics-dir'], `${IN_FLIGHT}${PRIVATE ? '-private' : ''}-node${i}.prom`))
      for (const [outcome, count] of after.decisions) decisions.set(outcome, (decisions.get(outcome) ?? 0) + count - (countersBefore[i].decisions.get(outcome) ?? 0))
      polls += after.polls - countersBefore[i].polls
      bidTxs += after.bidTxs - countersBefore[i].bidTxs
      bidEntries += after.bidEntries - countersBefore[i].bidEntries
      notAdmitted.push(after.notAdmitted - countersBefore[i].notAdmitted)
    }
    log(`submits refused: ${[...refusals].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)
    log(`provider decisions: ${[...decisions].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)
    log(`provider transactions not admitted, by node: ${notAdmitted.join(', ')}`)
    log(`bid transactions: ${bidTxs} carrying ${bidEntries} commits and reveals (${(bidEntries / Math.max(1, bidTxs)).toFixed(2)} per transaction)`)
    log(`DAG: ${finalTxs} transactions final in ${vertices} vertices (${(finalTxs / Math.max(1, vertices)).toFixed(2)} per vertex); ${Math.round(polls / elapsedS / nodes.length)} consensus polls/s per node`)
    logStages(stages)
    // how the awards spread over the providers (s34's award rule: equal prices share the work by the per-task hash;
    // before it the first winners took every tie): each provider's share of the first-round winners
    const awardsBy = new Map<string, number>(providerAddresses.map(a => [a, 0]))
    for (const e of ends) for (const w of e?.awards[0]?.winners ?? []) awardsBy.set(w, (awardsBy.get(w) ?? 0) + 1)
    const awarded = [...awardsBy.values()].reduce((a, b) => a + b, 0)
    log(`awards by provider: ${[...awardsBy.values()].sort((a, b) => b - a).join(', ')} (${awarded} in all)`)
    if (VALIDATORS < NODES) {
      // providers on plain nodes forward every commit, reveal and result to a validator
      const perNode = providerAddresses.map(a => awardsBy.get(a) ?? 0)
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
      log(`awards by node: ${perNode.map((n, i) => `${i}${i >= VALIDATORS ? ' (plain)' : ''} ${n}`).join(', ')}`)
      results.push({ bench: 'market', metric: `awards per plain-node provider, ${level}`, value: mean(perNode.slice(VALIDATORS)), unit: 'tasks', baseline: 'awards per validator\'s provider', baseline_value: mean(perNode.slice(0, VALIDATORS)) })
    }
    // every task's bids by status (market_bids): `excluded` is an in-time valid reveal its award left out; and why
    // the expired tasks got no award, their bids' statuses and reasons summed
    const whyExpired = new Map<string, number>()
    const bidStatuses = new Map<string, number>()
    for (const e of ends) {
      if (e === undefined) continue
      const bids = await clients[0].call('market_bids', [e.taskId]).catch(() => null)
      for (const b of bids?.bids ?? []) bidStatuses.set(b.status, (bidStatuses.get(b.status) ?? 0) + 1)
      if (e.state !== 'expired') continue
      const key = bids === null ? 'unknown' : bids.bids.length === 0 ? `no bids (${bids.note ?? 'no note'})` : bids.bids.map(b => `${b.status}${b.reason !== null ? `:${b.reason}` : ''}`).sort().join(' ')
      whyExpired.set(key, (whyExpired.get(key) ?? 0) + 1)
    }
    log(`bids by status: ${[...bidStatuses].sort().map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)
    if (whyExpired.size > 0) log(`expired tasks' bids: ${[...whyExpired].map(([k, n]) => `${n} × [${k}]`).join('; ')}`)
    const lateSlashes = ends.reduce((n, e) => n + (e?.slashes.filter(x => x.reason === 'late').length ?? 0), 0)
    log(`late slashes: ${lateSlashes}; expired: ${ends.filter(e => e?.state === 'expired').length}`)
    const inTimeReveals = (bidStatuses.get('won') ?? 0) + (bidStatuses.get('lost') ?? 0) + (bidStatuses.get('excluded') ?? 0)
    results.push({ bench: 'market', metric: `in-time reveals left out of their award (excluded), ${level}`, value: bidStatuses.get('excluded') ?? 0, unit: 'bids', baseline: 'bids won, lost or excluded (market_bids)', baseline_value: inTimeReveals })
    if (awarded > 0) results.push({ bench: 'market', metric: `largest provider's share of awards, ${level}`, value: Math.max(...awardsBy.values()) / awarded, unit: 'ratio', baseline: 'an even share (1 / providers)', baseline_value: 1 / NODES })
    results.push(
      { bench: 'market', metric: `tasks/s at saturation (settled), ${level}`, value: settled / elapsedS, unit: 'tasks/s', baseline: 'DAG final tx/s, same window', baseline_value: finalTxs / elapsedS },
      { bench: 'market', metric: `settled share at saturation, ${level}`, value: settled / Math.max(1, submittedIds.length), unit: 'ratio', baseline: 'all submitted', baseline_value: 1 }
    )
    // the verifications a settled task costs at least: its share of the final transactions, on every node, and of the
    // vertices, on every node but the author (the market's own gossip and the vertex signatures not counted)
    const sigsPerTask = settled === 0 ? NaN : (finalTxs * NODES + vertices * (NODES - 1)) / settled
    if (settled > 0) {
      log(`signatures: ${(finalTxs / settled).toFixed(1)} final transactions and ${(vertices / settled).toFixed(1)} vertices per settled task, ${sigsPerTask.toFixed(0)} verifications on ${NODES} nodes`)
      results.push({ bench: 'market', metric: `tasks/s the signature limit allows, ${level}`, value: verifyLimit.rate / sigsPerTask, unit: 'tasks/s', baseline: 'the goal', baseline_value: 100 })
    }
    const cpuPerSettled = cpuBefore !== undefined && cpuAfter !== undefined && settled > 0 ? ((cpuAfter - cpuBefore) * 1000) / settled : undefined
    const base = publicAt.get(IN_FLIGHT)
    if (!PRIVATE) publicAt.set(IN_FLIGHT, { rate: settled / elapsedS, ...(cpuPerSettled === undefined ? {} : { cpuPerTask: cpuPerSettled }) })
    else if (base !== undefined) {
      results.push({ bench: 'market', metric: `tasks/s at saturation (settled), ${level}`, value: settled / elapsedS, unit: 'tasks/s', baseline: 'public tasks, same level and devnet', baseline_value: base.rate })
      if (cpuPerSettled !== undefined && base.cpuPerTask !== undefined) results.push({ bench: 'market', metric: `node CPU per settled task, ${level}`, value: cpuPerSettled, unit: 'ms', baseline: 'public tasks, same level and devnet', baseline_value: base.cpuPerTask })
    }
    if (cpuPerSettled !== undefined) {
      // the nodes' CPU (their sandboxes included) per settled task, against what the goal of 100 tasks/s leaves a
      // task on this machine's cores: steadier than the rate, which moves with every other load on the machine
      const cpuPerTask = cpuPerSettled
      results.push(
        { bench: 'market', metric: `node CPU per settled task, ${level}`, value: cpuPerTask, unit: 'ms', baseline: 'the 100 tasks/s goal\'s budget (cores / 100)', baseline_value: (availableParallelism() * 1000) / 100 },
        { bench: 'market', metric: `node CPU per settled task, ${level}`, value: cpuPerTask, unit: 'ms', baseline: 'its verifications alone (CPU per signature, same run)', baseline_value: (sigsPerTask * verifyLimit.cpuUsPerSig) / 1000 }
      )
    }
  }
  await Promise.all(clients.map(async c => { await c.close() }))
} finally {
  await devnet.stop()
  if (process.env.KEEP_BENCH_DIR === undefined) await rm(dir, { recursive: true, force: true }); else log(`kept ${dir}`)
}
printResults(results, values.json)
