import test from 'ava'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, rpc, tempDir, waitFor } from '../helpers/harmonyd.ts'

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
  const devnet = fork(BIN, ['devnet', '--nodes', '3', '--base-port', '0', '--datadir', d.path, '--log-level', 'warn', '--live'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  t.teardown(() => { devnet.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  devnet.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  devnet.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const lines = await waitFor('the node lines', async () => {
    if (devnet.exitCode !== null) throw new Error(`devnet exited: ${stderr}`)
    const found = [...stdout.matchAll(/^node (\d+) rpc=(http:\/\/127\.0\.0\.1:\d+) peer=(\w+)$/gm)]
    return found.length === 3 ? found : undefined
  }, 120_000)
  t.deepEqual(lines.map(m => Number(m[1])), [0, 1, 2])
  const pids: number[] = []
  for (const [, index, url, peerId] of lines) {
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
    const found = [...stdout.matchAll(/^ {2}node (\d+) {2}running\s+peers\s+\d+ {2}final\s+([\d.]+) tx\/s {2}finality p50\s+(\d+) ms/gm)]
    return new Set(found.map(m => m[1])).size === 3 ? found : undefined
  }, 60_000)
  t.true(live.every(m => Number.isFinite(Number(m[2])) && Number(m[3]) >= 0))
  const exited = once(devnet, 'exit')
  devnet.kill('SIGINT')
  const [code] = await exited as [number | null]
  t.is(code, 0)
  t.deepEqual(pids.filter(alive), [], 'every node process has exited')
})
