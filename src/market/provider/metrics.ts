import { Counter, Gauge, Histogram } from 'prom-client'
import { defineMetrics } from '../../core/metrics.ts'

/** Every metric of the provider side (agent and challenge). */
export interface ProviderMetrics {
  decisions: Counter<'outcome'>
  transactions: Counter<'kind' | 'outcome'>
  lost: Counter<'kind'>
  bidEntries: Counter<'kind'>
  jobs: Counter<'outcome'>
  jobSeconds: Histogram
  active: Gauge
  challenges: Counter<'outcome'>
}

export const createProviderMetrics = defineMetrics<ProviderMetrics>((registers) => ({
  decisions: new Counter({ name: 'harmony_provider_decisions_total', help: 'Announced tasks decided by this provider: bid, or the reason it did not bid', labelNames: ['outcome'], registers }),
  transactions: new Counter({ name: 'harmony_provider_transactions_total', help: 'Transactions the provider agent submitted, by kind and outcome (ok or an error code)', labelNames: ['kind', 'outcome'], registers }),
  lost: new Counter({ name: 'harmony_provider_lost_transactions_total', help: 'Transactions the provider agent had admitted that its validator\'s ledger did not know after a restart (lost with the mempool to a kill -9), by kind: each step made again or given up', labelNames: ['kind'], registers }),
  bidEntries: new Counter({ name: 'harmony_provider_bid_entries_total', help: 'Bids carried by the bid-commits and bid-reveals transactions admitted (against their count in harmony_provider_transactions_total: the batching)', labelNames: ['kind'], registers }),
  jobs: new Counter({ name: 'harmony_provider_jobs_total', help: 'Awarded tasks run, by outcome (answered; input-fault: the requester\'s inputs do not fit the task, reported instead of a result; or an error code)', labelNames: ['outcome'], registers }),
  jobSeconds: new Histogram({ name: 'harmony_provider_job_seconds', help: 'Awarded task from the award seen to the result submitted', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers }),
  active: new Gauge({ name: 'harmony_provider_active_tasks', help: 'Tasks held: bids not yet decided plus awarded tasks not yet answered', registers }),
  challenges: new Counter({ name: 'harmony_provider_challenges_total', help: 'Benchmark challenges this node sent, by outcome', labelNames: ['outcome'], registers })
}))
