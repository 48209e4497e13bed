// A devnet of harmonyd processes selling compute (test/net/market-*.test.ts, bench/market.ts does its own).
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatAddress } from '../../src/core/address.ts'
import { createLogger } from '../../src/core/logger.ts'
import { loadWalletFile } from '../../src/core/keys/wallet.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { Devnet, type DevnetNode } from '../../src/node/devnet.ts'
import { bondAccount, escrowAccount } from '../../src/market/accounts.ts'
import { parseAddress } from '../../src/core/address.ts'
import { fundAccounts, openAccount, type WorkloadAccount } from '../../src/cli/market-workload.ts'
import { HarmonyClient, type TaskRecord, waitForTask } from '../../src/sdk/index.ts'
import { submitMatmul } from '../../src/cli/market-workload.ts'
import type { ExecutionContext } from 'ava'
import { operatorSecret, tempDir, waitFor } from './harmonyd.ts'

export interface MarketDevnet {
  devnet: Devnet
  nodes: DevnetNode[]
  clients: HarmonyClient[]
  /** Each node's ledger (and provider) address. */
  addresses: string[]
  faucet: WorkloadAccount
  dir: string
  /** SIGKILL to node `index` (no chance to flush or close anything); resolves once its process is gone. */
  kill: (index: number) => Promise<void>
  /** Starts a node that exited again on its datadir (Devnet.restart); `nodes[index]` and `clients[index]` are the new ones. */
  restart: (index: number) => Promise<void>
  /** Stops every node (the datadirs stay for inspection). */
  stopNodes: () => Promise<void>
  /** Stops the nodes if running and removes the datadirs. */
  stop: () => Promise<void>
}

export interface MarketDevnetOptions {
  nodes: number
  /** The provider policy of node i (JSON of the `provider` config key); undefined: not a provider. */
  provider: (index: number) => Record<string, unknown> | undefined
  /** Funding of each node's account from the faucet (bond + fees). @default 1000 AGC */
  funding?: bigint
  /** The ledger's consensus rule (genesis consensus.rule). @default 'commit' */
  consensus?: 'avalanche' | 'commit'
  /** Nodes 0 .. validators - 1 are validators; the others forward their transactions to them. @default every node */
  validators?: number
  /** Runs once every node is up, before any is funded (its providers cannot pay their bonds yet). */
  beforeFunding?: (clients: HarmonyClient[]) => Promise<void>
}

export const AGC = 10n ** 18n

/** Starts the devnet (no EVM chain), funds every node's account, waits until every provider is registered everywhere. */
export async function startMarketDevnet (options: MarketDevnetOptions): Promise<MarketDevnet> {
  const dir = await tempDir('harmony-market-')
  const devnet = new Devnet({
    nodes: options.nodes,
    basePort: 0,
    datadir: dir.path,
    chain: false,
    logLevel: 'warn',
    logger: createLogger({ level: 'warn' }),
    ...(options.consensus !== undefined ? { consensus: options.consensus } : {}),
    ...(options.validators !== undefined ? { validators: options.validators } : {}),
    nodeArgs: ['--executor', 'cpu'],
    nodeArgsFor: (i) => {
      const p = options.provider(i)
      return p === undefined ? [] : ['--provider', JSON.stringify(p)]
    }
  })
  const stop = async (): Promise<void> => {
    await devnet.stop()
    // KEEP_TEST_DIRS=1 keeps the datadirs (and each node's harmonyd.log) for a post-mortem
    if (process.env.KEEP_TEST_DIRS === undefined) await dir[Symbol.asyncDispose]()
    else console.error(`kept ${dir.path}`)
  }
  try {
    const nodes = await devnet.start()
    // the operator's credentials: the tests submit tasks and send transactions (spending methods)
    const clients = await Promise.all(nodes.map(async n => new HarmonyClient({ url: n.rpc, auth: { jwtSecret: await operatorSecret(n.datadir) } })))
    const addresses = (await Promise.all(clients.map(async c => await c.call('node_info')))).map(i => i.address as string)
    const faucet = await openAccount(clients[0], await loadWalletFile(devnet.faucetPath))
    await options.beforeFunding?.(clients)
    await fundAccounts(faucet, addresses, options.funding ?? 1000n * AGC)
    const providers = addresses.filter((_, i) => options.provider(i) !== undefined).length
    for (const client of clients) {
      await waitFor('every provider registered', async () => (await client.call('market_providers', [{ limit: 100 }])).providers.length === providers ? true : undefined, 60_000)
    }
    const stopNodes = async (): Promise<void> => {
      await Promise.all(clients.map(async c => { await c.close() }))
      await devnet.stop()
    }
    const kill = async (index: number): Promise<void> => {
      const child = nodes[index].process
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
    const restart = async (index: number): Promise<void> => {
      const node = await devnet.restart(index).catch(async (err: unknown) => {
        // the datadir goes with the test: what the node said goes with the error
        const log = await readFile(join(devnet.nodeDir(index), 'harmonyd.log'), 'utf8').catch(() => '')
        throw new Error(`${(err as Error).message}; its log ends: ${log.slice(-4000)}`, { cause: err })
      })
      await clients[index].close()
      nodes[index] = node
      // with free ports chosen at start the node's RPC port is a new one
      clients[index] = new HarmonyClient({ url: node.rpc, auth: { jwtSecret: await operatorSecret(node.datadir) } })
    }
    return { devnet, nodes, clients, addresses, faucet, dir: dir.path, kill, restart, stopNodes, stop: async () => { await stopNodes(); await stop() } }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Every base unit that can hold money in this devnet: the faucet, the nodes' accounts, their bonds, the tasks'
 * escrows and the fee pool. With no bridge, their sum is the genesis supply at every moment a node is quiescent.
 */
export async function totalHeld (client: HarmonyClient, accounts: readonly string[], providers: readonly string[], taskIds: readonly string[]): Promise<bigint> {
  const all = [
    ...accounts,
    ...providers.map(p => formatAddress(bondAccount(parseAddress(p)))),
    ...taskIds.map(id => formatAddress(escrowAccount(Buffer.from(id.replace(/^0x/, ''), 'hex')))),
    formatAddress(FEE_POOL_ACCOUNT)
  ]
  const balances = await Promise.all([...new Set(all)].map(async a => BigInt(await client.call('account_getBalance', [a]))))
  return balances.reduce((sum, b) => sum + b, 0n)
}

/** The fault tests' devnet: node 4 lies (devnet-only fault injection) at the lowest price, node 3 is honest and next. */
export const LIAR = 4
export const HONEST_CHEAP = 3
/**
 * Bid and reveal windows of the fault tests: a provider bids once the announce is final on its node and its commit
 * must be final inside the window; on a loaded 2-core machine running 5 nodes 1.5 s was sometimes too short.
 */
export const FAULT_WINDOWS = { bidWindowMs: 3000, revealWindowMs: 2500 }

/** A 5-node market devnet with the liar at node LIAR and the honest cheap provider at node HONEST_CHEAP. */
export async function startFaultsDevnet (consensus?: 'avalanche' | 'commit'): Promise<MarketDevnet> {
  return await startMarketDevnet({
    nodes: 5,
    ...(consensus !== undefined ? { consensus } : {}),
    provider: (i) => i === LIAR
      ? { enabled: true, capacity: 8, minPrice: '1', pricePerGflop: '0', faultInjection: 'wrong-result' }
      : i === HONEST_CHEAP ? { enabled: true, capacity: 8, minPrice: '2', pricePerGflop: '0' } : { enabled: true, capacity: 8 }
  })
}

/**
 * Spot-checked 8×8×8 tasks of the faucet on a faults devnet, one after another until one is won by the liar (the
 * cheapest bidder, up to four): on a machine loaded by other tests its bid can miss the window, and another provider
 * then wins a task the test cannot use. Returns that task and its end.
 */
export async function taskTheLiarWon (t: ExecutionContext, net: MarketDevnet, options: { private?: boolean } = {}): Promise<{ taskId: string, end: TaskRecord }> {
  for (let attempt = 1; attempt <= 4; attempt++) {
    const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, verification: 'spot-check', redundancy: 1, ...FAULT_WINDOWS, ...options })
    const end = await waitForTask(net.clients[2], task.taskId, undefined, { timeoutMs: 90_000 })
    if (end.awards[0]?.winners[0] === net.addresses[LIAR]) return { taskId: task.taskId, end }
    t.log(`attempt ${attempt}: the liar did not win (${end.state}, awards ${JSON.stringify(end.awards.map(a => a.winners))}): another task`)
  }
  throw new Error('in four tasks the liar never won (see the log)')
}

/**
 * A spot-checked task on a faults devnet (startFaultsDevnet): the liar wins, the checker disagrees, the dispute's
 * re-execution pays the checker and the liar is slashed for the fault, the same story on every node.
 */
export async function spotCheckCatchesTheLiar (t: ExecutionContext, net: MarketDevnet): Promise<void> {
  const liar = net.addresses[LIAR]
  const { taskId, end } = await taskTheLiarWon(t, net)
  t.is(end.state, 'settled', JSON.stringify(end.settlement))
  t.deepEqual(end.awards[0].winners, [liar])
  t.truthy(end.awards[0].spotChecker)
  t.not(end.awards[0].spotChecker, liar)
  t.false(end.settlement?.payouts.some(p => p.provider === liar) ?? true)
  const slashed = await waitFor('the liar\'s fault slash', async () => {
    const now = await net.clients[2].call('task_get', [taskId])
    return now?.slashes.some(s => s.provider === liar && s.reason === 'fault') === true ? now : undefined
  }, 60_000)
  // every node tells the same story of who won, who checked and who was slashed
  const live = net.clients.filter((_, i) => i !== LIAR || net.nodes[LIAR].exitCode === undefined)
  const views = await Promise.all(live.map(async c => await waitFor('the slash everywhere', async () => {
    const v = await c.call('task_get', [taskId])
    return v !== null && v.slashes.length === slashed.slashes.length ? v : undefined
  }, 30_000)))
  for (const v of views) t.deepEqual([v.awards, v.slashes, v.settlement], [slashed.awards, slashed.slashes, slashed.settlement])
}
