import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createIdentity, loadIdentity, signBinding, verifyBinding, type NodeIdentity } from '../../src/core/keys/identity.ts'
import { createHost, type HarmonyLibp2p } from '../../src/network/host.ts'
import { PEER_BINDING_PROTOCOL, PeerBindingService, encodeBinding } from '../../src/network/peer-binding.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { tempDir, waitFor } from '../helpers/harmonyd.ts'

test('a binding verifies for its own peer id and nothing else', async (t) => {
  await using d = await tempDir()
  const identity = await createIdentity(d.path)
  const binding = signBinding(identity)
  t.true(verifyBinding(identity.peerId, binding))
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  t.false(verifyBinding(other, binding), 'a binding cannot be replayed for another peer id')
  const tampered = { ...binding, signature: binding.signature.slice() }
  tampered.signature[100] ^= 1
  t.false(verifyBinding(identity.peerId, tampered))
  t.false(verifyBinding(identity.peerId, { ...binding, signature: binding.signature.subarray(1) }))
  // reloading from disk gives the same identity
  const loaded = await loadIdentity(d.path)
  t.true(loaded.peerId.equals(identity.peerId))
  t.deepEqual(loaded.ledgerKey.publicKey, identity.ledgerKey.publicKey)
  await t.throwsAsync(createIdentity(d.path), { code: 'EEXIST' })
})

async function host (identity: NodeIdentity): Promise<HarmonyLibp2p> {
  return createHost({ privateKey: identity.p2pKey, listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
}

test.serial('peers verify each other over the network, and a forged binding is refused', async (t) => {
  await using da = await tempDir()
  await using db = await tempDir()
  await using dm = await tempDir()
  const a = await createIdentity(da.path)
  const b = await createIdentity(db.path)
  const mallory = await createIdentity(dm.path)
  const [ha, hb, hm] = await Promise.all([host(a), host(b), host(mallory)])
  t.teardown(async () => { await Promise.all([ha.stop(), hb.stop(), hm.stop()]) })
  const sa = new PeerBindingService({ libp2p: ha, identity: a, logger: silentLogger() })
  const sb = new PeerBindingService({ libp2p: hb, identity: b, logger: silentLogger() })
  await sa.start()
  await sb.start()

  await ha.dial(hb.getMultiaddrs()[0])
  await waitFor('a to verify b', async () => sa.ledgerKeyOf(hb.peerId))
  await waitFor('b to verify a', async () => sb.ledgerKeyOf(ha.peerId))
  t.deepEqual(sa.ledgerKeyOf(hb.peerId), b.ledgerKey.publicKey)

  // mallory claims b's ledger key by replaying b's binding over her own peer id
  await hm.handle(PEER_BINDING_PROTOCOL, async (stream) => {
    await lpStream(stream).write(encodeBinding(signBinding(b)))
    await stream.close()
  })
  await hm.dial(ha.getMultiaddrs()[0])
  await waitFor('a to drop the forger', async () => ha.getConnections(hm.peerId).length === 0 ? true : undefined)
  t.is(sa.ledgerKeyOf(hm.peerId), undefined)
  t.false(sa.verifiedPeers().some(p => p.peerId.equals(hm.peerId)))
  // the honest peer stays connected and verified
  t.true(ha.getConnections(hb.peerId).length > 0)
  t.deepEqual(sa.ledgerKeyOf(hb.peerId), b.ledgerKey.publicKey)
  await sa.stop()
  await sb.stop()
})
