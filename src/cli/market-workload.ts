/**
 * A requester's workload over the SDK, signed client-side: fund accounts from a wallet, announce small matmul
 * tasks with chained nonces, and follow tasks as they move through the market. `harmonyd devnet --demo` runs it
 * continuously; bench/market.ts and the devnet tests drive it too.
 */
import { createHash } from 'node:crypto'
import { f32ToBytes } from '../compute/blob.ts'
import { canonicalJson } from '../compute/task.ts'
import { toHex } from '../core/codec.ts'
import type { WalletKey } from '../core/keys/wallet.ts'
import { signTransfer } from '../dag/wallet.ts'
import { encodeTx } from '../dag/tx.ts'
import { buildTaskAnnounce, type VerificationMode } from '../market/kinds/index.ts'
import { requesterKemKey, submitTask, type TaskRecord } from '../sdk/market.ts'
import type { HarmonyClient } from '../sdk/index.ts'

/** A requester account and the node it submits to; nonces chain locally (the node admits pending successors). */
export interface WorkloadAccount {
  key: WalletKey
  client: HarmonyClient
  chainId: string
  nextNonce: bigint
}

export async function openAccount (client: HarmonyClient, key: WalletKey): Promise<WorkloadAccount> {
  const [{ chainId }, nonce] = await Promise.all([client.call('node_info'), client.call('account_getNonce', [key.address])])
  if (chainId === undefined) throw new Error('the node reports no ledger chain id; is its ledger running?')
  return { key, client, chainId, nextNonce: BigInt(nonce) }
}

/** Transfers `amount` to each address from `from` (chained nonces); resolves once every transfer is final. */
export async function fundAccounts (from: WorkloadAccount, to: readonly string[], amount: bigint, timeoutMs = 60_000): Promise<void> {
  const ids: string[] = []
  for (const address of to) {
    const signed = signTransfer(from.key, { chainId: from.chainId, to: address, amount, nonce: from.nextNonce })
    ids.push(await from.client.call('account_sendTransaction', [signed]))
    from.nextNonce++
  }
  const deadline = Date.now() + timeoutMs
  for (const id of ids) {
    for (;;) {
      const tx = await from.client.call('tx_get', [id])
      if (tx?.status === 'final') break
      if (tx?.status === 'rejected') throw new Error(`funding transfer ${id} was rejected: ${tx.reason ?? ''}`)
      if (Date.now() > deadline) throw new Error(`funding transfer ${id} not final after ${timeoutMs / 1000} s`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

/** Deterministic small f32 values from a seed (reproducible inputs; ±1 keeps sums well inside f32). */
export function seededF32 (seed: string, count: number): Float32Array {
  const out = new Float32Array(count)
  let block = createHash('sha256').update(seed).digest()
  for (let i = 0; i < count; i++) {
    if (i % 16 === 0 && i > 0) block = createHash('sha256').update(block).digest()
    out[i] = (block.readUInt16LE((i % 16) * 2) / 65535) * 2 - 1
  }
  return out
}

export interface MatmulTaskOptions {
  m: number
  k: number
  n: number
  /** Most paid per replica, base units. */
  budget: bigint
  /** @default 1 */
  redundancy?: number
  /** @default 'none' */
  verification?: VerificationMode
  /** @default 1500 */
  bidWindowMs?: number
  /** @default 1000 */
  revealWindowMs?: number
  /** @default 20000 */
  executionDeadlineMs?: number
  /** @default false */
  private?: boolean
  /** The announce asks its requester's client to announce it again if it expires with no valid bid. @default false */
  reannounce?: boolean
  /** Requirements' executor. @default 'any' */
  executor?: 'any' | 'cpu' | 'webgpu'
  /** Seed of the inputs. @default the nonce */
  seed?: string
}

export interface SubmittedTask {
  taskId: string
  txId: string
  params: { m: number, k: number, n: number }
  inputs: [Uint8Array, Uint8Array]
  submittedAtMs: number
}

/** Signs a matmul announce with the account's key and submits it with its inputs. */
export async function submitMatmul (account: WorkloadAccount, o: MatmulTaskOptions): Promise<SubmittedTask> {
  const seed = o.seed ?? `${account.key.address}/${account.nextNonce}`
  const a = f32ToBytes(seededF32(`${seed}/a`, o.m * o.k))
  const b = f32ToBytes(seededF32(`${seed}/b`, o.k * o.n))
  const verification = o.verification ?? 'none'
  const redundancy = o.redundancy ?? (verification === 'redundancy' ? 2 : 1)
  const params = { m: o.m, k: o.k, n: o.n }
  const { tx } = buildTaskAnnounce({ chainId: account.chainId, keys: account.key, nonce: account.nextNonce, fee: 1000n }, {
    spec: { kernel: 'matmul', paramsJson: canonicalJson(params) },
    inputs: [a, b].map(x => new Uint8Array(createHash('sha256').update(x).digest())),
    outputLimitBytes: o.m * o.n * 4,
    budget: o.budget,
    redundancy,
    k: verification === 'redundancy' ? redundancy : 1,
    verification,
    bidWindowMs: o.bidWindowMs ?? 1500,
    revealWindowMs: o.revealWindowMs ?? 1000,
    executionDeadlineMs: o.executionDeadlineMs ?? 20_000,
    requirements: { executor: o.executor ?? 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false },
    private: o.private ?? false,
    ...(o.private === true ? { requesterKemKey: requesterKemKey(account.key.secretKey).publicKey } : {}),
    reannounce: o.reannounce ?? false
  })
  const submittedAtMs = Date.now()
  const { taskId, txId } = await submitTask(account.client, `0x${toHex(encodeTx(tx))}`, [a, b])
  account.nextNonce++
  return { taskId, txId, params, inputs: [a, b], submittedAtMs }
}

/** One change of a followed task, as a person reads it. */
export interface TaskEvent {
  taskId: string
  kind: 'announced' | 'awarded' | 'result' | 'settled' | 'expired' | 'cancelled' | 'refunded' | 'slashed'
  task: TaskRecord
  /** `awarded`, `result`, `slashed`: which of the task's awards, results or slashes is new (one poll may see several). */
  index?: number
  atMs: number
}

/**
 * Follows a bounded set of tasks by polling task_get, and reports each change once: announced (final), awarded
 * (each round), a result committed, a slash, and the end (settled, refunded, expired, cancelled).
 */
export class TaskFollower {
  private readonly client: HarmonyClient
  private readonly seen = new Map<string, { state: string, awards: number, results: number, slashes: number }>()
  private readonly limit: number

  /** @param limit tasks followed at once (older finished ones are dropped first) @default 1024 */
  constructor (client: HarmonyClient, limit = 1024) {
    this.client = client
    this.limit = limit
  }

  follow (taskId: string): void {
    if (this.seen.has(taskId)) return
    if (this.seen.size >= this.limit) throw new RangeError(`already following ${this.limit} tasks`)
    this.seen.set(taskId, { state: 'submitted', awards: 0, results: 0, slashes: 0 })
  }

  get following (): number { return this.seen.size }

  /** Polls every followed task once; returns the changes and stops following tasks that ended. */
  async poll (): Promise<TaskEvent[]> {
    const events: TaskEvent[] = []
    await Promise.all([...this.seen.keys()].map(async (taskId) => {
      const task = await this.client.call('task_get', [taskId]).catch(() => null)
      if (task === null) return
      const last = this.seen.get(taskId)
      if (last === undefined) return
      const atMs = Date.now()
      if (last.state === 'submitted') events.push({ taskId, kind: 'announced', task, atMs })
      for (let i = last.awards; i < task.awards.length; i++) events.push({ taskId, kind: 'awarded', task, index: i, atMs })
      for (let i = last.results; i < task.results.length; i++) events.push({ taskId, kind: 'result', task, index: i, atMs })
      for (let i = last.slashes; i < task.slashes.length; i++) events.push({ taskId, kind: 'slashed', task, index: i, atMs })
      if (task.state === 'settled' || task.state === 'refunded' || task.state === 'expired' || task.state === 'cancelled') {
        events.push({ taskId, kind: task.state, task, atMs })
        this.seen.delete(taskId)
        return
      }
      this.seen.set(taskId, { state: task.state, awards: task.awards.length, results: task.results.length, slashes: task.slashes.length })
    }))
    return events
  }
}
