/**
 * Input availability (docs/market.md "Inputs no peer serves"): `input-claim` (45), signed by an assigned provider
 * (winner or spot-checker) whose fetch of a task's inputs failed, before its deadline (on a private task it may reveal
 * its task key's seed, so that the judge can open the envelopes); `input-verdict` (46), a
 * validator's answer after it tried to fetch those inputs itself (`available`: it holds them now and serves them;
 * `unavailable`: no peer served them). A claim costs its sender a fee like any provider transaction; a provider may
 * appeal (claim again) up to MAX_INPUT_CLAIMS claims per round, each judged by another validator. A verdict names the
 * claim it answers (`attempt`: 0 for the first claim, 1.. for appeals), is validator-signed, fee 0, and acts for
 * `inputVerdictAccount(task, provider, round, attempt, validator)` with nonce 0: one verdict per validator and claim,
 * and only the claim's judge (rules/input-judge.ts) has one applied.
 */
import { ADDRESS_BYTES, addressBytesFromPublicKey, formatAddress } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { inputVerdictAccount } from '../accounts.ts'
import { KEM_SEED_BYTES } from '../blobs/seal.ts'
import { MAX_INPUT_CLAIMS } from '../rules/constants.ts'
import { MAX_AWARD_ROUNDS } from './decision.ts'
import { readEnum, writeEnum } from './fields.ts'
import { INPUT_VERDICTS, type InputVerdict, TX_KIND_INPUT_CLAIM, TX_KIND_INPUT_VERDICT } from './ids.ts'
import { TASK_ID_BYTES } from './provider.ts'

export interface InputClaimPayload {
  taskId: Uint8Array
  /** The award round the signer was assigned in. */
  round: number
  /** 0 for the first claim of the round, 1.. for an appeal (below MAX_INPUT_CLAIMS). */
  attempt: number
  /**
   * A private task's claim only, when envelopes the claimant fetched did not open (s44): the 64-byte seed of its task
   * key (the key its bid revealed), so that the judge can open the envelopes itself and tell whether any open.
   */
  keySeed?: Uint8Array
}


function readRound (r: Reader): number {
  const round = r.u8()
  if (round >= MAX_AWARD_ROUNDS) r.fail(`round must be below ${MAX_AWARD_ROUNDS}`)
  return round
}

function readAttempt (r: Reader): number {
  const attempt = r.u8()
  if (attempt >= MAX_INPUT_CLAIMS) r.fail(`attempt must be below ${MAX_INPUT_CLAIMS}`)
  return attempt
}

export const inputClaimKind: TxKind<InputClaimPayload> = {
  id: TX_KIND_INPUT_CLAIM,
  name: 'input-claim',
  maxPayloadBytes: TASK_ID_BYTES + 2 + KEM_SEED_BYTES,
  encode (p) {
    const w = new Writer(TASK_ID_BYTES + 2 + KEM_SEED_BYTES).fixed(p.taskId, TASK_ID_BYTES).u8(p.round).u8(p.attempt)
    if (p.keySeed !== undefined) w.fixed(p.keySeed, KEM_SEED_BYTES)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'input-claim payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const round = readRound(r)
    const attempt = readAttempt(r)
    const keySeed = r.remaining === 0 ? undefined : r.fixed(KEM_SEED_BYTES)
    r.end()
    return { taskId, round, attempt, ...(keySeed === undefined ? {} : { keySeed }) }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, round: p.round, attempt: p.attempt, ...(p.keySeed === undefined ? {} : { keySeed: `0x${toHex(p.keySeed)}` }) } }
}

export interface InputVerdictPayload {
  taskId: Uint8Array
  round: number
  /** The claimant (20 bytes). */
  provider: Uint8Array
  /** Which of the claimant's claims of the round it answers: 0 the first, 1.. its appeals (below MAX_INPUT_CLAIMS). */
  attempt: number
  outcome: InputVerdict
}

export const inputVerdictKind: TxKind<InputVerdictPayload> = {
  id: TX_KIND_INPUT_VERDICT,
  name: 'input-verdict',
  maxPayloadBytes: TASK_ID_BYTES + 1 + ADDRESS_BYTES + 2,
  encode (p) {
    const w = new Writer(TASK_ID_BYTES + 3 + ADDRESS_BYTES).fixed(p.taskId, TASK_ID_BYTES).u8(p.round).fixed(p.provider, ADDRESS_BYTES).u8(p.attempt)
    writeEnum(w, INPUT_VERDICTS, p.outcome)
    return w.finish()
  },
  decode (bytes) {
    const r = new Reader(bytes, 'input-verdict payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const round = readRound(r)
    const provider = r.fixed(ADDRESS_BYTES)
    const attempt = readAttempt(r)
    const outcome = readEnum(r, INPUT_VERDICTS, 'input verdict')
    r.end()
    return { taskId, round, provider, attempt, outcome }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, round: p.round, provider: formatAddress(p.provider), attempt: p.attempt, outcome: p.outcome } },
  account (p, signer) { return inputVerdictAccount(p.taskId, p.provider, p.round, p.attempt, addressBytesFromPublicKey(signer.publicKey)) },
  validate (_p, tx) {
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', 'an input-verdict has fee 0')
    if (tx.nonce !== 0n) throw new DagError('ENCODING_INVALID', 'an input-verdict has nonce 0 (one per validator and claim)')
  },
  validatorOnly: true,
  feeExempt: true
}
