import test from 'ava'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { loadWalletFile } from '../../src/core/keys/wallet.ts'
import { loadGenesis } from '../../src/dag/genesis.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { buildTaskAnnounce } from '../../src/market/index.ts'
import { operatorAuth, rpc, runHarmonyd, startDevnet, tempDir, waitFor } from '../helpers/harmonyd.ts'
import { matmulAnnounce } from '../helpers/market.ts'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test.serial('harmonyd devnet brings up N connected nodes, prints one line per node, and Ctrl-C leaves no process', async (t) => {
  await using d = await tempDir()
  const { child: devnet, nodes, stdout } = await startDevnet(['--nodes', '3', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn', '--live'], 3)
  t.teardown(() => { devnet.kill('SIGKILL') })
  t.deepEqual(nodes.map(n => n.index), [0, 1, 2])
  const pids: number[] = []
  for (const { index, rpc: url, peerId } of nodes) {
    const info = await rpc<{ peerId: string, network: string, executor: { kind: string } }>(url, 'node_info')
    t.is(info.peerId, peerId)
    t.is(info.network, 'devnet')
    t.true(['gpu', 'software', 'cpu'].includes(info.executor.kind), 'node_info reports the executor that runs')
    // the devnet's local chain: anvil with the contracts deployed and every node staked as a validator
    const chain = await rpc<{ chainId: number, validatorCount: number }>(url, 'chain_info')
    t.is(chain.chainId, 31337)
    t.is(chain.validatorCount, 3)
    const health = await rpc<{ peers: number }>(url, 'node_health')
    t.true(health.peers >= 2, `node ${index} is connected to both others`)
    pids.push(Number.parseInt(await readFile(join(d.path, `node-${index}`, 'harmonyd.pid'), 'utf8'), 10))
  }
  t.true(pids.every(alive))
  // --live (a pipe is no terminal): each node's status line with its final tx/s and finality p50
  const live = await waitFor('a live status line per node', async () => {
    const found = [...stdout().matchAll(/^ {2}node (\d+) {2}running\s+peers\s+\d+ {2}final\s+([\d.]+) tx\/s {2}finality p50\s+(\d+) ms/gm)]
    return new Set(found.map(m => m[1])).size === 3 ? found : undefined
  }, 60_000)
  t.true(live.every(m => Number.isFinite(Number(m[2])) && Number(m[3]) >= 0))
  const exited = once(devnet, 'exit')
  devnet.kill('SIGINT')
  const [code] = await exited as [number | null]
  t.is(code, 0)
  t.deepEqual(pids.filter(alive), [], 'every node process has exited')
})

test.serial('harmonyd devnet runs the commit rule by default: a transfer is final on every node with one state root, an announce expires and is refunded by decisions every node checked at the order, and the datadir keeps its rule', async (t) => {
  await using d = await tempDir()

  const { child: devnet, nodes } = await startDevnet(['--nodes', '3', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn'], 3)
  t.teardown(() => { devnet.kill('SIGKILL') })
  const urls = nodes.map(n => n.rpc)
  const genesis = await loadGenesis(join(d.path, 'genesis.json'))
  t.is(genesis.consensus.rule, 'commit')
  t.is(genesis.consensus.leaders, 3, 'every validator a leader')

  const to = addressFromPublicKey(generateKeyPair().publicKey)
  const sent = await runHarmonyd(['wallet', 'send', '--wallet', join(d.path, 'faucet.json'), '--to', to, '--amount', '1.5', '--rpc', urls[1], '--datadir', join(d.path, 'node-1'), '--wait', '--json'])
  t.is(sent.code, 0, sent.stderr)
  t.is((JSON.parse(sent.stdout) as { status: string }).status, 'final')
  for (const url of urls) await waitFor(`the transfer on ${url}`, async () => (await rpc<string>(url, 'account_getBalance', [to])) === (15n * 10n ** 17n).toString() ? true : undefined)
  const roots = await waitFor('equal state roots', async () => {
    const stats = await Promise.all(urls.map(async u => await rpc<{ stateRoot: string, finalTxs: number }>(u, 'dag_stats')))
    return stats.every(s => s.stateRoot === stats[0].stateRoot && s.finalTxs === stats[0].finalTxs) ? stats : undefined
  })
  t.is(new Set(roots.map(r => r.stateRoot)).size, 1)

  // the market under this rule: an announce no provider bids on expires, and the validators' award (no winner) and
  // settle (all refunded), each checked where the order reaches it, are the same on every node
  const faucet = await loadWalletFile(join(d.path, 'faucet.json'))
  const send = async (url: string, tx: Parameters<typeof encodeTx>[0]): Promise<string> => await rpc<string>(url, 'account_sendTransaction', [`0x${toHex(encodeTx(tx))}`], await operatorAuth(join(d.path, 'node-0')))
  const by = { chainId: genesis.chainId, keys: faucet, nonce: BigInt(await rpc<string>(urls[0], 'account_getNonce', [addressFromPublicKey(faucet.publicKey)])), fee: genesis.minFee }
  const { tx, taskId } = buildTaskAnnounce(by, matmulAnnounce({ bidWindowMs: 500, revealWindowMs: 500 }))
  await send(urls[0], tx)
  const settled = await Promise.all(urls.map(async url => await waitFor(`the task settled on ${url}`, async () => {
    const v = await rpc<{ state: string, settlement: unknown, awards: unknown[] } | null>(url, 'task_get', [`0x${toHex(taskId)}`])
    return v?.settlement !== undefined && v.settlement !== null ? v : undefined
  })))
  t.is(settled[0].state, 'expired')
  for (const v of settled.slice(1)) t.deepEqual(v, settled[0], 'the same record on every node')

  const exited = once(devnet, 'exit')
  devnet.kill('SIGINT')
  t.is((await exited as [number | null])[0], 0)
  const other = await runHarmonyd(['devnet', '--nodes', '3', '--consensus', 'avalanche', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn'], 120_000)
  t.not(other.code, 0)
  t.regex(other.stderr, /made with the commit consensus rule/)
  // the validators are the datadir's too, and there are never more of them than nodes
  const fewer = await runHarmonyd(['devnet', '--nodes', '3', '--validators', '2', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn'], 120_000)
  t.not(fewer.code, 0)
  t.regex(fewer.stderr, /was made for other nodes \(3 validators\)/)
  const more = await runHarmonyd(['devnet', '--nodes', '3', '--validators', '4', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn'], 120_000)
  t.not(more.code, 0)
  t.regex(more.stderr, /--validators must be between 1 and --nodes \(3\), got 4/)
})
