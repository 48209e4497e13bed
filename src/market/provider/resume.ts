import type { Counter } from 'prom-client'
import type { Logger } from '../../core/logger.ts'
import type { ProviderAgentComponents } from './agent-types.ts'
import type { BidRecord } from './bid-store.ts'

export interface ResumeComponents {
  /** Whether this node's ledger knows nothing of a transaction (ProviderAgentComponents.txLost); absent: never looked at. */
  txLost: ProviderAgentComponents['txLost']
  /** Lost transactions found, by kind (`harmony_provider_lost_transactions_total`). */
  lost: Counter<'kind'>
  log: Logger
  /** Changes a bid record and writes it to the bid store. */
  update: (record: BidRecord, change: Partial<BidRecord>) => Promise<void>
  /** Gives a bid up, saying why (logged, and written to its record). */
  fail: (record: BidRecord, detail: string) => Promise<void>
}

/**
 * A bid kept from before a restart, made ready for the agent's usual course (which makes a step again where the
 * record says it was not made). A kill -9 can come at any point of a step:
 * - between a commit's record and its admission (`committing`): the commit may have been admitted. The bid is
 *   revealed like any other; the market refuses the reveal of a commit it never got, which gives the bid up.
 * - after an admission, before the transaction reached a vertex: a validator's mempool died with it (`txLost`).
 *   - A lost result is run and sent again while the award's deadline allows (a winner that never answers is slashed
 *     late). Computing it again gives the same output: the result is deterministic.
 *   - A lost reveal is sent again inside the reveal window (`reveal` gives it up past it).
 *   - A lost commit gives the bid up: its window has usually closed, and an unrevealed commit costs nothing.
 * Only the agent's start calls it, once per record, before any event or clock can step the bid.
 */
export async function resumeBid (c: ResumeComponents, record: BidRecord): Promise<void> {
  if (record.stage === 'committing') return await c.update(record, { stage: 'committed' })
  const lost = c.txLost
  if (lost === undefined) return
  const undo = async (kind: string, change: Partial<BidRecord>, what: string): Promise<void> => {
    c.lost.inc({ kind })
    c.log.warn({ taskId: record.taskId }, `the ${kind} sent before the restart is unknown to this node's ledger (lost with its mempool): ${what}`)
    await c.update(record, change)
  }
  if (record.stage === 'answered' && record.resultTx !== undefined && await lost(record.resultTx)) {
    return await undo('task-result', { stage: 'revealed', resultTx: undefined, answeredRounds: record.answeredRounds.slice(0, -1) }, 'running the award again')
  }
  if (record.stage === 'revealed' && record.revealTx !== undefined && await lost(record.revealTx)) {
    return await undo('bid-reveal', { stage: 'committed', revealTx: undefined }, 'revealing again')
  }
  if (record.stage === 'committed' && record.commitTx !== undefined && await lost(record.commitTx)) {
    c.lost.inc({ kind: 'bid-commit' })
    return await c.fail(record, 'the commit sent before the restart is unknown to this node\'s ledger (lost with its mempool)')
  }
}
