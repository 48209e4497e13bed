// Issue 12: a webhook event of a final transaction survives a kill -9 at any moment, and is delivered once. A
// one-validator ledger process with a webhook service under load is SIGKILLed again and again: by itself right
// after a decision committed (inside the tx:final listener, before the webhooks could queue its events: the
// window where an event used to be lost) and by the test at arbitrary moments. Restarted on its datadir each time;
// at the end every event of every final transaction has arrived under exactly one delivery id. The hook's queue bound
// is set above what the load can queue: events dropped at the bound (the oldest, counted; `webhooks` unit test) are
// not what this test is about, and on a machine whose ledger outruns the deliveries the default 1,000 was reached.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import test from 'ava'
import { Registry } from 'prom-client'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { KEY_PREFIXES, keyBytes, openDatabase, sublevel, type BinaryDb } from '../../src/core/storage.ts'
import { generateGenesis, genesisToJson } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { drainLedgerEvents, WebhookService } from '../../src/webhooks/index.ts'
import { createDagLibp2p, startDagNetworking } from '../helpers/dag-net.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'
import { WebhookReceiver } from '../helpers/webhook-receiver.ts'

interface Round { outbox: number, finals: string[] }

/** The hook's queue bound here: above the ~1,500 events the load queues in all (the default is 1,000). */
const MAX_QUEUE = 100_000

/** Runs the child until it kills itself (`selfKillAfter`) or has reported `killAfter` finals and is killed here. */
async function runAndKill (configPath: string, mode: { selfKillAfter: number } | { killAfter: number }): Promise<Round> {
  const child = spawn(process.execPath, [new URL('../helpers/webhook-crash-child.ts', import.meta.url).pathname, configPath], { stdio: ['ignore', 'pipe', 'inherit'] })
  const round: Round = { outbox: -1, finals: [] }
  const lines = createInterface({ input: child.stdout })
  const exited = new Promise<NodeJS.Signals | null>(resolve => child.once('exit', (_code, signal) => { resolve(signal) }))
  lines.on('line', line => {
    if (line.startsWith('outbox ')) round.outbox = Number(line.slice(7))
    if (line.startsWith('final ')) round.finals.push(line.slice(6))
    if ('killAfter' in mode && round.finals.length >= mode.killAfter) child.kill('SIGKILL')
  })
  const signal = await exited
  if (signal !== 'SIGKILL') throw new Error(`child exited without a kill (signal ${signal})`)
  return round
}

async function outboxSize (db: BinaryDb): Promise<number> {
  const lo = keyBytes(KEY_PREFIXES.webhooks.outbox)
  const hi = lo.slice()
  hi[hi.length - 1]++
  return (await sublevel(db, 'webhooks').keys({ gte: lo, lt: hi }).all()).length
}

test.serial('kill -9 right after decisions commit and at random moments: every webhook event of every final tx arrives under one delivery id', async t => {
  t.timeout(300_000)
  await using dir = await tempDir()
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  // some failures, so retries (and kills mid-retry) happen too
  receiver.answer = (_d, i) => i % 7 === 3 ? 503 : 200
  const validatorSeed = randomBytes(32)
  const accountSeeds = Array.from({ length: 4 }, () => randomBytes(32))
  const validator = generateKeyPair(validatorSeed)
  const accounts = accountSeeds.map(s => generateKeyPair(s))
  const genesis = generateGenesis({
    chainId: 'harmony-webhook-crash',
    validatorPublicKeys: [validator.publicKey],
    faucetPublicKey: generateKeyPair().publicKey,
    faucetBalance: 1n,
    allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance: 10n ** 20n }))
  })
  const configPath = join(dir.path, 'config.json')
  const dbPath = join(dir.path, 'db')
  const base = { dir: dbPath, genesis: genesisToJson(genesis), validatorSeed: toHex(validatorSeed), accountSeeds: accountSeeds.map(s => toHex(s)), url: receiver.url, maxQueuePerHook: MAX_QUEUE }
  const modes: Array<{ selfKillAfter: number } | { killAfter: number }> = [
    { selfKillAfter: 5 }, { killAfter: 30 }, { selfKillAfter: 1 }, { selfKillAfter: 12 }, { killAfter: 60 }, { selfKillAfter: 7 }
  ]
  const reported: string[] = []
  const rounds: Round[] = []
  for (const mode of modes) {
    await writeFile(configPath, JSON.stringify({ ...base, selfKillAfter: 'selfKillAfter' in mode ? mode.selfKillAfter : 0 }))
    const round = await runAndKill(configPath, mode)
    rounds.push(round)
    reported.push(...round.finals)
  }
  // each start after a self-kill found the killed decision's records still in the outbox: the kill hit the window
  modes.slice(0, -1).forEach((mode, i) => {
    if ('selfKillAfter' in mode) t.true(rounds[i + 1].outbox > 0, `round ${i + 1} started with the outbox the kill left`)
  })

  // the last start, in this process: drain, deliver, and count what the ledger holds as final
  const db = await openDatabase(dbPath)
  // disposed in reverse order at the end of the test, passed or failed: the ledger stopped (below), then the database
  // closed, then `dir` removed. A teardown closed it only after `dir` was removed, and LevelDB's files written
  // meanwhile made the removal fail (ENOTEMPTY, 1 run in 10)
  await using _closeDb = { [Symbol.asyncDispose]: async () => { if (db.status === 'open') await db.close() } }
  t.true(await outboxSize(db) > 0, 'the last kill left records in the outbox')
  const webhooks = new WebhookService({ db, logger: silentLogger() }, { retryBaseMs: 20, retryMaxMs: 200, allowPrivateTargets: true, maxQueuePerHook: MAX_QUEUE })
  const libp2p = await createDagLibp2p()
  const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, validator, silentLogger())), db, identity: validator, genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, txDecisionRecords: (tx, d) => webhooks.txDecisionRecords(tx, d) })
  drainLedgerEvents(dag, webhooks)
  // stopped below, or at the test's end when it fails before (a running ledger would keep the worker from exiting)
  let stopped = false
  const stopAll = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await dag.stop()
    await libp2p.stop()
    await webhooks.stop()
  }
  await using _stopAll = { [Symbol.asyncDispose]: stopAll }
  await webhooks.start()
  await dag.start()
  const distinct = new Map<string, string>()
  const finalEvents = (): number => [...distinct.values()].filter(e => e.startsWith('tx:') && e.endsWith(':final')).length
  const collect = (): void => {
    for (const d of receiver.accepted()) {
      const body = JSON.parse(d.body) as { id: string, kind: string, data: Record<string, string> }
      distinct.set(body.id, `${body.kind}:${body.data.id ?? body.data.txId}:${body.data.status ?? body.data.direction}`)
    }
  }
  let finalTxs = 0
  let state = ''
  const end = await waitFor('every final transaction\'s events delivered', async () => {
    const stats = await dag.stats()
    collect()
    finalTxs = stats.finalTxs
    // decided: under Avalanche nothing processing; under the commit rule (the genesis default) no round work left (the
    // last rounds' empty vertices stay undecided once nothing waits: no leader above them is built)
    const view = dag.ledger.roundView()
    const decided = view === undefined ? stats.processing === 0 : !view.work
    const hook = webhooks.list()[0]
    state = `decided ${String(decided)}, queued ${hook.queued}, dropped ${hook.dropped}, last ${JSON.stringify(hook.last)}, ${finalEvents()} tx final events of ${finalTxs} final, outbox ${await outboxSize(db)}`
    if (hook.dropped > 0) return 'dropped'
    return decided && hook.queued === 0 && finalEvents() === finalTxs ? 'delivered' : undefined
  }).catch((err: unknown) => { throw new Error(`${String(err)} (${state})`) })
  await stopAll()
  if (end === 'dropped') {
    t.fail(`events dropped at the queue bound: ${state}`)
    return
  }
  collect()
  t.is(await outboxSize(db), 0, 'the outbox is empty')

  const events = [...distinct.values()]
  const counts = new Map<string, number>()
  for (const e of events) counts.set(e, (counts.get(e) ?? 0) + 1)
  const twice = [...counts].filter(([, n]) => n > 1)
  t.deepEqual(twice, [], 'no event queued under two delivery ids')
  t.true(finalTxs >= reported.length && reported.length > 0)
  for (const id of reported) t.true(counts.has(`tx:${id}:final`), `the final tx ${id} has its event`)
  t.is(finalEvents(), finalTxs, 'one tx event per final transaction the ledger holds')
  t.is(events.filter(e => e.startsWith('payment:')).length, 2 * finalTxs, 'a debit and a credit per final transfer')
  const selfKills = modes.filter(m => 'selfKillAfter' in m).length
  t.log(`${modes.length} kills (${selfKills} right after a commit), ${reported.length} reported final, ${finalTxs} final, ${events.length} events, ${receiver.received.length} POSTs; outbox at restarts: ${rounds.slice(1).map(r => r.outbox).join(' ')}`)
})
