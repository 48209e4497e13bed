import { randomBytes } from 'node:crypto'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { resultCommitment } from '../../compute/blob.ts'
import type { Executor } from '../../compute/types.ts'
import { referenceResult, toleranceFor, verify as verifyOutputs } from '../../compute/verify.ts'
import { bytesEqual, fromHex, toHex } from '../../core/codec.ts'
import { sign, verify as verifySignature } from '../../core/crypto.ts'
import { errorMessage } from '../../core/errors.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import { PROTOCOLS } from '../../network/protocols.ts'
import { requestOnce, respondOnce } from '../../network/request.ts'
import { adapterName, type CapabilityRecord, marketExecutorKind } from './capability.ts'
import {
  answerSigningMessage, type ChallengeAnswer, challengeFlops, challengeIdHex, type ChallengeReply, type ChallengeRequest,
  challengeTask, DEFAULT_CHALLENGE_SIZE, decodeChallengeReply, decodeChallengeRequest, encodeChallengeReply,
  encodeChallengeRequest, MAX_ANSWER_BYTES, MAX_REQUEST_BYTES, SEED_BYTES
} from './challenge-codec.ts'

/** The executor a provider answers with (ComputeService.executor() in the node). */
export type ChallengeExecutor = Pick<Executor, 'info' | 'run'>

export interface ProviderKeys {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/**
 * Runs one challenge on this provider's executor and signs the answer: what the responder serves and what the
 * start-up measurement times, so an honest provider claims what a challenger will measure.
 */
export async function answerChallenge (executor: ChallengeExecutor, keys: ProviderKeys, chainId: string, request: ChallengeRequest, signal?: AbortSignal): Promise<ChallengeAnswer> {
  const info = executor.info()
  const adapter = adapterName(info)
  const task = challengeTask(request.seed, request.size, keys.publicKey, adapter)
  const started = performance.now()
  const result = await executor.run(task, signal === undefined ? {} : { signal })
  const elapsedMs = Math.min(0xffffffff, Math.ceil(performance.now() - started))
  const output = result.outputs[0].bytes
  const unsigned = {
    publicKey: keys.publicKey,
    adapter,
    executor: marketExecutorKind(info),
    profile: result.profile,
    commitment: fromHex(result.commitment),
    elapsedMs,
    size: request.size
  }
  const signature = sign(answerSigningMessage(chainId, request.seed, unsigned), keys.secretKey)
  return { ...unsigned, output, signature }
}

/**
 * The capability measurement at start: one warm-up challenge (the worker's first run compiles the kernel), then
 * `runs` challenges on fresh seeds, each timed end to end here (deriving inputs, running, signing). The claim is
 * the slowest of them, not the best: a challenger keeps its best round, so an honest claim stays under what a
 * challenge measures even when the machine is busier then than now (measured here on a shared 2-core machine: runs
 * of one size varied up to 6x). @returns GFLOP/s
 */
export async function measureGflops (executor: ChallengeExecutor, keys: ProviderKeys, chainId: string, size = DEFAULT_CHALLENGE_SIZE, runs = 3): Promise<number> {
  await answerChallenge(executor, keys, chainId, { seed: randomBytes(SEED_BYTES), size })
  const rates: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await answerChallenge(executor, keys, chainId, { seed: randomBytes(SEED_BYTES), size })
    const ms = Math.max(performance.now() - started, 0.001)
    rates.push(challengeFlops(size) / ms / 1e6)
  }
  return Math.min(...rates)
}

export interface ChallengeResponderInit {
  /** Challenges answered per minute, all challengers together; more are refused `rate-limited`. @default 30 */
  maxPerMinute?: number
  /** Time to read a request and write the answer. @default 60000 */
  timeoutMs?: number
}

export interface ChallengeResponderComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  keys: ProviderKeys
  chainId: string
  executor: () => ChallengeExecutor
  logger: Logger
}

/**
 * Serves `/harmony/market/challenge/1.0.0` on a provider: one challenge at a time (the executor is the scarce
 * thing; a second concurrent one is refused `busy`), at most `maxPerMinute`, each answer signed.
 */
export class ChallengeResponder implements Startable {
  private readonly c: ChallengeResponderComponents
  private readonly maxPerMinute: number
  private readonly timeoutMs: number
  private readonly answeredAt: number[] = []
  private running = false
  private abort = new AbortController()

  constructor (components: ChallengeResponderComponents, init: ChallengeResponderInit = {}) {
    this.c = components
    this.maxPerMinute = init.maxPerMinute ?? 30
    this.timeoutMs = init.timeoutMs ?? 60_000
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.c.libp2p.handle(PROTOCOLS.marketChallenge, (stream) => { void this.serve(stream) }, { maxInboundStreams: 4 })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await this.c.libp2p.unhandle(PROTOCOLS.marketChallenge)
  }

  private async serve (stream: Stream): Promise<void> {
    await respondOnce(stream, async (bytes, signal) => encodeChallengeReply(await this.reply(decodeChallengeRequest(bytes), signal)), {
      timeoutMs: this.timeoutMs,
      signal: this.abort.signal,
      maxRequestBytes: MAX_REQUEST_BYTES,
      log: this.c.logger
    })
  }

  private async reply (request: ChallengeRequest, signal: AbortSignal): Promise<ChallengeReply> {
    if (this.running) return { ok: false, refusal: 'busy' }
    const now = Date.now()
    while (this.answeredAt.length > 0 && this.answeredAt[0] < now - 60_000) this.answeredAt.shift()
    if (this.answeredAt.length >= this.maxPerMinute) return { ok: false, refusal: 'rate-limited' }
    this.answeredAt.push(now)
    this.running = true
    try {
      const answer = await answerChallenge(this.c.executor(), this.c.keys, this.c.chainId, request, signal)
      this.c.logger.info({ size: request.size, elapsedMs: answer.elapsedMs }, 'answered a benchmark challenge')
      return { ok: true, answer }
    } finally {
      this.running = false
    }
  }
}

/** A challenge's outcome; only `passed` passes. `unreachable` and `refused` say nothing about the claim. */
export const CHALLENGE_OUTCOMES = [
  'passed', 'overclaim', 'wrong-answer', 'bad-signature', 'key-mismatch', 'adapter-mismatch', 'executor-mismatch',
  'malformed', 'refused', 'unreachable'
] as const
export type ChallengeOutcome = (typeof CHALLENGE_OUTCOMES)[number]

/** What the challenger expects of the provider: its registered key and capability record. */
export interface ChallengeExpectation {
  publicKey: Uint8Array
  capability: Pick<CapabilityRecord, 'adapter' | 'executor' | 'gflopsMilli'>
}

export interface ChallengeVerdict {
  /** Hex id of the first round's challenge (`provider-attest`'s challenge id). */
  challengeId: string
  outcome: ChallengeOutcome
  passed: boolean
  /** False for `unreachable` and `refused`: nothing learnt, try later rather than record a failure. */
  definitive: boolean
  /** Best GFLOP/s measured from the challenger's round trips (0 when no round answered correctly). */
  measuredGflops: number
  claimedGflops: number
  /** The provider's own elapsed time of its best round, ms (reported, not trusted). */
  reportedElapsedMs: number
  size: number
  rounds: number
  detail: string
}

/**
 * Checks one answer against the request and the expectation: the key and adapter are the registered ones, the
 * signature is the provider's, the output hashes to the commitment and equals the CPU reference within the
 * kernel's tolerance (bitwise for the CPU executor's profile). Returns undefined when it is correct.
 */
export function checkChallengeAnswer (chainId: string, request: ChallengeRequest, answer: ChallengeAnswer, expected: ChallengeExpectation): { outcome: ChallengeOutcome, detail: string } | undefined {
  if (!bytesEqual(answer.publicKey, expected.publicKey)) return { outcome: 'key-mismatch', detail: 'answered with another key than the registered one' }
  if (answer.adapter !== expected.capability.adapter) return { outcome: 'adapter-mismatch', detail: `answered from adapter ${JSON.stringify(answer.adapter)}, registered ${JSON.stringify(expected.capability.adapter)}` }
  if (answer.executor !== expected.capability.executor) return { outcome: 'executor-mismatch', detail: `answered from a ${answer.executor} executor, registered ${expected.capability.executor}` }
  if (answer.size !== request.size) return { outcome: 'malformed', detail: `answered size ${answer.size}, asked ${request.size}` }
  const { signature, output, ...unsigned } = answer
  if (!verifySignature(signature, answerSigningMessage(chainId, request.seed, unsigned), answer.publicKey)) {
    return { outcome: 'bad-signature', detail: 'the answer is not signed by the provider\'s key' }
  }
  const shape = [request.size, request.size]
  const outputs = [{ bytes: output, dtype: 'f32' as const, shape }]
  if (resultCommitment(outputs) !== toHex(answer.commitment)) return { outcome: 'wrong-answer', detail: 'the output does not hash to the committed value' }
  const task = challengeTask(request.seed, request.size, expected.publicKey, expected.capability.adapter)
  const reference = referenceResult(task)
  if (verifyOutputs({ outputs }, reference, reference, toleranceFor(task.spec)) === 'mismatch') {
    return { outcome: 'wrong-answer', detail: 'the output differs from the CPU reference beyond the kernel\'s tolerance' }
  }
  return undefined
}

export interface ChallengerInit {
  /** Matmul size asked. @default 256 */
  size?: number
  /** Rounds, each on a fresh seed; the best measurement counts (shared machines are noisy), every answer must be right. @default 3 */
  rounds?: number
  /** A claim more than this many times the measured GFLOP/s fails. @default 2 */
  overclaimFactor?: number
  /** Time for one round trip. @default 60000 */
  timeoutMs?: number
}

export interface ChallengerComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  chainId: string
  logger: Logger
}

/**
 * The challenger's side (a validator's, or a requester's): sends random seeds, checks every answer and measures
 * GFLOP/s from its own round-trip time, which the provider cannot shorten by lying.
 */
export class Challenger {
  private readonly c: ChallengerComponents
  private readonly size: number
  private readonly rounds: number
  private readonly overclaimFactor: number
  private readonly timeoutMs: number

  constructor (components: ChallengerComponents, init: ChallengerInit = {}) {
    this.c = components
    this.size = init.size ?? DEFAULT_CHALLENGE_SIZE
    this.rounds = init.rounds ?? 3
    this.overclaimFactor = init.overclaimFactor ?? 2
    this.timeoutMs = init.timeoutMs ?? 60_000
  }

  async challenge (peer: PeerId, expected: ChallengeExpectation, signal: AbortSignal = new AbortController().signal): Promise<ChallengeVerdict> {
    const claimedGflops = expected.capability.gflopsMilli / 1000
    let id = ''
    let best = 0
    let reportedElapsedMs = 0
    const verdict = (outcome: ChallengeOutcome, detail: string, rounds: number): ChallengeVerdict => ({
      challengeId: id,
      outcome,
      passed: outcome === 'passed',
      definitive: outcome !== 'unreachable' && outcome !== 'refused',
      measuredGflops: Number(best.toPrecision(4)),
      claimedGflops,
      reportedElapsedMs,
      size: this.size,
      rounds,
      detail
    })
    for (let round = 1; round <= this.rounds; round++) {
      const request = { seed: randomBytes(SEED_BYTES), size: this.size }
      if (id === '') id = challengeIdHex(request.seed, request.size, expected.publicKey)
      let reply: ChallengeReply
      let roundTripMs: number
      try {
        const started = performance.now()
        const bytes = await this.exchange(peer, encodeChallengeRequest(request), signal)
        roundTripMs = Math.max(performance.now() - started, 0.001)
        reply = decodeChallengeReply(bytes)
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === 'ENCODING_INVALID') return verdict('malformed', errorMessage(err), round)
        return verdict('unreachable', errorMessage(err), round)
      }
      if (!reply.ok) return verdict('refused', `the provider refused: ${reply.refusal}`, round)
      const wrong = checkChallengeAnswer(this.c.chainId, request, reply.answer, expected)
      if (wrong !== undefined) return verdict(wrong.outcome, wrong.detail, round)
      const measured = challengeFlops(request.size) / roundTripMs / 1e6
      if (measured > best) {
        best = measured
        reportedElapsedMs = reply.answer.elapsedMs
      }
    }
    if (claimedGflops > this.overclaimFactor * best) {
      return verdict('overclaim', `claims ${claimedGflops} GFLOP/s, measured ${best.toPrecision(4)} (more than ${this.overclaimFactor}x)`, this.rounds)
    }
    return verdict('passed', `claims ${claimedGflops} GFLOP/s, measured ${best.toPrecision(4)}`, this.rounds)
  }

  private async exchange (peer: PeerId, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    return await requestOnce(this.c.libp2p, peer, PROTOCOLS.marketChallenge, body, { timeoutMs: this.timeoutMs, signal, maxResponseBytes: MAX_ANSWER_BYTES })
  }
}
