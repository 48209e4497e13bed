import test from 'ava'
import { fork } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, rpc, runHarmonyd, startHarmonyd, tempDir, waitFor } from '../helpers/harmonyd.ts'
import { HarmonyClient } from '../../src/sdk/client.ts'

test.serial('wallet CLI on a devnet: a transfer is final everywhere; a deposit on chain is credited on every node; a withdrawal is claimed on chain; a node joining with --state-sync starts from the checkpoint, with the market\'s records, and reaches the same state root', async (t) => {
  await using d = await tempDir()
  const devnet = fork(BIN, ['devnet', '--nodes', '3', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  t.teardown(() => { devnet.kill('SIGINT') })
  let stdout = ''
  devnet.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  const urls = await waitFor('the devnet', async () => {
    const found = [...stdout.matchAll(/^node \d+ rpc=(\S+) peer=/gm)].map(m => m[1])
    return found.length === 3 ? found : undefined
  }, 120_000)

  // alice's wallet is an encrypted keystore (a low scrypt cost for the test); the devnet faucet stays plain
  const wallet = join(d.path, 'alice.json')
  const password = join(d.path, 'alice.password')
  await writeFile(password, 'alice password\n', { mode: 0o600 })
  const unlock = ['--password-file', password]
  const created = await runHarmonyd(['wallet', 'new', '--wallet', wallet, ...unlock, '--scrypt-n', '1024', '--json'])
  t.is(created.code, 0, created.stderr)
  const alice = (JSON.parse(created.stdout) as { address: string }).address
  t.regex(alice, /^hmy1/)

  // node 0 is the bootstrap node: the last to learn of the others, so the hardest case for its ledger peers
  // a WebSocket client on node 2 is told of every transaction that becomes final there
  const ws = new HarmonyClient({ url: urls[2].replace('http://', 'ws://') })
  t.teardown(() => ws.close())
  const statuses: Array<{ id: string, status: string }> = []
  await ws.subscribe('tx_status', undefined, (e) => { statuses.push(e) })

  const sent = await runHarmonyd(['wallet', 'send', '--wallet', join(d.path, 'faucet.json'), '--to', alice, '--amount', '2.5', '--rpc', urls[0], '--datadir', join(d.path, 'node-0'), '--wait', '--json'])
  t.is(sent.code, 0, sent.stderr)
  const sentTx = JSON.parse(sent.stdout) as { id: string, status: string }
  t.is(sentTx.status, 'final')
  await waitFor('the tx_status event on node 2', async () => statuses.some(e => e.id === sentTx.id && e.status === 'final') ? true : undefined)

  const expected = (25n * 10n ** 17n).toString()
  for (const url of urls) {
    await waitFor(`the transfer on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [alice])) === expected ? true : undefined)
  }
  const roots = await waitFor('equal state roots', async () => {
    const stats = await Promise.all(urls.map(u => rpc<{ stateRoot: string, finalTxs: number }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot && s.finalTxs === 1) ? stats : undefined
  })
  t.is(new Set(roots.map(r => r.stateRoot)).size, 1)

  // a second transfer with a stale nonce is refused at the RPC with a clear error
  const balance = await runHarmonyd(['wallet', 'balance', alice, '--rpc', urls[1], '--json'])
  t.is(balance.code, 0, balance.stderr)
  t.deepEqual(JSON.parse(balance.stdout), { address: alice, balance: expected, balanceAgc: '2.5', nonce: '0' })
  const overdraft = await runHarmonyd(['wallet', 'send', '--wallet', wallet, ...unlock, '--to', alice, '--amount', '100', '--rpc', urls[1], '--datadir', join(d.path, 'node-1')])
  t.not(overdraft.code, 0)
  t.regex(overdraft.stderr, /balance/i)

  // deposit on the EVM chain -> credit on the DAG on every node
  const deposit = await runHarmonyd(['wallet', 'deposit', '--wallet', wallet, '--amount', '5', '--contracts', join(d.path, 'node-0', 'contracts.json'), '--evm-key', join(d.path, 'evm-faucet.key'), '--json'])
  t.is(deposit.code, 0, deposit.stderr)
  const afterDeposit = (25n * 10n ** 17n + 5n * 10n ** 18n).toString()
  for (const url of urls) {
    await waitFor(`the deposit credit on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [alice])) === afterDeposit ? true : undefined, 90_000)
  }

  // a task below the checkpoint: announced (bids open for 10 minutes, no provider here) and final everywhere
  const inputs = [join(d.path, 'a.bin'), join(d.path, 'b.bin')]
  for (const f of inputs) await writeFile(f, new Uint8Array(16))
  const submitted = await runHarmonyd(['task', 'submit', '--wallet', wallet, ...unlock, '--kernel', 'matmul', '--params', '{"m":2,"k":2,"n":2}', '--inputs', inputs.join(','), '--budget', '0.001', '--bid-window', '600000', '--rpc', urls[0], '--datadir', join(d.path, 'node-0'), '--json'])
  t.is(submitted.code, 0, submitted.stderr)
  const task = JSON.parse(submitted.stdout) as { taskId: string, txId: string }
  for (const url of urls) {
    await waitFor(`the announce on ${url}`, async () => (await rpc<{ status: string } | null>(url, 'tx_get', [task.txId]))?.status === 'final' ? true : undefined)
  }

  // burn on the DAG -> checkpoint on chain -> claim with the proof, as two commands: `withdraw --no-claim` waits for
  // the checkpoint, `claim` pays the burn (running withdraw again would burn again); a second claim is refused
  const chainArgs = ['--rpc', urls[2], '--datadir', join(d.path, 'node-2'), '--contracts', join(d.path, 'node-2', 'contracts.json'), '--evm-key', join(d.path, 'evm-faucet.key'), '--json']
  const withdraw = await runHarmonyd(['wallet', 'withdraw', '--wallet', wallet, ...unlock, '--amount', '1', '--no-claim', ...chainArgs], 180_000)
  t.is(withdraw.code, 0, withdraw.stderr)
  const burned = JSON.parse(withdraw.stdout) as { burn: string, epoch: string, anchored: boolean }
  t.true(burned.anchored)
  const claim = await runHarmonyd(['wallet', 'claim', '--burn', burned.burn, ...chainArgs], 60_000)
  t.is(claim.code, 0, claim.stderr)
  const claimed = JSON.parse(claim.stdout) as { epoch: string, claim: string }
  t.regex(claimed.claim, /^0x[0-9a-f]{64}$/)
  t.is(claimed.epoch, burned.epoch)
  const twice = await runHarmonyd(['wallet', 'claim', '--burn', burned.burn, ...chainArgs], 60_000)
  t.not(twice.code, 0)
  t.regex(twice.stderr, /withdrawal failed: AlreadyClaimed/)
  const checkpoints = await rpc<unknown[]>(urls[0], 'chain_checkpoints', [])
  t.true(checkpoints.length >= 1, 'the epoch is anchored on chain')

  // a fourth node joins with --state-sync: its empty ledger starts from the anchored checkpoint's cut, fetched from
  // the devnet, and the history below it is not replayed; then it follows the devnet to the same state root
  const joinerDir = join(d.path, 'joiner')
  const init = await runHarmonyd(['init', '--datadir', joinerDir, '--network', 'devnet', '--genesis', join(d.path, 'genesis.json'), '--contracts', join(d.path, 'node-0', 'contracts.json'), '--json'])
  t.is(init.code, 0, init.stderr)
  const info = await rpc<{ listenAddrs: string[] }>(urls[0], 'node_info')
  const bootstrap = info.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1')) as string
  const joiner = await startHarmonyd(['--datadir', joinerDir, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'info', '--bootstrap', bootstrap, '--state-sync', 'true'], 120_000)
  t.teardown(async () => { await joiner.stop() })
  t.regex(joiner.stderr(), /ledger synced from the anchored checkpoint/)
  const early = await rpc<{ status: string }>(urls[0], 'tx_get', [sentTx.id])
  t.is(early.status, 'final')
  t.is(await rpc<unknown>(joiner.rpc, 'tx_get', [sentTx.id]), null, 'a transaction below the cut is not replayed on the joiner')
  // the market's records came with the cut: the task announced below it is known there, its announce not replayed
  t.is(await rpc<unknown>(joiner.rpc, 'tx_get', [task.txId]), null)
  const onJoiner = await rpc<{ taskId: string, requester: string, phase: string } | null>(joiner.rpc, 'task_get', [task.taskId])
  const onDevnet = await rpc<{ taskId: string, requester: string, phase: string } | null>(urls[0], 'task_get', [task.taskId])
  t.is(onJoiner?.requester, alice)
  t.deepEqual(onJoiner, onDevnet)
  const again = await runHarmonyd(['wallet', 'send', '--wallet', join(d.path, 'faucet.json'), '--to', alice, '--amount', '0.5', '--rpc', urls[1], '--datadir', join(d.path, 'node-1'), '--wait', '--json'])
  t.is(again.code, 0, again.stderr)
  const all = [...urls, joiner.rpc]
  await waitFor('the joiner at the devnet\'s state root', async () => {
    const stats = await Promise.all(all.map(u => rpc<{ stateRoot: string }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot) ? true : undefined
  }, 90_000)
  t.is(await rpc<string>(joiner.rpc, 'account_getBalance', [alice]), await rpc<string>(urls[0], 'account_getBalance', [alice]))
})
