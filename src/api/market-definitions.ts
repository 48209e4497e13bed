/**
 * Schemas of the compute market's JSON-RPC methods (task_*, market_*, provider_*), used by the method entries of
 * src/api/definitions.ts. Like that file it imports zod only, so the SDK can carry it. The records they describe
 * are those of docs/market.md: amounts are decimal strings of AGC base units, times are the DAG's market time
 * (the timestamp of the vertex holding the transaction, ms since the epoch).
 */
import { z } from 'zod'

/** Input blobs one task_submit may carry (the announce lists at most 8, docs/market.md). */
export const MARKET_MAX_INPUTS = 8
/** Bytes of one input blob carried by task_submit: the RPC body is 1 MiB and base64 adds a third. */
export const MARKET_MAX_INPUT_BYTES = 512 * 1024
/** Bytes of all input blobs of one task_submit. */
export const MARKET_MAX_SUBMIT_BYTES = 640 * 1024
/** Records per task_list / market_providers page. */
export const MARKET_MAX_PAGE = 100
/** Bids listed per task (64 considered reveals per award round, a few rounds, plus the unrevealed). */
export const MARKET_MAX_BIDS = 256

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, 'expected a 0x-prefixed hex string')
const amount = z.string().regex(/^[0-9]{1,78}$/, 'expected a decimal string of base units')
const address = z.string().min(1).max(64)
/** base64 of at most `bytes` bytes (4 characters per 3 bytes). */
const base64Of = (bytes: number): z.ZodString => z.string().max(Math.ceil(bytes / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64')
/** A signed task-announce: the ~5.3 KB signature and key, the spec (≤ 1 KiB params) and a requester KEM key (1184 B). */
const signedAnnounce = hex.max(2 + 2 * 12 * 1024)

/** A task's phase (src/market/state: TASK_PHASES; the last four are final). */
export const TASK_STATES = ['bidding', 'revealing', 'awarded', 'executing', 'verifying', 'settled', 'refunded', 'expired', 'cancelled'] as const
/** A bid's status (src/market/state: BidStatus); `excluded` is an in-time valid reveal a final award left out. */
export const BID_STATUSES = ['committed', 'revealed', 'won', 'lost', 'invalid', 'excluded'] as const
export const VERIFICATION_MODES = ['none', 'redundancy', 'spot-check'] as const

export const TaskSubmitParams = z.object({
  /** The client-signed task-announce transaction, hex of its canonical bytes. */
  announce: signedAnnounce,
  /** The input blobs in the announce's order, base64. */
  inputs: z.array(base64Of(MARKET_MAX_INPUT_BYTES)).max(MARKET_MAX_INPUTS)
}).strict()

export const TaskListFilter = z.object({
  state: z.enum(TASK_STATES).optional(),
  requester: address.optional(),
  provider: address.optional(),
  cursor: z.string().max(128).optional(),
  limit: z.number().int().min(1).max(MARKET_MAX_PAGE).optional()
}).strict()

export const PageParams = z.object({
  cursor: z.string().max(128).optional(),
  limit: z.number().int().min(1).max(MARKET_MAX_PAGE).optional()
}).strict()

const Requirements = z.object({
  executor: z.enum(['any', 'cpu', 'webgpu']),
  minGflops: z.number(),
  minMemoryMiB: z.number(),
  attested: z.boolean()
})

const ResultRecord = z.object({
  provider: address,
  round: z.number(),
  commitment: z.string(),
  outputBlob: z.string(),
  outputBytes: z.number(),
  profile: z.string(),
  atMs: z.number(),
  txId: z.string(),
  /**
   * `agrees` once verification accepted it, `fault` or `late` when it did not, `unresolved` when the task settled
   * `unresolved` (a private task whose results disagree: nobody can tell which is right), `pending` before.
   */
  verdict: z.enum(['pending', 'agrees', 'fault', 'late', 'unresolved'])
})

const AwardRound = z.object({
  round: z.number(),
  winners: z.array(address),
  spotChecker: address.nullable(),
  atMs: z.number(),
  /** Results of this round are in time until then. */
  deadlineMs: z.number(),
  /** The reveal transactions the award considered (any node can check the list). */
  considered: z.array(z.string()),
  txId: z.string()
})

const Slash = z.object({ provider: address, reason: z.string(), amount, atMs: z.number(), txId: z.string() })

/**
 * An assigned provider's claim that it could not fetch the task's inputs (docs/market.md "Inputs no peer serves")
 * and the validators' verdict: `unavailable` from two judges (one where only one validator may judge the claimant)
 * excuses it (`excused`: no late slash; the task is refunded), `available` means a validator holds and serves the
 * inputs now and the result is due by `dueAtMs`; with no verdict yet, or one `unavailable` verdict not yet confirmed,
 * the late slash waits until `holdsSlashUntilMs` at most. `attempt` 1.. is an appeal: the claimant claimed again after
 * an `available` verdict whose inputs it still could not fetch, after its judge stayed silent, or for a second judge's
 * `unavailable`; another validator judges it.
 * `keyRevealed`: a private task's claimant showed that the envelopes it fetched do not open, revealing its key for
 * this task; its judge opens the envelopes, and finds them `available` only when a full set opens to the inputs.
 */
const InputClaim = z.object({
  provider: address,
  round: z.number(),
  attempt: z.number(),
  keyRevealed: z.boolean(),
  atMs: z.number(),
  txId: z.string(),
  verdict: z.object({ outcome: z.enum(['available', 'unavailable']), validator: address, atMs: z.number(), txId: z.string() }).nullable(),
  dueAtMs: z.number(),
  holdsSlashUntilMs: z.number().nullable(),
  excused: z.boolean()
})

const Settlement = z.object({
  outcome: z.string(),
  payouts: z.array(z.object({ provider: address, amount })),
  fee: amount,
  refund: amount,
  atMs: z.number(),
  txId: z.string()
})

export const TaskResult = z.object({
  taskId: z.string(),
  requester: address,
  state: z.enum(TASK_STATES),
  kernel: z.string(),
  params: z.unknown(),
  wgslBlob: z.string().nullable(),
  inputs: z.array(z.string()),
  outputLimitBytes: z.number(),
  /** Per replica, in base units. */
  budget: amount,
  /** What the announce locked: budget × replicas. */
  escrow: amount,
  redundancy: z.number(),
  k: z.number(),
  verification: z.enum(VERIFICATION_MODES),
  bidWindowMs: z.number(),
  revealWindowMs: z.number(),
  executionDeadlineMs: z.number(),
  requirements: Requirements,
  private: z.boolean(),
  reannounce: z.boolean(),
  announcedAtMs: z.number(),
  announceTx: z.string(),
  bidsCloseAtMs: z.number(),
  revealsCloseAtMs: z.number(),
  awards: z.array(AwardRound),
  /** Current winners and the spot-checker. */
  winners: z.array(address),
  spotChecker: address.nullable(),
  results: z.array(ResultRecord),
  slashes: z.array(Slash),
  /** Input claims of its assigned providers and the validators' verdicts: why a winner was (not) slashed. */
  inputClaims: z.array(InputClaim),
  settlement: Settlement.nullable(),
  cancelRequested: z.boolean(),
  bidCount: z.number()
})

export const TaskOutputResult = z.object({
  taskId: z.string(),
  provider: address,
  commitment: z.string(),
  outputBlob: z.string(),
  /** `plain`: the output bytes; `sealed`: the envelope sealed to the requester's ML-KEM-768 key. */
  encoding: z.enum(['plain', 'sealed']),
  data: z.string()
})

const BidRecord = z.object({
  provider: address,
  status: z.enum(BID_STATUSES),
  /** Why it lost or is invalid (docs/market.md, Award rule: price, tie-reputation, tie-hash, capability, late, …); null otherwise. */
  reason: z.string().nullable(),
  /** Null until revealed. */
  price: amount.nullable(),
  /** Position in the award ranking (0 = cheapest valid), null when not ranked. */
  rank: z.number().nullable(),
  round: z.number().nullable(),
  commitTx: z.string(),
  commitAtMs: z.number(),
  revealTx: z.string().nullable(),
  revealAtMs: z.number().nullable(),
  /** The bidder's input claim once it won and could not fetch the inputs (with the verdict); null otherwise. */
  inputClaim: InputClaim.nullable()
})

export const MarketBidsResult = z.object({
  taskId: z.string(),
  state: z.enum(TASK_STATES),
  bidsCloseAtMs: z.number(),
  revealsCloseAtMs: z.number(),
  /**
   * True once no bid or reveal still to come can change the first award: every validator's final vertices reach
   * past the bid window with each in-time commit revealed, or past the reveal window. The award is due then.
   */
  sealed: z.boolean(),
  bids: z.array(BidRecord).max(MARKET_MAX_BIDS),
  /** Why the task has no winner yet, or never got one (e.g. `no-valid-bid`); null otherwise. */
  note: z.string().nullable()
})

const Capability = z.object({
  executor: z.enum(['cpu', 'webgpu']),
  adapter: z.string(),
  memoryMiB: z.number(),
  gflops: z.number(),
  profile: z.string()
})

const Attestation = z.object({
  passed: z.boolean(),
  measuredGflops: z.number(),
  challengeId: z.string(),
  atMs: z.number(),
  txId: z.string()
})

export const ProviderResult = z.object({
  address,
  bond: amount,
  kemKeyHash: z.string(),
  capability: Capability,
  attestation: Attestation.nullable(),
  reputation: z.number(),
  verified: z.number(),
  faults: z.number(),
  lates: z.number(),
  /** Paid out so far, and what open awards would pay at the bid price. */
  received: amount,
  owed: amount,
  openTasks: z.array(z.string()),
  registeredAtMs: z.number(),
  /** The provider's last signed heartbeat this node heard (`harmony/1/provider`), ms; null when none. */
  lastHeartbeatMs: z.number().nullable()
})

const Payment = z.object({
  taskId: z.string(),
  amount,
  /** When the settle that paid it became final; null while owed. */
  atMs: z.number().nullable(),
  txId: z.string().nullable()
})

export const ProviderStatusResult = z.object({
  address,
  enabled: z.boolean(),
  registered: z.boolean(),
  /**
   * Why the registration this provider wants (its bond, key and capability) is not on the DAG yet, a slashed bond's
   * top-up included; null once it is. `unfunded`: the account cannot pay bond + fee (`balance`, `needed`);
   * `submitted`: sent, not final yet (`txId`); `failed`: the last try failed (`error`). Tried again on its own.
   */
  registrationWait: z.object({
    reason: z.enum(['unfunded', 'submitted', 'failed']),
    atMs: z.number(),
    balance: amount.nullable(),
    needed: amount.nullable(),
    txId: z.string().nullable(),
    error: z.string().nullable()
  }).nullable(),
  provider: ProviderResult.nullable(),
  /** The pricing policy in force (base units per GFLOP, minimum per task, concurrent tasks). */
  pricing: z.object({ perGflop: amount, minimum: amount, capacity: z.number() }).nullable(),
  active: z.array(z.object({ taskId: z.string(), stage: z.string(), sinceMs: z.number() })),
  /** Recent tasks it did not bid on, with why (capability, price-floor, escrow-missing, capacity, denied, too-late, ...). */
  skipped: z.array(z.object({ taskId: z.string(), reason: z.string(), atMs: z.number() })),
  payments: z.object({
    owed: z.array(Payment),
    received: z.array(Payment),
    /** Owed past the verification window with no settle final: visible so an operator can ask why. */
    stuck: z.array(Payment),
    slashed: z.array(z.object({ taskId: z.string(), amount, reason: z.string(), atMs: z.number(), txId: z.string() }))
  }),
  /** This provider's input claims on its recent tasks and their verdicts (why it was or was not slashed late). */
  inputClaims: z.array(InputClaim.extend({ taskId: z.string() }))
})
