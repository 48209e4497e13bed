import { Counter, Gauge, type Registry } from 'prom-client'

/** The bridge's Prometheus metrics (names end in their unit). */
export interface BridgeMetrics {
  pendingDeposits: Gauge
  unsettled: Gauge
  heldVertices: Gauge
  proposals: Counter<'kind'>
  epochs: Counter
  withdrawals: Counter
}

/** What the gauges read when Prometheus scrapes. */
export interface BridgeGaugeSources {
  pendingDeposits: () => number
  unsettled: () => number
  heldVertices: () => number
}

export function createBridgeMetrics (registry: Registry, sources: BridgeGaugeSources): BridgeMetrics {
  const registers = [registry]
  const gauge = (name: string, help: string, read: () => number): Gauge => new Gauge({ name, help, registers, collect () { this.set(read()) } })
  return {
    pendingDeposits: gauge('harmony_bridge_pending_deposits', 'confirmed deposits whose DAG credit is not final yet on this node', sources.pendingDeposits),
    unsettled: gauge('harmony_bridge_unsettled_withdrawals', 'final withdraw burns not in a closed epoch yet', sources.unsettled),
    heldVertices: gauge('harmony_bridge_held_vertices', 'processing vertices this node does not vote for until its chain view confirms their deposit credits', sources.heldVertices),
    proposals: new Counter({ name: 'harmony_bridge_proposals_total', help: 'deposit credits and epoch closes this validator submitted', labelNames: ['kind'], registers }),
    epochs: new Counter({ name: 'harmony_bridge_epochs_total', help: 'withdrawal epochs handed to the chain side', registers }),
    withdrawals: new Counter({ name: 'harmony_bridge_withdrawals_total', help: 'withdrawal leaves handed to the chain side', registers })
  }
}
