/**
 * bench:ledger's devnet run: four ledger node processes (bench/lib/ledger-node-process.ts, real libp2p on loopback),
 * a fixed offered load of pre-signed transfers spread over the nodes, finality measured from the accepted
 * submission to the submitting node's `tx:final`. The load generator behaves as a client should with admission
 * control: a transaction refused as retryable (BUSY, MEMPOOL_FULL, or NONCE_GAP behind one of those) is offered
 * again at its account's next slot, and every refusal is counted. A slot is one offered transaction, new or retried.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import { type ConsensusRule, type Genesis, generateGenesis, genesisToJson } from '../../src/dag/genesis.ts'
import { percentile } from '../report.ts'
import { treeCpuSeconds } from './proc-cpu.ts'
import { transfer, waitFor } from './ledger-net.ts'

// The steady-state figures leave out transactions submitted in the first seconds: a cold devnet admits a burst before
// it has measured any latency (admission control's floor), which then finalizes at the pace of what is behind it.
const STEADY_AFTER_S = 2

const RETRYABLE = new Set(['BUSY', 'MEMPOOL_FULL', 'QUEUE_FULL', 'NONCE_GAP'])
/** The warm-up's offered rate: well below what a devnet finalizes, so nothing of it is refused or queued. */
const WARM_UP_RATE = 200

export interface DevnetRunInit {
  offeredRate: number
  seconds: number
  syncWrites: boolean
  /** The genesis consensus rule. @default 'commit' */
  rule?: ConsensusRule
  /** Under the commit rule: the genesis's leader slots per round. @default every validator */
  leaders?: number
  /** Where node 0 writes its --cpu-prof profile. */
  profileDir?: string
  /** Where each node writes its Prometheus metrics once the load is final: `<dir>/<label>-node<i>.prom`. */
  metricsDir?: string
  /** Names this run's metrics files. @default `${offeredRate}` */
  label?: string
  /**
   * Transfers offered at WARM_UP_RATE and awaited final before the measured window, left out of every figure: the
   * devnet of a node that has run a while, not one started a moment ago. @default 0 (a cold devnet, as the goals read)
   */
  warmUp?: number
  log: (msg: string) => void
}

export interface DevnetRunResult {
  /** Slots per second actually offered (new and retried transactions). */
  offered: number
  finalTps: number
  p50: number
  p99: number
  /** p50 / p99 of the transactions submitted after the first STEADY_AFTER_S seconds (a cold devnet's first burst aside) */
  steadyP50: number
  steadyP99: number
  /** Final transactions per second of submission among those submitted after the first STEADY_AFTER_S seconds */
  steadyFinalTps: number
  submitted: number
  accepted: number
  /** Refusals as BUSY (admission control) */
  busy: number
  /** Other retryable refusals (NONCE_GAP behind a refusal, MEMPOOL_FULL) */
  otherRetryable: number
  /** Refusals that are not retryable (a bug in the load or the ledger) */
  failed: number
  /** CPU milliseconds the four node processes spent per final transaction, from the first offer to the last final (NaN without /proc) */
  cpuMsPerTx: number
}

interface NodeProc {
  child: ChildProcessByStdio<Writable, Readable, null>
  addr: string
  peers: number
  onLine: (kind: string, rest: string) => void
}

function signStreams (genesis: Genesis, accounts: KeyPair[], perAccount: number): Uint8Array[][] {
  return accounts.map((a, i) => Array.from({ length: perAccount }, (_, n) => transfer(genesis, a, accounts[(i + 1) % accounts.length], 1n, BigInt(n))))
}

export async function devnetRun (init: DevnetRunInit): Promise<DevnetRunResult> {
  if (init.metricsDir !== undefined) await mkdir(init.metricsDir, { recursive: true })
  const accountsN = 40
  const validators = Array.from({ length: 4 }, () => randomBytes(32))
  const accounts = Array.from({ length: accountsN }, () => generateKeyPair())
  const genesis = generateGenesis({
    chainId: 'harmony-bench',
    validatorPublicKeys: validators.map(s => generateKeyPair(s).publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance: 10n ** 24n })),
    consensus: { rule: init.rule ?? 'commit', ...(init.leaders !== undefined ? { leaders: init.leaders } : {}) }
  })
  const slots = Math.ceil(init.offeredRate * init.seconds)
  const warmUp = init.warmUp ?? 0
  const perAccount = Math.ceil((slots + warmUp) / accountsN)
  const streams = signStreams(genesis, accounts, perAccount)
  const ids = streams.map(s => s.map(bytes => `0x${toHex(sha256(bytes))}`))
  const slotOf = new Map<string, [number, number]>()
  ids.forEach((s, a) => { s.forEach((id, n) => slotOf.set(id, [a, n])) })
  const root = await mkdtemp(join(tmpdir(), 'harmony-bench-ledger-'))
  const nodes: NodeProc[] = await Promise.all(validators.map(async (seed, i) => {
    const config = join(root, `node${i}.json`)
    await writeFile(config, JSON.stringify({ dir: join(root, `db${i}`), genesis: genesisToJson(genesis), seed: toHex(seed), syncWrites: init.syncWrites }))
    const prof = init.profileDir !== undefined && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${init.profileDir}`] : []
    const child = spawn(process.execPath, [...process.execArgv, ...prof, fileURLToPath(new URL('./ledger-node-process.ts', import.meta.url)), config], { stdio: ['pipe', 'pipe', 'inherit'] })
    const node: NodeProc = { child, addr: '', peers: 0, onLine: () => {} }
    createInterface({ input: child.stdout }).on('line', line => {
      const sp = line.indexOf(' ')
      const [kind, rest] = [line.slice(0, sp), line.slice(sp + 1)]
      if (kind === 'addr') node.addr = rest
      else if (kind === 'peers') node.peers = Number(rest)
      else node.onLine(kind, rest)
    })
    return node
  }))
  await waitFor(() => nodes.every(n => n.addr !== ''), 'nodes listening', 60_000)
  for (const n of nodes) for (const m of nodes) if (n !== m) n.child.stdin.write(`dial ${m.addr}\n`)
  await waitFor(() => nodes.every(n => n.peers === 3), 'validator peers bound', 60_000)

  // per `${node}:${id}`: the submit time of each attempt, and of the one the node accepted (a transaction's latency
  // runs from its accepted attempt: a later re-offer of it, refused TX_KNOWN, must not shorten it)
  const attempts = new Map<string, number[]>()
  const acceptedAt = new Map<string, number>()
  const latencies: number[] = []
  const finalCount = nodes.map(() => 0)
  const next = accounts.map(() => 0)
  const r: DevnetRunResult = { offered: 0, finalTps: 0, p50: 0, p99: 0, steadyP50: 0, steadyP99: 0, steadyFinalTps: 0, submitted: 0, accepted: 0, busy: 0, otherRetryable: 0, failed: 0, cpuMsPerTx: NaN }
  let answered = 0
  let lastFinal = 0
  const failedCodes = new Map<string, number>()
  let start = 0
  // latencies by the second of the run their transaction was submitted in (the last bucket: after the offered load)
  const bySecond: number[][] = Array.from({ length: init.seconds + 1 }, () => [])
  nodes.forEach((n, i) => {
    n.onLine = (kind, rest) => {
      // submissions are answered as `<id>/<attempt>`, finals as `<id>`
      const [id, attempt] = rest.split(' ')[0].split('/')
      const key = `${i}:${id}`
      if (kind === 'final') {
        finalCount[i]++
        const t0 = acceptedAt.get(key) ?? attempts.get(key)?.at(-1)
        if (t0 === undefined) return
        attempts.delete(key)
        acceptedAt.delete(key)
        lastFinal = performance.now()
        latencies.push(lastFinal - t0)
        bySecond[Math.max(0, Math.floor((t0 - start) / 1000))]?.push(lastFinal - t0)
      } else if (kind === 'accepted') {
        answered++
        r.accepted++
        const at = attempts.get(key)?.[Number(attempt)]
        if (at !== undefined) acceptedAt.set(key, at)
      } else if (kind === 'refused') {
        answered++
        const code = rest.split(' ')[1]
        // the attempts' times stay: answers to a node's submissions may come out of order, and a late refusal of an
        // earlier attempt (NONCE_GAP behind a refused nonce) must not erase the time of a later attempt that is
        // accepted (it did, and that transaction's final was never counted: the run waited for it for good)
        if (code === 'BUSY') r.busy++
        else if (RETRYABLE.has(code)) r.otherRetryable++
        else { r.failed++; failedCodes.set(code, (failedCodes.get(code) ?? 0) + 1) }
        const slot = slotOf.get(id)
        // offered again at the account's next slot, with every later nonce of it
        if (slot !== undefined && RETRYABLE.has(code)) next[slot[0]] = Math.min(next[slot[0]], slot[1])
      }
    }
  })
  init.log(`finality: ${accountsN} accounts, offering ${init.offeredRate} tx/s for ${init.seconds} s to 4 node processes, sync-writes ${init.syncWrites ? 'on' : 'off'}${warmUp > 0 ? `, after a warm-up of ${warmUp}` : ''}`)
  /** Offers `count` slots at `rate` from now, each account's next transaction in turn; resolves after the last. */
  const offer = async (count: number, rate: number): Promise<void> => {
    const from = performance.now()
    for (let j = 0; j < count; j++) {
      const wait = from + (j * 1000) / rate - performance.now()
      if (wait > 1) await new Promise(resolve => setTimeout(resolve, wait))
      const a = j % accountsN
      const n = next[a]
      if (n >= perAccount) continue // this account's stream is all accepted
      next[a]++
      const node = a % 4
      const key = `${node}:${ids[a][n]}`
      const times = attempts.get(key) ?? []
      times.push(performance.now())
      attempts.set(key, times)
      r.submitted++
      nodes[node].child.stdin.write(`submit ${ids[a][n]}/${times.length - 1} ${toHex(streams[a][n])}\n`)
    }
  }
  if (warmUp > 0) {
    await offer(warmUp, WARM_UP_RATE)
    await waitFor(() => answered >= r.submitted && latencies.length >= r.accepted, 'the warm-up final', 600_000)
    init.log(`warm-up: ${latencies.length} final at ${WARM_UP_RATE} tx/s offered (${r.busy} refused busy), p50 ${Math.round(percentile(latencies.sort((x, y) => x - y), 0.5))} ms; left out of the figures`)
    // the figures count from here; a warm-up transaction's late `final` line finds no attempt and is not counted
    latencies.length = 0
    for (const xs of bySecond) xs.length = 0
    Object.assign(r, { submitted: 0, accepted: 0, busy: 0, otherRetryable: 0, failed: 0 })
    answered = 0
    failedCodes.clear()
  }
  const pids = nodes.map(n => n.child.pid ?? 0)
  const cpu0 = await treeCpuSeconds(pids)
  start = performance.now()
  await offer(slots, init.offeredRate)
  r.offered = r.submitted / ((performance.now() - start) / 1000)
  await waitFor(() => answered >= r.submitted, 'every submission answered', 600_000)
  // a run that stops finalizing says where each node stands (stats, and metrics files when asked for) every 15 s
  let seen = -1
  const stallWatch = setInterval(() => {
    if (latencies.length !== seen) { seen = latencies.length; return }
    init.log(`finality: no progress for 15 s at ${latencies.length} of ${r.accepted} final; asking the nodes`)
    nodes.forEach((n, i) => {
      n.child.stdin.write('stats\n')
      if (init.metricsDir !== undefined) n.child.stdin.write(`metrics ${join(init.metricsDir, `stall-${init.label ?? String(init.offeredRate)}-node${i}.prom`)}\n`)
    })
  }, 15_000)
  nodes.forEach((n, i) => {
    const prev = n.onLine
    n.onLine = (kind, rest) => { if (kind === 'stats') init.log(`node ${i}: ${rest}`); else prev(kind, rest) }
  })
  await waitFor(() => latencies.length >= r.accepted, 'every accepted transaction final', 600_000).finally(() => { clearInterval(stallWatch) })
  await waitFor(() => finalCount.every(c => c >= latencies.length), 'every node applied them', 600_000)
  const cpu1 = await treeCpuSeconds(pids)
  if (cpu0 !== undefined && cpu1 !== undefined && latencies.length > 0) r.cpuMsPerTx = (cpu1 - cpu0) * 1000 / latencies.length
  r.finalTps = latencies.length / ((lastFinal - start) / 1000)
  latencies.sort((x, y) => x - y)
  r.p50 = percentile(latencies, 0.5)
  r.p99 = percentile(latencies, 0.99)
  init.log(`finality by submit second (p50/p99 ms, count): ${bySecond.map(xs => { xs.sort((x, y) => x - y); return xs.length === 0 ? '-' : `${Math.round(percentile(xs, 0.5))}/${Math.round(percentile(xs, 0.99))} (${xs.length})` }).join(', ')}`)
  const steady = bySecond.slice(STEADY_AFTER_S).flat().sort((x, y) => x - y)
  r.steadyP50 = steady.length === 0 ? NaN : percentile(steady, 0.5)
  r.steadyP99 = steady.length === 0 ? NaN : percentile(steady, 0.99)
  // the last bucket holds what was submitted after the offered load (retries): not a second of the load
  r.steadyFinalTps = init.seconds > STEADY_AFTER_S ? bySecond.slice(STEADY_AFTER_S, init.seconds).reduce((n, xs) => n + xs.length, 0) / (init.seconds - STEADY_AFTER_S) : NaN
  init.log(`finality: offered ${Math.round(r.offered)} tx/s, ${r.accepted} accepted, ${latencies.length} final, refused: ${r.busy} busy, ${r.otherRetryable} other retryable, ${r.failed} failed${failedCodes.size === 0 ? '' : ` (${[...failedCodes].map(([c, n]) => `${c} ${n}`).join(', ')})`}; p50 ${Math.round(r.p50)} ms, p99 ${Math.round(r.p99)} ms; node CPU ${r.cpuMsPerTx.toFixed(2)} ms per final tx`)
  if (init.metricsDir !== undefined) {
    const dir = init.metricsDir
    const written = nodes.map(() => false)
    nodes.forEach((n, i) => {
      const prev = n.onLine
      n.onLine = (kind, rest) => { if (kind === 'metrics') written[i] = true; else prev(kind, rest) }
      n.child.stdin.write(`metrics ${join(dir, `${init.label ?? String(init.offeredRate)}-node${i}.prom`)}\n`)
    })
    await waitFor(() => written.every(Boolean), 'metrics written', 60_000)
  }
  for (const n of nodes) n.child.stdin.write('exit\n')
  await Promise.all(nodes.map(async n => await new Promise(resolve => n.child.once('exit', resolve))))
  await rm(root, { recursive: true, force: true })
  return r
}
