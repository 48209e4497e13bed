import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import { isDagError } from '../../src/dag/errors.ts'
import type { AcceptedVertexView } from '../../src/dag/reader.ts'
import { advanceCut, type CutReader, cutTree, decodeCut, encodeCut, genesisCut, type StateCut } from '../../src/dag/state-cut.ts'
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
  return {
    isAncestor: (ancestor, of) => ancestors(nameOf.get(of) ?? '').has(nameOf.get(ancestor) ?? '-'),
    genesisState: () => ({ vertexId: id('g'), accounts: [{ address: addr(a), balance: 1000n }, { address: addr(c), balance: 500n }] }),
    acceptedVertex: async (vertexId) => {
      const name = nameOf.get(vertexId) ?? ''
      const v = dag[name]
      if (v === undefined) return undefined
      const txs: AcceptedVertexView['txs'] = v.txs.map((t, i) => {
        const info = txInfo(encodeTx(buildTransfer({ chainId: 'cut-test', publicKey: t.from.publicKey, secretKey: t.from.secretKey, to: addr(t.to), amount: t.amount, nonce: t.nonce, fee: 1n })))
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
  // a stored cut decodes to the same accounts and root
  const decoded = decodeCut(encodeCut(cut2))
  t.is(decoded.vertexId, cut2.vertexId)
  t.deepEqual(state(decoded), state(cut2))
  t.is(cutTree(decoded).root, cutTree(cut2).root)
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
