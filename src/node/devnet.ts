import { fork, type ChildProcess } from 'node:child_process'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { Slots } from '../core/slots.ts'
import type { Logger } from '../core/logger.ts'
import { DB_DIR, isInitialized } from './datadir.ts'
import { HarmonyError } from '../core/errors.ts'
import { loadIdentity } from '../core/keys/identity.ts'
import { JWT_SECRET_FILE, readJwtSecret } from '../core/keys/jwt-secret.ts'
import { HarmonyClient } from '../sdk/client.ts'
import { createWalletFile } from '../core/keys/wallet.ts'
import { type ConsensusRule, generateGenesis, loadGenesis } from '../dag/index.ts'
import { ANVIL_DEPLOYER_KEY, prepareDevnetChain, type PreparedDevnetChain } from '../chain/index.ts'
import { genesisBacking } from '../bridge/index.ts'
import { writeGenesisFile } from './genesis-file.ts'
import { rm, stat, writeFile } from 'node:fs/promises'

/** The CLI entry the devnet forks for each node. */
export const HARMONYD_BIN = fileURLToPath(new URL('../../bin/harmonyd.ts', import.meta.url))

/** Node i listens on p2p basePort+i and RPC basePort+RPC_PORT_OFFSET+i: 9400+i and 9545+i by default. */
export const RPC_PORT_OFFSET = 145
export const MAX_DEVNET_NODES = 64
const READY_TIMEOUT_MS = 60_000

export interface DevnetInit {
  nodes: number
  /** 0 picks free ports for every node. @default 9400 */
  basePort?: number
  /** Holds node-<i>/ datadirs. Existing ones are reused, so nodes keep their keys across runs. */
  datadir: string
  /** @default 'info' */
  logLevel?: string
  /** Start anvil, deploy the AGC contracts, stake and register every node as a validator. @default true */
  chain?: boolean
  /**
   * The genesis consensus rule of a new devnet (docs/consensus-next.md): `commit` runs the DAG commit rule, every
   * validator a leader; `avalanche`, repeated polls. A reused datadir keeps the rule it was made with, and refuses
   * to start when another is named. @default 'commit' (a new datadir), the datadir's own (a reused one)
   */
  consensus?: ConsensusRule
  /**
   * How many of the nodes (the first ones) are validators of a new devnet; the others are plain nodes that forward
   * their transactions to a validator, as an operator's node that joins a testnet does. A reused datadir must name
   * the same. @default every node
   */
  validators?: number
  /** Extra flags for every node's `harmonyd start` (e.g. `--executor cpu`). @default [] */
  nodeArgs?: string[]
  /** Extra flags for node `index` only, after `nodeArgs` (a provider policy, a test-only fault). @default none */
  nodeArgsFor?: (index: number) => string[]
  logger: Logger
}

export interface DevnetNode {
  index: number
  datadir: string
  peerId: string
  rpc: string
  listenAddrs: string[]
  process: ChildProcess
  exitCode?: number | null
}

interface ReadyMessage { type: 'ready', peerId: string, rpc: string, listenAddrs: string[] }

function isReady (msg: unknown): msg is ReadyMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'ready'
}

function isRunning (node: DevnetNode): boolean {
  return node.process.exitCode === null && node.process.signalCode === null
}

export class DevnetError extends HarmonyError<'DEVNET_NODE_FAILED' | 'DEVNET_INVALID'> {}

/**
 * N harmonyd processes on loopback: node 0 starts first and is every other node's bootstrap peer; the others find
 * each other through the DHT. Each child is forked with an IPC channel: it reports readiness over it and exits when
 * the channel closes, so no node outlives the devnet, even one killed with SIGKILL.
 */
export class Devnet {
  readonly init: DevnetInit
  readonly nodes: DevnetNode[] = []
  /** The local EVM chain (anvil) and its contracts, when `chain` is on. */
  chain?: PreparedDevnetChain
  private stopping = false

  constructor (init: DevnetInit) {
    if (!Number.isSafeInteger(init.nodes) || init.nodes < 1 || init.nodes > MAX_DEVNET_NODES) {
      throw new DevnetError('DEVNET_INVALID', `--nodes must be between 1 and ${MAX_DEVNET_NODES}, got ${init.nodes}`)
    }
    if (init.validators !== undefined && (!Number.isSafeInteger(init.validators) || init.validators < 1 || init.validators > init.nodes)) {
      throw new DevnetError('DEVNET_INVALID', `--validators must be between 1 and --nodes (${init.nodes}), got ${init.validators}`)
    }
    const base = init.basePort ?? 9400
    if (base !== 0 && (base < 1024 || base + RPC_PORT_OFFSET + init.nodes > 65535)) {
      throw new DevnetError('DEVNET_INVALID', `--base-port ${base} leaves no room for ${init.nodes} nodes (p2p ${base}.., rpc ${base + RPC_PORT_OFFSET}..)`)
    }
    this.init = init
  }

  nodeDir (index: number): string {
    return join(this.init.datadir, `node-${index}`)
  }

  private ports (index: number): { p2p: number, rpc: number } {
    const base = this.init.basePort ?? 9400
    return base === 0 ? { p2p: 0, rpc: 0 } : { p2p: base + index, rpc: base + RPC_PORT_OFFSET + index }
  }

  async start (): Promise<DevnetNode[]> {
    const dirs = Array.from({ length: this.init.nodes }, (_, i) => this.nodeDir(i))
    // each init is a process of its own on its own datadir: they run side by side, a few per core
    const inits = new Slots(2 * availableParallelism())
    await Promise.all(dirs.map(async dir => { if (!(await isInitialized(dir))) await inits.run(async () => { await this.run(['init', '--datadir', dir, '--network', 'devnet']) }) }))
    await this.ensureGenesis(dirs)
    if (this.init.chain !== false) {
      // anvil keeps its chain in memory, so every run deploys a new one; ledgers left from an earlier run would
      // hold credits and epochs of a chain that no longer exists: each run starts fresh ledgers (keys are kept)
      for (const dir of dirs) await rm(join(dir, DB_DIR), { recursive: true, force: true })
      // the settlement contract locks the genesis allocations (the faucet's 10^9 AGC): genesis money is backed
      const genesis = genesisBacking(await loadGenesis(this.genesisPath))
      this.chain = await prepareDevnetChain({ nodeDirs: dirs, validators: this.validatorCount, ledgerKeyOf: async d => (await loadIdentity(d)).ledgerKey, genesis })
      // anvil's first account deployed AGC and holds the minted supply: the devnet's EVM faucet (a public test key)
      await writeFile(this.evmFaucetPath, `${ANVIL_DEPLOYER_KEY}\n`, { mode: 0o600 })
    }
    const first = await this.spawn(0, [])
    const bootstrap = first.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? first.listenAddrs[0]
    const rest = await Promise.all(Array.from({ length: this.init.nodes - 1 }, (_, k) => this.spawn(k + 1, [bootstrap])))
    return [first, ...rest]
  }

  /** Nodes 0 .. validatorCount - 1 are the genesis validators. */
  get validatorCount (): number { return this.init.validators ?? this.init.nodes }
  get genesisPath (): string { return join(this.init.datadir, 'genesis.json') }
  /** The devnet faucet wallet, funded in the genesis. */
  get faucetPath (): string { return join(this.init.datadir, 'faucet.json') }
  /** EVM key holding the devnet's AGC supply, for `harmonyd wallet deposit --evm-key`. */
  get evmFaucetPath (): string { return join(this.init.datadir, 'evm-faucet.key') }

  /**
   * One genesis for the whole devnet: the ledger keys of the first `validators` nodes are its validators with equal
   * weight, plus a funded faucet. Made once; a reused datadir must still hold the same validators.
   */
  private async ensureGenesis (dirs: string[]): Promise<void> {
    const keys = await Promise.all(dirs.slice(0, this.validatorCount).map(async d => (await loadIdentity(d)).ledgerKey.publicKey))
    const exists = await stat(this.genesisPath).then(() => true, () => false)
    if (exists) {
      const genesis = await loadGenesis(this.genesisPath)
      const same = genesis.validators.length === keys.length && genesis.validators.every((v, i) => Buffer.from(v.publicKey).equals(keys[i]))
      if (!same) throw new DevnetError('DEVNET_INVALID', `devnet datadir ${this.init.datadir} was made for other nodes (${genesis.validators.length} validators); use a new --datadir`)
      const rule = genesis.consensus.rule ?? 'avalanche'
      if (this.init.consensus !== undefined && rule !== this.init.consensus) throw new DevnetError('DEVNET_INVALID', `devnet datadir ${this.init.datadir} was made with the ${rule} consensus rule; use a new --datadir`)
      return
    }
    const faucet = await createWalletFile(this.faucetPath)
    const genesis = generateGenesis({ chainId: 'harmony-devnet', validatorPublicKeys: keys, faucetPublicKey: faucet.publicKey, consensus: { rule: this.init.consensus ?? 'commit' } })
    await writeGenesisFile(this.genesisPath, genesis)
  }

  /** Runs a one-shot harmonyd command (init) to completion. */
  private async run (args: string[]): Promise<void> {
    const child = fork(HARMONYD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 4096) stderr += chunk.toString() })
    const [code] = await once(child, 'exit') as [number | null]
    if (code !== 0) throw new DevnetError('DEVNET_NODE_FAILED', `harmonyd ${args.join(' ')} failed: ${stderr.trim()}`)
  }

  private async spawn (index: number, bootstrap: string[]): Promise<DevnetNode> {
    const dir = this.nodeDir(index)
    await mkdir(dir, { recursive: true })
    const { p2p, rpc } = this.ports(index)
    const args = [
      'start', '--datadir', dir,
      '--p2p-host', '127.0.0.1', '--p2p-port', String(p2p), '--rpc-port', String(rpc),
      '--log-level', this.init.logLevel ?? 'info',
      '--genesis', this.genesisPath,
      ...bootstrap.flatMap(b => ['--bootstrap', b]),
      ...(this.chain === undefined ? [] : ['--chain-rpc', this.chain.anvil.url, '--contracts', this.chain.nodes[index].contractsFile, '--chain-confirmations', '1']),
      ...(this.init.nodeArgs ?? []),
      ...(this.init.nodeArgsFor?.(index) ?? [])
    ]
    const log = await open(join(dir, 'harmonyd.log'), 'a')
    // own process group: a terminal's Ctrl-C reaches only the devnet, which then stops each node gracefully
    const child = fork(HARMONYD_BIN, args, { stdio: ['ignore', log.fd, log.fd, 'ipc'], env: { ...process.env, HARMONY_DATADIR: undefined }, detached: true })
    await log.close()
    const ready = await new Promise<ReadyMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DevnetError('DEVNET_NODE_FAILED', `node ${index} did not become ready in ${READY_TIMEOUT_MS / 1000} s; see ${join(dir, 'harmonyd.log')}`)), READY_TIMEOUT_MS)
      child.on('message', (msg) => { if (isReady(msg)) { clearTimeout(timer); resolve(msg) } })
      child.once('exit', (code) => { clearTimeout(timer); reject(new DevnetError('DEVNET_NODE_FAILED', `node ${index} exited with code ${code} before it was ready; see ${join(dir, 'harmonyd.log')}`)) })
    })
    const node: DevnetNode = { index, datadir: dir, peerId: ready.peerId, rpc: ready.rpc, listenAddrs: ready.listenAddrs, process: child }
    child.once('exit', (code) => {
      node.exitCode = code
      if (!this.stopping) this.init.logger.warn({ node: index, code }, `node ${index} exited unexpectedly; see ${join(dir, 'harmonyd.log')}`)
    })
    this.nodes[index] = node
    return node
  }

  /** Starts node `index` again once its process has exited (a crash, a kill -9): same datadir and flags, its ports (new free ones when `basePort` is 0), a running node (node 0 first) as bootstrap. */
  async restart (index: number): Promise<DevnetNode> {
    const node = this.nodes[index]
    if (node === undefined || this.stopping) throw new DevnetError('DEVNET_INVALID', `node ${index} cannot restart: ${node === undefined ? 'the devnet has no such node' : 'the devnet is stopping'}`)
    if (isRunning(node)) throw new DevnetError('DEVNET_INVALID', `node ${index} is still running (pid ${node.process.pid}); stop it before restarting it`)
    const peer = this.nodes.find(n => n !== undefined && n.index !== index && isRunning(n))
    const bootstrap = peer === undefined ? [] : [peer.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? peer.listenAddrs[0]]
    return await this.spawn(index, bootstrap)
  }

  /** SIGTERM to every node, then SIGKILL to any still running after `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    this.stopping = true
    const running = this.nodes.filter(n => n !== undefined && isRunning(n))
    await Promise.all(running.map(async (n) => {
      const exited = once(n.process, 'exit')
      n.process.kill('SIGTERM')
      const timer = setTimeout(() => n.process.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    }))
    await this.chain?.stop()
  }

  /** Immediately kills every node (second Ctrl-C). */
  kill (): void {
    this.stopping = true
    for (const n of this.nodes) n?.process.kill('SIGKILL')
    if (this.chain !== undefined) {
      try { process.kill(this.chain.anvil.pid, 'SIGKILL') } catch {} // already gone
    }
  }
}

/**
 * An SDK client of a devnet node with the operator's credentials (the node's JWT secret in its datadir), so the
 * devnet's own tools (the demo workload, benches) may call spending and admin methods like the node's operator.
 */
export async function devnetClient (node: Pick<DevnetNode, 'rpc' | 'datadir'>): Promise<HarmonyClient> {
  const secret = await readJwtSecret(join(node.datadir, JWT_SECRET_FILE))
  return new HarmonyClient({ url: node.rpc, ...(secret === undefined ? {} : { auth: { jwtSecret: secret } }) })
}
