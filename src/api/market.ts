import { createHash } from 'node:crypto'
import { fromHex } from '../core/codec.ts'
import { INPUT_FAULT_PROFILE } from '../market/provider/job.ts'
import type { RegistrationWait } from '../market/provider/registration.ts'
import type { RequesterErrorCode } from '../market/requester.ts'
import type { MarketReader, ResultView, TaskView } from '../market/state/reader.ts'
import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import type { RpcParsedParamsOf, RpcResultOf } from './definitions.ts'
import { MARKET_MAX_BIDS, MARKET_MAX_SUBMIT_BYTES } from './market-definitions.ts'
import { bidsNote, bidToRpc, hex0x, inputClaimToRpc, providerToRpc, taskToRpc } from './market-views.ts'
import { mapped } from './dag.ts'
import { registerMethod, registerTopic } from './method.ts'

/** How each requester error reaches a JSON-RPC caller (the DAG's admission errors are mapped by src/api/dag.ts). */
export const MARKET_RPC_ERROR_CODES: Readonly<Record<RequesterErrorCode, RpcErrorCodeValue>> = {
  TASK_ANNOUNCE_INVALID: RpcErrorCode.INVALID_PARAMS,
  TASK_INPUTS_MISMATCH: RpcErrorCode.INVALID_PARAMS,
  TASK_INPUTS_TOO_LARGE: RpcErrorCode.LIMIT_EXCEEDED,
  TASK_CANCEL_INVALID: RpcErrorCode.INVALID_PARAMS,
  REQUESTER_BUSY: RpcErrorCode.LIMIT_EXCEEDED
}

/** The market's subscription topics. */
export const MARKET_RPC_TOPICS = ['task_status'] as const

export type TaskListFilter = Pick<Exclude<RpcParsedParamsOf<'task_list'>, undefined | unknown[]>, 'state' | 'requester' | 'provider'>

/** What this node's provider agent says of itself (src/market/provider); null fields when it runs none. */
export interface LocalProviderStatus {
  /** The node's ledger address (its provider account). */
  address: string
  enabled: boolean
  pricing: { perGflop: bigint, minimum: bigint, capacity: number } | null
  active: Array<{ taskId: string, stage: string, sinceMs: number }>
  /** Recent decisions not to bid, newest first. */
  skipped: Array<{ taskId: string, reason: string, detail: string, atMs: number }>
  /** Why the registration the provider wants is not on the DAG yet (none once it is). */
  registrationWait?: RegistrationWait
}

/**
 * What the market's RPC methods read and do; the node builds it over `MarketService`. Task ids are lowercase hex
 * without 0x.
 */
export interface MarketRpcSource {
  reader: Pick<MarketReader, 'task' | 'tasks' | 'bids' | 'provider' | 'providers'>
  /** Stores the inputs and submits the signed announce / cancel (src/market/requester.ts). */
  requester: { submit: (announce: Uint8Array, inputs: Uint8Array[]) => Promise<{ taskId: string, txId: string }>, cancel: (encoded: Uint8Array) => Promise<string> }
  /** The bytes of an output blob: from this node's store, else fetched from the provider that serves it. */
  output: (task: TaskView, result: ResultView) => Promise<Uint8Array | undefined>
  localProvider: () => LocalProviderStatus
  /** The last heartbeat heard from a provider (ms), when this node heard one. */
  lastHeartbeatMs?: (address: string) => number | undefined
  /** True once no bid or reveal to come can change a task's first award (MarketService.auctionSealed). */
  auctionSealed?: (taskId: string) => Promise<boolean | undefined>
  /** Calls `listener` with a task's view after each final market transaction that changed it (the task_status topic). */
  onTaskChanged?: (listener: (task: TaskView) => void) => void
  /** Market time now (ms); stuck payments are owed past their deadline plus the verification window. */
  now?: () => number
}

const DEFAULT_PAGE = 20
/** A page cursor is an offset into the reader's newest-first list; deeper pages are refused (use filters). */
const MAX_OFFSET = 1000
/** How long after a result's deadline an unsettled payment is shown as stuck. */
const STUCK_AFTER_MS = 60_000
/** Open tasks of one provider inspected for provider_status. */
const MAX_STATUS_TASKS = 64

function taskIdOf (hex: string): string {
  return hex.slice(2).toLowerCase()
}

function offsetOf (cursor: string | undefined): number {
  if (cursor === undefined) return 0
  const offset = /^[0-9]{1,6}$/.test(cursor) ? Number(cursor) : NaN
  if (!(offset <= MAX_OFFSET)) throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `cursor must be a \`next\` from a previous page (at most ${MAX_OFFSET} deep)`)
  return offset
}

function page<T> (items: T[], offset: number, limit: number): { items: T[], next: string | null } {
  const slice = items.slice(offset, offset + limit)
  return { items: slice, next: items.length > offset + limit && offset + limit <= MAX_OFFSET ? String(offset + limit) : null }
}

function base64Bytes (text: string, index: number): Uint8Array {
  const bytes = Buffer.from(text, 'base64')
  // Buffer.from skips what it cannot read; the schema admits only the alphabet, so only padding may differ
  if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    throw new RpcMethodError(RpcErrorCode.INVALID_PARAMS, `input ${index} is not canonical base64`, { reason: 'TASK_INPUTS_MISMATCH' })
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function sha256Hex (hex: string): string {
  return `0x${createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex')}`
}

/** Registers the compute market's methods (task_*, market_*, provider_status) and its error codes. */
export function registerMarketRpc (registry: RpcRegistry, market: MarketRpcSource): void {
  registry.registerErrorCodes(MARKET_RPC_ERROR_CODES)
  const { reader } = market
  const now = market.now ?? Date.now
  registerMethod(registry, 'task_submit', async (params) => {
    const { announce, inputs } = Array.isArray(params) ? params[0] : params
    // the schema bounds each input; the sum is bounded here before anything is decoded
    const encodedLength = inputs.reduce((sum, s) => sum + s.length, 0)
    if (encodedLength > Math.ceil(MARKET_MAX_SUBMIT_BYTES / 3) * 4) {
      throw new RpcMethodError(RpcErrorCode.LIMIT_EXCEEDED, `inputs exceed ${MARKET_MAX_SUBMIT_BYTES} bytes in all`, { reason: 'TASK_INPUTS_TOO_LARGE' })
    }
    // the ledger's refusal of the announce reaches the caller whole (BUSY with its retryAfterMs), as it does
    // from account_sendTransaction; the dispatcher's mapping keeps only the code
    return await mapped(async () => await market.requester.submit(fromHex(announce, 'announce'), inputs.map(base64Bytes)))
  })
  // the ledger's refusal reaches the caller with its details (the rule, retryAfterMs), as from account_sendTransaction
  registerMethod(registry, 'task_cancel', async ([hex]) => await mapped(async () => await market.requester.cancel(fromHex(hex, 'transaction'))))
  registerMethod(registry, 'task_get', async ([id]) => {
    const task = await reader.task(taskIdOf(id))
    return task === undefined ? null : taskToRpc(task)
  })
  registerMethod(registry, 'task_list', async (params) => {
    const filter = Array.isArray(params) ? params[0] : params
    const { cursor, limit, state, requester, provider } = filter ?? {}
    const offset = offsetOf(cursor)
    const count = limit ?? DEFAULT_PAGE
    const tasks = await reader.tasks({ ...(state === undefined ? {} : { phase: state }), ...(requester === undefined ? {} : { requester }), ...(provider === undefined ? {} : { provider }), limit: offset + count + 1 })
    const { items, next } = page(tasks, offset, count)
    return { tasks: items.map(taskToRpc), next }
  })
  registerMethod(registry, 'task_result', async ([id]) => {
    const task = await reader.task(taskIdOf(id))
    if (task === undefined) return null
    // the paid result when settled, else the first that verification accepted
    const paid = new Set(task.settlement?.payouts.map(p => p.provider) ?? [])
    const result = task.results.find(r => r.verdict === 'agrees' && (paid.size === 0 || paid.has(r.provider)))
    if (result === undefined) return null
    if (result.profile === INPUT_FAULT_PROFILE) {
      throw new RpcMethodError(RpcErrorCode.INVALID_INPUT, `task 0x${task.taskId} has no output: its provider found that the inputs do not fit the task's kernel, parameters or output limit (an input fault, paid as work done)`, { reason: 'TASK_INPUT_FAULT' })
    }
    const bytes = await market.output(task, result)
    if (bytes === undefined) {
      throw new RpcMethodError(RpcErrorCode.RESOURCE_UNAVAILABLE, `the output blob ${result.outputBlob} of task 0x${task.taskId} is not on this node and its provider cannot be reached; try again`)
    }
    return {
      taskId: hex0x(task.taskId),
      provider: result.provider,
      commitment: result.commitment,
      outputBlob: result.outputBlob,
      encoding: task.private ? 'sealed' as const : 'plain' as const,
      data: Buffer.from(bytes).toString('base64')
    }
  })
  registerMethod(registry, 'market_bids', async ([id]) => {
    // sealed first: the bids read after it are every bid the award ranks
    const sealed = await market.auctionSealed?.(taskIdOf(id))
    const task = await reader.task(taskIdOf(id))
    if (task === undefined) return null
    const bids = await reader.bids(task.taskId)
    return {
      taskId: hex0x(task.taskId),
      state: task.phase,
      bidsCloseAtMs: task.bidsCloseAtMs,
      revealsCloseAtMs: task.revealsCloseAtMs,
      sealed: task.awards.length > 0 || sealed === true,
      bids: bids.slice(0, MARKET_MAX_BIDS).map(b => bidToRpc(b, task)),
      note: bidsNote(task, bids)
    }
  })
  registerMethod(registry, 'market_providers', async (params) => {
    const p = Array.isArray(params) ? params[0] : params
    const offset = offsetOf(p?.cursor)
    const count = p?.limit ?? DEFAULT_PAGE
    const { items, next } = page(await reader.providers(offset + count + 1), offset, count)
    return { providers: items.map(v => providerToRpc(v, sha256Hex(v.kemPublicKey), market.lastHeartbeatMs?.(v.address) ?? null)), next }
  })
  registerMethod(registry, 'provider_status', async () => await providerStatus(market, now()))

  // task_status: a client follows its tasks without polling task_get (a requester keeping 50 tasks in flight polled
  // 200 times a second); each event is the task as task_get would return it just after the change
  const taskStatus = registerTopic(registry, 'task_status', (filter, task) =>
    (filter.id === undefined || filter.id.toLowerCase() === task.taskId) &&
    (filter.requester === undefined || filter.requester.toLowerCase() === task.requester))
  market.onTaskChanged?.((task) => {
    // the record is built only while someone listens
    if (registry.hub.subscriberCount('task_status') > 0) taskStatus(taskToRpc(task))
  })
}

function registrationWaitToRpc (w: RegistrationWait | undefined): RpcResultOf<'provider_status'>['registrationWait'] {
  if (w === undefined) return null
  return {
    reason: w.reason,
    atMs: w.atMs,
    balance: w.reason === 'unfunded' ? w.balance.toString() : null,
    needed: w.reason === 'unfunded' ? w.needed.toString() : null,
    txId: w.reason === 'submitted' ? hex0x(w.txId) : null,
    error: w.reason === 'failed' ? w.error : null
  }
}

async function providerStatus (market: MarketRpcSource, nowMs: number): Promise<RpcResultOf<'provider_status'>> {
  const local = market.localProvider()
  const view = await market.reader.provider(local.address)
  const owed: RpcResultOf<'provider_status'>['payments']['owed'] = []
  const stuck: typeof owed = []
  const received: typeof owed = []
  const slashed: RpcResultOf<'provider_status'>['payments']['slashed'] = []
  const inputClaims: RpcResultOf<'provider_status'>['inputClaims'] = []
  const tasks = await market.reader.tasks({ provider: local.address, limit: MAX_STATUS_TASKS })
  for (const task of tasks) {
    for (const c of task.inputClaims) if (c.provider === local.address) inputClaims.push({ taskId: hex0x(task.taskId), ...inputClaimToRpc(c) })
    for (const s of task.slashes) {
      if (s.provider === local.address) slashed.push({ taskId: hex0x(task.taskId), amount: s.amount.toString(), reason: s.reason, atMs: s.timeMs, txId: hex0x(s.txId) })
    }
    const payout = task.settlement?.payouts.find(p => p.provider === local.address)
    if (payout !== undefined && task.settlement !== undefined) {
      received.push({ taskId: hex0x(task.taskId), amount: payout.amount.toString(), atMs: task.settlement.timeMs, txId: hex0x(task.settlement.txId) })
      continue
    }
    if (task.settlement !== undefined || !task.winners.includes(local.address)) continue
    const mine = task.results.find(r => r.provider === local.address)
    if (mine === undefined || mine.verdict === 'fault' || mine.verdict === 'late') continue
    const bid = (await market.reader.bids(task.taskId)).find(b => b.provider === local.address && b.status === 'won')
    const entry = { taskId: hex0x(task.taskId), amount: (bid?.price ?? 0n).toString(), atMs: null, txId: null }
    const award = task.awards.find(a => a.round === mine.round)
    if (award !== undefined && nowMs > award.deadlineMs + STUCK_AFTER_MS) stuck.push(entry)
    else owed.push(entry)
  }
  return {
    address: local.address,
    enabled: local.enabled,
    registered: view !== undefined,
    registrationWait: registrationWaitToRpc(local.registrationWait),
    provider: view === undefined ? null : providerToRpc(view, sha256Hex(view.kemPublicKey), market.lastHeartbeatMs?.(view.address) ?? null),
    pricing: local.pricing === null ? null : { perGflop: local.pricing.perGflop.toString(), minimum: local.pricing.minimum.toString(), capacity: local.pricing.capacity },
    active: local.active.map(a => ({ ...a, taskId: hex0x(a.taskId) })),
    skipped: local.skipped.map(k => ({ taskId: hex0x(k.taskId), reason: `${k.reason}: ${k.detail}`, atMs: k.atMs })),
    payments: { owed, received, stuck, slashed },
    inputClaims
  }
}
