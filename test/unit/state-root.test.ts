import test from 'ava'
import fc from 'fast-check'
import { buildStateTree, EMPTY_STATE_ROOT, verifyAccountProof } from '../../src/dag/state-root.ts'
import { isDagError } from '../../src/dag/errors.ts'

const address = (i: number): Uint8Array => new Uint8Array(20).fill(0).map((_, j) => (j === 19 ? i & 0xff : j === 18 ? i >> 8 : 7))

test('the state root is independent of the order accounts are listed in, and every balance proves against it', (t) => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.record({ id: fc.integer({ min: 0, max: 5000 }), balance: fc.bigInt({ min: 0n, max: 10n ** 30n }), nonce: fc.bigInt({ min: 0n, max: 1000n }) }), { selector: (a) => a.id, maxLength: 40 }),
    (accounts) => {
      const leaves = accounts.map((a) => ({ address: address(a.id), balance: a.balance, nonce: a.nonce }))
      const tree = buildStateTree(leaves)
      const reversed = buildStateTree([...leaves].reverse())
      if (tree.root !== reversed.root) return false
      for (const l of leaves) {
        const p = tree.proof(l.address)
        if (l.balance === 0n && l.nonce === 0n) {
          if (p !== undefined) return false
          continue
        }
        if (p === undefined || !verifyAccountProof(tree.root, p, p.proof)) return false
        // any other balance or nonce does not prove
        if (verifyAccountProof(tree.root, { ...p, balance: p.balance + 1n }, p.proof)) return false
        if (verifyAccountProof(tree.root, { ...p, nonce: p.nonce + 1n }, p.proof)) return false
      }
      return true
    }), { numRuns: 50 })
  t.pass()
})

test('empty accounts are no leaves; no accounts give the zero root; bad input is refused', (t) => {
  t.is(buildStateTree([]).root, EMPTY_STATE_ROOT)
  t.is(buildStateTree([{ address: address(1), balance: 0n, nonce: 0n }]).root, EMPTY_STATE_ROOT)
  const one = buildStateTree([{ address: address(1), balance: 5n, nonce: 1n }])
  t.is(buildStateTree([{ address: address(1), balance: 5n, nonce: 1n }, { address: address(2), balance: 0n, nonce: 0n }]).root, one.root)
  t.not(buildStateTree([{ address: address(1), balance: 6n, nonce: 1n }]).root, one.root)
  t.true(isDagError(t.throws(() => buildStateTree([{ address: address(1), balance: 1n, nonce: 0n }, { address: address(1), balance: 2n, nonce: 0n }]))))
  t.true(isDagError(t.throws(() => buildStateTree([{ address: new Uint8Array(19), balance: 1n, nonce: 0n }]))))
  t.true(isDagError(t.throws(() => buildStateTree([{ address: address(1), balance: -1n, nonce: 0n }]))))
  t.false(verifyAccountProof(one.root, { address: '0x12', balance: 5n, nonce: 1n }, []))
  t.false(verifyAccountProof('nonsense', { address: '0x12', balance: 5n, nonce: 1n }, ['x']))
})
