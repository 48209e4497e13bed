import { Counter, Gauge } from 'prom-client'
import { defineMetrics } from '../core/metrics.ts'

/** Every metric of the chain module (deposit watcher, chain client, checkpoint aggregator). */
export interface ChainMetrics {
  deposits: Counter
  /** deep = deeper than the confirmation depth */
  reorgs: Counter<'deep'>
  depositCursorBlock: Gauge
  txs: Counter<'result'>
  txResends: Counter
  checkpointMessages: Counter<'verdict'>
  checkpointsSubmitted: Counter
  checkpointEpoch: Gauge
}

/** The chain metrics on `registry` (created once per registry), or unexported ones without a registry. */
export const createChainMetrics = defineMetrics<ChainMetrics>((registers) => ({
  deposits: new Counter({ name: 'harmony_chain_deposits_total', help: 'confirmed deposits delivered to the DAG', registers }),
  reorgs: new Counter({ name: 'harmony_chain_reorgs_total', help: 'chain reorganisations seen by the deposit watcher; deep = deeper than the confirmation depth', labelNames: ['deep'], registers }),
  depositCursorBlock: new Gauge({ name: 'harmony_chain_deposit_cursor_block', help: 'last block scanned for deposits', registers }),
  txs: new Counter({ name: 'harmony_chain_tx_total', help: 'chain transactions sent, by result', labelNames: ['result'], registers }),
  txResends: new Counter({ name: 'harmony_chain_tx_resends_total', help: 'stuck chain transactions re-sent with higher fees', registers }),
  checkpointMessages: new Counter({ name: 'harmony_chain_checkpoint_messages_total', help: 'checkpoint signature messages by gossip verdict', labelNames: ['verdict'], registers }),
  checkpointsSubmitted: new Counter({ name: 'harmony_chain_checkpoints_submitted_total', help: 'checkpoints this node submitted on chain', registers }),
  checkpointEpoch: new Gauge({ name: 'harmony_chain_checkpoint_epoch', help: 'last checkpoint epoch accepted on chain', registers })
}))
