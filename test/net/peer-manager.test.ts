// The peer manager's discovery walk on real libp2p hosts (loopback): in a network smaller than its target, walks
// that find no one new back off, and a peer that comes or goes brings the walks back to their base interval.
import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { silentLogger } from '../../src/core/logger.ts'
import { createHost, type HarmonyLibp2p } from '../../src/network/host.ts'
import { PeerManager } from '../../src/network/peer-manager.ts'
import { waitFor } from '../helpers/harmonyd.ts'

/** Waits until `check` holds (polled every 20 ms). */
async function until (what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitFor(what, async () => check() ? true : undefined, timeoutMs, 20)
}

const BASE_MS = 50
// the climb from the base to the cap takes ~3 s of walks: long enough to be seen between two polls of the test
const MAX_MS = 3200

async function host (bootstrap: string[] = []): Promise<HarmonyLibp2p> {
  return await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true, bootstrap })
}

test.serial('walks that find no one new back off to the cap; a peer joining or leaving shortens the wait again', async t => {
  const a = await host()
  const b = await host([a.getMultiaddrs()[0].toString()])
  const hosts = [a, b]
  t.teardown(async () => { await Promise.all(hosts.map(async h => { await h.stop() })) })
  const manager = new PeerManager({ libp2p: a, logger: silentLogger() }, { targetPeers: 16, discoveryIntervalMs: BASE_MS, maxDiscoveryIntervalMs: MAX_MS })
  await manager.start()
  t.teardown(async () => { await manager.stop() })
  t.is(manager.nextWalkInMs, BASE_MS)

  // two hosts, a target of 16: nothing new to find, so each walk doubles the wait until the cap
  await until('a and b connected', () => a.getPeers().length === 1)
  await until('the walks backed off to the cap', () => manager.nextWalkInMs === MAX_MS)

  // a third host dials in: the walks come back to the base
  const c = await host()
  hosts.push(c)
  await c.dial(a.getMultiaddrs()[0])
  await until('the walks came back from the cap', () => manager.nextWalkInMs < MAX_MS)
  t.pass('a peer joining shortened the wait')
  await until('the walks backed off to the cap', () => manager.nextWalkInMs === MAX_MS)

  // and one leaving does too
  await c.stop()
  await until('the walks came back from the cap', () => manager.nextWalkInMs < MAX_MS)
  t.true(a.getPeers().length >= 1)
})

test.serial('a node under its target finds, by walking, a peer it only knows through another', async t => {
  const a = await host()
  const b = await host([a.getMultiaddrs()[0].toString()])
  const c = await host([a.getMultiaddrs()[0].toString()])
  const hosts = [a, b, c]
  t.teardown(async () => { await Promise.all(hosts.map(async h => { await h.stop() })) })
  // b knows a only; its walks (peer store and the DHT) find c through a, and b connects to it
  const manager = new PeerManager({ libp2p: b, logger: silentLogger() }, { targetPeers: 16, discoveryIntervalMs: BASE_MS, maxDiscoveryIntervalMs: MAX_MS })
  await manager.start()
  t.teardown(async () => { await manager.stop() })
  await until('b connected to c', () => b.getPeers().some(p => p.equals(c.peerId)))
  t.true(b.getPeers().some(p => p.equals(c.peerId)), 'b found c by walking')
})
