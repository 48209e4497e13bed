import test from 'ava'
import { silentLogger } from '../../src/core/logger.ts'
import { AvalancheCore } from '../../src/dag/consensus/avalanche-core.ts'
import { type ExternalVerdict, ExternalValidity } from '../../src/dag/external-validity.ts'
import { DagGraph } from '../../src/dag/graph.ts'
import type { VertexInfo } from '../../src/dag/vertex.ts'
import { registerMarketKinds } from '../../src/market/kinds/index.ts'
import { TX_KIND_TASK_AWARD, TX_KIND_TASK_SETTLE } from '../../src/market/kinds/ids.ts'

// A vertex held for an outside check is released once the check passes: at the next recheck interval, or at once
// when the view it waits for moved (recheckNow), so a decision does not sit held for up to a whole interval.

registerMarketKinds()

/** A processing vertex carrying one transaction of `kind` (what ExternalValidity reads of it: its id and kinds). */
function heldVertex (graph: DagGraph, core: AvalancheCore, id: string, kind = TX_KIND_TASK_AWARD): VertexInfo {
  graph.add(id, ['g'], 'processing')
  core.add(id, [{ conflictKey: `escrow:${id}`, txIdHex: `tx-${id}` }])
  return { idHex: id, txs: [{ idHex: `tx-${id}`, tx: { kind } }] } as unknown as VertexInfo
}

test('a pending hold of the kinds named is checked again at once by recheckNow, not only at its interval; an invalid one keeps its backoff, another kind its interval', async t => {
  const graph = new DagGraph('g')
  const core = new AvalancheCore(graph, { k: 3, alpha: 2, betaVirtuous: 3, betaRogue: 5 })
  // an interval far longer than the test: only recheckNow can release within it
  const external = new ExternalValidity(core, silentLogger(), { recheckMs: 600_000 })
  const verdicts = new Map<string, ExternalVerdict>([['tx-a', 'pending'], ['tx-b', 'invalid'], ['tx-c', 'pending']])
  let checks = 0
  const checker = async (tx: { idHex: string }): Promise<ExternalVerdict> => { checks++; return verdicts.get(tx.idHex) ?? 'pending' }
  external.setChecker(TX_KIND_TASK_AWARD, checker)
  external.setChecker(TX_KIND_TASK_SETTLE, checker)
  const released: string[] = []
  external.onRelease(id => { released.push(id) })
  try {
    external.onProcessing(heldVertex(graph, core, 'a'))
    external.onProcessing(heldVertex(graph, core, 'b'))
    external.onProcessing(heldVertex(graph, core, 'c', TX_KIND_TASK_SETTLE))
    for (let i = 0; i < 50 && checks < 3; i++) await new Promise(resolve => setTimeout(resolve, 10))
    t.is(checks, 3, 'each checked once on arrival')
    t.true(core.isHeld('a'))
    t.false(core.isStronglyPreferred('a'), 'a held vertex is not voted for')

    // the awards' view moved: a's check now passes, and so would b's and c's
    for (const id of ['tx-a', 'tx-b', 'tx-c']) verdicts.set(id, 'valid')
    checks = 0
    external.recheckNow(new Set([TX_KIND_TASK_AWARD]))
    for (let i = 0; i < 50 && released.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
    t.deepEqual(released, ['a'])
    t.false(core.isHeld('a'))
    t.true(core.isStronglyPreferred('a'))
    t.is(checks, 1, 'the invalid hold is not asked again before its backoff, nor a hold of another kind before its interval')
    t.true(core.isHeld('b'))
    t.true(core.isHeld('c'))
    t.is(external.heldCount(), 2)
  } finally {
    external.stop()
  }
})
