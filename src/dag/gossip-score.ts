import { VERTEX_TOPIC } from './network.ts'

/**
 * Gossipsub peer-score parameters for the vertex topic: an invalid (rejected) vertex costs its sender
 * (weight −10, slow decay), so a peer sending bad signatures or encodings falls below the gossip thresholds.
 * The node passes these as `scoreParams` to `gossipsub()`.
 */
export function dagGossipScoreParams (): { topics: Record<string, {
  topicWeight: number
  timeInMeshWeight: number
  timeInMeshQuantum: number
  timeInMeshCap: number
  firstMessageDeliveriesWeight: number
  firstMessageDeliveriesDecay: number
  firstMessageDeliveriesCap: number
  meshMessageDeliveriesWeight: number
  meshMessageDeliveriesDecay: number
  meshMessageDeliveriesCap: number
  meshMessageDeliveriesThreshold: number
  meshMessageDeliveriesWindow: number
  meshMessageDeliveriesActivation: number
  meshFailurePenaltyWeight: number
  meshFailurePenaltyDecay: number
  invalidMessageDeliveriesWeight: number
  invalidMessageDeliveriesDecay: number
}>, IPColocationFactorWeight: number } {
  return {
    // All devnet peers share 127.0.0.1; co-location is not misbehaviour here.
    IPColocationFactorWeight: 0,
    topics: {
      [VERTEX_TOPIC]: {
        topicWeight: 1,
        timeInMeshWeight: 0.01,
        timeInMeshQuantum: 1000,
        timeInMeshCap: 100,
        firstMessageDeliveriesWeight: 0.5,
        firstMessageDeliveriesDecay: 0.9,
        firstMessageDeliveriesCap: 100,
        meshMessageDeliveriesWeight: 0,
        meshMessageDeliveriesDecay: 0.9,
        meshMessageDeliveriesCap: 100,
        meshMessageDeliveriesThreshold: 1,
        meshMessageDeliveriesWindow: 10,
        meshMessageDeliveriesActivation: 5000,
        meshFailurePenaltyWeight: 0,
        meshFailurePenaltyDecay: 0.9,
        invalidMessageDeliveriesWeight: -10,
        invalidMessageDeliveriesDecay: 0.99
      }
    }
  }
}
