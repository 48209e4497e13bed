/**
 * Provider kinds: `provider-register` (32, the provider's bond, ML-KEM-768 key and capability record),
 * `provider-attest` (33, a validator's benchmark-challenge verdict) and `bond-slash` (40, a validator takes part of a
 * bond for a late or faulty result and pays it to the task's requester).
 */
import { ADDRESS_BYTES, formatAddress } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { bondAccount } from '../accounts.ts'
import { readBool, readEnum, readText, writeEnum, writeText } from './fields.ts'
import { EXECUTOR_KINDS, type ExecutorKindName, SLASH_REASONS, type SlashReason, TX_KIND_BOND_SLASH, TX_KIND_PROVIDER_ATTEST, TX_KIND_PROVIDER_REGISTER } from './ids.ts'

/** ML-KEM-768 public key (FIPS 203). */
export const ML_KEM768_PUBLIC_KEY_BYTES = 1184
/** FIPS 203's modulus q: every coefficient of an encapsulation key is below it. */
const ML_KEM_Q = 3329

/**
 * FIPS 203's check of an ML-KEM-768 encapsulation key (§7.2, "modulus check"): 1152 bytes of 768 12-bit
 * coefficients, each below q, then the 32-byte seed ρ. A key that fails it cannot be encapsulated to.
 */
export function mlKem768PublicKeyValid (key: Uint8Array): boolean {
  if (key.length !== ML_KEM768_PUBLIC_KEY_BYTES) return false
  for (let i = 0; i < ML_KEM768_PUBLIC_KEY_BYTES - 32; i += 3) {
    const b1 = key[i + 1]
    if ((key[i] | ((b1 & 0x0f) << 8)) >= ML_KEM_Q || ((b1 >> 4) | (key[i + 2] << 4)) >= ML_KEM_Q) return false
  }
  return true
}
export const MAX_ADAPTER_BYTES = 64
export const MAX_PROFILE_BYTES = 32
export const TASK_ID_BYTES = 32

/** What a provider says it can run; backed by a benchmark challenge (provider-attest). */
export interface Capability {
  executor: ExecutorKindName
  /** Adapter description (vendor/architecture/device), ≤ 64 bytes UTF-8. */
  adapter: string
  memoryMiB: number
  /** Measured GFLOP/s × 1000. */
  gflopsMilli: number
  /** Executor profile (compute EXECUTION_PROFILE) its results are bitwise comparable within, ≤ 32 bytes. */
  profile: string
}

export interface ProviderRegisterPayload {
  /** Added to the provider's bond (0 allowed on a re-register that only updates key and capability). */
  bond: bigint
  kemPublicKey: Uint8Array
  capability: Capability
}

function writeCapability (w: Writer, c: Capability): void {
  writeEnum(w, EXECUTOR_KINDS, c.executor)
  writeText(w, c.adapter)
  w.u32(c.memoryMiB).u32(c.gflopsMilli)
  writeText(w, c.profile)
}

function readCapability (r: Reader): Capability {
  const executor = readEnum(r, EXECUTOR_KINDS, 'executor')
  const adapter = readText(r, MAX_ADAPTER_BYTES, 'adapter')
  const memoryMiB = r.u32()
  const gflopsMilli = r.u32()
  const profile = readText(r, MAX_PROFILE_BYTES, 'profile')
  return { executor, adapter, memoryMiB, gflopsMilli, profile }
}

export function capabilityToJSON (c: Capability): Record<string, unknown> {
  return { executor: c.executor, adapter: c.adapter, memoryMiB: c.memoryMiB, gflops: c.gflopsMilli / 1000, profile: c.profile }
}

export const providerRegisterKind: TxKind<ProviderRegisterPayload> = {
  id: TX_KIND_PROVIDER_REGISTER,
  name: 'provider-register',
  maxPayloadBytes: 16 + ML_KEM768_PUBLIC_KEY_BYTES + 1 + 4 + MAX_ADAPTER_BYTES + 8 + 4 + MAX_PROFILE_BYTES,
  encode (p) {
    const w = new Writer(1400).u128(p.bond).fixed(p.kemPublicKey, ML_KEM768_PUBLIC_KEY_BYTES)
    writeCapability(w, p.capability)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'provider-register payload')
    const bond = r.u128()
    const kemPublicKey = r.fixed(ML_KEM768_PUBLIC_KEY_BYTES)
    const capability = readCapability(r)
    r.end()
    return { bond, kemPublicKey, capability }
  },
  effects (p, tx) { return { debit: p.bond, credits: p.bond === 0n ? [] : [{ to: bondAccount(tx.account), amount: p.bond }] } },
  toJSON (p) { return { bond: p.bond.toString(), kemPublicKey: `0x${toHex(p.kemPublicKey)}`, capability: capabilityToJSON(p.capability) } }
}

export interface ProviderAttestPayload {
  provider: Uint8Array
  /** The challenge's id (32 bytes): ties the verdict to one random kernel sent to one provider key and adapter. */
  challengeId: Uint8Array
  /** What the challenge measured, GFLOP/s × 1000. */
  measuredGflopsMilli: number
  passed: boolean
}

/** Validator-signed records act for a system account with fee 0 (they cost the network, not a signer). */
function systemValidate (name: string) {
  return (_p: unknown, tx: { fee: bigint }): void => {
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', `a ${name} has fee 0`)
  }
}

export const providerAttestKind: TxKind<ProviderAttestPayload> = {
  id: TX_KIND_PROVIDER_ATTEST,
  name: 'provider-attest',
  maxPayloadBytes: ADDRESS_BYTES + 32 + 4 + 1,
  encode (p) { return new Writer(57).fixed(p.provider, ADDRESS_BYTES).fixed(p.challengeId, 32).u32(p.measuredGflopsMilli).u8(p.passed ? 1 : 0).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'provider-attest payload')
    const provider = r.fixed(ADDRESS_BYTES)
    const challengeId = r.fixed(32)
    const measuredGflopsMilli = r.u32()
    const passed = readBool(r, 'passed')
    r.end()
    return { provider, challengeId, measuredGflopsMilli, passed }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { provider: formatAddress(p.provider), challengeId: `0x${toHex(p.challengeId)}`, measuredGflops: p.measuredGflopsMilli / 1000, passed: p.passed } },
  account (p) { return bondAccount(p.provider) },
  validate: systemValidate('provider-attest'),
  validatorOnly: true,
  feeExempt: true
}

export interface BondSlashPayload {
  provider: Uint8Array
  taskId: Uint8Array
  reason: SlashReason
  amount: bigint
  /** Who receives the slashed amount: the task's requester (checked by every validator against its market state). */
  beneficiary: Uint8Array
}

export const bondSlashKind: TxKind<BondSlashPayload> = {
  id: TX_KIND_BOND_SLASH,
  name: 'bond-slash',
  maxPayloadBytes: ADDRESS_BYTES + TASK_ID_BYTES + 1 + 16 + ADDRESS_BYTES,
  encode (p) {
    const w = new Writer(89).fixed(p.provider, ADDRESS_BYTES).fixed(p.taskId, TASK_ID_BYTES)
    writeEnum(w, SLASH_REASONS, p.reason)
    return w.u128(p.amount).fixed(p.beneficiary, ADDRESS_BYTES).finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'bond-slash payload')
    const provider = r.fixed(ADDRESS_BYTES)
    const taskId = r.fixed(TASK_ID_BYTES)
    const reason = readEnum(r, SLASH_REASONS, 'slash reason')
    const amount = r.u128()
    const beneficiary = r.fixed(ADDRESS_BYTES)
    r.end()
    // amount 0 is valid: a provider with no bond left is still slashed (a record of the fault or the lateness that
    // lets its task go on, and counts in its reputation); it moves nothing
    return { provider, taskId, reason, amount, beneficiary }
  },
  effects (p) { return { debit: p.amount, credits: p.amount > 0n ? [{ to: p.beneficiary, amount: p.amount }] : [] } },
  toJSON (p) { return { provider: formatAddress(p.provider), taskId: `0x${toHex(p.taskId)}`, reason: p.reason, amount: p.amount.toString(), beneficiary: formatAddress(p.beneficiary) } },
  account (p) { return bondAccount(p.provider) },
  validate: systemValidate('bond-slash'),
  validatorOnly: true,
  feeExempt: true,
  externalCheck: true
}

export { systemValidate }
