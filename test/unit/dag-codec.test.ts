import test from 'ava'
import fc from 'fast-check'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { compareBytes, fromHex, Reader, Writer } from '../../src/core/codec.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES } from '../../src/core/crypto.ts'
import { AddressError, CodecError, HarmonyError } from '../../src/core/errors.ts'
import { DagError, isDagError } from '../../src/dag/errors.ts'
import { decodeTx, encodeTx, type Transaction } from '../../src/dag/tx.ts'
import { TX_KIND_TRANSFER, transferKind } from '../../src/dag/tx-kinds.ts'
import { decodeVertex, encodeVertex, MAX_ROUND_PARENTS, type Vertex } from '../../src/dag/vertex.ts'

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const u128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n })

const txArb: fc.Arbitrary<Transaction> = fc.record({
  publicKey: bytes(ML_DSA65_PUBLIC_KEY_BYTES),
  nonce: u64,
  fee: u128,
  to: bytes(20),
  amount: fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }),
  signature: bytes(ML_DSA65_SIGNATURE_BYTES)
}).map(r => ({ version: 1, kind: TX_KIND_TRANSFER, publicKey: r.publicKey, nonce: r.nonce, fee: r.fee, payload: transferKind.encode({ to: r.to, amount: r.amount }), signature: r.signature }))

const vertexArb: fc.Arbitrary<Vertex> = fc.record({
  author: bytes(ML_DSA65_PUBLIC_KEY_BYTES),
  timestampMs: u64,
  parents: fc.uniqueArray(bytes(32), { minLength: 1, maxLength: MAX_ROUND_PARENTS, selector: b => Buffer.from(b).toString('hex') }),
  txs: fc.array(txArb, { minLength: 1, maxLength: 3 }),
  signature: bytes(ML_DSA65_SIGNATURE_BYTES)
}).map(r => ({ version: 1, author: r.author, timestampMs: r.timestampMs, parents: [...r.parents].sort(compareBytes), txs: r.txs.map(encodeTx), signature: r.signature }))

test('transactions round-trip through the canonical encoding', t => {
  fc.assert(fc.property(txArb, tx => {
    const enc = encodeTx(tx)
    const dec = decodeTx(enc)
    t.deepEqual(dec, tx)
    t.deepEqual(encodeTx(dec), enc)
  }), { numRuns: 50 })
})

test('vertices round-trip through the canonical encoding', t => {
  fc.assert(fc.property(vertexArb, v => {
    const enc = encodeVertex(v)
    const dec = decodeVertex(enc)
    t.deepEqual(dec, v)
    t.deepEqual(encodeVertex(dec), enc)
  }), { numRuns: 30 })
})

test('decoding refuses trailing bytes and every truncation', t => {
  fc.assert(fc.property(txArb, fc.integer({ min: 1, max: 5000 }), (tx, cut) => {
    const enc = encodeTx(tx)
    const withTrailing = new Uint8Array([...enc, 0])
    // the codec's own error, carrying the ledger's code: the gossip verdicts and the RPC table map by code
    t.true(isDagError(t.throws(() => decodeTx(withTrailing), { instanceOf: CodecError, code: 'ENCODING_INVALID' })))
    t.true(isDagError(t.throws(() => decodeTx(enc.subarray(0, Math.max(0, enc.length - cut))), { instanceOf: HarmonyError })))
  }), { numRuns: 30 })
})

test('vertex bounds: parent count, parent order, unknown kind, version', t => {
  fc.assert(fc.property(vertexArb, v => {
    const enc = encodeVertex(v)
    const parentCountOffset = 1 + ML_DSA65_PUBLIC_KEY_BYTES + 8
    const zeroParents = new Uint8Array(enc)
    zeroParents[parentCountOffset] = 0
    t.throws(() => decodeVertex(zeroParents), { instanceOf: DagError, message: /parents/ })
    const tooMany = new Uint8Array(enc)
    tooMany[parentCountOffset] = MAX_ROUND_PARENTS + 1
    t.throws(() => decodeVertex(tooMany), { instanceOf: DagError, message: /65 parents/ })
    const badVersion = new Uint8Array(enc)
    badVersion[0] = 2
    t.true(isDagError(t.throws(() => decodeVertex(badVersion), { instanceOf: CodecError, code: 'ENCODING_INVALID', message: /version/ })))
  }), { numRuns: 20 })
  const tx = fc.sample(txArb, 1)[0]
  const enc = encodeTx(tx)
  enc[1] = 0x03; enc[2] = 0xe7 // kind 999
  const err = t.throws(() => decodeTx(enc), { instanceOf: DagError })
  t.is(err?.code, 'KIND_UNKNOWN')
})

test('length prefixes above their limit are refused before reading', t => {
  const w = new Writer().u32(1_000_000)
  const r = new Reader(w.finish(), 'test')
  t.throws(() => r.varBytes(100), { message: /exceeds limit/ })
})

test('addresses: hmy1 prefix, checksum catches typos, never 0x', t => {
  const a = addressFromPublicKey(new Uint8Array(ML_DSA65_PUBLIC_KEY_BYTES).fill(7))
  t.regex(a, /^hmy1[0-9a-f]{48}$/)
  t.is(parseAddress(a).length, 20)
  const typo = a.slice(0, 10) + (a[10] === '0' ? '1' : '0') + a.slice(11)
  t.true(isDagError(t.throws(() => parseAddress(typo), { instanceOf: AddressError, code: 'ADDRESS_INVALID', message: /checksum/ })))
  t.true(isDagError(t.throws(() => parseAddress(`0x${a.slice(4, 44)}`), { instanceOf: AddressError, code: 'ADDRESS_INVALID', message: /not a Harmony address/ })))
})

test('u128 amounts keep their full range', t => {
  fc.assert(fc.property(u128, v => {
    t.is(new Reader(new Writer().u128(v).finish(), 'x').u128(), v)
  }))
})

test('fromHex takes hex with or without 0x and refuses anything else, wherever the bad character is', t => {
  t.deepEqual([...fromHex('0x00ff7A')], [0x00, 0xff, 0x7a])
  t.deepEqual([...fromHex('')], [])
  for (const bad of ['0', 'abc', 'zz', '0g', 'a0g1ff', 'ff ', ' ff', '0x0x', 'ff-1', '12\n4']) {
    t.throws(() => fromHex(bad, 'field'), { instanceOf: CodecError, message: 'field: not a hex string' }, bad)
  }
})
