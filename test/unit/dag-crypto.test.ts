import test from 'ava'
import { generateKeyPair, nativeMlDsaAvailable, nobleSign, nobleVerify, nodeSign, nodeVerify } from '../../src/core/crypto.ts'
import { InlineVerifier, VerifyPool } from '../../src/dag/verify-pool.ts'

test('node:crypto and noble agree on valid and tampered ML-DSA-65 signatures', t => {
  t.true(nativeMlDsaAvailable(), 'Node 24 has ML-DSA in node:crypto')
  for (let i = 0; i < 4; i++) {
    const kp = generateKeyPair()
    const msg = new TextEncoder().encode(`message ${i}`)
    for (const sig of [nobleSign(msg, kp.secretKey), nodeSign(msg, kp.secretKey)]) {
      t.true(nobleVerify(sig, msg, kp.publicKey))
      t.true(nodeVerify(sig, msg, kp.publicKey))
      const badSig = new Uint8Array(sig); badSig[i * 100] ^= 1
      t.false(nobleVerify(badSig, msg, kp.publicKey))
      t.false(nodeVerify(badSig, msg, kp.publicKey))
      const badMsg = new Uint8Array(msg); badMsg[0] ^= 1
      t.false(nobleVerify(sig, badMsg, kp.publicKey))
      t.false(nodeVerify(sig, badMsg, kp.publicKey))
      const other = generateKeyPair()
      t.false(nobleVerify(sig, msg, other.publicKey))
      t.false(nodeVerify(sig, msg, other.publicKey))
      t.false(nodeVerify(sig.subarray(1), msg, kp.publicKey))
    }
  }
})

test('the worker pool verifies batches like the inline verifier', async t => {
  const pool = new VerifyPool({ workers: 2, chunkSize: 4 })
  await pool.start()
  try {
    const kp = generateKeyPair()
    const items = Array.from({ length: 20 }, (_, i) => {
      const msg = new Uint8Array([i])
      const sig = nodeSign(msg, kp.secretKey)
      if (i % 3 === 0) sig[10] ^= 0xff
      return { sig, msg, publicKey: kp.publicKey }
    })
    const expected = await new InlineVerifier().verifyBatch(items)
    t.deepEqual(await pool.verifyBatch(items), expected)
    t.deepEqual(expected.map((ok, i) => ok === (i % 3 !== 0)), Array(20).fill(true))
  } finally {
    await pool.stop()
  }
})

test('the pool refuses work beyond its queue bound', async t => {
  const pool = new VerifyPool({ workers: 1, maxQueued: 3 })
  await pool.start()
  try {
    const kp = generateKeyPair()
    const msg = new Uint8Array([1])
    const item = { sig: nodeSign(msg, kp.secretKey), msg, publicKey: kp.publicKey }
    await t.throwsAsync(pool.verifyBatch([item, item, item, item]), { message: /queue full/ })
  } finally {
    await pool.stop()
  }
})
