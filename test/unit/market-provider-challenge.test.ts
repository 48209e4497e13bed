import test from 'ava'
import fc from 'fast-check'
import { outputBlob, resultCommitment } from '../../src/compute/blob.ts'
import { DEFAULT_LIMITS, EXECUTION_PROFILE, type ComputeTask, type ExecutorInfo, type TaskResult } from '../../src/compute/types.ts'
import { referenceResult } from '../../src/compute/verify.ts'
import { fromHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { answerChallenge, type ChallengeExecutor, type ChallengeExpectation, checkChallengeAnswer } from '../../src/market/provider/challenge.ts'
import {
  challengeId, challengeTask, decodeChallengeReply, decodeChallengeRequest, encodeChallengeReply, encodeChallengeRequest
} from '../../src/market/provider/challenge-codec.ts'

// The challenge's pure parts: the codec, the derivation of inputs, and the checks of an answer. The answers come
// from the CPU reference run in this process (what the CPU executor's worker runs).

const CHAIN = 'harmony-devnet'
const keys = generateKeyPair(new Uint8Array(32).fill(1))
const otherKeys = generateKeyPair(new Uint8Array(32).fill(2))

const info: ExecutorInfo = {
  kind: 'cpu',
  adapter: { vendor: 'harmony', architecture: '', device: 'cpu', description: 'CPU reference executor', backend: 'none', featureLevel: 'none', isFallbackAdapter: false },
  limits: { maxStorageBufferBindingSize: 1 << 27, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535 },
  taskLimits: DEFAULT_LIMITS,
  profile: EXECUTION_PROFILE,
  kernels: ['matmul']
}

function executor (transform: (r: TaskResult) => TaskResult = r => r): ChallengeExecutor {
  return { info: () => info, run: async (task: ComputeTask) => transform(referenceResult(task)) }
}

const expected: ChallengeExpectation = { publicKey: keys.publicKey, capability: { adapter: 'CPU reference executor', executor: 'cpu', gflopsMilli: 300 } }

test('a request and an answer round-trip the codec; malformed bytes are refused with ENCODING_INVALID', async t => {
  const request = { seed: new Uint8Array(32).fill(9), size: 32 }
  t.deepEqual(decodeChallengeRequest(encodeChallengeRequest(request)), request)
  const answer = await answerChallenge(executor(), keys, CHAIN, request)
  t.deepEqual(decodeChallengeReply(encodeChallengeReply({ ok: true, answer })), { ok: true, answer })
  t.deepEqual(decodeChallengeReply(encodeChallengeReply({ ok: false, refusal: 'busy' })), { ok: false, refusal: 'busy' })

  const encoded = encodeChallengeRequest(request)
  for (const bad of [encoded.subarray(0, 10), new Uint8Array([...encoded, 0]), new Uint8Array([2, ...encoded.subarray(1)])]) {
    t.throws(() => decodeChallengeRequest(bad), { code: 'ENCODING_INVALID' } as never)
  }
  t.throws(() => decodeChallengeRequest(encodeChallengeRequest({ seed: request.seed, size: 31 })), { message: /outside/ })
  t.throws(() => decodeChallengeRequest(encodeChallengeRequest({ seed: request.seed, size: 513 })), { message: /outside/ })
  const reply = encodeChallengeReply({ ok: true, answer })
  fc.assert(fc.property(fc.integer({ min: 0, max: reply.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
    const corrupt = reply.slice()
    corrupt[at] ^= xor
    try {
      const decoded = decodeChallengeReply(corrupt)
      // a corruption the codec cannot see must be caught by the answer's checks
      return !decoded.ok || checkChallengeAnswer(CHAIN, request, decoded.answer, expected) !== undefined
    } catch (err) {
      return (err as { code?: string }).code === 'ENCODING_INVALID'
    }
  }), { numRuns: 60 })
})

test('the inputs are bound to the seed, the provider key and the adapter', t => {
  const seed = new Uint8Array(32).fill(3)
  const base = challengeTask(seed, 32, keys.publicKey, 'A').spec.inputs
  t.deepEqual(challengeTask(seed, 32, keys.publicKey, 'A').spec.inputs, base, 'deterministic')
  t.notDeepEqual(challengeTask(seed, 32, otherKeys.publicKey, 'A').spec.inputs, base, 'another provider gets other inputs')
  t.notDeepEqual(challengeTask(seed, 32, keys.publicKey, 'B').spec.inputs, base, 'another adapter gets other inputs')
  t.notDeepEqual(challengeTask(new Uint8Array(32).fill(4), 32, keys.publicKey, 'A').spec.inputs, base, 'another seed gets other inputs')
  t.notDeepEqual(challengeId(seed, 32, keys.publicKey), challengeId(seed, 32, otherKeys.publicKey))
  // the values are exact 24-bit fractions in [-1, 1)
  const a = new Float32Array(challengeTask(seed, 32, keys.publicKey, 'A').inputs[0].bytes.slice().buffer)
  t.true(a.every(v => v >= -1 && v < 1 && Number.isInteger((v + 1) * 2 ** 23)))
})

test('an honest answer passes the checks; each way of cheating is named', async t => {
  const request = { seed: new Uint8Array(32).fill(5), size: 48 }
  const honest = await answerChallenge(executor(), keys, CHAIN, request)
  t.is(checkChallengeAnswer(CHAIN, request, honest, expected), undefined)

  // another provider's answer to the same seed: signed by its own key, on its own inputs
  const borrowed = await answerChallenge(executor(), otherKeys, CHAIN, request)
  t.is(checkChallengeAnswer(CHAIN, request, borrowed, expected)?.outcome, 'key-mismatch')
  // the honest answer with the other key's bytes swapped in fails the signature
  t.is(checkChallengeAnswer(CHAIN, request, { ...honest, elapsedMs: honest.elapsedMs + 1 }, expected)?.outcome, 'bad-signature')
  t.is(checkChallengeAnswer('harmony-other', request, honest, expected)?.outcome, 'bad-signature', 'signed for one chain only')
  t.is(checkChallengeAnswer(CHAIN, request, honest, { ...expected, capability: { ...expected.capability, adapter: 'NVIDIA H100' } })?.outcome, 'adapter-mismatch')
  t.is(checkChallengeAnswer(CHAIN, request, honest, { ...expected, capability: { ...expected.capability, executor: 'webgpu' } })?.outcome, 'executor-mismatch')
  t.is(checkChallengeAnswer(CHAIN, { ...request, seed: new Uint8Array(32).fill(6) }, honest, expected)?.outcome, 'bad-signature', 'an answer to an old seed')

  // a wrong output, committed and signed as if right
  const wrong = await answerChallenge(executor(r => {
    const bytes = r.outputs[0].bytes.slice()
    bytes[3] ^= 0x40 // an exponent bit of the first value: far outside the tolerance
    const output = outputBlob(bytes, 'f32', r.outputs[0].shape)
    return { ...r, outputs: [output], commitment: resultCommitment([output]) }
  }), keys, CHAIN, request)
  t.is(checkChallengeAnswer(CHAIN, request, wrong, expected)?.outcome, 'wrong-answer')
  // a right output with a commitment to something else
  const lying = await answerChallenge(executor(r => ({ ...r, commitment: 'ab'.repeat(32) })), keys, CHAIN, request)
  t.deepEqual(lying.commitment, fromHex('ab'.repeat(32)))
  t.is(checkChallengeAnswer(CHAIN, request, lying, expected)?.outcome, 'wrong-answer')
})
