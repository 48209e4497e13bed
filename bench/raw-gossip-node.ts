// Baseline for bench/gossip.ts: a plain js-libp2p gossipsub node with no Harmony code (library defaults, so
// messages are signed as gossipsub does out of the box). Driven over IPC by the bench.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'

const TOPIC = 'bench'
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // every node shares 127.0.0.1: lift the per-host inbound rate limit (5/s by default), as harmonyd devnets do
  connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 64 },
  // library defaults except the IP co-location penalty, which on loopback (all peers on 127.0.0.1) keeps more
  // than 10 peers out of the mesh; harmonyd devnets turn it off the same way
  services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, scoreParams: { IPColocationFactorWeight: 0 } }) }
})
const received: Array<[string, number]> = []
node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic !== TOPIC) return
  received.push([new TextDecoder().decode(evt.detail.data), Date.now()])
})
node.services.pubsub.subscribe(TOPIC)

type Command = { cmd: 'dial', addrs: string[] } | { cmd: 'publish', id: string } | { cmd: 'report' } | { cmd: 'stop' }

process.on('message', (msg: Command) => {
  void (async () => {
    if (msg.cmd === 'dial') {
      await Promise.all(msg.addrs.map(a => node.dial(multiaddr(a)).catch(() => {})))
      process.send?.({ type: 'dialed' })
    } else if (msg.cmd === 'publish') {
      await node.services.pubsub.publish(TOPIC, new TextEncoder().encode(msg.id)).catch(() => {})
      process.send?.({ type: 'published', id: msg.id, at: Date.now() })
    } else if (msg.cmd === 'report') {
      process.send?.({ type: 'report', received: received.splice(0) })
    } else {
      await node.stop()
      process.exit(0)
    }
  })()
})
process.on('disconnect', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
process.send?.({ type: 'ready', addrs: node.getMultiaddrs().map(a => a.toString()) })
