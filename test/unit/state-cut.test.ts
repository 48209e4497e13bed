import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import { type CutPart, registerCutPart } from '../../src/dag/cut-parts.ts'
import { isDagError } from '../../src/dag/errors.ts'
import type { AcceptedVertexView } from '../../src/dag/reader.ts'
import { advanceCut, type CutReader, cutTree, decodeCut, encodeCut, genesisCut, type StateCut, syncDigest, syncDigestOfBytes } from '../../src/dag/state-cut.ts'
import { buildTransfer, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'

const seeded = (n: number): KeyPair => generateKeyPair(new Uint8Array(32).fill(n))
const [a, b, c] = [seeded(1), seeded(2), seeded(3)]
const addr = (k: KeyPair): Uint8Array => parseAddress(addressFromPublicKey(k.publicKey))
const hex = (k: KeyPair): string => toHex(addr(k))

type Outcome = 'final' | 'rejected-balance' | 'rejected-nonce' | 'pending'
interface FakeVertex { parents: string[], txs: Array<{ from: KeyPair, to: KeyPair, amount: bigint, nonce: bigint, outcome: Outcome }> }

/**
 * g ── v1 ── v3 (close 1) ── v4 ── v5 ── v6 (close 2)
 *  └── v2 ────────────────────┘
 *                  v3 ── v7 (concurrent with v4..v6: in no cut)
 */
const dag: Record<string, FakeVertex> = {
  v1: { parents: ['g'], txs: [{ from: a, to: b, amount: 100n, nonce: 0n, outcome: 'final' }] },
  v2: { parents: ['g'], txs: [{ from: c, to: a, amount: 50n, nonce: 0n, outcome: 'final' }] },
  v3: { parents: ['v1'], txs: [] },
  v4: { parents: ['v3', 'v2'], txs: [{ from: a, to: b, amount: 2000n, nonce: 1n, outcome: 'rejected-balance' }] },
  v5: { parents: ['v4'], txs: [{ from: b, to: c, amount: 10n, nonce: 0n, outcome: 'final' }] },
  v6: { parents: ['v5'], txs: [] },
  v7: { parents: ['v3'], txs: [{ from: c, to: b, amount: 5n, nonce: 1n, outcome: 'final' }] }
}

/** Vertex ids are 32 bytes of hex, as in the ledger. */
const id = (name: string): string => toHex(sha256(new TextEncoder().encode(name)))
const nameOf = new Map(['g', ...Object.keys(dag)].map((n) => [id(n), n]))
const signed = new Map<string, ReturnType<typeof txInfo>>()

function reader (overrides: Record<string, Outcome> = {}): CutReader {
  const ancestors = (id: string): Set<string> => {
    const out = new Set<string>()
    const stack = [id]
    while (stack.length > 0) {
      const cur = stack.pop() as string
      if (out.has(cur)) continue
      out.add(cur)
      for (const p of dag[cur]?.parents ?? []) stack.push(p)
    }
    return out
  }
  const heightOf = (name: string): number => name === 'g' ? 0 : 1 + Math.max(...dag[name].parents.map(heightOf))
  return {
    validatorKeys: () => [],
    isAncestor: (ancestor, of) => ancestors(nameOf.get(of) ?? '').has(nameOf.get(ancestor) ?? '-'),
    ancestorsAmong: async (from, targets) => {
      const past = new Set(from.flatMap((f) => [...ancestors(nameOf.get(f) ?? '')]))
      return new Set(targets.filter((x) => past.has(nameOf.get(x) ?? '-')))
    },
    vertexRecord: async (vertexId) => {
      const name = nameOf.get(vertexId)
      if (name === undefined) return undefined
      return { height: heightOf(name), timestampMs: BigInt(heightOf(name)), parents: (dag[name]?.parents ?? []).map(id) }
    },
    genesisState: () => ({ vertexId: id('g'), accounts: [{ address: addr(a), balance: 1000n }, { address: addr(c), balance: 500n }] }),
    acceptedVertex: async (vertexId) => {
      const name = nameOf.get(vertexId) ?? ''
      const v = dag[name]
      if (v === undefined) return undefined
      const txs: AcceptedVertexView['txs'] = v.txs.map((t, i) => {
        // signatures are randomized: one signed transaction per position, as a ledger stores it
        const info = signed.get(`${name}:${i}`) ?? txInfo(encodeTx(buildTransfer({ chainId: 'cut-test', publicKey: t.from.publicKey, secretKey: t.from.secretKey, to: addr(t.to), amount: t.amount, nonce: t.nonce, fee: 1n })))
        signed.set(`${name}:${i}`, info)
        const outcome = overrides[`${name}:${i}`] ?? t.outcome
        if (outcome === 'pending') return { tx: info, status: 'pending' }
        if (outcome === 'final') return { tx: info, status: 'final', recordVertexId: vertexId }
        return { tx: info, status: 'rejected', reason: outcome === 'rejected-balance' ? 'insufficient-balance' : 'nonce', recordVertexId: vertexId }
      })
      return { parents: v.parents.map(id), txs }
    }
  }
}

const state = (cut: StateCut): Record<string, [bigint, bigint]> =>
  Object.fromEntries([...cut.accounts].filter(([, s]) => s.balance !== 0n || s.nonce !== 0n).map(([k, s]) => [k, [s.balance, s.nonce]]))

test('a cut holds exactly the vertices in the causal past of its vertex, and advancing epoch by epoch equals one walk from the genesis', async (t) => {
  const r = reader()
  const cut1 = await advanceCut(r, genesisCut(r), id('v3'))
  // every final transfer pays a fee of 1 into the validators' fee pool: the cut's supply equals the genesis total
  t.deepEqual(state(cut1), { [hex(a)]: [899n, 1n], [hex(b)]: [100n, 0n], [hex(c)]: [500n, 0n], [toHex(FEE_POOL_ACCOUNT)]: [1n, 0n] })
  const cut2 = await advanceCut(r, cut1, id('v6'))
  // v2 joins (it is in v6's past), the rejected transfer consumes a's nonce only, v7 stays out
  t.deepEqual(state(cut2), { [hex(a)]: [949n, 2n], [hex(b)]: [89n, 1n], [hex(c)]: [459n, 1n], [toHex(FEE_POOL_ACCOUNT)]: [3n, 0n] })
  const direct = await advanceCut(r, genesisCut(r), id('v6'))
  t.deepEqual(state(direct), state(cut2))
  t.is(cutTree(direct).root, cutTree(cut2).root)
  t.not(cutTree(cut1).root, cutTree(cut2).root)
  // a stored cut decodes to the same cut: accounts, root, credits and band
  const decoded = decodeCut(encodeCut(cut2))
  t.is(decoded.vertexId, cut2.vertexId)
  t.deepEqual(state(decoded), state(cut2))
  t.is(cutTree(decoded).root, cutTree(cut2).root)
  t.deepEqual(decoded.band, cut2.band)
  t.is(decoded.accounts.get(hex(c))?.unproven.get(id('v5')), 10n)
  t.deepEqual(encodeCut(decoded), encodeCut(cut2))
})

test('a cut holds what a node syncing from it needs: each account\'s last transaction, its unproven credits and the top heights of the graph, under one digest', async (t) => {
  const r = reader()
  const cut1 = await advanceCut(r, genesisCut(r), id('v3'))
  const cut2 = await advanceCut(r, cut1, id('v6'))
  const credits = (cut: StateCut, k: KeyPair | string): Record<string, bigint> =>
    Object.fromEntries([...(cut.accounts.get(typeof k === 'string' ? k : hex(k))?.unproven ?? [])].map(([v, amount]) => [nameOf.get(v) ?? v, amount]))
  // a's last transaction (v4, rejected for its balance, still consumes the nonce) has v2's credit in its past
  t.is(cut2.accounts.get(hex(a))?.lastTx?.vertexId, id('v4'))
  t.deepEqual(credits(cut2, a), {})
  // after close 1, v2's credit to a was outside past(v1), a's last transaction then
  t.deepEqual(credits(cut1, a), {})
  t.is(cut1.accounts.get(hex(a))?.lastTx?.vertexId, id('v1'))
  // b spent in v5, which has v1's credit in its past; c's last transaction (v2) does not have v5's credit
  t.deepEqual(credits(cut2, b), {})
  t.deepEqual(credits(cut2, c), { v5: 10n })
  t.is(cut2.accounts.get(hex(c))?.lastTx?.vertexId, id('v2'))
  // the fee pool is never debited here: every fee stays unproven, one credit per vertex
  t.deepEqual(credits(cut2, toHex(FEE_POOL_ACCOUNT)), { v1: 1n, v2: 1n, v5: 1n })
  // the band: past(v6) without the genesis, with recorded heights, by id
  t.is(cut2.height, 5)
  t.deepEqual(cut2.band.map((x) => nameOf.get(x.id)).sort(), ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'])
  t.deepEqual(cut2.band.map((x) => x.id), [...cut2.band.map((x) => x.id)].sort())
  // one digest per cut, whichever way it was reached; any other field gives another
  const direct = await advanceCut(r, genesisCut(r), id('v6'))
  t.is(syncDigest(direct), syncDigest(cut2))
  t.not(syncDigest(cut1), syncDigest(cut2))
  const lying = decodeCut(encodeCut(cut2))
  const cAccount = lying.accounts.get(hex(c))
  if (cAccount !== undefined) cAccount.unproven = new Map()
  t.is(cutTree(lying).root, cutTree(cut2).root)
  t.not(syncDigest(lying), syncDigest(cut2))
  t.is(syncDigestOfBytes(encodeCut(cut2)), syncDigest(cut2))
})

test('a cut refuses a previous cut outside its past, a missing outcome and unreadable bytes', async (t) => {
  const r = reader()
  const cut7 = await advanceCut(r, genesisCut(r), id('v7'))
  t.true(isDagError(await t.throwsAsync(advanceCut(r, cut7, id('v6')))))
  const pending = reader({ 'v5:0': 'pending' })
  t.true(isDagError(await t.throwsAsync(advanceCut(pending, genesisCut(pending), id('v6')))))
  t.true(isDagError(t.throws(() => decodeCut(new Uint8Array(10)))))
  t.true(isDagError(t.throws(() => decodeCut(encodeCut(cut7).subarray(0, 50)))))
})

test.serial('a registered part folds the final transactions of its kinds in the cut\'s order (height, then id), the same epoch by epoch as in one walk, and a cut without it does not decode', async (t) => {
  // a part that keeps the ids of the transfers it saw, with their vertex: the fold's order is its state
  const seen: CutPart<string[]> = {
    id: 200,
    name: 'test-log',
    kinds: new Set([1]),
    empty: () => [],
    advance: async (prev, txs) => [...prev, ...txs.map((x) => `${nameOf.get(x.vertexId) ?? '?'}@${x.vertexTimeMs}`)],
    encode: (s) => new TextEncoder().encode(JSON.stringify(s)),
    decode: (b) => JSON.parse(new TextDecoder().decode(b)) as string[],
    installWrites: () => []
  }
  const r = reader()
  const before = encodeCut(await advanceCut(r, genesisCut(r), id('v6')))
  // serial, so it runs before the other tests of this file: they then cut with the part registered, as a node does
  registerCutPart(seen)
  const cut1 = await advanceCut(r, genesisCut(r), id('v3'))
  const cut2 = await advanceCut(r, decodeCut(encodeCut(cut1)), id('v6'))
  const direct = await advanceCut(r, genesisCut(r), id('v6'))
  // final transfers only (v4's is rejected), each epoch in (height, id) order; v2 (height 1) joins in epoch 2
  t.deepEqual(cut1.parts.get(200), ['v1@1'])
  t.deepEqual(cut2.parts.get(200), ['v1@1', 'v2@1', 'v5@4'])
  t.deepEqual(encodeCut(cut2), encodeCut(direct))
  t.is(syncDigest(cut2), syncDigest(direct))
  // the part's bytes are in the cut (its digest changes with them), and a cut without the part is refused here
  t.not(syncDigest(direct), syncDigestOfBytes(before))
  const err = t.throws(() => decodeCut(before))
  t.true(isDagError(err))
  t.regex(err?.message ?? '', /test-log part is missing/)
})

test.serial('a stored cut of the format before parts decodes for this node\'s own use with its parts empty, and the next epoch folds them from there; from a peer it is refused', async (t) => {
  const r = reader()
  const cut1 = await advanceCut(r, genesisCut(r), id('v3'))
  // the format before parts: the same bytes with its own magic and without the parts' count
  const noParts = encodeCut({ ...cut1, parts: new Map() })
  const legacy = Uint8Array.from([...new TextEncoder().encode('HSC2'), ...noParts.subarray(4, noParts.length - 1)])
  t.true(isDagError(t.throws(() => decodeCut(legacy))))
  const stored = decodeCut(legacy, true)
  t.deepEqual(state(stored), state(cut1))
  t.deepEqual(stored.parts.get(200), [])
  // the first epoch after the upgrade: only its own transfers are folded (v1's is below the stored cut)
  const cut2 = await advanceCut(r, stored, id('v6'))
  t.deepEqual(cut2.parts.get(200), ['v2@1', 'v5@4'])
  t.deepEqual(state(cut2), state(await advanceCut(r, cut1, id('v6'))))
})
