// The SDK's waitForTransaction over HTTP to a node: a transaction the node does not know (as after its mempool died
// with its process) is sent again from the client's signed bytes and becomes final; one whose nonce another
// transaction took is TX_DROPPED, not waited on until the timeout.
import test from 'ava'
import { Registry } from 'prom-client'
import { registerDagRpc } from '../../src/api/dag.ts'
import { fromHex } from '../../src/core/codec.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { txInfo } from '../../src/dag/tx.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { RpcServer } from '../../src/rpc/server.ts'
import { HarmonyClient, RpcTransportError, TransactionError, waitForTransaction } from '../../src/sdk/index.ts'
import { addressOf, createTestNet, transfer } from '../helpers/dag-net.ts'

const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`
const idOf = (signed: string): string => `0x${txInfo(fromHex(signed)).idHex}`

test.serial('a transaction the node forgot is sent again and becomes final; one whose nonce went to another is TX_DROPPED', async t => {
  const net = await createTestNet({ nodes: 1, accounts: 2, accountBalance: 1_000_000n })
  const registry = new RpcRegistry()
  const dag = net.nodes[0].dag
  registerDagRpc(registry, dag)
  const server = new RpcServer({ registry, logger: silentLogger(), metrics: new Registry(), health: () => ({ ok: true, uptimeSeconds: 1 }), ready: () => ({ ok: true }) }, { port: 0 })
  await server.start()
  const client = new HarmonyClient({ url: server.url })
  try {
    const [a, b] = net.accounts
    // signed and "sent" to a node that lost it: the node has no record of it at all
    const lost = hex(transfer(net.genesis, a, b, 100n, 0n))
    t.is(await client.call('tx_get', [idOf(lost)]), null)
    // without the bytes to send again, the wait can only time out, saying the node does not know it
    const timedOut = await t.throwsAsync(waitForTransaction(client, idOf(lost), { timeoutMs: 300 }), { instanceOf: RpcTransportError })
    t.is(timedOut?.code, 'RPC_TIMEOUT')
    t.regex(timedOut?.message ?? '', /unknown to the node/)
    // with them, it is sent again and becomes final, once
    const final = await waitForTransaction(client, idOf(lost), { resend: lost, resendAfterMs: 100, timeoutMs: 60_000 })
    t.is(final.status, 'final')
    t.is(await client.call('account_getBalance', [addressOf(b)]), String(1_000_000n + 100n))
    t.is(await client.call('account_getNonce', [addressOf(a)]), '1')

    // a transfer with nonce 1 is lost, and the account signs another with nonce 1 that becomes final: the lost one
    // can never be; sending it again says so
    const dropped = hex(transfer(net.genesis, a, b, 7n, 1n))
    const other = await client.call('account_sendTransaction', [hex(transfer(net.genesis, a, b, 8n, 1n))])
    t.is((await waitForTransaction(client, other, { timeoutMs: 60_000 })).status, 'final')
    const err = await t.throwsAsync(waitForTransaction(client, idOf(dropped), { resend: dropped, resendAfterMs: 100, timeoutMs: 60_000 }), { instanceOf: TransactionError })
    t.is(err?.code, 'TX_DROPPED')
    t.like(err?.meta, { id: idOf(dropped), reason: 'NONCE_TOO_LOW' })
    t.is(await client.call('account_getBalance', [addressOf(b)]), String(1_000_000n + 100n + 8n), 'only the transfer that took the nonce paid')
  } finally {
    await client.close()
    await server.stop()
    await net.close()
  }
})
