import { readBoundedText } from '../core/bounded-file.ts'
import { z } from 'zod'
import { addressBytesFromPublicKey, addressFromPublicKey, formatAddress, parseAddress } from '../core/address.ts'
import { fromHex, toHex, Writer } from '../core/codec.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, sha256 } from '../core/crypto.ts'
import { DagError } from './errors.ts'

/** Avalanche parameters. Defaults follow avalanchego's (k=20, α=15, β_virtuous=15, β_rogue=20). */
export interface ConsensusParams {
  /** Validator keys asked per poll (all of them when there are at most k). Never reduced to the reachable ones. */
  k: number
  /** A poll succeeds with α/k of the stake asked (of the TOTAL stake with ≤ k validators); α/k > 2/3. */
  alpha: number
  /** Consecutive successful queries that finalize a transaction without conflicts. */
  betaVirtuous: number
  /** Consecutive successful queries that finalize a transaction with conflicts. */
  betaRogue: number
  /**
   * How vertices become final: `avalanche`, repeated polling (the network's rule since s1); `commit`, the DAG commit
   * rule of docs/consensus-next.md (rounds, leaders, no polls; k and α still give the quorum ⌈α/k · W⌉), for at most
   * COMMIT_RULE_MAX_VALIDATORS (48) validators. Absent in a genesis file: `avalanche` (a genesis written before the
   * rule keeps its meaning and its id); `generateGenesis` writes `commit` unless told otherwise (the default since s29).
   */
  rule?: ConsensusRule
  /**
   * Under `commit`: leader slots per round, 1 to the number of validators (docs/consensus-next.md step 6). With every
   * validator a leader, each vertex is a slot of its own and commits two rounds up; with one, a vertex that is not
   * its round's leader is ordered a round later. Absent: one (a commit genesis written before the setting keeps its
   * meaning); `generateGenesis` writes the number of validators.
   */
  leaders?: number
}

export type ConsensusRule = 'avalanche' | 'commit'
/**
 * Validators a `commit` genesis may have: a vertex names one vertex of each author of the round below it holds
 * (vertex.ts MAX_ROUND_PARENTS, 64), which leaves 16 ids for weak links.
 */
export const COMMIT_RULE_MAX_VALIDATORS = 48

/** ⌈α/k × stake⌉ in integers (α, k ≤ 100 and stake ≤ 10^9 by the genesis rules: exact in a double). */
export function quorumOf (stake: number, params: Pick<ConsensusParams, 'k' | 'alpha'>): number {
  return Math.ceil((params.alpha * stake) / params.k)
}

/**
 * What the kinds' order checks read under the commit rule (TxKind.orderCheck): every validator's address and stake,
 * and the quorum of the total stake. Undefined under Avalanche, where no order check runs.
 */
export function orderCheckContextOf (genesis: Pick<Genesis, 'validators' | 'consensus'>): { validators: Array<{ address: Uint8Array, stake: number }>, quorum: number } | undefined {
  if (genesis.consensus.rule !== 'commit') return undefined
  const validators = genesis.validators.map(v => ({ address: addressBytesFromPublicKey(v.publicKey), stake: v.weight }))
  return { validators, quorum: quorumOf(validators.reduce((s, v) => s + v.stake, 0), genesis.consensus) }
}

export const DEFAULT_CONSENSUS: ConsensusParams = { k: 20, alpha: 15, betaVirtuous: 15, betaRogue: 20 }

export interface GenesisValidator {
  publicKey: Uint8Array
  weight: number
  name?: string
}

export interface Genesis {
  chainId: string
  timestampMs: number
  /** Smallest fee a transaction may pay, in base units. */
  minFee: bigint
  allocations: Array<{ address: Uint8Array, balance: bigint }>
  /** The funded faucet account (also in allocations); devnets hand out tokens from it. */
  faucet?: Uint8Array
  validators: GenesisValidator[]
  consensus: ConsensusParams
}

const amount = z.string().regex(/^[0-9]{1,38}$/, 'expected a decimal string of base units (u128)')
const hex = z.string().regex(/^(0x)?[0-9a-fA-F]*$/, 'expected hex')
const genesisSchema = z.object({
  chainId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'chainId: lowercase letters, digits and dashes, 1..63 chars'),
  timestampMs: z.number().int().nonnegative(),
  minFee: amount,
  allocations: z.array(z.object({ address: z.string(), balance: amount })).max(100_000),
  faucet: z.string().optional(),
  validators: z.array(z.object({ publicKey: hex, weight: z.number().int().positive().max(1_000_000), name: z.string().max(64).optional() })).min(1).max(1000),
  consensus: z.object({
    k: z.number().int().min(1).max(100),
    alpha: z.number().int().min(1).max(100),
    betaVirtuous: z.number().int().min(1).max(10_000),
    betaRogue: z.number().int().min(1).max(10_000),
    rule: z.enum(['avalanche', 'commit']).optional(),
    leaders: z.number().int().min(1).max(COMMIT_RULE_MAX_VALIDATORS).optional()
  }).strict()
}).strict()

export type GenesisJson = z.input<typeof genesisSchema>

/** Validates a parsed genesis JSON value; throws GENESIS_INVALID naming the field. */
export function parseGenesis (json: unknown): Genesis {
  const parsed = genesisSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new DagError('GENESIS_INVALID', `genesis: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  const g = parsed.data
  const c = g.consensus
  checkConsensusParams(c)
  const fail = (path: string, e: unknown): never => {
    throw new DagError('GENESIS_INVALID', `genesis: ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const allocations = g.allocations.map((a, i) => {
    try { return { address: parseAddress(a.address), balance: BigInt(a.balance) } } catch (e) { return fail(`allocations.${i}.address`, e) }
  })
  const seenAlloc = new Set<string>()
  for (const a of allocations) {
    const h = toHex(a.address)
    if (seenAlloc.has(h)) throw new DagError('GENESIS_INVALID', 'genesis: duplicate allocation address')
    seenAlloc.add(h)
  }
  const validators = g.validators.map((v, i) => {
    let publicKey: Uint8Array
    try { publicKey = fromHex(v.publicKey) } catch (e) { return fail(`validators.${i}.publicKey`, e) }
    if (publicKey.length !== ML_DSA65_PUBLIC_KEY_BYTES) fail(`validators.${i}.publicKey`, `expected ${ML_DSA65_PUBLIC_KEY_BYTES} bytes of ML-DSA-65 public key`)
    return { publicKey, weight: v.weight, ...(v.name !== undefined ? { name: v.name } : {}) }
  })
  const totalStake = validators.reduce((sum, v) => sum + v.weight, 0)
  // α × total must stay exact in a double (the quorum is ⌈α × total / k⌉)
  if (!Number.isSafeInteger(totalStake * c.alpha)) throw new DagError('GENESIS_INVALID', 'genesis: validators: total stake × consensus.alpha must be a safe integer')
  const seenVal = new Set(validators.map(v => toHex(v.publicKey)))
  if (seenVal.size !== validators.length) throw new DagError('GENESIS_INVALID', 'genesis: duplicate validator public key')
  if (c.rule === 'commit' && validators.length > COMMIT_RULE_MAX_VALIDATORS) {
    throw new DagError('GENESIS_INVALID', `genesis: consensus.rule commit allows at most ${COMMIT_RULE_MAX_VALIDATORS} validators (a vertex names one of each)`)
  }
  if (c.leaders !== undefined && (c.rule !== 'commit' || c.leaders > validators.length)) {
    throw new DagError('GENESIS_INVALID', `genesis: consensus.leaders is for the commit rule, 1 to the number of validators (${validators.length})`)
  }
  let faucet: Uint8Array | undefined
  if (g.faucet !== undefined) {
    try { faucet = parseAddress(g.faucet) } catch (e) { fail('faucet', e) }
  }
  return { chainId: g.chainId, timestampMs: g.timestampMs, minFee: BigInt(g.minFee), allocations, ...(faucet !== undefined ? { faucet } : {}), validators, consensus: { ...c } }
}

/**
 * The consensus parameters a genesis may carry (docs/protocol.md, "Genesis parameters"): 0 < α ≤ k and α/k > 2/3,
 * so that two quorums overlap in more than a third of the stake and, with less than a third Byzantine, share an
 * honest validator; β_virtuous ≥ 1 and β_rogue ≥ β_virtuous. Throws GENESIS_INVALID naming the rule.
 */
export function checkConsensusParams (c: ConsensusParams): void {
  const refuse = (why: string): never => { throw new DagError('GENESIS_INVALID', `genesis: consensus: ${why}`) }
  for (const [name, v] of Object.entries(c)) if (name !== 'rule' && v !== undefined && (!Number.isSafeInteger(v) || v < 1)) refuse(`${name} must be a positive integer`)
  if (c.alpha > c.k) refuse('alpha must be at most k')
  // α/k > 2/3 in integers: 3α > 2k
  if (3 * c.alpha <= 2 * c.k) refuse(`alpha/k must be above 2/3 (two quorums must share more than a third of the stake); got ${c.alpha}/${c.k}`)
  if (c.betaRogue < c.betaVirtuous) refuse('betaRogue must be >= betaVirtuous')
}

// a genesis with a hundred thousand allocations is ~10 MB; a larger file is the wrong file
const MAX_GENESIS_FILE_BYTES = 32 * 1024 * 1024

export async function loadGenesis (path: string): Promise<Genesis> {
  let text: string
  try { text = await readBoundedText(path, MAX_GENESIS_FILE_BYTES) } catch (e) {
    throw new DagError('GENESIS_INVALID', `cannot read genesis file ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  let json: unknown
  try { json = JSON.parse(text) } catch { throw new DagError('GENESIS_INVALID', `genesis file ${path} is not valid JSON`) }
  return parseGenesis(json)
}

export function genesisToJson (g: Genesis): GenesisJson {
  return {
    chainId: g.chainId,
    timestampMs: g.timestampMs,
    minFee: g.minFee.toString(),
    allocations: g.allocations.map(a => ({ address: formatAddr(a.address), balance: a.balance.toString() })),
    ...(g.faucet !== undefined ? { faucet: formatAddr(g.faucet) } : {}),
    validators: g.validators.map(v => ({ publicKey: toHex(v.publicKey), weight: v.weight, ...(v.name !== undefined ? { name: v.name } : {}) })),
    consensus: { ...g.consensus }
  }
}

const formatAddr = formatAddress

/**
 * The genesis vertex id: sha256 over a canonical binary encoding of the genesis (allocations in address order,
 * validators in given order). Every vertex descends from it, so nodes with different genesis files never share a DAG.
 */
export function genesisId (g: Genesis): Uint8Array {
  const w = new Writer(4096)
  w.raw(new TextEncoder().encode('HARMONY/genesis/v1')).varBytes(new TextEncoder().encode(g.chainId)).u64(BigInt(g.timestampMs)).u128(g.minFee)
  const allocs = [...g.allocations].sort((a, b) => toHex(a.address).localeCompare(toHex(b.address)))
  w.u32(allocs.length)
  for (const a of allocs) w.fixed(a.address, 20).u128(a.balance)
  w.u8(g.faucet !== undefined ? 1 : 0)
  if (g.faucet !== undefined) w.fixed(g.faucet, 20)
  w.u32(g.validators.length)
  for (const v of g.validators) w.fixed(v.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).u32(v.weight)
  w.u32(g.consensus.k).u32(g.consensus.alpha).u32(g.consensus.betaVirtuous).u32(g.consensus.betaRogue)
  // appended only for the commit rule: every avalanche genesis keeps the id it had before the rule existed
  if (g.consensus.rule === 'commit') w.raw(new TextEncoder().encode('/rule:commit'))
  if (g.consensus.leaders !== undefined) w.raw(new TextEncoder().encode(`/leaders:${g.consensus.leaders}`))
  return sha256(w.finish())
}

export interface GenerateGenesisInit {
  /** @default 'harmony-devnet' */
  chainId?: string
  validatorPublicKeys: Uint8Array[]
  faucetPublicKey: Uint8Array
  /** @default 10^9 AGC (10^27 base units) */
  faucetBalance?: bigint
  allocations?: Array<{ address: Uint8Array, balance: bigint }>
  /** @default DEFAULT_CONSENSUS with rule `commit` */
  consensus?: Partial<ConsensusParams>
  /** Stake of each validator, in `validatorPublicKeys` order. @default 1 each */
  weights?: number[]
  /** @default 1000 base units */
  minFee?: bigint
  /** @default Date.now() */
  timestampMs?: number
}

/** A devnet genesis: validators (equal weights unless given) and a funded faucet. */
export function generateGenesis (init: GenerateGenesisInit): Genesis {
  const faucet = parseAddress(addressFromPublicKey(init.faucetPublicKey))
  const allocations = [{ address: faucet, balance: init.faucetBalance ?? 10n ** 27n }, ...(init.allocations ?? [])]
  const g: Genesis = {
    chainId: init.chainId ?? 'harmony-devnet',
    timestampMs: init.timestampMs ?? Date.now(),
    minFee: init.minFee ?? 1000n,
    allocations,
    faucet,
    validators: init.validatorPublicKeys.map((publicKey, i) => ({ publicKey, weight: init.weights?.[i] ?? 1, name: `validator-${i}` })),
    consensus: { ...DEFAULT_CONSENSUS, ...init.consensus, rule: init.consensus?.rule ?? 'commit' }
  }
  if (g.consensus.rule === 'commit' && g.validators.length > COMMIT_RULE_MAX_VALIDATORS) {
    throw new DagError('GENESIS_INVALID', `genesis: the commit rule (the default for a new network) allows at most ${COMMIT_RULE_MAX_VALIDATORS} validators (a vertex names one of each); pass consensus.rule 'avalanche' for ${g.validators.length}`)
  }
  // a new commit network: every validator leads a slot each round, unless the caller said otherwise
  if (g.consensus.rule === 'commit' && g.consensus.leaders === undefined) g.consensus.leaders = Math.min(g.validators.length, COMMIT_RULE_MAX_VALIDATORS)
  return parseGenesis(genesisToJson(g))
}
