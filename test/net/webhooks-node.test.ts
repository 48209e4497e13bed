import test from 'ava'
import { createHmac, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { loadWalletFile, walletFromSeed } from '../../src/core/keys/wallet.ts'
import { signTransfer } from '../../src/dag/wallet.ts'
import { HarmonyClient } from '../../src/sdk/index.ts'
import { operatorSecret, runHarmonyd, startHarmonyd, tempDir, waitFor, type RunningNode } from '../helpers/harmonyd.ts'
import { WebhookReceiver } from '../helpers/webhook-receiver.ts'

interface Delivery { id: string, hook: string, kind: string, data: Record<string, unknown> }

const nodeArgs = (dir: string): string[] => ['--datadir', dir, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn']

test.serial('a solo node signs its tx and payment deliveries, and a kill -9 mid-retry loses none: each arrives after the restart, once', async (t) => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'devnet', '--json'])
  t.is(init.code, 0, init.stderr)
  const faucetWallet = (JSON.parse(init.stdout) as { faucetWallet: string }).faucetWallet
  const receiver = await WebhookReceiver.start()
  t.teardown(async () => { await receiver.close() })
  let restarted = false
  receiver.answer = () => restarted ? 200 : 503

  let node: RunningNode = await startHarmonyd(nodeArgs(d.path))
  // the node of the moment (it is restarted below) stops before `d` is removed: disposed in reverse order
  await using _stopNode = { [Symbol.asyncDispose]: async () => { await node.stop() } }

  // registered through the CLI over the SDK; the secret is printed once
  const added = await runHarmonyd(['webhook', 'add', receiver.url, '--events', 'tx', 'payment', '--label', 'e2e', '--rpc', node.rpc, '--datadir', d.path, '--json'])
  t.is(added.code, 0, added.stderr)
  const hook = JSON.parse(added.stdout) as { id: string, secret: string, events: string[] }
  t.deepEqual(hook.events, ['tx', 'payment'])

  // signed here and sent through the SDK (a process less than the wallet CLI, which the ledger tests cover)
  const alice = { address: walletFromSeed(randomBytes(32)).address }
  let client = new HarmonyClient({ url: node.rpc, auth: { jwtSecret: await operatorSecret(d.path) } })
  const faucet = await loadWalletFile(faucetWallet)
  const { chainId } = await client.call('node_info')
  const signed = signTransfer(faucet, { chainId: chainId ?? '', to: alice.address, amount: 25n * 10n ** 17n, nonce: BigInt(await client.call('account_getNonce', [faucet.address])), fee: 1000n })
  const id = await client.call('account_sendTransaction', [signed])
  const tx = await waitFor('the transfer to be final', async () => {
    const found = await client.call('tx_get', [id])
    return found?.status === 'final' ? found : undefined
  })
  await client.close()

  // the first delivery fails twice, then the node is killed while it waits to retry
  await receiver.until((r) => r.length >= 2)
  const failedId = receiver.received[0].headers['x-harmony-delivery']
  t.true(receiver.received.every((r) => r.headers['x-harmony-delivery'] === failedId), 'retries of the head of the queue only')
  const exited = once(node.child, 'exit')
  node.child.kill('SIGKILL')
  await exited

  restarted = true
  node = await startHarmonyd(nodeArgs(d.path))
  client = new HarmonyClient({ url: node.rpc, auth: { jwtSecret: await operatorSecret(d.path) } })
  t.teardown(async () => { await client.close() })
  const [status] = await waitFor('every delivery done', async () => {
    const hooks = await client.call('webhook_list')
    return hooks[0]?.queued === 0 && hooks[0].delivered === 3 ? hooks : undefined
  })
  t.like(status, { id: hook.id, label: 'e2e', failed: 0, dropped: 0, last: { outcome: 'delivered', httpStatus: 200 } })

  const accepted = receiver.accepted()
  t.is(accepted.length, 3, 'each event delivered exactly once')
  t.is(new Set(accepted.map((a) => a.headers['x-harmony-delivery'])).size, 3)
  t.is(accepted[0].headers['x-harmony-delivery'], failedId, 'the delivery that failed before the kill kept its id')
  for (const a of accepted) {
    const [, ts, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(a.headers['x-harmony-signature'])) ?? []
    t.is(createHmac('sha256', hook.secret).update(`${ts}.${a.body}`).digest('hex'), mac, 'signed with the secret shown at add')
  }
  const bodies = accepted.map((a) => JSON.parse(a.body) as Delivery)
  const txEvent = bodies.find((b) => b.kind === 'tx')
  t.like(txEvent?.data, { id: tx.id, status: 'final', tx: { kind: 'transfer', to: alice.address, amount: (25n * 10n ** 17n).toString() } })
  const payments = bodies.filter((b) => b.kind === 'payment').map((b) => b.data)
  t.deepEqual(payments.map((p) => [p.direction, p.account, p.amount]).sort(), [
    ['credit', alice.address, (25n * 10n ** 17n).toString()],
    ['debit', faucet.address, (25n * 10n ** 17n + 1000n).toString()]
  ])
})
