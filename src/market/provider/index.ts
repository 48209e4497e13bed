/**
 * The provider side of the market (docs/market.md "Providers"): pricing policy, capability record, benchmark
 * challenge, heartbeats, the provider agent, and the dispute re-execution hook.
 */
export { ProviderAgent } from './agent.ts'
export type { ProviderAgentComponents, ProviderAgentInit, ProviderStatus, ProviderTaskKeys } from './agent-types.ts'
export { Attester, type AttesterComponents, type AttesterInit } from './attester.ts'
export { BID_STAGES, type BidRecord, type BidStage, BidStore } from './bid-store.ts'
export { networkBlobs, type NetworkBlobsComponents, type ProviderBlobs, ProviderBlobError } from './blobs.ts'
export { adapterName, type CapabilityRecord, capabilityRecord, marketExecutorKind } from './capability.ts'
export {
  answerChallenge, CHALLENGE_OUTCOMES, type ChallengeExecutor, type ChallengeExpectation, type ChallengeOutcome, Challenger,
  type ChallengerInit, ChallengeResponder, type ChallengeResponderInit, type ChallengeVerdict, checkChallengeAnswer,
  measureGflops, type ProviderKeys
} from './challenge.ts'
export { type ChallengeSideComponents, type ChallengeSideInit, challengeServices } from './challenge-side.ts'
export { challengeId, challengeTask, DEFAULT_CHALLENGE_SIZE } from './challenge-codec.ts'
export {
  assertFaultInjectionAllowed, defaultProviderConfig, FAULT_INJECTIONS, type FaultInjection, isDevnetChainId, parseProviderConfig,
  type ProviderConfig, providerConfigSchema, type ProviderSettings, toProviderSettings
} from './config.ts'
export { type Heartbeat, ProviderHeartbeats, type ProviderLiveness, signHeartbeat } from './heartbeat.ts'
export { type AnnouncedTask, announcedInputFault, computeSpec, EMPTY_OUTPUT_ID, injectFault, INPUT_FAULT_PROFILE, inputFaultCommitment, reexecute, type Reexecution } from './job.ts'
export { NO_BID_REASONS, type NoBidEntry, NoBidLog, type NoBidReason, PricingPolicy, type TaskOffer } from './policy.ts'
export { estimateWork, type TaskWork } from './work.ts'
