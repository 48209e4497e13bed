import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The ledger's Prometheus metrics (names end in their unit). */
export interface DagMetrics {
  verticesInserted: Counter
  verticesAccepted: Counter
  verticesRejected: Counter
  txsFinal: Counter
  finalitySeconds: Histogram
  polls: Counter<'result'>
  /** A poll's duration by stage: `answers` (sent to every validator's answer in), `total` (to its decision committed). */
  pollSeconds: Histogram<'stage'>
  /** Polls whose answers are awaited now. */
  pollsInFlight: Gauge
  /** Each validator's answer to a poll, as it counts for the queried vertex: `vote`, `no_vote`, `none` (no answer),
   *  `late` (after the poll ended early on a quorum for the queried vertex: not counted). */
  pollAnswers: Counter<'answer'>
  /** Time a queried node took to answer, by `path`: `known`, `gossip_wait` (awaited its gossip copy), `fetch`. */
  queryAnswerSeconds: Histogram<'path'>
  /** An accepted vertex's finality split (docs/ledger-profile.md): `await_poll` (first seen to the first poll that
   *  counted it), `await_chit` (to its first successful poll), `polls` (to β consecutive successes), `parents` (to its
   *  acceptance once its ancestors were); and `mempool` (an own transaction's wait for a vertex). */
  finalityPhaseSeconds: Histogram<'phase'>
  /** From a vertex's timestamp (its author's clock when it built it) to its insertion here, for vertices that came
   *  by gossip: gossip, verification and the insert (on one machine; across machines, clock skew too). */
  vertexPropagationSeconds: Histogram
  /** Under the commit rule: the time between this validator's vertices of consecutive rounds it built. */
  roundIntervalSeconds: Histogram
  /** Commit rule: the least time between this validator's vertices now in force (the pacing follows the machine's idle CPU). */
  roundMinMs: Gauge
  /** Polls that counted an accepted vertex (with any stake), from its first sight to its acceptance. */
  vertexPolls: Histogram
  /** How long this node withheld its vote from a vertex for an outside check (external-validity.ts), by how the hold
   *  ended: `released` (the check passed) or `decided` (the network decided the vertex first). */
  externalHoldSeconds: Histogram<'end'>
  conflicts: Gauge
  equivocations: Gauge
  processing: Gauge
  /** 1 while the validators this node reaches hold the quorum of stake (it can finalize), else 0. */
  live: Gauge
  /** Stake of the validators this node reaches (its own included) over the total genesis stake. */
  reachableStakeRatio: Gauge
  /** New transactions refused as BUSY by admission control, by rule (`pending`, `age` or `latency`). */
  busyRefusals: Counter<'reason'>
  /** Transactions pending (mempool and undecided vertices), as admission control last saw them. */
  pendingTxs: Gauge
  /** Admission control's current bound on pending transactions. */
  pendingBoundTxs: Gauge
  /** The latency rule's signal (clients' transactions, admitted to final) and its limit on those pending here. */
  clientLatencySeconds: Gauge
  clientPendingLimit: Gauge
  /** Vertices in the in-memory graph (the recent window, the undecided ones, the tips). */
  memoryVertices: Gauge
  /** Height of the history cut: decided vertices below it live on disk only. */
  historyCutHeight: Gauge
  /** Decided vertices dropped from memory by the history sweep. */
  verticesEvicted: Counter
  /** Vertex bodies deleted below an anchored checkpoint (a pruned node). */
  verticesPruned: Counter
  /** A node outside the validator set: transactions it forwarded that no vertex here holds yet (ForwardedTxs). */
  forwardedHeld: Gauge
  /** The commit rule: transactions queued here that this validator's last vertex could take none of (their earlier
   *  nonces are in no vertex it holds); 0 while its queue is work for the rounds. */
  mempoolStalledTxs: Gauge
  /** Forwarded transactions sent again, by the answer (`accepted`: a validator had lost it; `known`; `gap`: nonces
   *  before it missing at the validators asked; `refused`; `unreachable`). */
  forwardResends: Counter<'answer'>
  /** Nonce gaps at a validator filled with the account's held transactions before forwarding the next one. */
  forwardGapsFilled: Counter
  /** Forwarded transactions no longer watched: their resends spent, or the oldest at the bound. */
  forwardGivenUp: Counter<'reason'>
}

// from a 1 ms round trip on loopback to the 10 s of a saturated devnet
const PHASE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10]

export function createDagMetrics (registry: Registry): DagMetrics {
  const registers = [registry]
  return {
    verticesInserted: new Counter({ name: 'harmony_dag_vertices_inserted_total', help: 'vertices stored (own and received)', registers }),
    verticesAccepted: new Counter({ name: 'harmony_dag_vertices_accepted_total', help: 'vertices finalized and applied', registers }),
    verticesRejected: new Counter({ name: 'harmony_dag_vertices_rejected_total', help: 'vertices rejected by consensus', registers }),
    txsFinal: new Counter({ name: 'harmony_dag_transactions_final_total', help: 'transactions final and applied', registers }),
    finalitySeconds: new Histogram({ name: 'harmony_dag_finality_seconds', help: 'time from first sight of a vertex to its acceptance', buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10], registers }),
    polls: new Counter({ name: 'harmony_dag_polls_total', help: 'Avalanche queries by outcome', labelNames: ['result'], registers }),
    pollSeconds: new Histogram({ name: 'harmony_dag_poll_seconds', help: 'Avalanche poll duration by stage (answers: all validators answered; total: decision committed)', labelNames: ['stage'], buckets: PHASE_BUCKETS, registers }),
    pollsInFlight: new Gauge({ name: 'harmony_dag_polls_in_flight', help: 'Avalanche polls awaiting answers', registers }),
    pollAnswers: new Counter({ name: 'harmony_dag_poll_answers_total', help: 'validator answers to polls as they count for the queried vertex (vote, no_vote, none; late: after the poll ended, not counted)', labelNames: ['answer'], registers }),
    queryAnswerSeconds: new Histogram({ name: 'harmony_dag_query_answer_seconds', help: 'time to answer an Avalanche query, by path (known, gossip_wait, fetch)', labelNames: ['path'], buckets: PHASE_BUCKETS, registers }),
    finalityPhaseSeconds: new Histogram({ name: 'harmony_dag_finality_phase_seconds', help: 'accepted vertex finality by phase (await_poll, await_chit, polls, parents) and own transactions\' mempool wait (mempool)', labelNames: ['phase'], buckets: PHASE_BUCKETS, registers }),
    vertexPropagationSeconds: new Histogram({ name: 'harmony_dag_vertex_propagation_seconds', help: 'from a vertex\'s timestamp (its author\'s clock) to its insertion here, vertices that came by gossip', buckets: PHASE_BUCKETS, registers }),
    roundIntervalSeconds: new Histogram({ name: 'harmony_dag_round_interval_seconds', help: 'commit rule: time between this validator\'s vertices of consecutive rounds', buckets: PHASE_BUCKETS, registers }),
    roundMinMs: new Gauge({ name: 'harmony_dag_round_min_ms', help: 'commit rule: the least time between this validator\'s vertices now in force (shorter while the machine\'s CPU idles)', registers }),
    externalHoldSeconds: new Histogram({ name: 'harmony_dag_external_hold_seconds', help: 'time this node withheld its vote from a vertex for an outside check, by how the hold ended (released, decided)', labelNames: ['end'], buckets: PHASE_BUCKETS, registers }),
    vertexPolls: new Histogram({ name: 'harmony_dag_vertex_polls', help: 'polls that counted an accepted vertex, from first sight to acceptance', buckets: [1, 5, 10, 15, 20, 30, 50, 100, 200, 500, 1000], registers }),
    conflicts: new Gauge({ name: 'harmony_dag_conflict_sets', help: 'conflict sets (one account, one nonce) that have seen more than one transaction since start', registers }),
    equivocations: new Gauge({ name: 'harmony_dag_equivocations', help: 'commit rule: pairs of vertices of one validator in one round seen since start (equivocation evidence)', registers }),
    processing: new Gauge({ name: 'harmony_dag_processing_vertices', help: 'vertices not yet decided', registers }),
    live: new Gauge({ name: 'harmony_dag_live', help: '1 while the validators this node reaches hold the quorum of stake (it can finalize), else 0', registers }),
    reachableStakeRatio: new Gauge({ name: 'harmony_dag_reachable_stake_ratio', help: 'stake of the validators this node reaches (its own included) over the total genesis stake', registers }),
    busyRefusals: new Counter({ name: 'harmony_dag_busy_refusals_total', help: 'new transactions refused as BUSY by admission control, by rule', labelNames: ['reason'], registers }),
    pendingTxs: new Gauge({ name: 'harmony_dag_pending_transactions', help: 'transactions in the mempool and in undecided vertices', registers }),
    pendingBoundTxs: new Gauge({ name: 'harmony_dag_pending_bound_transactions', help: 'admission control bound on pending transactions (finalized tx/s x target queue time, at least its floor)', registers }),
    clientLatencySeconds: new Gauge({ name: 'harmony_dag_client_latency_seconds', help: 'admission control latency rule signal: p90 of clients\' transactions admitted to final over the last second, or the oldest pending one\'s age when larger (0 while unknown)', registers }),
    clientPendingLimit: new Gauge({ name: 'harmony_dag_client_pending_limit', help: 'admission control latency rule limit on clients\' transactions pending on this node (+Inf until its first cut)', registers }),
    memoryVertices: new Gauge({ name: 'harmony_dag_memory_vertices', help: 'vertices in the in-memory graph (recent window, undecided, tips)', registers }),
    historyCutHeight: new Gauge({ name: 'harmony_dag_history_cut_height', help: 'height below which decided vertices live on disk only', registers }),
    verticesEvicted: new Counter({ name: 'harmony_dag_vertices_evicted_total', help: 'decided vertices dropped from memory by the history sweep', registers }),
    verticesPruned: new Counter({ name: 'harmony_dag_vertices_pruned_total', help: 'vertex bodies deleted below an anchored checkpoint (pruned node)', registers }),
    forwardedHeld: new Gauge({ name: 'harmony_dag_forwarded_held', help: 'transactions this node forwarded that no vertex here holds yet', registers }),
    mempoolStalledTxs: new Gauge({ name: 'harmony_dag_mempool_stalled_txs', help: 'commit rule: queued transactions this validator\'s last vertex could take none of (earlier nonces out of reach); 0 while the queue is work', registers }),
    forwardResends: new Counter({ name: 'harmony_dag_forward_resends_total', help: 'forwarded transactions sent again while no vertex held them, by answer (accepted, known, gap, refused, unreachable)', labelNames: ['answer'], registers }),
    forwardGapsFilled: new Counter({ name: 'harmony_dag_forward_gaps_filled_total', help: 'nonce gaps at a validator filled with the account\'s held forwarded transactions', registers }),
    forwardGivenUp: new Counter({ name: 'harmony_dag_forward_given_up_total', help: 'forwarded transactions no longer watched, by reason (resends_spent, bound)', labelNames: ['reason'], registers })
  }
}
