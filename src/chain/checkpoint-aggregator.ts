/**
 * The checkpoint loop. When the ledger finalizes an epoch it calls `propose(checkpoint)`; a validator signs the
 * EIP-712 digest with its EVM key and gossips the signature (GOSSIP_TOPICS.checkpoint, transport passed in).
 * Every node collects signatures for the digest it computed itself, weighs them by bonded stake, and once ≥ 2/3
 * is reached one node submits: nodes take turns by a rank rotated per epoch (rank × `submitDelayMs`), and each
 * checks the chain first, so usually exactly one transaction is sent and a failed submitter is covered by the next.
 * A validator seen signing two digests for one epoch is reported to the contract (slashable equivocation).
 */
import { EventEmitter } from 'node:events'
import { computeAddress, getAddress, type SigningKey } from 'ethers'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { turnRank } from '../core/turn.ts'
import type { GossipVerdict } from '../network/gossip.ts'
import { type Checkpoint, type CheckpointDomain, checkpointDigest, recoverCheckpointSigner, signCheckpoint } from './checkpoint-digest.ts'
import { decodeCheckpointMessage, encodeCheckpointMessage, type SignedCheckpoint } from './checkpoint-message.ts'
import { ChainError } from './errors.ts'
import { type ChainMetrics, createChainMetrics } from './metrics.ts'
import { hasQuorum, type ValidatorSetView } from './validator-set.ts'

export type { GossipVerdict } from '../network/gossip.ts'
export type { SignedCheckpoint } from './checkpoint-message.ts'

/** Publish/subscribe on the checkpoint topic; the node wires it to its gossip registry (gossip-transport.ts). */
export interface CheckpointTransport {
  publish: (data: Uint8Array) => Promise<void>
  /** The handler resolves with the gossip verdict once the message is processed. Returns an unsubscribe function. */
  subscribe: (handler: (data: Uint8Array) => Promise<GossipVerdict>) => () => void
}

/** What the aggregator needs from the chain (SettlementSubmitter is the real one). */
export interface CheckpointSubmitter {
  lastEpoch: () => Promise<bigint>
  /** Sends submitCheckpoint with signatures ordered by signer; resolves with the transaction hash once mined. */
  submit: (checkpoint: Checkpoint, signatures: string[]) => Promise<string>
  /** Sends slashEquivocation. */
  reportEquivocation?: (a: SignedCheckpoint, b: SignedCheckpoint) => Promise<string>
}

export interface CheckpointAggregatorInit {
  /** Delay per submitter rank before a node submits a checkpoint that reached quorum. @default 3000 */
  submitDelayMs?: number
  /** Epochs ahead of the last on-chain epoch for which signatures are kept. @default 8 */
  maxPendingEpochs?: number
  /** Distinct digests kept per epoch (more can only come from equivocating validators). @default 4 */
  maxDigestsPerEpoch?: number
  /** Report equivocations to the settlement contract. @default true */
  reportEquivocation?: boolean
  /** Submission attempts per epoch before giving up until the next proposal. @default 5 */
  maxSubmitAttempts?: number
  /**
   * Interval to re-publish this node's signatures of epochs not yet anchored (peers that joined late or missed
   * the message still get them) and to check the chain for epochs anchored by others. @default 10000
   */
  republishIntervalMs?: number
}

export interface CheckpointAggregatorComponents {
  transport: CheckpointTransport
  validators: ValidatorSetView
  submitter: CheckpointSubmitter
  domain: CheckpointDomain
  /** The validator's EVM signing key; absent on a node that only observes and submits. */
  signingKey?: SigningKey
  logger: Logger
  registry?: Registry
}

interface DigestState { checkpoint: Checkpoint, signatures: Map<string, string> }
interface EpochState {
  local?: string
  own?: SignedCheckpoint
  /** Times `own` was published. */
  rounds: number
  digests: Map<string, DigestState>
  signerDigest: Map<string, string>
  timer?: NodeJS.Timeout
  attempts: number
  done: boolean
}

/** `signedStake` counts bound signers only; `totalStake` is all bonded stake; `boundStake` the bound validators' part. */
export interface EpochStatus { epoch: bigint, digest?: string, signedStake: bigint, totalStake: bigint, boundStake: bigint, signers: string[], quorum: boolean }

export class CheckpointAggregator extends EventEmitter<{
  quorum: [{ epoch: bigint, digest: string }]
  submitted: [{ epoch: bigint, txHash: string }]
  onchain: [{ epoch: bigint }]
  equivocation: [{ signer: string, a: SignedCheckpoint, b: SignedCheckpoint }]
}> implements Startable {
  private readonly c: CheckpointAggregatorComponents
  private readonly log: Logger
  private readonly submitDelayMs: number
  private readonly maxPendingEpochs: bigint
  private readonly maxDigestsPerEpoch: number
  private readonly reportEquivocations: boolean
  private readonly maxSubmitAttempts: number
  private readonly republishIntervalMs: number
  private republishTimer?: NodeJS.Timeout
  private readonly epochs = new Map<bigint, EpochState>()
  private lastOnchain = 0n
  private unsubscribe?: () => void
  private running = false
  private readonly metrics: ChainMetrics

  constructor (components: CheckpointAggregatorComponents, init: CheckpointAggregatorInit = {}) {
    super()
    this.c = components
    this.log = components.logger.child({ module: 'checkpoint' })
    this.submitDelayMs = init.submitDelayMs ?? 3000
    this.maxPendingEpochs = BigInt(init.maxPendingEpochs ?? 8)
    this.maxDigestsPerEpoch = init.maxDigestsPerEpoch ?? 4
    this.reportEquivocations = init.reportEquivocation ?? true
    this.maxSubmitAttempts = init.maxSubmitAttempts ?? 5
    this.republishIntervalMs = init.republishIntervalMs ?? 10_000
    this.metrics = createChainMetrics(components.registry)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.lastOnchain = await this.c.submitter.lastEpoch()
    this.metrics.checkpointEpoch.set(Number(this.lastOnchain))
    this.unsubscribe = this.c.transport.subscribe(async (data) => await this.handleMessage(data))
    this.republishTimer = setInterval(() => { void this.republish() }, this.republishIntervalMs)
    this.republishTimer.unref?.()
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.republishTimer)
    this.unsubscribe?.()
    for (const state of this.epochs.values()) clearTimeout(state.timer)
    this.epochs.clear()
  }

  /** The last epoch this node knows to be on chain. */
  lastOnchainEpoch (): bigint {
    return this.lastOnchain
  }

  /**
   * The ledger finalized `checkpoint`: remember it as this node's view, sign it when this node is a validator,
   * gossip the signature, and submit once signatures reach quorum.
   */
  async propose (checkpoint: Checkpoint): Promise<void> {
    const digest = checkpointDigest(this.c.domain, checkpoint)
    if (checkpoint.epoch <= this.lastOnchain) return
    const state = this.epoch(checkpoint.epoch)
    if (state === undefined) throw new ChainError('CHECKPOINT_INVALID', `epoch ${checkpoint.epoch} is more than ${this.maxPendingEpochs} ahead of the chain (${this.lastOnchain})`)
    if (state.local !== undefined && state.local !== digest) {
      throw new ChainError('CHECKPOINT_INVALID', `epoch ${checkpoint.epoch} was already proposed with other roots`)
    }
    state.local = digest
    state.attempts = 0
    if (this.c.signingKey !== undefined) {
      const signature = signCheckpoint(this.c.signingKey, this.c.domain, checkpoint)
      await this.addSignature(checkpoint, digest, addressOf(this.c.signingKey), signature)
      state.own = { checkpoint, signature }
      await this.publish(state)
    }
    await this.tryQuorum(checkpoint.epoch)
  }

  /** Re-publishes own signatures of pending epochs and prunes epochs anchored meanwhile by other nodes. */
  async republish (): Promise<void> {
    if (!this.running) return
    try {
      this.markOnchain(await this.c.submitter.lastEpoch())
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cannot read the last epoch')
    }
    for (const [epoch, state] of this.epochs) {
      if (state.done) continue
      if (state.own !== undefined) await this.publish(state)
      // a submission that gave up (chain down, out of gas) gets a fresh set of attempts
      if (state.timer === undefined && state.attempts >= this.maxSubmitAttempts) {
        state.attempts = 0
        await this.tryQuorum(epoch)
      }
    }
  }

  /** Publishing fails when no peer is subscribed yet; the periodic re-publish covers that, so it is not fatal. */
  private async publish (state: EpochState): Promise<void> {
    if (state.own === undefined) return
    const round = state.rounds++
    try {
      await this.c.transport.publish(encodeCheckpointMessage(state.own, round))
    } catch (err) {
      this.log.debug({ epoch: state.own.checkpoint.epoch.toString(), err: (err as Error).message }, 'checkpoint signature not published')
    }
  }

  /** Gossip validation and intake of one message (wire it as the topic validator). Never throws. */
  async handleMessage (data: Uint8Array): Promise<GossipVerdict> {
    const verdict = await this.intake(data).catch((err: unknown) => {
      // Our own failure (e.g. the chain is unreachable) must not punish the sender.
      this.log.debug({ err: (err as Error).message }, 'checkpoint message not processed')
      return 'ignore' as const
    })
    this.metrics.checkpointMessages.inc({ verdict })
    return verdict
  }

  status (epoch: bigint): Promise<EpochStatus> {
    return this.statusOf(epoch)
  }

  private async intake (data: Uint8Array): Promise<GossipVerdict> {
    let signed: SignedCheckpoint
    try {
      signed = decodeCheckpointMessage(data)
    } catch {
      return 'reject'
    }
    const { checkpoint, signature } = signed
    if (checkpoint.epoch <= this.lastOnchain) return 'ignore'
    let signer: string
    try {
      signer = recoverCheckpointSigner(this.c.domain, checkpoint, signature)
    } catch {
      return 'reject'
    }
    const snapshot = await this.c.validators.snapshot()
    // weightOf is 0 for a signer not bound to a genesis validator's ML-DSA key (validator-set.ts): its signature
    // is never stored, so no quorum, co-signature or submission can rely on it. Ignore, not reject: the sender only
    // relays it, and our view of the registrations may lag the chain.
    if (snapshot.weightOf(signer) === 0n) return 'ignore'
    const state = this.epoch(checkpoint.epoch)
    if (state === undefined) return 'ignore'
    const digest = checkpointDigest(this.c.domain, checkpoint)
    const previous = state.signerDigest.get(signer)
    if (previous !== undefined && previous !== digest) {
      const a = state.digests.get(previous)
      const aSig = a?.signatures.get(signer)
      if (a !== undefined && aSig !== undefined) await this.equivocation(signer, { checkpoint: a.checkpoint, signature: aSig }, signed)
      return 'accept'
    }
    if (previous === digest) return 'ignore'
    if (!state.digests.has(digest) && state.digests.size >= this.maxDigestsPerEpoch) return 'ignore'
    await this.addSignature(checkpoint, digest, signer, signature)
    await this.tryQuorum(checkpoint.epoch)
    return 'accept'
  }

  private epoch (epoch: bigint): EpochState | undefined {
    if (epoch <= this.lastOnchain || epoch > this.lastOnchain + this.maxPendingEpochs) return undefined
    let state = this.epochs.get(epoch)
    if (state === undefined) {
      state = { digests: new Map(), signerDigest: new Map(), attempts: 0, done: false, rounds: 0 }
      this.epochs.set(epoch, state)
    }
    return state
  }

  private async addSignature (checkpoint: Checkpoint, digest: string, signer: string, signature: string): Promise<void> {
    const state = this.epoch(checkpoint.epoch)
    if (state === undefined) return
    let d = state.digests.get(digest)
    if (d === undefined) {
      d = { checkpoint, signatures: new Map() }
      state.digests.set(digest, d)
    }
    d.signatures.set(signer, signature)
    state.signerDigest.set(signer, digest)
  }

  private async equivocation (signer: string, a: SignedCheckpoint, b: SignedCheckpoint): Promise<void> {
    this.log.warn({ signer, epoch: a.checkpoint.epoch.toString() }, 'validator signed two checkpoints for one epoch')
    this.emit('equivocation', { signer, a, b })
    if (this.reportEquivocations && this.c.submitter.reportEquivocation !== undefined) {
      try {
        await this.c.submitter.reportEquivocation(a, b)
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'equivocation report failed (maybe already reported)')
      }
    }
  }

  private async statusOf (epoch: bigint): Promise<EpochStatus> {
    const snapshot = await this.c.validators.snapshot()
    const state = this.epochs.get(epoch)
    const digest = state?.local
    const sigs = digest === undefined ? undefined : state?.digests.get(digest)?.signatures
    const signers = sigs === undefined ? [] : [...sigs.keys()]
    // only bound signers weigh; the total is every registered validator's stake, as the contract counts it, so a
    // quorum here is a quorum on chain and never relies on an unbound signer
    const signedStake = signers.reduce((sum, s) => sum + snapshot.weightOf(s), 0n)
    return { epoch, digest, signedStake, totalStake: snapshot.total, boundStake: snapshot.boundTotal, signers, quorum: hasQuorum(signedStake, snapshot.total) }
  }

  private async tryQuorum (epoch: bigint): Promise<void> {
    const state = this.epochs.get(epoch)
    if (state === undefined || state.local === undefined || state.timer !== undefined || state.done || !this.running) return
    const status = await this.statusOf(epoch)
    if (!status.quorum) return
    this.emit('quorum', { epoch, digest: state.local })
    const snapshot = await this.c.validators.snapshot()
    const order = snapshot.validators.filter((v) => v.bound).map((v) => getAddress(v.signer)).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    const me = this.c.signingKey === undefined ? -1 : order.indexOf(addressOf(this.c.signingKey))
    const n = order.length
    const rank = turnRank(me, epoch, n)
    this.schedule(epoch, rank * this.submitDelayMs)
  }

  private schedule (epoch: bigint, delayMs: number): void {
    const state = this.epochs.get(epoch)
    if (state === undefined || !this.running) return
    clearTimeout(state.timer)
    state.timer = setTimeout(() => { void this.submitIfNeeded(epoch) }, delayMs)
    state.timer.unref?.()
  }

  private async submitIfNeeded (epoch: bigint): Promise<void> {
    const state = this.epochs.get(epoch)
    if (state === undefined || state.local === undefined || !this.running) return
    try {
      const onchain = await this.c.submitter.lastEpoch()
      this.markOnchain(onchain)
      if (onchain >= epoch) return
      if (onchain < epoch - 1n) {
        // the previous epoch is not anchored yet: wait for it
        this.schedule(epoch, this.submitDelayMs)
        return
      }
      const digest = state.local
      const d = state.digests.get(digest)
      if (d === undefined) {
        state.timer = undefined
        return
      }
      const signatures = await this.selectSignatures(d.signatures)
      const txHash = await this.c.submitter.submit(d.checkpoint, signatures)
      state.done = true
      this.metrics.checkpointsSubmitted.inc()
      this.log.info({ epoch: epoch.toString(), txHash, signatures: signatures.length }, 'checkpoint submitted')
      this.emit('submitted', { epoch, txHash })
      this.markOnchain(epoch)
    } catch (err) {
      state.timer = undefined
      state.attempts++
      this.log.warn({ epoch: epoch.toString(), attempt: state.attempts, err: (err as Error).message }, 'checkpoint submission failed')
      if (state.attempts < this.maxSubmitAttempts) this.schedule(epoch, this.submitDelayMs)
    }
  }

  /** The heaviest signers until 2/3 is reached (fewer signatures, less gas), ordered by signer address. */
  private async selectSignatures (signatures: Map<string, string>): Promise<string[]> {
    const snapshot = await this.c.validators.snapshot()
    const weighted = [...signatures].map(([signer, sig]) => ({ signer, sig, weight: snapshot.weightOf(signer) }))
      .filter((s) => s.weight > 0n)
      .sort((a, b) => (a.weight === b.weight ? 0 : a.weight > b.weight ? -1 : 1))
    const chosen: typeof weighted = []
    let sum = 0n
    for (const s of weighted) {
      chosen.push(s)
      sum += s.weight
      if (hasQuorum(sum, snapshot.total)) break
    }
    return chosen.sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : 1)).map((s) => s.sig)
  }

  private markOnchain (epoch: bigint): void {
    if (epoch <= this.lastOnchain) return
    this.lastOnchain = epoch
    this.metrics.checkpointEpoch.set(Number(epoch))
    for (const [e, state] of this.epochs) {
      if (e <= epoch) {
        clearTimeout(state.timer)
        this.epochs.delete(e)
      }
    }
    this.emit('onchain', { epoch })
  }
}

function addressOf (key: SigningKey): string {
  return getAddress(computeAddress(key.publicKey))
}
