import test from 'ava'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { decodeTx, encodeTx } from '../../src/dag/tx.ts'
import { getTxKind } from '../../src/dag/tx-kinds.ts'
import {
  bidCommitment, bondAccount, buildBidCommit, buildBidReveal, buildTaskAnnounce, buildTaskSettle, escrowAccount, escrowOf,
  MARKET_KIND_IDS, providerRegisterKind, registerMarketKinds, type TaskAnnouncePayload, taskAnnounceKind, taskIdOf, taskSettleKind,
  buildTaskReexec, reexecAccount, taskReexecKind, bidRevealKind, bidRevealsKind, inputClaimKind, mlKem768PublicKeyValid
} from '../../src/market/index.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { matmulAnnounce } from '../helpers/market.ts'

registerMarketKinds()
const requester = generateKeyPair(new Uint8Array(32).fill(1))
const provider = generateKeyPair(new Uint8Array(32).fill(2))
const requesterAddr = addressBytesFromPublicKey(requester.publicKey)
const providerAddr = addressBytesFromPublicKey(provider.publicKey)


test('every market kind is registered once under its id; registering again is a no-op', (t) => {
  registerMarketKinds()
  for (const id of MARKET_KIND_IDS) t.is(getTxKind(id)?.id, id)
})

test('an announce round-trips, names its task from (requester, nonce) and locks budget × replicas in that escrow', (t) => {
  const p = matmulAnnounce({ verification: 'spot-check', redundancy: 2 })
  t.deepEqual(taskAnnounceKind.decode(taskAnnounceKind.encode(p)), p)
  const { tx, taskId } = buildTaskAnnounce({ chainId: 'c', keys: requester, nonce: 5n, fee: 1n }, p)
  t.deepEqual(taskId, taskIdOf(requesterAddr, 5n))
  t.deepEqual(decodeTx(encodeTx(tx)), tx)
  const effects = taskAnnounceKind.effects(p, { account: requesterAddr, nonce: 5n })
  t.is(escrowOf(p), 3000n)
  t.deepEqual(effects, { debit: 3000n, credits: [{ to: escrowAccount(taskId), amount: 3000n }] })
})

test('a malformed announce is refused at decode with the ledger\'s ENCODING_INVALID', (t) => {
  const bad: Array<[string, TaskAnnouncePayload]> = [
    ['k above r', matmulAnnounce({ redundancy: 2, k: 3, verification: 'redundancy' })],
    ['none with r > 1', matmulAnnounce({ redundancy: 2 })],
    ['zero budget', matmulAnnounce({ budget: 0n })],
    ['non-canonical params', matmulAnnounce({ spec: { kernel: 'matmul', paramsJson: '{"m":2, "k":2,"n":2}' } })],
    ['params not an object', matmulAnnounce({ spec: { kernel: 'matmul', paramsJson: '[1]' } })],
    ['custom without wgsl', matmulAnnounce({ spec: { kernel: 'custom', paramsJson: '{}' } })],
    ['bid window too long', matmulAnnounce({ bidWindowMs: 3_600_000 })],
    ['zero output limit', matmulAnnounce({ outputLimitBytes: 0 })]
  ]
  for (const [what, p] of bad) {
    const err = t.throws(() => taskAnnounceKind.decode(taskAnnounceKind.encode(p)), undefined, what)
    t.true(isDagError(err), what)
    t.is((err as { code?: string }).code, 'ENCODING_INVALID', what)
  }
  const good = taskAnnounceKind.encode(matmulAnnounce())
  t.throws(() => taskAnnounceKind.decode(good.slice(0, -1)))
  t.throws(() => taskAnnounceKind.decode(new Uint8Array([...good, 0])))
  t.throws(() => taskAnnounceKind.decode(new Uint8Array(0)))
})

test('a bid commitment binds task, provider, price and salt; the reveal carries what opens it', (t) => {
  const taskId = taskIdOf(requesterAddr, 0n)
  const salt = new Uint8Array(32).fill(3)
  const c = buildBidCommit({ chainId: 'c', keys: provider, nonce: 0n, fee: 1n }, taskId, 500n, salt)
  const commit = getTxKind(c.kind)?.decode(c.payload) as { commitment: Uint8Array }
  t.deepEqual(commit.commitment, bidCommitment(taskId, providerAddr, 500n, salt))
  t.notDeepEqual(commit.commitment, bidCommitment(taskId, providerAddr, 501n, salt))
  t.notDeepEqual(commit.commitment, bidCommitment(taskId, requesterAddr, 500n, salt))
  const r = buildBidReveal({ chainId: 'c', keys: provider, nonce: 1n, fee: 1n }, { taskId, price: 500n, salt })
  t.deepEqual(decodeTx(encodeTx(r)), r)
})

test('a private task\'s reveal carries the provider\'s task key: a valid ML-KEM-768 key only, alone (never in a batch); a claim may carry its seed', (t) => {
  const taskId = taskIdOf(requesterAddr, 0n)
  const salt = new Uint8Array(32).fill(3)
  const by = { chainId: 'c', keys: provider, nonce: 1n, fee: 1n }
  const taskKey = generateKemKeyPair(new Uint8Array(64).fill(5)).publicKey
  t.true(mlKem768PublicKeyValid(taskKey))
  const r = buildBidReveal(by, { taskId, price: 500n, salt, taskKey })
  t.deepEqual(bidRevealKind.decode(r.payload).taskKey, taskKey)
  // a key with a coefficient ≥ q (FIPS 203's modulus check): refused at decode
  const bad = taskKey.slice()
  bad[0] = 0xff
  bad[1] |= 0x0f
  t.false(mlKem768PublicKeyValid(bad))
  const refused = t.throws(() => bidRevealKind.decode(buildBidReveal(by, { taskId, price: 500n, salt, taskKey: bad }).payload))
  t.true(isDagError(refused) && refused.code === 'ENCODING_INVALID', String(refused))
  // the wrong length: refused
  t.throws(() => bidRevealKind.decode(new Uint8Array([...bidRevealKind.encode({ taskId, price: 500n, salt }), 1, 2, 3])))
  // a batch entry never carries one
  t.throws(() => bidRevealsKind.encode([{ taskId, price: 500n, salt, taskKey }]), { message: /alone/ })
  // a claim's seed round-trips; a seed of another length is refused
  const claim = inputClaimKind.decode(inputClaimKind.encode({ taskId, round: 0, attempt: 1, keySeed: new Uint8Array(64).fill(5) }))
  t.deepEqual(claim.keySeed, new Uint8Array(64).fill(5))
  t.is(inputClaimKind.decode(inputClaimKind.encode({ taskId, round: 0, attempt: 0 })).keySeed, undefined)
  t.throws(() => inputClaimKind.decode(new Uint8Array([...inputClaimKind.encode({ taskId, round: 0, attempt: 0 }), 7])))
})

test('a settle acts for the escrow and moves all of it: payouts, the fee to the fee pool, the refund to the requester', (t) => {
  const taskId = taskIdOf(requesterAddr, 0n)
  const p = { taskId, outcome: 'paid' as const, payouts: [{ provider: providerAddr, amount: 495n }], fee: 5n, refund: 500n, requester: requesterAddr }
  const tx = buildTaskSettle('c', provider, 1n, p)
  t.is(tx.fee, 0n)
  t.deepEqual(taskSettleKind.account?.(p, tx), escrowAccount(taskId))
  t.deepEqual(taskSettleKind.effects(p, { account: escrowAccount(taskId), nonce: 1n }), {
    debit: 1000n,
    credits: [{ to: providerAddr, amount: 495n }, { to: FEE_POOL_ACCOUNT, amount: 5n }, { to: requesterAddr, amount: 500n }]
  })
  // a settle with a fee is refused at decode (system transactions cost the network, not an account)
  t.throws(() => taskSettleKind.validate?.(p, { nonce: 1n, fee: 1n }))
})

test('a provider registration moves its bond into the provider\'s bond account', (t) => {
  const p = { bond: 10_000n, kemPublicKey: new Uint8Array(1184).fill(4), capability: { executor: 'cpu' as const, adapter: 'llvmpipe', memoryMiB: 2048, gflopsMilli: 12_500, profile: 'cpu-ref-v1' } }
  t.deepEqual(providerRegisterKind.decode(providerRegisterKind.encode(p)), p)
  t.deepEqual(providerRegisterKind.effects(p, { account: providerAddr, nonce: 0n }), { debit: 10_000n, credits: [{ to: bondAccount(providerAddr), amount: 10_000n }] })
  const long = { ...p, capability: { ...p.capability, adapter: 'x'.repeat(65) } }
  t.throws(() => providerRegisterKind.decode(providerRegisterKind.encode(long)))
})

test('a re-execution commitment acts for the validator\'s own account of the task, once (nonce 0, fee 0), and moves nothing', (t) => {
  const validator = generateKeyPair(new Uint8Array(32).fill(3))
  const taskId = taskIdOf(requesterAddr, 0n)
  const p = { taskId, commitment: new Uint8Array(32).fill(9) }
  const tx = decodeTx(encodeTx(buildTaskReexec('harmony-test', validator, p)))
  t.deepEqual(taskReexecKind.decode(tx.payload), p)
  t.is(tx.nonce, 0n)
  t.is(tx.fee, 0n)
  const account = taskReexecKind.account?.(p, validator) as Uint8Array
  t.deepEqual(account, reexecAccount(addressBytesFromPublicKey(validator.publicKey), taskId))
  t.notDeepEqual(account, taskReexecKind.account?.(p, provider), 'each validator its own account: one commitment each')
  t.notDeepEqual(account, taskReexecKind.account?.({ ...p, taskId: taskIdOf(requesterAddr, 1n) }, validator), 'and one per task')
  t.deepEqual(taskReexecKind.effects(p, { account, nonce: 0n }), { debit: 0n, credits: [] })
  t.true(taskReexecKind.validatorOnly)
  t.throws(() => taskReexecKind.validate?.(p, { nonce: 1n, fee: 0n }), { message: /nonce 0/ })
  t.throws(() => taskReexecKind.validate?.(p, { nonce: 0n, fee: 1n }), { message: /fee 0/ })
  t.throws(() => taskReexecKind.decode(new Uint8Array(63)))
})
