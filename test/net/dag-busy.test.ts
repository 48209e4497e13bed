import test from 'ava'
import { registerDagRpc } from '../../src/api/dag.ts'
import { toHex } from '../../src/core/codec.ts'
import { type RpcContext, RpcErrorCode, RpcMethodError, RpcRegistry } from '../../src/rpc/registry.ts'
import { createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const ctx: RpcContext = { transport: 'http', signal: new AbortController().signal }
const BOUND = 4

async function call (registry: RpcRegistry, name: string, params: unknown[]): Promise<unknown> {
  const m = registry.get(name)
  if (m === undefined) throw new Error(`no method ${name}`)
  return await m.handler(m.params.parse(params), ctx)
}

test.serial('past its bound a validator refuses new transactions with a retryable BUSY (-32005, retryAfterMs) and a metric, and takes them again once drained', async t => {
  // two validators of equal stake: the quorum needs both, so with the second stopped nothing finalizes and the
  // first one's pending transactions pile up against a bound of BOUND (nothing finalized: the floor is the bound)
  const net = await createTestNet({ nodes: 2, accounts: BOUND + 1, dag: { admissionControl: { minPendingTxs: BOUND } } })
  try {
    await net.stop(1)
    const node = net.nodes[0]
    const registry = new RpcRegistry()
    registerDagRpc(registry, node.dag)
    const send = async (i: number): Promise<string> => await call(registry, 'account_sendTransaction', [`0x${toHex(transfer(net.genesis, net.accounts[i], net.accounts[(i + 1) % net.accounts.length], 1n, 0n))}`]) as string
    const status = async (id: string): Promise<string | undefined> => ((await call(registry, 'tx_get', [id]).catch(() => undefined)) as { status?: string } | undefined)?.status

    const accepted: string[] = []
    for (let i = 0; i < BOUND; i++) accepted.push(await send(i))
    for (const id of accepted) t.is(await status(id), 'pending')

    const err = await t.throwsAsync(send(BOUND), { instanceOf: RpcMethodError })
    t.is(err?.rpcCode, RpcErrorCode.LIMIT_EXCEEDED)
    const data = err?.data as { reason?: string, retryAfterMs?: number, pendingTxs?: number, boundTxs?: number }
    t.is(data.reason, 'BUSY')
    t.true(typeof data.retryAfterMs === 'number' && data.retryAfterMs >= 50 && data.retryAfterMs <= 5000, `retryAfterMs ${data.retryAfterMs}`)
    t.is(data.pendingTxs, BOUND)
    t.is(data.boundTxs, BOUND)
    t.regex(err?.message ?? '', /capacity.*retry after/)
    const refusals = await node.registry.getSingleMetric('harmony_dag_busy_refusals_total')?.get()
    t.is(refusals?.values.find(v => v.labels.reason === 'pending')?.value, 1, 'the refusal is counted')
    t.is(node.dag.ledger.admissionView().pendingTxs, BOUND, 'the refused transaction was not queued')

    // the second validator returns: the pending transactions finalize, and the node takes new ones again
    await net.start(1)
    await net.connectAll()
    await waitFor(async () => (await Promise.all(accepted.map(status))).every(s => s === 'final'), 'the accepted transactions final', 120_000)
    await waitFor(() => node.dag.ledger.admissionView().pendingTxs < BOUND, 'the node drained')
    const again = await send(BOUND)
    await waitFor(async () => await status(again) !== 'pending', 'the retried transaction decided', 120_000)
    t.is(await status(again), 'final')
  } finally {
    await net.close()
  }
})
