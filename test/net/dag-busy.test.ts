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
    t.is((await call(registry, 'dag_stats', []) as { busyRefusals: number }).busyRefusals, 1, 'and dag_stats (the devnet\'s live line) shows it')
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

test.serial('a validator whose clients\' transactions take longer than its latency target limits them (BUSY, rule latency), still takes its own, and takes clients\' again once drained', async t => {
  // the second validator stopped: nothing finalizes, so the clients' transactions age past the target
  const TARGET_MS = 200
  const net = await createTestNet({ nodes: 2, accounts: 3, dag: { admissionControl: { minPendingTxs: 10_000, targetLatencyMs: TARGET_MS } } })
  try {
    await net.stop(1)
    const node = net.nodes[0]
    const registry = new RpcRegistry()
    registerDagRpc(registry, node.dag)
    const [client, own, to] = net.accounts
    const send = async (nonce: number): Promise<string> => await call(registry, 'account_sendTransaction', [`0x${toHex(transfer(net.genesis, client, to, 1n, BigInt(nonce)))}`]) as string
    // up to 40 sent one after another: the rule may refuse on the way, once the first ones are older than the target
    const accepted: string[] = []
    let nonce = 0
    for (; nonce < 40; nonce++) {
      try {
        accepted.push(await send(nonce))
      } catch (err) {
        if (!(err instanceof RpcMethodError) || err.rpcCode !== RpcErrorCode.LIMIT_EXCEEDED) throw err
        break
      }
    }
    await waitFor(() => node.dag.ledger.admissionView().clientLimitTxs <= accepted.length, 'the latency rule cut its limit')
    const view = node.dag.ledger.admissionView()
    // the node's first cut: once the oldest pending client's transaction has waited half the target (a node that has
    // never cut does not know what it drains)
    t.true(view.latencyMs > TARGET_MS / 2, `latency ${view.latencyMs} ms`)
    t.is(view.clientPendingTxs, accepted.length)
    t.true(accepted.length >= 32, `the rule never limits a node below 32 clients' transactions: ${accepted.length} taken`)

    const err = await t.throwsAsync(send(nonce), { instanceOf: RpcMethodError })
    t.is(err?.rpcCode, RpcErrorCode.LIMIT_EXCEEDED)
    const data = err?.data as { reason?: string, rule?: string, clientPendingTxs?: number, clientLimitTxs?: number }
    t.is(data.reason, 'BUSY')
    t.is(data.rule, 'latency')
    t.is(data.clientPendingTxs, accepted.length)
    t.true((data.clientLimitTxs ?? 0) >= 32 && (data.clientLimitTxs ?? 0) <= accepted.length, `limit ${data.clientLimitTxs}`)
    const refusals = await node.registry.getSingleMetric('harmony_dag_busy_refusals_total')?.get()
    t.true((refusals?.values.find(v => v.labels.reason === 'latency')?.value ?? 0) >= 1, 'the refusal is counted')
    t.is(node.dag.ledger.admissionView().clientPendingTxs, accepted.length, 'the refused transaction was not queued')
    // the node's own transaction (what a bridge, coordinator or provider sends) is held to the rate rule only
    const mine = await node.dag.submitTransaction(transfer(net.genesis, own, to, 1n, 0n))
    t.regex(mine, /^0x[0-9a-f]{64}$/)

    await net.start(1)
    await net.connectAll()
    const status = async (id: string): Promise<string | undefined> => ((await call(registry, 'tx_get', [id]).catch(() => undefined)) as { status?: string } | undefined)?.status
    await waitFor(async () => (await Promise.all([...accepted, mine].map(status))).every(s => s === 'final'), 'the accepted transactions final', 120_000)
    const again = await send(nonce)
    await waitFor(async () => await status(again) === 'final', 'the client\'s next transaction final', 120_000)
    t.is(node.dag.ledger.admissionView().clientPendingTxs, 0)
  } finally {
    await net.close()
  }
})
