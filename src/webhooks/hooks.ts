import { formatAddress, parseAddress } from '../core/address.ts'
import { WebhookError, type HookRecord, type HookStatus, type HookView, type QueuedDelivery, type WebhookEventKind, type WebhookMatch } from './types.ts'

/** A hook as the service holds it in memory. */
export interface HookState {
  hook: HookRecord
  status: HookStatus
  /** Oldest first; the head is the one being attempted. */
  queue: QueuedDelivery[]
  removed: boolean
  wake?: () => void
  inFlight?: AbortController
  worker?: Promise<void>
}

const MAX_URL_CHARS = 2048

/** What `add` returns: the hook and its signing secret, which is shown this once. */
export interface AddedHook {
  hook: HookView
  secret: string
}

export interface AddHookOptions {
  url: string
  events: readonly WebhookEventKind[]
  /** Only events concerning these accounts (hmy1… addresses); empty: every event of the kinds. @default [] */
  accounts?: readonly string[]
  /** The operator's name for the hook. @default '' */
  label?: string
}

/** An event ready to queue: its kind, JSON, the accounts it concerns and when it happened. */
export interface PendingEvent {
  kind: WebhookEventKind
  data: string
  match: WebhookMatch
  createdAtMs: number
}

/** Who takes ledger events (`tx`, `payment`): every account, some accounts, or nobody. */
export type LedgerInterest = 'all' | Set<string> | undefined

/** The ledger interest of these hooks: a decision is recorded for the webhooks only if some hook may take it. */
export function ledgerInterestOf (hooks: Iterable<HookState>): LedgerInterest {
  const ledgerHooks = [...hooks].filter((s) => !s.removed && s.hook.events.some((e) => e === 'tx' || e === 'payment'))
  if (ledgerHooks.length === 0) return undefined
  return ledgerHooks.some((s) => s.hook.accounts.length === 0) ? 'all' : new Set(ledgerHooks.flatMap((s) => s.hook.accounts))
}

/** Whether a hook takes an event of `kind` concerning `match.accounts`. */
export function wants (hook: HookRecord, kind: WebhookEventKind, match: WebhookMatch): boolean {
  if (!hook.events.includes(kind)) return false
  if (hook.accounts.length === 0) return true
  return match.accounts?.some((a) => hook.accounts.includes(a)) ?? false
}

/** A hook as `webhook_list` shows it (no secret). */
export function view (state: HookState): HookView {
  const { hook, status } = state
  return {
    id: hook.id,
    url: hook.url,
    events: [...hook.events],
    accounts: [...hook.accounts],
    label: hook.label,
    createdAtMs: hook.createdAtMs,
    queued: state.queue.length,
    delivered: status.delivered,
    failed: status.failed,
    dropped: status.dropped,
    last: status.last
  }
}

/** The URL normalised, or WEBHOOK_URL_INVALID (not http(s), credentials in it, too long). */
export function checkUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL does not parse; give an absolute http:// or https:// URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL must be http:// or https://')
  // webhook_list shows the URL: credentials in it would leak; receivers authenticate deliveries by their signature
  if (url.username !== '' || url.password !== '') throw new WebhookError('WEBHOOK_URL_INVALID', 'the webhook URL must not carry credentials; verify X-Harmony-Signature in the receiver instead')
  const normalized = url.toString()
  if (normalized.length > MAX_URL_CHARS) throw new WebhookError('WEBHOOK_URL_INVALID', `the webhook URL is longer than ${MAX_URL_CHARS} characters`)
  return normalized
}

/** An account filter entry in its canonical hmy1… form, or WEBHOOK_ACCOUNT_INVALID. */
export function normalizeAccount (text: string): string {
  try {
    return formatAddress(parseAddress(text))
  } catch {
    throw new WebhookError('WEBHOOK_ACCOUNT_INVALID', `${text.slice(0, 80)} is not an account address (hmy1…)`)
  }
}
