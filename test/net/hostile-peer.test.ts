// A hostile peer against a running harmonyd (real process, real sockets on loopback): on every stream protocol the
// node speaks it opens streams and writes garbage (nothing, a lone varint byte, a length prefix claiming 2 GiB,
// length-prefixed random bytes of several sizes, a quarter of a MiB unframed), and it publishes random bytes on every
// gossip topic. The daemon stays up, stores nothing, keeps its state root, answers a fresh peer with the same
// protocols, and still takes a client-signed transfer to final.
import { createHash, randomBytes } from 'node:crypto'
import test from 'ava'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { loadWalletFile, walletFromSeed } from '../../src/core/keys/wallet.ts'
import { signTransfer } from '../../src/dag/wallet.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'
import { operatorAuth, rpc, runHarmonyd, startHarmonyd, tempDir, waitFor } from '../helpers/harmonyd.ts'

interface Stats { vertices: number, finalized: number, finalTxs: number, stateRoot: string }

/** A plain libp2p peer: no Harmony code, gossip unsigned as Harmony's (a signed message is one more bad input). */
async function hostilePeer (): Promise<Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: ReturnType<ReturnType<typeof gossipsub>> }>> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', allowPublishToZeroTopicPeers: true, emitSelf: false }) }
  })
}

/** A varint (unsigned LEB128), as the length prefix of Harmony's request protocols. */
function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

/** The garbage's seed (HOSTILE_SEED replays a run; the test logs the one it used). */
const SEED = process.env.HOSTILE_SEED ?? randomBytes(8).toString('hex')
let drawn = 0
/** `n` bytes drawn from SEED (sha256 in counter mode). */
function seeded (n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let o = 0; o < n; o += 32) out.set(createHash('sha256').update(`${SEED}:${drawn++}`).digest().subarray(0, Math.min(32, n - o)), o)
  return out
}

type Garbage = { raw: Uint8Array } | { framed: Uint8Array }
const GARBAGE: Garbage[] = [
  { raw: new Uint8Array(0) },
  { raw: Uint8Array.of(0xff) },
  { raw: Uint8Array.from([...varint(2 ** 31), ...seeded(16)]) },
  { framed: seeded(1) },
  { framed: seeded(64) },
  { framed: Uint8Array.from([1, ...seeded(4095)]) },
  { framed: Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 0, 0, ...seeded(200)]) },
  { framed: seeded(70_000) },
  { raw: seeded(256 * 1024) }
]

/** Writes one piece of garbage on a fresh stream, reads whatever comes back for a while, then lets go. */
async function sendGarbage (peer: Libp2p, target: ReturnType<typeof peerIdFromString>, protocol: string, g: Garbage): Promise<string> {
  const signal = AbortSignal.timeout(3000)
  try {
    const stream = await peer.dialProtocol(target, protocol, { signal })
    // a node that waits for more (a frame it was promised) is left waiting: the read ends at the deadline
    const onAbort = (): void => { stream.abort(new Error('deadline')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if ('raw' in g) {
        if (g.raw.length > 0) stream.send(g.raw)
        await stream.close({ signal }).catch(() => undefined)
        for await (const chunk of stream) void chunk
      } else {
        const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
        await lp.write(g.framed, { signal })
        await lp.read({ signal })
      }
      return 'answered'
    } finally {
      signal.removeEventListener('abort', onAbort)
      stream.abort(new Error('done'))
    }
  } catch (err) {
    return (err as Error).name
  }
}

test.serial('garbage on every stream protocol and every gossip topic: the daemon stays up, stores nothing, and goes on', async t => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'devnet', '--json'])
  t.is(init.code, 0, init.stderr)
  const { faucetWallet } = JSON.parse(init.stdout) as { faucetWallet: string }
  // a provider too (CPU executor), so it serves benchmark challenges
  await using node = await startHarmonyd(['--datadir', d.path, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn', '--executor', 'cpu', '--provider', JSON.stringify({ enabled: true })])
  t.log(`garbage seed ${SEED} (HOSTILE_SEED=${SEED} replays it)`)
  const target = peerIdFromString(node.peerId)
  const addr = multiaddr(node.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1')) as string)

  /** A new plain peer connected to the node, and the Harmony stream protocols the node told it over identify. */
  const connect = async (): Promise<{ peer: Awaited<ReturnType<typeof hostilePeer>>, protocols: string[] }> => {
    const peer = await hostilePeer()
    t.teardown(async () => { await peer.stop() })
    await peer.dial(addr)
    const protocols = await waitFor('the node\'s protocols over identify', async () => {
      const p = (await peer.peerStore.get(target).then(x => x.protocols, () => [])).filter(x => x.startsWith('/harmony/'))
      return p.length > 0 ? p : undefined
    })
    return { peer, protocols }
  }
  const { peer, protocols: streamProtocols } = await connect()
  for (const p of ['/harmony/dag/sync/3.0.0', '/harmony/dag/tx/1.0.0', '/harmony/dag/tx/2.0.0', '/harmony/blob/1.0.0', '/harmony/market/challenge/1.0.0', '/harmony/id/1.0.0']) t.true(streamProtocols.includes(p), `the node speaks ${p}: ${streamProtocols.join(', ')}`)
  const before = await rpc<Stats>(node.rpc, 'dag_stats')

  // every stream protocol, all the garbage at once (a protocol's inbound stream limit refusing some is fine)
  const outcomes: Record<string, string[]> = {}
  // a stream that has not ended 5 s on is let go (a node may wait out its own request timeout for a frame it was
  // promised, and an abort of this client's stream does not always end its pending read)
  const settled = async (p: Promise<string>): Promise<string> => await Promise.race([p, new Promise<string>(resolve => setTimeout(() => { resolve('no end in 5 s') }, 5000))])
  for (const protocol of streamProtocols) outcomes[protocol] = await Promise.all(GARBAGE.map(async g => await settled(sendGarbage(peer, target, protocol, g))))
  t.log(outcomes)

  // every gossip topic: random bytes, unsigned, once the node is subscribed
  for (const topic of Object.values(GOSSIP_TOPICS)) peer.services.pubsub.subscribe(topic)
  await waitFor('the node\'s gossip subscriptions', async () => peer.services.pubsub.getSubscribers(GOSSIP_TOPICS.vertex).some(p => p.equals(target)) ? true : undefined)
  let published = 0
  for (const topic of Object.values(GOSSIP_TOPICS)) {
    for (const size of [0, 1, 100, 5000]) {
      await peer.services.pubsub.publish(topic, seeded(size)).then(() => { published++ }, () => undefined)
    }
  }
  t.true(published > 0, 'some garbage went out on gossip')
  // each topic the node listens on refused the garbage (what lowers the sender's gossip score)
  const listened = Object.values(GOSSIP_TOPICS).filter(topic => peer.services.pubsub.getSubscribers(topic).some(p => p.equals(target)))
  t.true(listened.includes(GOSSIP_TOPICS.vertex))
  const refusedOn = await waitFor('the node to refuse the garbage on every topic it listens on', async () => {
    const text = await (await fetch(new URL('/metrics', node.rpc))).text()
    const topics = new Set([...text.matchAll(/^harmony_gossip_validations_total\{topic="([^"]+)",verdict="reject"[^}]*\} (\S+)$/gm)].filter(m => Number(m[2]) > 0).map(m => m[1]))
    return listened.every(topic => topics.has(topic)) ? topics : undefined
  }, 15_000)
  t.true(refusedOn.size >= listened.length)

  // the daemon is up and unchanged
  t.is(node.child.exitCode, null, node.stderr())
  t.is(node.child.signalCode, null)
  const after = await rpc<Stats>(node.rpc, 'dag_stats')
  t.is(after.stateRoot, before.stateRoot)
  t.is(after.vertices, before.vertices, 'no vertex stored from garbage')
  t.is(after.finalTxs, before.finalTxs)
  t.notRegex(node.stderr(), /uncaught|unhandled|FATAL/i)

  // a fresh peer is served the same protocols (no handler gone, no inbound slot left held)
  const { protocols: again } = await connect()
  t.deepEqual([...again].sort(), [...streamProtocols].sort())

  // and the ledger still takes a client-signed transfer to final
  const auth = await operatorAuth(d.path)
  const sender = await loadWalletFile(faucetWallet)
  const info = await rpc<{ chainId: string }>(node.rpc, 'node_info')
  const nonce = await rpc<string>(node.rpc, 'account_getNonce', [sender.address])
  const signed = signTransfer(sender, { chainId: info.chainId, to: walletFromSeed(randomBytes(32)).address, amount: 1000n, nonce: BigInt(nonce) })
  const txId = await rpc<string>(node.rpc, 'account_sendTransaction', [signed], auth)
  const status = await waitFor('the transfer to be final', async () => {
    const tx = await rpc<{ status: string } | null>(node.rpc, 'tx_get', [txId])
    return tx?.status === 'pending' ? undefined : tx?.status
  })
  t.is(status, 'final')
  t.is(node.child.exitCode, null)
})
