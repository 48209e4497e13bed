import test from 'ava'
import { generateKeyPair as generateP2pKey } from '@libp2p/crypto/keys'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { generateKeyPair, type KeyPair, sign, verify } from '../../src/core/crypto.ts'
import { generateGenesis } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { GossipRegistry } from '../../src/network/gossip.ts'
import { type BindingCrypto, PeerBindingService } from '../../src/network/peer-binding.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { type Logger, silentLogger } from '../../src/core/logger.ts'
import { createDagLibp2p, type DagLibp2p, waitFor } from '../helpers/dag-net.ts'

interface Counts { signs: number, verifies: number }

/** The real ML-DSA functions, counted. */
function countingCrypto (counts: Counts): BindingCrypto {
  return {
    sign: (msg, sk) => { counts.signs++; return sign(msg, sk) },
    verify: (sig, msg, pk) => { counts.verifies++; return verify(sig, msg, pk) }
  }
}

interface Side {
  libp2p: DagLibp2p
  binding: PeerBindingService
  dag: DagService
  db: BinaryDb
  counts: Counts
  stop: () => Promise<void>
}

async function side (key: KeyPair, dir: string, genesis: ReturnType<typeof generateGenesis>, logger: Logger, p2pKey?: Awaited<ReturnType<typeof generateP2pKey>>, beforeBinding?: (libp2p: DagLibp2p) => Promise<void>): Promise<Side> {
  const libp2p = await createDagLibp2p(p2pKey)
  await beforeBinding?.(libp2p)
  const counts = { signs: 0, verifies: 0 }
  const binding = new PeerBindingService({ libp2p, identity: { ledgerKey: key }, logger, crypto: countingCrypto(counts) })
  await binding.start()
  const db = await openDatabase(dir)
  const registry = new Registry()
  const gossip = new GossipRegistry({ pubsub: libp2p.services.pubsub, logger, registry })
  const dag = new DagService({ libp2p, gossip, peerBinding: binding, db, identity: key, genesis, logger, registry }, { verifier: { workers: 1 } })
  await dag.start()
  return {
    libp2p, binding, dag, db, counts,
    stop: async () => { await dag.stop(); await binding.stop(); await libp2p.stop(); await db.close() }
  }
}

test.serial('one connection costs one ML-DSA sign and one verify per side, and a restarted peer is bound again', async t => {
  const keys = [generateKeyPair(), generateKeyPair()]
  const genesis = generateGenesis({ chainId: 'harmony-test', validatorPublicKeys: keys.map(k => k.publicKey), faucetPublicKey: generateKeyPair().publicKey })
  const dirs = [await mkdtemp(join(tmpdir(), 'harmony-bind-a-')), await mkdtemp(join(tmpdir(), 'harmony-bind-b-'))]
  // A logs its binding attempts so the test can see the restarted peer refuse the first ones
  const lines: string[] = []
  const logA = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } })
  const a = await side(keys[0], dirs[0], genesis, logA)
  const bKey = await generateP2pKey('Ed25519')
  let b = await side(keys[1], dirs[1], genesis, silentLogger(), bKey)
  try {
    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    await waitFor(() => a.dag.validatorPeers.size === 1 && b.dag.validatorPeers.size === 1, 'both ledgers to see the other validator')
    t.deepEqual(a.binding.ledgerKeyOf(b.libp2p.peerId), keys[1].publicKey)
    t.deepEqual(a.counts, { signs: 1, verifies: 1 }, 'A signed its binding once and verified B once')
    t.deepEqual(b.counts, { signs: 1, verifies: 1 }, 'B signed its binding once and verified A once')

    // B restarts with the same peer id and accepts connections before it registers its protocols
    await b.stop()
    await waitFor(() => a.dag.validatorPeers.size === 0, 'A to forget B')
    const refusedBefore = lines.filter(l => l.includes('peer binding not available yet')).length
    let release: () => void = () => {}
    const released = new Promise<void>(resolve => { release = resolve })
    const restarting = side(keys[1], dirs[1], genesis, silentLogger(), bKey, async (libp2p) => {
      await libp2p.dial(a.libp2p.getMultiaddrs()[0])
      await released
    })
    await waitFor(() => lines.filter(l => l.includes('peer binding not available yet')).length > refusedBefore, 'A to be refused by the starting B')
    release()
    b = await restarting
    await waitFor(() => a.dag.validatorPeers.size === 1 && b.dag.validatorPeers.size === 1, 'A to bind the restarted B again')
    t.deepEqual(a.counts, { signs: 1, verifies: 2 }, 'one more verify on A for the new connection')
    t.deepEqual(b.counts, { signs: 1, verifies: 1 })
  } finally {
    await b.stop().catch(() => undefined)
    await a.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
})
