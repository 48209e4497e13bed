// Every registered transaction kind against hostile payload bytes (a vertex's transactions arrive over gossip and
// sync, so each kind's decoder sees whatever a peer sends): a decode either refuses with the ledger's typed
// ENCODING_INVALID or returns a payload that encodes back to the same bytes (one encoding per payload: a transaction
// id names one meaning), and what the ledger then asks of that payload (its account, effects, JSON view and
// stateless checks) answers or refuses with a typed error, never a TypeError or RangeError.
import test from 'ava'
import fc from 'fast-check'
import { registerBridgeKinds } from '../../src/bridge/index.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { getTxKind, type TxKind, transferKind } from '../../src/dag/tx-kinds.ts'
import { HarmonyError } from '../../src/core/errors.ts'
import {
  bidCommitKind, bidCommitsKind, bidRevealKind, bidRevealsKind, bondSlashKind, inputClaimKind, inputVerdictKind, providerAttestKind, providerRegisterKind, registerMarketKinds, taskAnnounceKind,
  taskAwardKind, taskCancelKind, taskReexecKind, taskResultKind, taskSettleKind
} from '../../src/market/index.ts'
import { depositAttestKind, depositCreditKind, epochCloseKind, withdrawKind } from '../../src/bridge/kinds/index.ts'
import { matmulAnnounce } from '../helpers/market.ts'

registerMarketKinds()
registerBridgeKinds()

const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

/** A kind with a payload of its own type, seen as the ledger sees every kind. */
function seed<P> (kind: TxKind<P>, payload: NoInfer<P>): [TxKind, unknown] {
  return [kind as unknown as TxKind, payload]
}

/** One valid payload of each kind: the mutations below start from it, to reach past the first field. */
const SEEDS: Array<[TxKind, unknown]> = [
  seed(transferKind, { to: b(20, 1), amount: 5n }),
  seed(depositCreditKind, { evmChainId: 31337n, txHash: b(32, 2), logIndex: 3, account: b(20, 4), amount: 10n }),
  seed(depositAttestKind, { evmChainId: 31337n, txHash: b(32, 2), logIndex: 3, account: b(20, 4), amount: 10n }),
  seed(withdrawKind, { evmAddress: b(20, 5), amount: 7n }),
  seed(epochCloseKind, { epoch: 2n, withdrawals: [b(32, 6), b(32, 7)], fees: 9n }),
  seed(providerRegisterKind, { bond: 10_000n, kemPublicKey: b(1184, 4), capability: { executor: 'webgpu', adapter: 'llvmpipe', memoryMiB: 2048, gflopsMilli: 12_500, profile: 'wgsl-det-v1' } }),
  seed(providerAttestKind, { provider: b(20, 8), challengeId: b(32, 9), measuredGflopsMilli: 4000, passed: true }),
  seed(taskAnnounceKind, matmulAnnounce({ verification: 'spot-check', redundancy: 2 })),
  seed(bidCommitKind, { taskId: b(32, 10), commitment: b(32, 11) }),
  seed(bidRevealKind, { taskId: b(32, 10), price: 500n, salt: b(32, 12) }),
  seed(bidCommitsKind, [{ taskId: b(32, 10), commitment: b(32, 11) }, { taskId: b(32, 13), commitment: b(32, 14) }]),
  seed(bidRevealsKind, [{ taskId: b(32, 10), price: 500n, salt: b(32, 12) }, { taskId: b(32, 13), price: 7n, salt: b(32, 15) }]),
  seed(taskAwardKind, { taskId: b(32, 10), round: 0, considered: [b(32, 13), b(32, 14)], winners: [b(20, 15)], checker: b(20, 16) }),
  seed(taskResultKind, { taskId: b(32, 10), round: 0, commitment: b(32, 17), outputBlob: b(32, 18), outputBytes: 256, profile: 'cpu-ref-v1' }),
  seed(taskSettleKind, { taskId: b(32, 10), outcome: 'paid', payouts: [{ provider: b(20, 15), amount: 495n }], fee: 5n, refund: 500n, requester: b(20, 19) }),
  seed(bondSlashKind, { provider: b(20, 15), taskId: b(32, 10), reason: 'fault', amount: 100n, beneficiary: b(20, 19) }),
  seed(taskCancelKind, { taskId: b(32, 10) }),
  seed(taskReexecKind, { taskId: b(32, 10), commitment: b(32, 20) }),
  seed(inputClaimKind, { taskId: b(32, 10), round: 1, attempt: 2 }),
  seed(inputVerdictKind, { taskId: b(32, 10), round: 1, provider: b(20, 15), attempt: 1, outcome: 'unavailable' })
]

/** Runs what the ledger runs on a decoded payload; returns the untyped error, if any. */
function exercise (kind: TxKind, bytes: Uint8Array): unknown {
  let payload: unknown
  try {
    payload = kind.decode(bytes)
  } catch (err) {
    return isDagError(err) && err.code === 'ENCODING_INVALID' ? undefined : err
  }
  const again = kind.encode(payload)
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) return new Error(`decoded ${bytes.length} bytes, encoded back ${again.length} others`)
  try {
    const signer = { publicKey: b(1952, 21) }
    const account = kind.account?.(payload, signer) ?? b(20, 22)
    kind.effects(payload, { account, nonce: 1n })
    JSON.stringify(kind.toJSON(payload), (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
    kind.validate?.(payload, { nonce: 1n, fee: 1n })
  } catch (err) {
    return err instanceof HarmonyError ? undefined : err
  }
  return undefined
}

test('the seeds are valid payloads of every registered kind (a kind added without a seed fails here)', t => {
  const ids: number[] = []
  for (let id = 0; id <= 0xffff; id++) if (getTxKind(id) !== undefined) ids.push(id)
  t.deepEqual(SEEDS.map(([k]) => k.id).sort((x, y) => x - y), ids)
  for (const [kind, payload] of SEEDS) {
    const bytes = kind.encode(payload)
    t.deepEqual(kind.decode(bytes), payload, kind.name)
    t.true(bytes.length <= kind.maxPayloadBytes, `${kind.name}: ${bytes.length} bytes within its bound ${kind.maxPayloadBytes}`)
  }
})

test('random bytes: every kind refuses with ENCODING_INVALID or decodes to its one encoding', t => {
  for (const [kind] of SEEDS) {
    fc.assert(fc.property(fc.uint8Array({ maxLength: Math.min(kind.maxPayloadBytes + 16, 4096) }), bytes => exercise(kind, bytes) === undefined), { numRuns: 300 })
  }
  t.pass(`${SEEDS.length} kinds`)
})

test('mutated valid payloads (bytes changed, cut, inserted): refused with a typed error or decoded to their one encoding', t => {
  for (const [kind, payload] of SEEDS) {
    const seed = kind.encode(payload)
    const mutation = fc.oneof(
      fc.record({ at: fc.nat(seed.length - 1), value: fc.integer({ min: 0, max: 255 }) }).map(({ at, value }) => { const m = seed.slice(); m[at] = value; return m }),
      fc.nat(seed.length).map(n => seed.slice(0, n)),
      fc.record({ at: fc.nat(seed.length), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }).map(({ at, extra }) => Uint8Array.from([...seed.slice(0, at), ...extra, ...seed.slice(at)])),
      // a length or count field turned to its largest value
      fc.nat(Math.max(0, seed.length - 4)).map(at => { const m = seed.slice(); m.fill(0xff, at, at + 4); return m })
    )
    fc.assert(fc.property(mutation, bytes => {
      const err = exercise(kind, bytes)
      if (err !== undefined) throw new Error(`${kind.name}: ${String(err)}`, { cause: err })
      return true
    }), { numRuns: 400 })
  }
  t.pass(`${SEEDS.length} kinds`)
})
