/**
 * The kill -9 campaign (issue 9): validator processes under steady transfer load, random validators SIGKILLed and
 * restarted on their datadirs (never two down at once), then: nothing any node reported final is lost anywhere,
 * state roots and every balance are equal on every node, supply is conserved, every node is bound to every other.
 * One function, parameterised, for the CI test (test/net/dag-crash-campaign.test.ts) and `npm run soak:crash`.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import { type ConsensusRule, type Genesis, generateGenesis, genesisToJson } from '../../src/dag/genesis.ts'
import { buildTransfer, encodeTx } from '../../src/dag/tx.ts'

export interface CrashCampaignOptions {
  /** SIGKILLs in the campaign. @default 20 */
  kills?: number
  /** Validator processes. @default 4 */
  nodes?: number
  /** Funded accounts sending transfers (each pinned to one node). @default 8 */
  accounts?: number
  /** Offered transfers per second over all accounts. @default 30 */
  txPerSecond?: number
  /** Load between a restarted node being bound again and the next kill, random in [min, max]. @default [1000, 3000] */
  runBetweenKillsMs?: [number, number]
  /** Time a killed node stays down, random in [min, max]. @default [100, 1500] */
  downMs?: [number, number]
  /** Longest wait for a condition (bound again, converged) before the campaign reports failure. @default 60000 */
  waitMs?: number
  /** Decisions fsync'd (`--sync-writes`). @default true (validators) */
  syncWrites?: boolean
  /** The ledger's history window in heights (small: every node evicts decided history while it is killed). @default the ledger's */
  historyWindow?: number
  /** The genesis consensus rule. @default 'commit' */
  rule?: ConsensusRule
  /** Progress lines. @default none */
  log?: (line: string) => void
}

export interface CrashCampaignReport {
  kills: number
  /** reported-final ids checked present on a node (after each restart on the restarted node, at the end on all) */
  durabilityChecks: number
  /** reported final before a kill, not final on that node's disk after its restart (before any catch-up): must be 0 */
  lost: number
  /**
   * reported final anywhere, not final on some node at the end (summed over nodes): must be 0; with the network not
   * converged it counts what a stalled node still lacks, not a loss
   */
  notFinalAtEnd: number
  /** distinct transactions any node reported final */
  txFinal: number
  submitted: number
  refused: number
  /** submissions not yet answered when the load stopped (the end state is judged once they are) */
  inFlightAtStop: number
  /** per node at the end */
  stateRoots: string[]
  finalTxs: number[]
  rootsEqual: boolean
  balancesEqual: boolean
  /** sum of balances equals genesis total minus fees of final transactions, on every node */
  supplyConserved: boolean
  /** every node bound to every other at the end */
  allBound: boolean
  /** the network converged (no processing vertex, equal counts) within waitMs at the end */
  converged: boolean
  /** bound again within waitMs after each restart */
  rebindFailures: number
  durationMs: number
}

const FEE = 1000n
const AMOUNT = 7n
const BALANCE = 10n ** 24n

interface Stats { finalTxs: number, stateRoot: string, processing: number, finalized: number }

/** One validator in its own process (bench/lib/ledger-node-process.ts). */
class Validator {
  child!: ChildProcessByStdio<Writable, Readable, null>
  addr = ''
  peers = 0
  up = false
  /** How its last process ended (code or signal), for a failure report. */
  exitStatus = ''
  readonly finals = new Set<string>()
  private waiters: Array<{ kind: string, resolve: (rest: string) => void, reject: (err: Error) => void }> = []
  onAck: (id: string, code: string | undefined) => void = () => {}
  private exited: Promise<void> = Promise.resolve()
  readonly index: number
  private readonly config: string

  constructor (index: number, config: string) {
    this.index = index
    this.config = config
  }

  start (): void {
    this.addr = ''
    this.peers = 0
    this.waiters = []
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./ledger-node-process.ts', import.meta.url)), this.config], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.child = child
    this.up = true
    this.exited = new Promise(resolve => child.once('exit', (code, signal) => {
      this.exitStatus = signal ?? `code ${code}`
      // a question to a process that died is never answered: fail it rather than wait forever
      if (this.child === child) { this.up = false; this.failWaiters() }
      resolve()
    }))
    child.stdin.on('error', () => undefined)
    createInterface({ input: child.stdout }).on('line', line => {
      const i = line.indexOf(' ')
      const kind = line.slice(0, i)
      const rest = line.slice(i + 1)
      if (kind === 'addr') this.addr = rest
      else if (kind === 'peers') this.peers = Number(rest)
      else if (kind === 'final') this.finals.add(rest)
      else if (kind === 'accepted') this.onAck(rest, undefined)
      else if (kind === 'refused') { const [id, code] = rest.split(' '); this.onAck(id, code) }
      const w = this.waiters.findIndex(x => x.kind === kind)
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve(rest)
    })
  }

  send (line: string): void { if (this.up) this.child.stdin.write(`${line}\n`) }

  /** Sends `cmd` and waits for the first line of `kind`; fails when the process exits or does not answer. */
  async ask (cmd: string, kind: string, timeoutMs = 30_000): Promise<string> {
    if (!this.up) throw new Error(`validator ${this.index} is down`)
    return await new Promise<string>((resolve, reject) => {
      const w = {
        kind,
        resolve: (rest: string): void => { clearTimeout(timer); resolve(rest) },
        reject: (err: Error): void => { clearTimeout(timer); reject(err) }
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(x => x !== w)
        reject(new Error(`validator ${this.index} did not answer ${kind} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.push(w)
      this.send(cmd)
    })
  }

  private failWaiters (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(new Error(`validator ${this.index} exited`))
  }

  async stats (): Promise<Stats> { return JSON.parse(await this.ask('stats', 'stats')) as Stats }
  async kill (): Promise<void> { this.up = false; this.failWaiters(); this.child.kill('SIGKILL'); await this.exited }
  /** Asks it to exit; a process that does not within 10 s is killed (the campaign must end). */
  async stop (): Promise<void> {
    this.send('exit')
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 10_000)
    await this.exited
    clearTimeout(timer)
  }
}

async function until (cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return true
    // polling a child over its stdin: there is no event to wait on for "converged"
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return await cond()
}

/** Runs the campaign and returns its figures (it throws only on set-up failures; the caller judges the report). */
export async function runCrashCampaign (opts: CrashCampaignOptions = {}): Promise<CrashCampaignReport> {
  const kills = opts.kills ?? 20
  const n = opts.nodes ?? 4
  const accountsN = opts.accounts ?? 8
  const rate = opts.txPerSecond ?? 30
  const [runMin, runMax] = opts.runBetweenKillsMs ?? [1000, 3000]
  const [downMin, downMax] = opts.downMs ?? [100, 1500]
  const waitMs = opts.waitMs ?? 60_000
  const log = opts.log ?? (() => {})
  const started = Date.now()
  const seeds = Array.from({ length: n }, () => randomBytes(32))
  const accounts: KeyPair[] = Array.from({ length: accountsN }, () => generateKeyPair())
  const addresses = accounts.map(a => addressFromPublicKey(a.publicKey))
  const genesis: Genesis = generateGenesis({
    chainId: 'harmony-crash-campaign',
    validatorPublicKeys: seeds.map(s => generateKeyPair(s).publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    faucetBalance: 1n,
    allocations: addresses.map(a => ({ address: parseAddress(a), balance: BALANCE })),
    consensus: { rule: opts.rule ?? 'commit' }
  })
  const root = await mkdtemp(join(tmpdir(), 'harmony-crash-campaign-'))
  const nodes: Validator[] = []
  const report: CrashCampaignReport = {
    kills: 0, durabilityChecks: 0, lost: 0, notFinalAtEnd: 0, txFinal: 0, submitted: 0, refused: 0, inFlightAtStop: 0, stateRoots: [], finalTxs: [], rootsEqual: false,
    balancesEqual: false, supplyConserved: false, allBound: false, converged: false, rebindFailures: 0, durationMs: 0
  }
  // the load's loop: stopped in `finally` too, else a campaign that throws leaves it polling and its process never exits
  let loadRunning = true
  let load: Promise<void> = Promise.resolve()
  try {
    for (let i = 0; i < n; i++) {
      const config = join(root, `node${i}.json`)
      await writeFile(config, JSON.stringify({ dir: join(root, `db${i}`), genesis: genesisToJson(genesis), seed: toHex(seeds[i]), syncWrites: opts.syncWrites ?? true, ...(opts.historyWindow !== undefined ? { historyWindow: opts.historyWindow } : {}) }))
      nodes.push(new Validator(i, config))
    }
    for (const v of nodes) v.start()
    if (!await until(() => nodes.every(v => v.addr !== ''), waitMs)) throw new Error('validators did not start listening')
    for (const v of nodes) for (const w of nodes) if (v !== w) v.send(`dial ${w.addr}`)
    if (!await until(() => nodes.every(v => v.peers === n - 1), waitMs)) throw new Error('validators did not bind to each other')

    // ---- load: each account sends to the next one through its own node, one submission in flight at a time
    const nonce = accounts.map(() => 0n)
    const inFlight = new Map<string, number>()
    const resync = new Set<number>()
    for (const v of nodes) {
      v.onAck = (id, code) => {
        const a = inFlight.get(id)
        if (a === undefined) return
        inFlight.delete(id)
        if (code === undefined) { nonce[a]++; return }
        report.refused++
        // a pending or final instance holds this nonce (lost mempools after a kill leave gaps): read it back
        if (code === 'NONCE_TOO_LOW' || code === 'NONCE_GAP' || code === 'TX_CONFLICT' || code === 'TX_KNOWN') resync.add(a)
      }
    }
    const accountFile = join(root, 'accounts.txt')
    await writeFile(accountFile, addresses.join('\n'))
    load = (async () => {
      const intervalMs = 1000 / rate
      let next = Date.now()
      let a = 0
      while (loadRunning) {
        a = (a + 1) % accountsN
        const node = nodes[a % n]
        const busy = [...inFlight.values()].includes(a)
        let ready = node.up && node.addr !== '' && !busy
        if (ready && resync.has(a)) {
          resync.delete(a)
          type Book = Record<string, [string, string]>
          const book = await node.ask(`balances ${accountFile}`, 'balances').then((line): Book => JSON.parse(line) as Book, (): Book => ({}))
          // the committed nonce; while instances above it are still pending, submissions are refused and read it
          // again, until those are decided
          const entry = book[addresses[a]]
          if (entry !== undefined) nonce[a] = BigInt(entry[1])
          else { resync.add(a); ready = false }
        }
        if (ready) {
          const bytes = encodeTx(buildTransfer({
            chainId: genesis.chainId, publicKey: accounts[a].publicKey, secretKey: accounts[a].secretKey,
            to: parseAddress(addresses[(a + 1) % accountsN]), amount: AMOUNT, nonce: nonce[a], fee: FEE
          }))
          const id = `0x${toHex(sha256(bytes))}`
          inFlight.set(id, a)
          report.submitted++
          node.send(`submit ${id} ${toHex(bytes)}`)
        }
        next += intervalMs
        const wait = next - Date.now()
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        else next = Date.now()
        // a submission lost with its killed node never answers: forget it after the node went down
        for (const [id, acc] of inFlight) if (!nodes[acc % n].up) { inFlight.delete(id); resync.add(acc) }
      }
    })()

    // ---- kills
    const reportedIds = (): Set<string> => { const all = new Set<string>(); for (const v of nodes) for (const id of v.finals) all.add(id); return all }
    for (let k = 0; k < kills; k++) {
      await new Promise(resolve => setTimeout(resolve, randomInt(runMin, runMax + 1)))
      const victim = nodes[randomInt(n)]
      const before = [...victim.finals]
      await victim.kill()
      report.kills++
      await new Promise(resolve => setTimeout(resolve, randomInt(downMin, downMax + 1)))
      victim.start()
      if (!await until(() => victim.addr !== '', waitMs)) throw new Error(`validator ${victim.index} did not restart within ${waitMs} ms (${victim.up ? 'its process is running, not listening yet' : `its process exited: ${victim.exitStatus}`})`)
      // what it reported final before the kill is on its disk now, before any catch-up
      const file = join(root, `check-${k}.txt`)
      await writeFile(file, before.join('\n'))
      const [, missing] = (await victim.ask(`check ${file}`, 'check')).split(' ').map(Number)
      report.durabilityChecks += before.length
      report.lost += missing
      for (const w of nodes) if (w !== victim) victim.send(`dial ${w.addr}`)
      const rebound = await until(() => nodes.every(v => v.peers === n - 1), waitMs)
      if (!rebound) report.rebindFailures++
      log(`kill ${k + 1}/${kills}: validator ${victim.index}, ${before.length} final before, ${missing} lost, ${rebound ? 'bound again' : 'NOT bound again'}; ${reportedIds().size} final so far`)
    }
    loadRunning = false
    await load
    // the load's last submissions are written to their nodes and not awaited: one admitted after the nodes looked
    // idle is built and becomes final while the books are read (the likely cause of a failed run: equal roots and
    // counts, then one node's book 2 transactions ahead). The end state is judged once every submission is answered.
    report.inFlightAtStop = inFlight.size
    if (!await until(() => inFlight.size === 0, waitMs)) log(`${inFlight.size} of the load's last ${report.inFlightAtStop} submissions never answered`)

    // ---- the end state
    report.converged = await until(async () => {
      const stats = await Promise.all(nodes.map(async v => await v.stats())).catch(() => [])
      // under the commit rule the last rounds' empty vertices stay undecided once nothing waits (no leader above them
      // is ever built): done is no validator having work for the rounds (DagLedger.roundView: nothing queued that it
      // can take, no undecided vertex carrying transactions, no round left short); a transfer whose earlier nonce was
      // lost with a killed node's mempool may wait in a queue, as under Avalanche (whose mempool is not checked)
      if (opts.rule !== 'avalanche') {
        const views = await Promise.all(nodes.map(async v => JSON.parse(await v.ask('rounds', 'rounds')) as { work: boolean } | null)).catch(() => [])
        if (views.length !== n || views.some(w => w?.work !== false)) return false
      }
      return stats.length === n && stats.every(s => (opts.rule !== 'avalanche' || s.processing === 0) && s.finalTxs === stats[0].finalTxs && s.stateRoot === stats[0].stateRoot)
    }, waitMs)
    if (!report.converged) {
      // what each node was stuck on, for the post-mortem of a failed run
      for (const v of nodes) {
        const stats = await v.stats().catch((err: Error) => err.message)
        const health = await v.ask('health', 'health').catch((err: Error) => err.message)
        log(`not converged: validator ${v.index} up=${v.up} peers=${v.peers} stats=${JSON.stringify(stats)} health=${health}`)
      }
    }
    report.allBound = nodes.every(v => v.peers === n - 1)
    const ids = reportedIds()
    report.txFinal = ids.size
    const idsFile = join(root, 'final.txt')
    await writeFile(idsFile, [...ids].join('\n'))
    const stats = await Promise.all(nodes.map(async v => await v.stats()))
    report.stateRoots = stats.map(s => s.stateRoot)
    report.finalTxs = stats.map(s => s.finalTxs)
    report.rootsEqual = report.stateRoots.every(r => r === report.stateRoots[0])
    const books: string[] = []
    let supply = true
    for (const v of nodes) {
      const [, missing] = (await v.ask(`check ${idsFile}`, 'check')).split(' ').map(Number)
      report.durabilityChecks += ids.size
      report.notFinalAtEnd += missing
      // the book and the count of final transactions it is checked against, read as of one decision: a decision
      // landing between the two reads (a late vertex after convergence) would look like money made or lost
      let book: Record<string, [string, string]> = {}
      let finalTxs = -1n
      for (let read = 0; read < 10; read++) {
        const before = BigInt((await v.stats()).finalTxs)
        book = JSON.parse(await v.ask(`balances ${accountFile}`, 'balances')) as Record<string, [string, string]>
        finalTxs = BigInt((await v.stats()).finalTxs)
        if (before === finalTxs) break
        log(`validator ${v.index} decided while its book was read (${before} → ${finalTxs} final): reading again`)
      }
      books.push(JSON.stringify(book))
      const total = Object.values(book).reduce((s, [b]) => s + BigInt(b), 0n)
      const expected = BigInt(accountsN) * BALANCE - FEE * finalTxs
      if (total !== expected) {
        supply = false
        // the post-mortem of a failed run: by how many fees the books are off, and on which accounts
        log(`supply off on validator ${v.index}: ${total} held, ${expected} expected (${(total - expected) / FEE} fees, remainder ${(total - expected) % FEE}); ${finalTxs} final; book ${JSON.stringify(book)}`)
      }
    }
    report.balancesEqual = books.every(b => b === books[0])
    report.supplyConserved = supply
  } finally {
    loadRunning = false
    await load.catch(() => undefined)
    await Promise.all(nodes.map(async v => { if (v.up) await v.stop() }))
    await rm(root, { recursive: true, force: true })
    report.durationMs = Date.now() - started
  }
  return report
}
