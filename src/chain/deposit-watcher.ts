/**
 * Watches the settlement contract's `Deposited` events and hands each confirmed deposit to a sink (the DAG side,
 * which turns it into a deposit-credit transaction).
 *
 * - Confirmations: a deposit is delivered once its block has `confirmations` blocks on top (itself included).
 * - Restart-safe: the cursor (last scanned block number and hash) and a mark per delivered deposit live in the
 *   `chain` sublevel. A deposit is marked right after the sink returns, so a crash can at worst deliver the
 *   last deposit again: the sink must be idempotent on (txHash, logIndex), which the DAG is anyway because a
 *   credit's identity is the deposit's.
 * - Reorg-aware: each round first checks that the cursor's block is still canonical; if not, it rewinds to the
 *   newest remembered block that still is and scans again (delivered marks stop double delivery). A reorg deeper
 *   than the confirmation depth is counted and logged as an error: that chain broke its finality assumption.
 */
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { getAddress, Interface, type Log, type LogDescription, type Provider, type Result } from 'ethers'
import type { Registry } from 'prom-client'
import { type BinarySublevel, DEPOSIT_SCOPE_KEYS, KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { loadArtifact } from './artifacts.ts'
import { ChainError } from './errors.ts'
import { type ChainMetrics, createChainMetrics } from './metrics.ts'

export interface Deposit {
  txHash: string
  logIndex: number
  blockNumber: number
  blockHash: string
  /** The settlement contract's sequence number of the deposit. */
  depositId: bigint
  /** 32-byte DAG account (0x-hex). */
  dagAccount: string
  /** EVM address that paid. */
  from: string
  /** Base units. */
  amount: bigint
}

/** Receives each confirmed deposit; must be idempotent on (txHash, logIndex). */
export type DepositSink = (deposit: Deposit) => Promise<void>

/** A `Deposited` event's arguments at a log location, as a Deposit (one mapping for the watcher and the checker). */
function depositFromEvent (
  args: Result,
  at: Pick<Deposit, 'txHash' | 'logIndex' | 'blockNumber' | 'blockHash'>
): Deposit {
  return {
    ...at,
    depositId: args.depositId as bigint,
    dagAccount: args.dagAccount as string,
    from: args.from as string,
    amount: args.amount as bigint
  }
}

export interface DepositWatcherInit {
  /** Blocks a deposit's block needs on top, itself included (1 = delivered when mined). @default 12 */
  confirmations?: number
  /** @default 2000 */
  pollIntervalMs?: number
  /** Blocks per eth_getLogs request (public RPCs refuse large ranges). @default 2000 */
  maxBlockRange?: number
  /** First block to scan when no cursor is stored: the deployment block. @default 0 */
  startBlock?: number
  /** Scanned blocks remembered to find the fork point after a reorg. @default 128 */
  reorgHistory?: number
}

export interface DepositWatcherComponents {
  provider: Provider
  /** Settlement contract address. */
  settlement: string
  /** The node's `chain` sublevel. */
  db: BinarySublevel
  sink: DepositSink
  logger: Logger
  registry?: Registry
}

interface BlockRef { number: number, hash: string }

// Keys are scoped by the chain's genesis hash and the settlement address: a devnet that redeploys on a fresh
// anvil (same addresses, same transaction hashes for the same signed transactions) starts from a clean state.
// The layout is in the storage table (src/core/storage.ts).
const { cursor: KEY_CURSOR, history: KEY_HISTORY, done: KEY_DONE } = DEPOSIT_SCOPE_KEYS

const encodeJson = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
const decodeJson = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes))

function isBlockRef (x: unknown): x is BlockRef {
  return typeof x === 'object' && x !== null && Number.isSafeInteger((x as BlockRef).number) && typeof (x as BlockRef).hash === 'string'
}

export class DepositWatcher extends EventEmitter<{ deposit: [Deposit], reorg: [{ depth: number, from: number }] }> implements Startable {
  private readonly c: DepositWatcherComponents
  private readonly settlement: string
  private readonly confirmations: number
  private readonly pollIntervalMs: number
  private readonly maxBlockRange: number
  private readonly startBlock: number
  private readonly reorgHistory: number
  private readonly log: Logger
  private readonly iface: Interface
  private readonly topic: string
  private controller?: AbortController
  private loop?: Promise<void>
  private cursor: BlockRef | null = null
  private scope: string | undefined
  private history: BlockRef[] = []
  private readonly metrics: ChainMetrics

  constructor (components: DepositWatcherComponents, init: DepositWatcherInit = {}) {
    super()
    this.c = components
    this.settlement = getAddress(components.settlement)
    this.confirmations = Math.max(1, init.confirmations ?? 12)
    this.pollIntervalMs = init.pollIntervalMs ?? 2000
    this.maxBlockRange = Math.max(1, init.maxBlockRange ?? 2000)
    this.startBlock = init.startBlock ?? 0
    this.reorgHistory = Math.max(1, init.reorgHistory ?? 128)
    this.log = components.logger.child({ module: 'deposit-watcher' })
    this.iface = new Interface(loadArtifact('HarmonySettlement').abi)
    const event = this.iface.getEvent('Deposited')
    if (event === null) throw new ChainError('ARTIFACT_INVALID', 'HarmonySettlement ABI has no Deposited event')
    this.topic = event.topicHash
    this.metrics = createChainMetrics(components.registry)
  }

  async start (): Promise<void> {
    if (this.controller !== undefined) return
    await this.loadState()
    this.controller = new AbortController()
    const signal = this.controller.signal
    this.loop = this.run(signal)
  }

  async stop (): Promise<void> {
    this.controller?.abort()
    await this.loop
    this.controller = undefined
    this.loop = undefined
  }

  /** Last scanned block, or null before the first round. */
  scannedBlock (): number | null {
    return this.cursor?.number ?? null
  }

  /** Scans once up to the confirmed head; returns the deposits delivered. Used by the loop and by tests. */
  async poll (signal?: AbortSignal): Promise<number> {
    if (this.scope === undefined) await this.loadState()
    const head = await this.c.provider.getBlockNumber()
    const confirmedHead = head - this.confirmations + 1
    let delivered = 0
    if (!(await this.cursorIsCanonical())) await this.rewind()
    while (true) {
      signal?.throwIfAborted()
      const from = this.cursor === null ? this.startBlock : this.cursor.number + 1
      if (from > confirmedHead) return delivered
      const to = Math.min(confirmedHead, from + this.maxBlockRange - 1)
      const result = await this.scanRange(from, to)
      if (result === null) return delivered // the chain moved under us: next round
      delivered += result
    }
  }

  private async run (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll(signal)
      } catch (err) {
        if (signal.aborted) return
        this.log.warn({ err: (err as Error).message }, 'deposit scan failed; retrying')
      }
      try {
        await sleep(this.pollIntervalMs, undefined, { signal })
      } catch {
        return
      }
    }
  }

  private async scanRange (from: number, to: number): Promise<number | null> {
    const logs = await this.c.provider.getLogs({ address: this.settlement, topics: [this.topic], fromBlock: from, toBlock: to })
    const toBlock = await this.c.provider.getBlock(to)
    if (toBlock?.hash == null) return null
    // Every log must come from the canonical block at its height, else a reorg happened between the two calls.
    const canonical = new Map<number, string>([[to, toBlock.hash]])
    for (const l of logs) {
      if (!canonical.has(l.blockNumber)) {
        const b = await this.c.provider.getBlock(l.blockNumber)
        if (b?.hash == null) return null
        canonical.set(l.blockNumber, b.hash)
      }
      if (canonical.get(l.blockNumber) !== l.blockHash) return null
    }
    const sorted = [...logs].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)
    let delivered = 0
    for (const l of sorted) {
      const deposit = this.decode(l)
      if (deposit === null) continue
      const doneKey = this.key(`${KEY_DONE}${deposit.txHash}:${deposit.logIndex}`)
      if (await this.c.db.get(doneKey) !== undefined) continue
      await this.c.sink(deposit)
      await this.c.db.put(doneKey, encodeJson({ blockNumber: deposit.blockNumber, blockHash: deposit.blockHash, depositId: deposit.depositId.toString() }))
      this.metrics.deposits.inc()
      this.emit('deposit', deposit)
      delivered++
    }
    this.cursor = { number: to, hash: toBlock.hash }
    this.history.push(this.cursor)
    if (this.history.length > this.reorgHistory) this.history.splice(0, this.history.length - this.reorgHistory)
    await this.c.db.batch([
      { type: 'put', key: this.key(KEY_CURSOR), value: encodeJson(this.cursor) },
      { type: 'put', key: this.key(KEY_HISTORY), value: encodeJson(this.history) }
    ])
    this.metrics.depositCursorBlock.set(to)
    return delivered
  }

  private decode (l: Log): Deposit | null {
    // eth_getLogs filters by address and topic, but the answer is the endpoint's: a log of another contract (the same
    // event signature is anyone's to emit) or a removed one is no deposit into escrow
    if (l.removed || l.address.toLowerCase() !== this.settlement.toLowerCase() || l.topics[0] !== this.topic) {
      this.log.warn({ txHash: l.transactionHash, address: l.address }, 'log that is not a Deposited event of the settlement contract skipped')
      return null
    }
    try {
      const parsed = this.iface.parseLog({ topics: [...l.topics], data: l.data })
      if (parsed === null || parsed.name !== 'Deposited') return null
      return depositFromEvent(parsed.args, { txHash: l.transactionHash, logIndex: l.index, blockNumber: l.blockNumber, blockHash: l.blockHash })
    } catch {
      this.log.warn({ txHash: l.transactionHash }, 'undecodable Deposited log skipped')
      return null
    }
  }

  private async cursorIsCanonical (): Promise<boolean> {
    if (this.cursor === null) return true
    const block = await this.c.provider.getBlock(this.cursor.number)
    return block?.hash === this.cursor.hash
  }

  private async rewind (): Promise<void> {
    const from = this.cursor?.number ?? this.startBlock
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ref = this.history[i]
      const block = await this.c.provider.getBlock(ref.number)
      if (block?.hash === ref.hash) {
        const depth = from - ref.number
        const deep = depth >= this.confirmations
        this.metrics.reorgs.inc({ deep: String(deep) })
        this.log[deep ? 'error' : 'warn']({ from, to: ref.number, depth }, 'chain reorganisation: rescanning deposits')
        this.history = this.history.slice(0, i + 1)
        this.cursor = ref
        this.emit('reorg', { depth, from })
        return
      }
    }
    // Nothing remembered is canonical: rescan from the start; delivered marks prevent double delivery.
    this.metrics.reorgs.inc({ deep: 'true' })
    this.log.error({ from }, 'chain reorganisation deeper than the remembered history: rescanning from the start block')
    this.emit('reorg', { depth: from - this.startBlock, from })
    this.history = []
    this.cursor = null
  }

  private key (name: string): Uint8Array {
    if (this.scope === undefined) throw new Error('deposit watcher state used before it was loaded')
    return keyBytes(this.scope, name)
  }

  private async loadState (): Promise<void> {
    const genesis = await this.c.provider.getBlock(0)
    if (genesis?.hash == null) throw new ChainError('CHAIN_UNREACHABLE', 'cannot read the chain\'s genesis block')
    this.scope = `${KEY_PREFIXES.chain.deposit}${genesis.hash.toLowerCase()}/${this.settlement.toLowerCase()}/`
    const cursor = await this.c.db.get(this.key(KEY_CURSOR))
    const history = await this.c.db.get(this.key(KEY_HISTORY))
    try {
      const parsedCursor = cursor === undefined ? null : decodeJson(cursor)
      const parsedHistory = history === undefined ? [] : decodeJson(history)
      this.cursor = isBlockRef(parsedCursor) ? parsedCursor : null
      this.history = Array.isArray(parsedHistory) ? parsedHistory.filter(isBlockRef) : []
    } catch {
      this.log.warn('stored deposit cursor unreadable: rescanning from the start block')
      this.cursor = null
      this.history = []
    }
  }
}

export type DepositCheck =
  | { status: 'valid', deposit: Deposit }
  | { status: 'pending', reason: string }
  | { status: 'invalid', reason: string }

/**
 * What every validator runs before voting for a DAG deposit credit: is there, on *its own* view of the chain, a
 * `Deposited` log of the settlement contract at (txHash, logIndex) with these fields and enough confirmations?
 * `pending` means "not yet" (unknown transaction or too few confirmations): do not vote for it yet.
 */
export async function checkDeposit (provider: Provider, settlement: string, claim: Pick<Deposit, 'txHash' | 'logIndex' | 'dagAccount' | 'amount'>, confirmations: number): Promise<DepositCheck> {
  const receipt = await provider.getTransactionReceipt(claim.txHash)
  if (receipt === null) return { status: 'pending', reason: 'transaction not found on this node\'s chain' }
  if (receipt.status !== 1) return { status: 'invalid', reason: 'transaction reverted' }
  const head = await provider.getBlockNumber()
  if (head - receipt.blockNumber + 1 < confirmations) return { status: 'pending', reason: 'not enough confirmations' }
  const log = receipt.logs.find((l) => l.index === claim.logIndex)
  if (log === undefined || getAddress(log.address) !== getAddress(settlement)) return { status: 'invalid', reason: 'no settlement log at that index' }
  const iface = new Interface(loadArtifact('HarmonySettlement').abi)
  let parsed: LogDescription | null
  try {
    parsed = iface.parseLog({ topics: [...log.topics], data: log.data })
  } catch {
    parsed = null
  }
  if (parsed?.name !== 'Deposited') return { status: 'invalid', reason: 'the log is not a deposit' }
  const deposit = depositFromEvent(parsed.args, { txHash: receipt.hash, logIndex: log.index, blockNumber: receipt.blockNumber, blockHash: receipt.blockHash })
  if (deposit.dagAccount.toLowerCase() !== claim.dagAccount.toLowerCase() || deposit.amount !== claim.amount) {
    return { status: 'invalid', reason: 'account or amount differs from the chain' }
  }
  return { status: 'valid', deposit }
}
