import test from 'ava'
import { writeFile, stat, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { freePort, operatorAuth, rpc, runHarmonyd, startHarmonyd, tempDir, waitFor, type RunningNode } from '../helpers/harmonyd.ts'

interface Peer { peerId: string, bound: boolean }
interface Announcement { origin: string, text: string }

async function initNode (dir: string): Promise<string> {
  const result = await runHarmonyd(['init', '--datadir', dir, '--network', 'devnet', '--json'])
  if (result.code !== 0) throw new Error(`init failed: ${result.stderr}`)
  return (JSON.parse(result.stdout) as { peerId: string }).peerId
}

const loopbackArgs = (dir: string, p2p = 0, rpcPort = 0): string[] =>
  ['--datadir', dir, '--p2p-host', '127.0.0.1', '--p2p-port', String(p2p), '--rpc-port', String(rpcPort), '--log-level', 'warn']

test.serial('nodes that know only the bootstrap node find each other, and gossip from one reaches all', async (t) => {
  await using d0 = await tempDir()
  await using d1 = await tempDir()
  await using d2 = await tempDir()
  for (const d of [d0, d1, d2]) await initNode(d.path)
  const nodes: RunningNode[] = []
  // disposed before the dirs above (reverse order): each node stops before its datadir is removed
  await using _stopNodes = { [Symbol.asyncDispose]: async () => { await Promise.all(nodes.map(n => n.stop())) } }
  const n0 = await startHarmonyd(loopbackArgs(d0.path))
  nodes.push(n0)
  const bootstrap = `${n0.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1'))}`
  t.true(bootstrap.endsWith(`/p2p/${n0.peerId}`))
  const [n1, n2] = await Promise.all([
    startHarmonyd([...loopbackArgs(d1.path), '--bootstrap', bootstrap]),
    startHarmonyd([...loopbackArgs(d2.path), '--bootstrap', bootstrap])
  ])
  nodes.push(n1, n2)

  // 1 and 2 were only told about 0: a direct connection between them comes from discovery through the DHT
  await waitFor('node 1 to connect to node 2', async () => {
    const peers = await rpc<Peer[]>(n1.rpc, 'net_peers')
    return peers.some(p => p.peerId === n2.peerId) ? true : undefined
  })
  const peersOf2 = await waitFor('node 2 to see nodes 0 and 1 with verified ledger keys', async () => {
    const peers = await rpc<Peer[]>(n2.rpc, 'net_peers')
    const bound = peers.filter(p => p.bound).map(p => p.peerId)
    return bound.includes(n0.peerId) && bound.includes(n1.peerId) ? peers : undefined
  })
  t.truthy(peersOf2.find(p => p.peerId === n1.peerId))

  // the operator's view of the same facts through the CLI
  const status = await runHarmonyd(['status', '--rpc', n2.rpc, '--json'])
  t.is(status.code, 0, status.stderr)
  const parsed = JSON.parse(status.stdout) as { peerId: string, state: string, peers: number }
  t.is(parsed.peerId, n2.peerId)
  t.is(parsed.state, 'running')
  t.true(parsed.peers >= 2)
  const peersCli = await runHarmonyd(['peers', '--rpc', n2.rpc, '--json'])
  t.is(peersCli.code, 0, peersCli.stderr)
  t.true((JSON.parse(peersCli.stdout) as Peer[]).some(p => p.peerId === n1.peerId && p.bound))

  // gossip needs a mesh: publish until the message is seen by both (a message published before the
  // mesh forms is not retransmitted by gossipsub, so each attempt carries a fresh text)
  let attempt = 0
  await waitFor('an announcement from node 2 to reach nodes 0 and 1', async () => {
    const text = `hello from node 2 #${attempt++}`
    await rpc(n2.rpc, 'net_announce', [text], await operatorAuth(d2.path))
    const seen = await waitFor('delivery', async () => {
      const [a0, a1] = await Promise.all([
        rpc<Announcement[]>(n0.rpc, 'net_announcements'),
        rpc<Announcement[]>(n1.rpc, 'net_announcements')
      ])
      const got = (list: Announcement[]): boolean => list.some(a => a.text === text && a.origin === n2.peerId)
      return got(a0) && got(a1) ? true : undefined
    }, 3000).catch(() => undefined)
    return seen
  })
  t.pass('announcement delivered to both nodes')
})

test.serial('a node whose bootstrap peer is down at start connects once the bootstrap peer comes up', async (t) => {
  await using dBoot = await tempDir()
  await using dNode = await tempDir()
  const bootId = await initNode(dBoot.path)
  await initNode(dNode.path)
  const bootPort = await freePort()
  await using node = await startHarmonyd([...loopbackArgs(dNode.path), '--bootstrap', `/ip4/127.0.0.1/tcp/${bootPort}/p2p/${bootId}`])
  t.is((await rpc<{ peers: number }>(node.rpc, 'node_health')).peers, 0)
  await using _boot = await startHarmonyd(loopbackArgs(dBoot.path, bootPort))
  await waitFor('the node to reach its bootstrap peer', async () => {
    const peers = await rpc<Peer[]>(node.rpc, 'net_peers')
    return peers.some(p => p.peerId === bootId) ? true : undefined
  })
  t.pass('connected')
})

test.serial('a restarted node keeps its peer id and listen address', async (t) => {
  await using d = await tempDir()
  const initialId = await initNode(d.path)
  const p2p = await freePort()
  const first = await startHarmonyd(loopbackArgs(d.path, p2p))
  t.is(first.peerId, initialId)
  t.is(await first.stop(), 0)
  await using second = await startHarmonyd(loopbackArgs(d.path, p2p))
  t.is(second.peerId, initialId)
  t.deepEqual(second.listenAddrs, first.listenAddrs)
  // key files are private to the operator
  const mode = (await stat(join(d.path, 'keys', 'ledger.key'))).mode & 0o777
  t.is(mode, 0o600)
})

test.serial('a second daemon on the same datadir exits non-zero and says the datadir is in use', async (t) => {
  await using d = await tempDir()
  await initNode(d.path)
  await using first = await startHarmonyd(loopbackArgs(d.path))
  const before = await readFile(join(d.path, 'config.yaml'), 'utf8')
  const second = await runHarmonyd(['start', ...loopbackArgs(d.path)])
  t.not(second.code, 0)
  t.regex(second.stderr, /datadir .* is in use by another harmonyd \(pid \d+\)/)
  t.is(await readFile(join(d.path, 'config.yaml'), 'utf8'), before)
  // the first daemon is untouched and still answers, with its metrics and health endpoints
  t.is((await rpc<{ state: string }>(first.rpc, 'node_health')).state, 'running')
  const metrics = await (await fetch(`${first.rpc}/metrics`)).text()
  t.regex(metrics, /^harmony_node_running 1$/m)
  t.regex(metrics, /^libp2p_/m, 'libp2p reports its own metrics')
  t.regex(metrics, /^harmony_rpc_requests_total/m)
  const healthz = await fetch(`${first.rpc}/healthz`)
  t.is(healthz.status, 200)
})

/** Holds a loopback port for the test's duration. */
async function occupiedPort (t: { teardown: (fn: () => void) => void }): Promise<number> {
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => { blocker.close() })
  return (blocker.address() as { port: number }).port
}

test.serial('a p2p port already in use gives a clear message', async (t) => {
  await using d = await tempDir()
  await initNode(d.path)
  const port = await occupiedPort(t)
  const result = await runHarmonyd(['start', ...loopbackArgs(d.path, port)])
  t.not(result.code, 0)
  t.regex(result.stderr, new RegExp(`p2p port 127\\.0\\.0\\.1:${port} is already in use`))
})

test.serial('an RPC port already in use gives a clear message', async (t) => {
  await using d = await tempDir()
  await initNode(d.path)
  const port = await occupiedPort(t)
  const result = await runHarmonyd(['start', ...loopbackArgs(d.path, 0, port)])
  t.not(result.code, 0)
  t.regex(result.stderr, new RegExp(`RPC port 127\\.0\\.0\\.1:${port} is already in use`))
})

test.serial('a malformed config file names the bad key', async (t) => {
  await using d = await tempDir()
  await initNode(d.path)
  const config = join(d.path, 'config.yaml')
  await writeFile(config, 'p2p-port: "not a port"\n')
  const bad = await runHarmonyd(['start', '--datadir', d.path])
  t.is(bad.code, 2)
  t.regex(bad.stderr, /'p2p-port' must be an integer port/)

  await writeFile(config, 'p2p-prot: 9400\n')
  const unknown = await runHarmonyd(['start', '--datadir', d.path])
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /unknown key 'p2p-prot'/)

  await writeFile(config, 'rpc-port: [1, 2\n')
  const broken = await runHarmonyd(['start', '--datadir', d.path])
  t.is(broken.code, 2)
  t.regex(broken.stderr, /not valid YAML/)
})

test.serial('a devnet fault injection is refused at start outside a devnet, also on a node that does not provide (a lying judge of input claims)', async (t) => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'testnet', '--json'])
  t.is(init.code, 0, init.stderr)
  const lying = await runHarmonyd(['start', '--datadir', d.path, '--p2p-port', '0', '--rpc-port', '0', '--provider', JSON.stringify({ enabled: false, faultInjection: 'false-input-verdict' })])
  t.is(lying.code, 2)
  t.regex(lying.stderr, /faultInjection 'false-input-verdict' is for test networks only/)
})

test.serial('start on an uninitialised datadir tells the operator to run init', async (t) => {
  await using d = await tempDir()
  const result = await runHarmonyd(['start', '--datadir', join(d.path, 'nothing-here')])
  t.is(result.code, 3)
  t.regex(result.stderr, /run 'harmonyd init/)
})

test.serial('a requester\'s CLI finds its node from the datadir alone, as the README shows: task submit, then task status', async (t) => {
  await using d = await tempDir()
  await initNode(d.path)
  // the ports as flags, as a devnet starts its nodes: the datadir's config names none, the running node's URL file
  // does (and task submit's own --executor is no node setting)
  await using node = await startHarmonyd(loopbackArgs(d.path, 0, await freePort()))
  t.is((await readFile(join(d.path, 'rpc', 'url'), 'utf8')).trim(), node.rpc)
  const inputs = [join(d.path, 'a.bin'), join(d.path, 'b.bin')]
  for (const f of inputs) await writeFile(f, new Uint8Array(16))
  const submitted = await runHarmonyd(['task', 'submit', '--datadir', d.path, '--wallet', join(d.path, 'keys', 'faucet.json'), '--kernel', 'matmul', '--params', '{"m":2,"k":2,"n":2}', '--inputs', inputs.join(','), '--budget', '0.001', '--json'])
  t.is(submitted.code, 0, submitted.stderr)
  const { taskId } = JSON.parse(submitted.stdout) as { taskId: string }
  t.regex(taskId, /^0x[0-9a-f]{64}$/)
  await waitFor('the task on the node', async () => (await rpc<unknown>(node.rpc, 'task_get', [taskId])) ?? undefined)
  const status = await runHarmonyd(['task', 'status', taskId, '--datadir', d.path, '--json'])
  t.is(status.code, 0, status.stderr)
  t.like(JSON.parse(status.stdout), { task: { taskId, kernel: 'matmul' } })
  // task list's own --provider (an address) is no node `provider` setting either
  const { address: faucet } = JSON.parse(await readFile(join(d.path, 'keys', 'faucet.json'), 'utf8')) as { address: string }
  const listed = await runHarmonyd(['task', 'list', '--provider', faucet, '--datadir', d.path, '--json'])
  t.is(listed.code, 0, listed.stderr)
  // stopped, the node takes its URL file away
  await node.stop()
  await t.throwsAsync(stat(join(d.path, 'rpc', 'url')), { code: 'ENOENT' })
})
