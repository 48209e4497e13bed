/**
 * The transaction builders, client-side (a wallet's transfer and withdraw, a requester's announce, a provider's
 * registration, bids and result) and validator-side (attest, award, settle, slash, re-execution), refuse a number the transaction cannot carry with the ledger's DagError naming the
 * field and its range, never the encoder's RangeError; the bounds themselves build.
 */
import test from 'ava'
import { buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import { registerBridgeKinds } from '../../src/bridge/kinds/index.ts'
import { formatAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { DagError, isDagError } from '../../src/dag/errors.ts'
import { buildTransfer, decodeTx, encodeTx, MAX_TX_AMOUNT, MAX_TX_NONCE, type Transaction } from '../../src/dag/tx.ts'
import { signTransfer } from '../../src/dag/wallet.ts'
import {
  buildBidCommit, buildBidCommits, buildBidReveal, buildBidReveals, buildBondSlash, buildProviderAttest, buildProviderRegister, buildTaskAnnounce,
  buildTaskAward, buildTaskCancel, buildTaskReexec, buildTaskResult, buildTaskSettle, type BondSlashPayload, BUDGET_LIMIT, type ProviderAttestPayload,
  registerMarketKinds, type SignedBy, type TaskAnnouncePayload, type TaskAwardPayload, type TaskReexecPayload, type TaskResultPayload, type TaskSettlePayload
} from '../../src/market/kinds/index.ts'
import { cpuProvider, matmulAnnounce } from '../helpers/market.ts'

registerBridgeKinds()
registerMarketKinds()
const key = generateKeyPair(new Uint8Array(32).fill(5))
const to = new Uint8Array(20).fill(9)
const evmAddress = new Uint8Array(20).fill(3)
const by: SignedBy = { chainId: 'c', keys: key, nonce: 0n, fee: 1000n }
const transfer = (over: Partial<Parameters<typeof buildTransfer>[0]>): ReturnType<typeof buildTransfer> => buildTransfer({ chainId: 'c', ...key, to, amount: 5n, nonce: 0n, fee: 1000n, ...over })
const withdraw = (over: Partial<Parameters<typeof buildWithdraw>[0]>): ReturnType<typeof buildWithdraw> => buildWithdraw({ chainId: 'c', ...key, evmAddress, amount: 5n, nonce: 0n, fee: 1000n, ...over })
const announce = (over: Partial<TaskAnnouncePayload>): unknown => buildTaskAnnounce(by, matmulAnnounce(over))
const result = (over: Partial<TaskResultPayload>): unknown => buildTaskResult(by, { taskId: new Uint8Array(32).fill(1), round: 0, commitment: new Uint8Array(32), outputBlob: new Uint8Array(32), outputBytes: 64, profile: 'cpu-ref-v1', ...over })
const salt = new Uint8Array(32).fill(2)
const taskId = new Uint8Array(32).fill(1)

type Case = [string, () => unknown, DagError['code'], string]

function refuses (t: import('ava').ExecutionContext, cases: Case[]): void {
  for (const [what, build, code, message] of cases) {
    const err = t.throws(build, { instanceOf: DagError, message }, what)
    t.true(isDagError(err), what)
    t.is(err?.code, code, what)
  }
}

test('a transfer or a withdraw refuses an amount, nonce, fee or address out of range, naming it; the bounds build', (t) => {
  refuses(t, [
    ['transfer amount above u128', () => transfer({ amount: MAX_TX_AMOUNT + 1n }), 'AMOUNT_INVALID', `amount must be an integer from 1 to 2^128-1, got ${MAX_TX_AMOUNT + 1n}`],
    ['transfer amount negative', () => transfer({ amount: -1n }), 'AMOUNT_INVALID', 'amount must be an integer from 1 to 2^128-1, got -1'],
    ['transfer amount a number', () => transfer({ amount: 5 as unknown as bigint }), 'AMOUNT_INVALID', 'amount must be a bigint from 1 to 2^128-1, got 5 (number)'],
    ['transfer nonce above u64', () => transfer({ nonce: MAX_TX_NONCE + 1n }), 'ENCODING_INVALID', `nonce must be an integer from 0 to 2^64-1, got ${MAX_TX_NONCE + 1n}`],
    ['transfer nonce negative', () => transfer({ nonce: -1n }), 'ENCODING_INVALID', 'nonce must be an integer from 0 to 2^64-1, got -1'],
    ['transfer fee negative', () => transfer({ fee: -1n }), 'AMOUNT_INVALID', 'fee must be an integer from 0 to 2^128-1, got -1'],
    ['transfer fee above u128', () => transfer({ fee: 1n << 128n }), 'AMOUNT_INVALID', `fee must be an integer from 0 to 2^128-1, got ${1n << 128n}`],
    ['transfer recipient of 19 bytes', () => transfer({ to: new Uint8Array(19) }), 'ADDRESS_INVALID', 'to must be a 20-byte address, got 19 bytes'],
    ['signTransfer fee negative', () => signTransfer(key, { chainId: 'c', to: formatAddress(to), amount: 1n, nonce: 0n, fee: -5n }), 'AMOUNT_INVALID', 'fee must be an integer from 0 to 2^128-1, got -5'],
    ['withdraw amount above u128', () => withdraw({ amount: 1n << 130n }), 'AMOUNT_INVALID', `amount must be an integer from 1 to 2^128-1, got ${1n << 130n}`],
    ['withdraw nonce above u64', () => withdraw({ nonce: 1n << 64n }), 'ENCODING_INVALID', `nonce must be an integer from 0 to 2^64-1, got ${1n << 64n}`],
    ['withdraw fee negative', () => withdraw({ fee: -1n }), 'AMOUNT_INVALID', 'fee must be an integer from 0 to 2^128-1, got -1'],
    ['withdraw EVM address of 32 bytes', () => withdraw({ evmAddress: new Uint8Array(32).fill(1) }), 'ADDRESS_INVALID', 'evmAddress must be a 20-byte address, got 32 bytes']
  ])
  // the largest amount, nonce and fee a transaction carries build and decode
  for (const tx of [transfer({ amount: MAX_TX_AMOUNT, nonce: MAX_TX_NONCE, fee: MAX_TX_AMOUNT }), withdraw({ amount: MAX_TX_AMOUNT, nonce: MAX_TX_NONCE, fee: 0n })]) {
    const back = decodeTx(encodeTx(tx))
    t.is(back.nonce, MAX_TX_NONCE)
    t.deepEqual(back, tx)
  }
})

test('market builders refuse a budget, price, bond or field out of range, naming it; the bounds build', (t) => {
  const U32 = 0xffff_ffff
  refuses(t, [
    ['announce budget above u128', () => announce({ budget: 1n << 128n }), 'AMOUNT_INVALID', `budget must be an integer from 1 to 2^120-1, got ${1n << 128n}`],
    ['announce budget negative', () => announce({ budget: -10n }), 'AMOUNT_INVALID', 'budget must be an integer from 1 to 2^120-1, got -10'],
    ['announce budget at 2^120', () => announce({ budget: BUDGET_LIMIT }), 'AMOUNT_INVALID', `budget must be an integer from 1 to 2^120-1, got ${BUDGET_LIMIT}`],
    ['announce redundancy above u8', () => announce({ redundancy: 300, verification: 'redundancy' }), 'ENCODING_INVALID', 'redundancy must be an integer from 1 to 5, got 300'],
    ['announce k above redundancy', () => announce({ redundancy: 2, k: 256, verification: 'redundancy' }), 'ENCODING_INVALID', 'k must be an integer from 1 to 2, got 256'],
    ['announce output limit negative', () => announce({ outputLimitBytes: -5 }), 'ENCODING_INVALID', `outputLimitBytes must be an integer from 1 to ${U32}, got -5`],
    ['announce bid window above u32', () => announce({ bidWindowMs: 2 ** 32 }), 'ENCODING_INVALID', `bidWindowMs must be an integer from 1 to 600000, got ${2 ** 32}`],
    ['announce reveal window fractional', () => announce({ revealWindowMs: 1.5 }), 'ENCODING_INVALID', 'revealWindowMs must be an integer from 1 to 600000, got 1.5'],
    ['announce deadline negative', () => announce({ executionDeadlineMs: -1 }), 'ENCODING_INVALID', 'executionDeadlineMs must be an integer from 1 to 86400000, got -1'],
    ['announce GFLOP/s above u32', () => announce({ requirements: { executor: 'any', minGflopsMilli: 2 ** 32, minMemoryMiB: 0, attested: false } }), 'ENCODING_INVALID', `requirements.minGflopsMilli must be an integer from 0 to ${U32}, got ${2 ** 32}`],
    ['announce unknown verification mode', () => announce({ verification: 'sometimes' as TaskAnnouncePayload['verification'] }), 'ENCODING_INVALID', '"sometimes" is not one of none, redundancy, spot-check'],
    ['announce nonce above u64', () => buildTaskAnnounce({ ...by, nonce: 1n << 64n }, matmulAnnounce()), 'ENCODING_INVALID', `nonce must be an integer from 0 to 2^64-1, got ${1n << 64n}`],
    ['announce fee negative', () => buildTaskAnnounce({ ...by, fee: -1n }, matmulAnnounce()), 'AMOUNT_INVALID', 'fee must be an integer from 0 to 2^128-1, got -1'],
    ['register bond negative', () => buildProviderRegister(by, cpuProvider(-1n)), 'AMOUNT_INVALID', 'bond must be an integer from 0 to 2^128-1, got -1'],
    ['register memory above u32', () => buildProviderRegister(by, cpuProvider(1n, { memoryMiB: 2 ** 32 })), 'ENCODING_INVALID', `capability.memoryMiB must be an integer from 0 to ${U32}, got ${2 ** 32}`],
    ['commit price above u128', () => buildBidCommit(by, taskId, 1n << 128n, salt), 'AMOUNT_INVALID', `price must be an integer from 0 to 2^128-1, got ${1n << 128n}`],
    ['reveal price negative', () => buildBidReveal(by, { taskId, price: -3n, salt }), 'AMOUNT_INVALID', 'price must be an integer from 1 to 2^128-1, got -3'],
    ['batched commit price negative', () => buildBidCommits(by, [{ taskId, price: 5n, salt }, { taskId: salt, price: -1n, salt }]), 'AMOUNT_INVALID', 'bids[1].price must be an integer from 0 to 2^128-1, got -1'],
    ['batched reveal price above u128', () => buildBidReveals(by, [{ taskId, price: 1n << 128n, salt }]), 'AMOUNT_INVALID', `reveals[0].price must be an integer from 1 to 2^128-1, got ${1n << 128n}`],
    ['empty commit batch', () => buildBidCommits(by, []), 'ENCODING_INVALID', 'bid-commits carries 1 to 48 entries, got 0'],
    ['result round above u8', () => result({ round: 256 }), 'ENCODING_INVALID', 'round must be an integer from 0 to 15, got 256'],
    ['result output bytes negative', () => result({ outputBytes: -1 }), 'ENCODING_INVALID', `outputBytes must be an integer from 0 to ${U32}, got -1`]
  ])
  const tx = buildTaskAnnounce(by, matmulAnnounce({ budget: BUDGET_LIMIT - 1n, outputLimitBytes: U32, bidWindowMs: 600_000, executionDeadlineMs: 86_400_000 })).tx
  t.deepEqual(decodeTx(encodeTx(tx)), tx)
  t.notThrows(() => buildProviderRegister(by, cpuProvider(MAX_TX_AMOUNT, { memoryMiB: U32 })))
  t.notThrows(() => buildBidReveal(by, { taskId, price: MAX_TX_AMOUNT, salt }))
  t.notThrows(() => result({ round: 15, outputBytes: U32 }))
})

test('market builders refuse a byte field of the wrong length with a DagError naming the kind, not the encoder\'s RangeError', (t) => {
  const short = new Uint8Array(31)
  refuses(t, [
    ['commit salt of 31 bytes (only hashed, never encoded)', () => buildBidCommit(by, taskId, 5n, short), 'ENCODING_INVALID', 'salt must be 32 bytes, got 31'],
    ['commit task id of 31 bytes', () => buildBidCommit(by, short, 5n, salt), 'ENCODING_INVALID', 'taskId must be 32 bytes, got 31'],
    ['batched commit salt of 31 bytes', () => buildBidCommits(by, [{ taskId, price: 5n, salt }, { taskId: salt, price: 5n, salt: short }]), 'ENCODING_INVALID', 'bids[1].salt must be 32 bytes, got 31'],
    ['reveal salt of 31 bytes', () => buildBidReveal(by, { taskId, price: 5n, salt: short }), 'ENCODING_INVALID', 'bid-reveal: expected 32 bytes, got 31'],
    ['result output blob of 31 bytes', () => result({ outputBlob: short }), 'ENCODING_INVALID', 'task-result: expected 32 bytes, got 31'],
    ['cancel task id of 33 bytes', () => buildTaskCancel(by, new Uint8Array(33)), 'ENCODING_INVALID', 'task-cancel: expected 32 bytes, got 33']
  ])
})

// the validator-signed kinds: fee 0, the system account's nonce
const addr = new Uint8Array(20).fill(7)
const attest = (over: Partial<ProviderAttestPayload>): Transaction => buildProviderAttest('c', key, 0n, { provider: addr, challengeId: salt, measuredGflopsMilli: 1500, passed: true, ...over })
const award = (over: Partial<TaskAwardPayload>): Transaction => buildTaskAward('c', key, 0n, { taskId, round: 0, considered: [salt], winners: [addr], ...over })
const settle = (over: Partial<TaskSettlePayload>): Transaction => buildTaskSettle('c', key, 0n, { taskId, outcome: 'paid', payouts: [{ provider: addr, amount: 90n }], fee: 10n, refund: 0n, requester: addr, ...over })
const slash = (over: Partial<BondSlashPayload>): Transaction => buildBondSlash('c', key, 0n, { provider: addr, taskId, reason: 'late', amount: 5n, beneficiary: addr, ...over })
const reexec = (over: Partial<TaskReexecPayload>): Transaction => buildTaskReexec('c', key, { taskId, commitment: salt, ...over })

test('validator builders refuse a number out of range or a byte field of the wrong length with a DagError naming the field', (t) => {
  const U32 = 0xffff_ffff
  const short = new Uint8Array(31)
  refuses(t, [
    ['attest GFLOP/s negative', () => attest({ measuredGflopsMilli: -1 }), 'ENCODING_INVALID', `measuredGflopsMilli must be an integer from 0 to ${U32}, got -1`],
    ['attest GFLOP/s above u32', () => attest({ measuredGflopsMilli: 2 ** 32 }), 'ENCODING_INVALID', `measuredGflopsMilli must be an integer from 0 to ${U32}, got ${2 ** 32}`],
    ['attest provider of 19 bytes', () => attest({ provider: new Uint8Array(19) }), 'ENCODING_INVALID', 'provider must be 20 bytes, got 19'],
    ['attest challenge id of 31 bytes', () => attest({ challengeId: short }), 'ENCODING_INVALID', 'challengeId must be 32 bytes, got 31'],
    ['attest nonce negative', () => buildProviderAttest('c', key, -1n, { provider: addr, challengeId: salt, measuredGflopsMilli: 1, passed: true }), 'ENCODING_INVALID', 'nonce must be an integer from 0 to 2^64-1, got -1'],
    ['award round above u8', () => award({ round: 300 }), 'ENCODING_INVALID', 'round must be an integer from 0 to 15, got 300'],
    ['award round 16', () => award({ round: 16 }), 'ENCODING_INVALID', 'round must be an integer from 0 to 15, got 16'],
    ['award task id of 33 bytes', () => award({ taskId: new Uint8Array(33) }), 'ENCODING_INVALID', 'taskId must be 32 bytes, got 33'],
    ['award considered reveal of 31 bytes', () => award({ considered: [salt, short] }), 'ENCODING_INVALID', 'considered[1] must be 32 bytes, got 31'],
    ['award 65 considered reveals', () => award({ considered: Array.from({ length: 65 }, () => salt) }), 'ENCODING_INVALID', 'considered must be a list of at most 64 entries, got 65'],
    ['award winner of 19 bytes', () => award({ winners: [new Uint8Array(19)] }), 'ENCODING_INVALID', 'winners[0] must be 20 bytes, got 19'],
    ['award 6 winners', () => award({ winners: Array.from({ length: 6 }, () => addr) }), 'ENCODING_INVALID', 'winners must be a list of at most 5 entries, got 6'],
    ['award checker of 32 bytes', () => award({ checker: salt }), 'ENCODING_INVALID', 'checker must be 20 bytes, got 32'],
    ['settle payout 0', () => settle({ payouts: [{ provider: addr, amount: 0n }] }), 'AMOUNT_INVALID', 'payouts[0].amount must be an integer from 1 to 2^128-1, got 0'],
    ['settle payout negative', () => settle({ payouts: [{ provider: addr, amount: 1n }, { provider: addr, amount: -1n }] }), 'AMOUNT_INVALID', 'payouts[1].amount must be an integer from 1 to 2^128-1, got -1'],
    ['settle payout provider of 19 bytes', () => settle({ payouts: [{ provider: new Uint8Array(19), amount: 1n }] }), 'ENCODING_INVALID', 'payouts[0].provider must be 20 bytes, got 19'],
    ['settle 300 payouts', () => settle({ payouts: Array.from({ length: 300 }, () => ({ provider: addr, amount: 1n })) }), 'ENCODING_INVALID', 'payouts must be a list of at most 16 entries, got 300'],
    ['settle fee a number', () => settle({ fee: 5 as unknown as bigint }), 'AMOUNT_INVALID', 'fee must be a bigint from 0 to 2^128-1, got 5 (number)'],
    ['settle refund above u128', () => settle({ refund: 1n << 128n }), 'AMOUNT_INVALID', `refund must be an integer from 0 to 2^128-1, got ${1n << 128n}`],
    ['settle requester of 21 bytes', () => settle({ requester: new Uint8Array(21) }), 'ENCODING_INVALID', 'requester must be 20 bytes, got 21'],
    ['slash amount negative', () => slash({ amount: -1n }), 'AMOUNT_INVALID', 'amount must be an integer from 0 to 2^128-1, got -1'],
    ['slash task id of 31 bytes', () => slash({ taskId: short }), 'ENCODING_INVALID', 'taskId must be 32 bytes, got 31'],
    ['slash beneficiary missing', () => slash({ beneficiary: undefined }), 'ENCODING_INVALID', 'beneficiary must be 20 bytes, got undefined'],
    ['reexec commitment of 31 bytes', () => reexec({ commitment: short }), 'ENCODING_INVALID', 'commitment must be 32 bytes, got 31'],
    ['reexec task id missing', () => reexec({ taskId: undefined }), 'ENCODING_INVALID', 'taskId must be 32 bytes, got undefined']
  ])
  // the bounds build and decode
  for (const tx of [
    attest({ measuredGflopsMilli: U32 }),
    award({ round: 15, considered: Array.from({ length: 64 }, () => salt), winners: Array.from({ length: 5 }, () => addr), checker: addr }),
    settle({ payouts: Array.from({ length: 16 }, () => ({ provider: addr, amount: MAX_TX_AMOUNT })), fee: MAX_TX_AMOUNT, refund: MAX_TX_AMOUNT }),
    slash({ amount: 0n }),
    slash({ amount: MAX_TX_AMOUNT }),
    reexec({})
  ]) t.deepEqual(decodeTx(encodeTx(tx)), tx)
})
