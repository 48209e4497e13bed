import { Counter } from 'prom-client'
import { defineMetrics } from '../core/metrics.ts'

/** Every metric of the network module built here (libp2p's own come from @libp2p/prometheus-metrics, host.ts). */
export interface NetworkMetrics {
  /** One metric set for every gossip topic (gossip.ts): verdicts by topic and bounded code. */
  gossipValidations: Counter<'topic' | 'verdict' | 'code'>
}

/** The network metrics on `registry` (created once per registry), or unexported ones without a registry. */
export const createNetworkMetrics = defineMetrics<NetworkMetrics>((registers) => ({
  gossipValidations: new Counter({
    name: 'harmony_gossip_validations_total',
    help: 'Gossip validation verdicts by topic and code',
    labelNames: ['topic', 'verdict', 'code'],
    registers
  })
}))
