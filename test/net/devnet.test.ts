// `harmonyd devnet` as a newcomer and a wallet user meet it: one 3-node devnet (with anvil and the contracts), shared
// by the serial tests below in order; the last one stops it with Ctrl-C and checks what the datadir keeps.
import test from 'ava'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { loadWalletFile } from '../../src/core/keys/wallet.ts'
import { loadGenesis } from '../../src/dag/genesis.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { buildTaskAnnounce } from '../../src/market/index.ts'
import { HarmonyClient } from '../../src/sdk/client.ts'
import { operatorAuth, rpc, runHarmonyd, startDevnet, startHarmonyd, tempDir, waitFor, type DevnetProcess } from '../helpers/harmonyd.ts'
import { matmulAnnounce } from '../helpers/market.ts'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let dir: Awaited<ReturnType<typeof tempDir>> | undefined
let started: DevnetProcess | undefined
let urls: string[] = []

test.before(async () => {
  dir = await tempDir()
  started = await startDevnet(['--nodes', '3', '--base-port', '0', '--datadir', dir.path, '--log-level', 'warn', '--live'], 3)
  urls = started.nodes.map(n => n.rpc)
})
test.after.always(async () => {
  started?.child.kill('SIGKILL')
  await dir?.[Symbol.asyncDispose]()
})

/** The devnet and its datadir, started before the first test. */
function net (): { devnet: DevnetProcess, path: string } {
  if (started === undefined || dir === undefined) throw new Error('the devnet did not start')
  return { devnet: started, path: dir.path }
}

test.serial('harmonyd devnet brings up N connected nodes on the commit rule, prints one line per node and a live status line per node', async (t) => {
  const { devnet, path } = net()
  t.deepEqual(devnet.nodes.map(n => n.index), [0, 1, 2])
  const genesis = await loadGenesis(join(path, 'genesis.json'))
  t.is(genesis.consensus.rule, 'commit', 'the commit rule is the default')
  t.is(genesis.consensus.leaders, 3, 'every validator a leader')
  for (const { index, rpc: url, peerId } of devnet.nodes) {
    const info = await rpc<{ peerId: string, network: string, executor: { kind: string } }>(url, 'node_info')
    t.is(info.peerId, peerId)
    t.is(info.network, 'devnet')
    t.true(['gpu', 'software', 'cpu'].includes(info.executor.kind), 'node_info reports the executor that runs')
    // the devnet's local chain: anvil with the contracts deployed and every node staked as a validator
    const chain = await rpc<{ chainId: number, validatorCount: number }>(url, 'chain_info')
    t.is(chain.chainId, 31337)
    t.is(chain.validatorCount, 3)
    // connected to both others. The devnet prints its lines once every node has both, yet a loop run on a loaded
    // machine (1 of 12, s46) found node 1 with one peer right after: a connection closed in between. Not root-caused
    // (a candidate: libp2p's connection monitor aborts a connection whose ping takes over 5 s; the peer manager then
    // dials again). Such a read is logged with what the node holds, and the node must have both again within a minute.
    const first = await rpc<{ peers: number }>(url, 'node_health')
    if (first.peers < 2) t.log(`node ${index} had ${first.peers} peer(s) right after the devnet was up: ${JSON.stringify(await rpc<unknown>(url, 'net_peers'))}`)
    await waitFor(`node ${index} connected to both others`, async () => (await rpc<{ peers: number }>(url, 'node_health')).peers >= 2 ? true : undefined, 60_000)
  }
  // --live (a pipe is no terminal): each node's status line with its final tx/s and finality p50
  const live = await waitFor('a live status line per node', async () => {
    const found = [...devnet.stdout().matchAll(/^ {2}node (\d+) {2}running\s+peers\s+\d+ {2}final\s+([\d.]+) tx\/s {2}finality p50\s+(\d+) ms/gm)]
    return new Set(found.map(m => m[1])).size === 3 ? found : undefined
  }, 60_000)
  t.true(live.every(m => Number.isFinite(Number(m[2])) && Number(m[3]) >= 0))
})

test.serial('wallet CLI on a devnet: a transfer is final everywhere; a deposit on chain is credited on every node; a withdrawal is claimed on chain; a node joining with --state-sync starts from the checkpoint, with the market\'s records, and reaches the same state root', async (t) => {
  const { path } = net()
  // alice's wallet is an encrypted keystore (a low scrypt cost for the test); the devnet faucet stays plain
  const wallet = join(path, 'alice.json')
  const password = join(path, 'alice.password')
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

  const sent = await runHarmonyd(['wallet', 'send', '--wallet', join(path, 'faucet.json'), '--to', alice, '--amount', '2.5', '--rpc', urls[0], '--datadir', join(path, 'node-0'), '--wait', '--json'])
  t.is(sent.code, 0, sent.stderr)
  const sentTx = JSON.parse(sent.stdout) as { id: string, status: string }
  t.is(sentTx.status, 'final')
  await waitFor('the tx_status event on node 2', async () => statuses.some(e => e.id === sentTx.id && e.status === 'final') ? true : undefined)

  const expected = (25n * 10n ** 17n).toString()
  for (const url of urls) {
    await waitFor(`the transfer on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [alice])) === expected ? true : undefined)
  }
  const roots = await waitFor('equal state roots', async () => {
    const stats = await Promise.all(urls.map(async u => await rpc<{ stateRoot: string, finalTxs: number }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot && s.finalTxs === 1) ? stats : undefined
  })
  t.is(new Set(roots.map(r => r.stateRoot)).size, 1)

  // a second transfer with a stale nonce is refused at the RPC with a clear error
  const balance = await runHarmonyd(['wallet', 'balance', alice, '--rpc', urls[1], '--json'])
  t.is(balance.code, 0, balance.stderr)
  t.deepEqual(JSON.parse(balance.stdout), { address: alice, balance: expected, balanceAgc: '2.5', nonce: '0' })
  const overdraft = await runHarmonyd(['wallet', 'send', '--wallet', wallet, ...unlock, '--to', alice, '--amount', '100', '--rpc', urls[1], '--datadir', join(path, 'node-1')])
  t.not(overdraft.code, 0)
  t.regex(overdraft.stderr, /balance/i)

  // deposit on the EVM chain -> credit on the DAG on every node
  const deposit = await runHarmonyd(['wallet', 'deposit', '--wallet', wallet, '--amount', '5', '--contracts', join(path, 'node-0', 'contracts.json'), '--evm-key', join(path, 'evm-faucet.key'), '--json'])
  t.is(deposit.code, 0, deposit.stderr)
  const afterDeposit = (25n * 10n ** 17n + 5n * 10n ** 18n).toString()
  for (const url of urls) {
    await waitFor(`the deposit credit on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [alice])) === afterDeposit ? true : undefined, 90_000)
  }

  // a task below the checkpoint: announced (bids open for 10 minutes, no provider here) and final everywhere
  const inputs = [join(path, 'a.bin'), join(path, 'b.bin')]
  for (const f of inputs) await writeFile(f, new Uint8Array(16))
  const submitted = await runHarmonyd(['task', 'submit', '--wallet', wallet, ...unlock, '--kernel', 'matmul', '--params', '{"m":2,"k":2,"n":2}', '--inputs', inputs.join(','), '--budget', '0.001', '--bid-window', '600000', '--rpc', urls[0], '--datadir', join(path, 'node-0'), '--json'])
  t.is(submitted.code, 0, submitted.stderr)
  const task = JSON.parse(submitted.stdout) as { taskId: string, txId: string }
  for (const url of urls) {
    await waitFor(`the announce on ${url}`, async () => (await rpc<{ status: string } | null>(url, 'tx_get', [task.txId]))?.status === 'final' ? true : undefined)
  }

  // burn on the DAG -> checkpoint on chain -> claim with the proof, as two commands: `withdraw --no-claim` waits for
  // the checkpoint, `claim` pays the burn (running withdraw again would burn again); a second claim is refused
  const chainArgs = ['--rpc', urls[2], '--datadir', join(path, 'node-2'), '--contracts', join(path, 'node-2', 'contracts.json'), '--evm-key', join(path, 'evm-faucet.key'), '--json']
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
  const joinerDir = join(path, 'joiner')
  const init = await runHarmonyd(['init', '--datadir', joinerDir, '--network', 'devnet', '--genesis', join(path, 'genesis.json'), '--contracts', join(path, 'node-0', 'contracts.json'), '--json'])
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
  const again = await runHarmonyd(['wallet', 'send', '--wallet', join(path, 'faucet.json'), '--to', alice, '--amount', '0.5', '--rpc', urls[1], '--datadir', join(path, 'node-1'), '--wait', '--json'])
  t.is(again.code, 0, again.stderr)
  const all = [...urls, joiner.rpc]
  await waitFor('the joiner at the devnet\'s state root', async () => {
    const stats = await Promise.all(all.map(async u => await rpc<{ stateRoot: string }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot) ? true : undefined
  }, 90_000)
  t.is(await rpc<string>(joiner.rpc, 'account_getBalance', [alice]), await rpc<string>(urls[0], 'account_getBalance', [alice]))
})

test.serial('the market under the commit rule: an announce no provider bids on expires and is refunded by decisions every node checked at the order, the same record on every node', async (t) => {
  const { path } = net()
  const genesis = await loadGenesis(join(path, 'genesis.json'))
  const faucet = await loadWalletFile(join(path, 'faucet.json'))
  const send = async (url: string, tx: Parameters<typeof encodeTx>[0]): Promise<string> => await rpc<string>(url, 'account_sendTransaction', [`0x${toHex(encodeTx(tx))}`], await operatorAuth(join(path, 'node-0')))
  const by = { chainId: genesis.chainId, keys: faucet, nonce: BigInt(await rpc<string>(urls[0], 'account_getNonce', [addressFromPublicKey(faucet.publicKey)])), fee: genesis.minFee }
  const { tx, taskId } = buildTaskAnnounce(by, matmulAnnounce({ bidWindowMs: 500, revealWindowMs: 500 }))
  await send(urls[0], tx)
  const settled = await Promise.all(urls.map(async url => await waitFor(`the task settled on ${url}`, async () => {
    const v = await rpc<{ state: string, settlement: unknown, awards: unknown[] } | null>(url, 'task_get', [`0x${toHex(taskId)}`])
    return v?.settlement !== undefined && v.settlement !== null ? v : undefined
  })))
  t.is(settled[0].state, 'expired')
  for (const v of settled.slice(1)) t.deepEqual(v, settled[0], 'the same record on every node')
  // a plain transfer is still final on every node with one state root after it
  const to = addressFromPublicKey(generateKeyPair().publicKey)
  const sent = await runHarmonyd(['wallet', 'send', '--wallet', join(path, 'faucet.json'), '--to', to, '--amount', '1.5', '--rpc', urls[1], '--datadir', join(path, 'node-1'), '--wait', '--json'])
  t.is(sent.code, 0, sent.stderr)
  for (const url of urls) await waitFor(`the transfer on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [to])) === (15n * 10n ** 17n).toString() ? true : undefined)
  const roots = await waitFor('equal state roots', async () => {
    const stats = await Promise.all(urls.map(async u => await rpc<{ stateRoot: string, finalTxs: number }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot && s.finalTxs === stats[0].finalTxs) ? stats : undefined
  })
  t.is(new Set(roots.map(r => r.stateRoot)).size, 1)
})

test.serial('Ctrl-C stops the devnet and leaves no process; the datadir keeps its consensus rule and its validators', async (t) => {
  const { devnet, path } = net()
  const pids = await Promise.all(devnet.nodes.map(async ({ index }) => Number.parseInt(await readFile(join(path, `node-${index}`, 'harmonyd.pid'), 'utf8'), 10)))
  t.true(pids.every(alive))
  const exited = once(devnet.child, 'exit')
  devnet.child.kill('SIGINT')
  const [code] = await exited as [number | null]
  t.is(code, 0)
  t.deepEqual(pids.filter(alive), [], 'every node process has exited')

  const other = await runHarmonyd(['devnet', '--nodes', '3', '--consensus', 'avalanche', '--base-port', '0', '--datadir', path, '--log-level', 'warn'], 120_000)
  t.not(other.code, 0)
  t.regex(other.stderr, /made with the commit consensus rule/)
  // the validators are the datadir's too, and there are never more of them than nodes
  const fewer = await runHarmonyd(['devnet', '--nodes', '3', '--validators', '2', '--base-port', '0', '--datadir', path, '--log-level', 'warn'], 120_000)
  t.not(fewer.code, 0)
  t.regex(fewer.stderr, /was made for other nodes \(3 validators\)/)
  const more = await runHarmonyd(['devnet', '--nodes', '3', '--validators', '4', '--base-port', '0', '--datadir', path, '--log-level', 'warn'], 120_000)
  t.not(more.code, 0)
  t.regex(more.stderr, /--validators must be between 1 and --nodes \(3\), got 4/)
})
