import { z } from 'zod'
import { isAddress } from '../../core/address.ts'
import { ConfigError } from '../../core/errors.ts'

/**
 * The `provider` block of the node config (config file mapping, or JSON in `--provider` / `HARMONY_PROVIDER`):
 * whether this node sells compute, the bond it stakes, and its pricing policy. Amounts are AGC base units
 * (18 decimals) written as decimal strings, because YAML and JSON numbers lose precision past 2^53.
 */

// 1 AGC = 10^18 base units.
const AGC = 10n ** 18n
/** @default 100 AGC: the stake a provider registers with (it loses part of it for a wrong or late result). */
export const DEFAULT_PROVIDER_BOND = 100n * AGC
/** @default 0.001 AGC per GFLOP of the task's work. */
export const DEFAULT_PRICE_PER_GFLOP = AGC / 1000n
/** @default 0.001 AGC: the least a provider bids for any task, however small. */
export const DEFAULT_MIN_PRICE = AGC / 1000n
/**
 * @default 16 tasks held at once: bids not yet decided plus awarded tasks not yet answered (small tasks queue
 * behind the executor's one running task; its queue holds 32).
 */
export const DEFAULT_CAPACITY = 16
/**
 * Largest `capacity`: what a provider holds is bounded memory (a bid record each, at most OPEN_BIDS_PER_SLOT × capacity
 * open) and fits the heartbeat's u16. 64 held small tasks (milliseconds of work each) left a provider refusing to
 * reveal while its sandbox idled; a machine that runs many at once may say so.
 */
export const MAX_CAPACITY = 4096
/** @default 64 MiB of inputs plus outputs per task. */
export const DEFAULT_MAX_TASK_BYTES = 64 * 1024 * 1024
/** @default 1000 GFLOP per task. */
export const DEFAULT_MAX_TASK_GFLOP = 1000
// Bounds on what a config may ask for: an allow/deny list is an operator's, not a registry.
const MAX_LIST = 1000
const U128_MAX = (1n << 128n) - 1n

/** A u128 amount of base units: a decimal string, or a safe integer (YAML numbers). */
const amount = z.union([
  z.string().regex(/^[0-9]{1,39}$/, 'a decimal string of base units'),
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
]).transform((v, ctx) => {
  const value = BigInt(v)
  if (value > U128_MAX) {
    ctx.addIssue({ code: 'custom', message: 'amount is over u128' })
    return z.NEVER
  }
  return value
})

const address = z.string().refine(isAddress, 'a hmy1… address with a valid checksum')

/**
 * `faultInjection`: **test networks only** (refused unless the genesis is a devnet one, see
 * `assertFaultInjectionAllowed`). `wrong-result` makes the provider commit to and serve a corrupted output, so the
 * market's tests can show that a lying provider is caught; `false-input-claim` makes it claim, on every award of a
 * public task, that it could not fetch the inputs (input-claim) without trying, and never answer (it appeals only for
 * a second judge's `unavailable`), so the tests can show that a validator's `available` verdict leaves such a provider
 * slashed late as before; `false-input-verdict` acts on the node as a validator, not as a provider: when it judges
 * an input claim it answers the opposite of what its fetch found, so the tests can show that an appeal reaches an
 * honest judge (after a false `available`, the claimant's; after a false `unavailable`, the one a second judge's
 * verdict must confirm); `bad-envelopes` acts on the node's requester side: it seals a private task's inputs to a
 * key nobody holds, so the tests can show that a winner whose envelopes do not open is excused, not slashed (its claim
 * reveals its task key). It is the standard way to test slashing (Lodestar and Prysm carry such flags for their test
 * networks); with the default `none` it changes nothing.
 */
export const FAULT_INJECTIONS = ['none', 'wrong-result', 'false-input-claim', 'false-input-verdict', 'bad-envelopes'] as const
export type FaultInjection = (typeof FAULT_INJECTIONS)[number]

export const providerConfigSchema = z.strictObject({
  /** Sell compute: register with the bond, bid on announces, run awarded tasks. @default false */
  enabled: z.boolean().default(false),
  /** Bond staked at registration, base units. @default 100 AGC */
  bond: amount.default(DEFAULT_PROVIDER_BOND),
  /** Price per GFLOP of a task's work, base units. @default 0.001 AGC */
  pricePerGflop: amount.default(DEFAULT_PRICE_PER_GFLOP),
  /** Least price bid for any task, base units. @default 0.001 AGC */
  minPrice: amount.default(DEFAULT_MIN_PRICE),
  /** Tasks held at once (bids not yet decided + awarded tasks not yet answered); past it the provider does not bid. @default 16 */
  capacity: z.number().int().min(1).max(MAX_CAPACITY).default(DEFAULT_CAPACITY),
  /** Requesters served; empty serves everyone not denied. @default [] */
  allow: z.array(address).max(MAX_LIST).default([]),
  /** Requesters never served. @default [] */
  deny: z.array(address).max(MAX_LIST).default([]),
  /** Largest task (input plus output bytes) bid on. @default 67108864 */
  maxTaskBytes: z.number().int().min(1).max(1 << 30).default(DEFAULT_MAX_TASK_BYTES),
  /** Largest task (work, GFLOP) bid on. @default 1000 */
  maxTaskGflop: z.number().positive().max(1e9).default(DEFAULT_MAX_TASK_GFLOP),
  /** Test networks only: make this provider lie (see FAULT_INJECTIONS). @default 'none' */
  faultInjection: z.enum(FAULT_INJECTIONS).default('none')
})

export type ProviderConfig = z.output<typeof providerConfigSchema>
export type ProviderConfigInput = z.input<typeof providerConfigSchema>

/**
 * The block as the node config holds it: JSON-safe (amounts as decimal strings), so it prints, renders into the
 * config file and travels as a flag like every other setting; `parseProviderConfig` turns it back into amounts.
 */
export type ProviderSettings = { [K in keyof ProviderConfig]: ProviderConfig[K] extends bigint ? string : ProviderConfig[K] }

export function toProviderSettings (config: ProviderConfig): ProviderSettings {
  return {
    ...config,
    bond: config.bond.toString(),
    pricePerGflop: config.pricePerGflop.toString(),
    minPrice: config.minPrice.toString()
  }
}

/** The defaults (a node that does not sell compute). */
export function defaultProviderConfig (): ProviderConfig {
  return providerConfigSchema.parse({})
}

/** Parses a provider block; throws CONFIG_INVALID with zod's description of what is wrong. */
export function parseProviderConfig (value: unknown): ProviderConfig {
  const parsed = providerConfigSchema.safeParse(value ?? {})
  if (!parsed.success) throw invalid(z.prettifyError(parsed.error))
  const config = parsed.data
  const denied = new Set(config.deny)
  const both = config.allow.filter(a => denied.has(a))
  if (both.length > 0) throw invalid(`requester ${both[0]} is both allowed and denied`)
  return config
}

function invalid (message: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `provider: ${message}`, { key: 'provider' })
}

/**
 * A devnet genesis is the one `harmonyd devnet` (and `generateGenesis`) makes: chain id `harmony-devnet`, or
 * `harmony-devnet-<suffix>` for several on one machine. Only there may a provider be told to lie.
 */
export function isDevnetChainId (chainId: string): boolean {
  return chainId === 'harmony-devnet' || chainId.startsWith('harmony-devnet-')
}

/** Refuses `faultInjection` other than `none` outside a devnet genesis. */
export function assertFaultInjectionAllowed (config: ProviderConfig, chainId: string): void {
  if (config.faultInjection !== 'none' && !isDevnetChainId(chainId)) {
    throw invalid(`faultInjection '${config.faultInjection}' is for test networks only; chain ${chainId} is not a devnet (remove it from the provider config)`)
  }
}
