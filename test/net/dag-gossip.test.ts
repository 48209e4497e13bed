import test from 'ava'
import type { Registry } from 'prom-client'
import { fromHex } from '../../src/core/codec.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES } from '../../src/core/crypto.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'
import { buildVertex, encodeVertex } from '../../src/dag/vertex.ts'
import { createDagLibp2p, createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

async function rejected (registry: Registry, code: string): Promise<number> {
  const metric = registry.getSingleMetric('harmony_gossip_validations_total')
  if (metric === undefined) return 0
  const data = await metric.get()
  return data.values.filter(v => v.labels.topic === GOSSIP_TOPICS.vertex && v.labels.verdict === 'reject' && v.labels.code === code).reduce((s, v) => s + v.value, 0)
}

test.serial('vertices with a bad signature, an unknown kind, a wrong parent count or a malformed encoding are rejected and their sender penalised', async t => {
  // the checks are the rule's admission, the same for both; under Avalanche the node builds no vertex of its own here,
  // so the stored count below is exact (under the commit rule it builds rounds on the positive control's vertex)
  const net = await createTestNet({ nodes: 1, accounts: 2, consensus: { rule: 'avalanche' } })
  const rogue = await createDagLibp2p()
  try {
    const node = net.nodes[0]
    // getScore is on the gossipsub implementation, not on its exported interface
    const pubsub = node.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }
    rogue.services.pubsub.subscribe(GOSSIP_TOPICS.vertex)
    await rogue.dial(node.libp2p.getMultiaddrs()[0])
    await waitFor(() => rogue.services.pubsub.getSubscribers(GOSSIP_TOPICS.vertex).some(p => p.equals(node.libp2p.peerId)), 'rogue sees the node on the topic')
    const genesisParent = fromHex(node.dag.ledger.genesisIdHex)
    const [a, b] = net.accounts
    const author = net.validatorKeys[0]
    const goodTx = transfer(net.genesis, a, b, 5n, 0n)
    const vertex = (txs: Uint8Array[], parents = [genesisParent]): Uint8Array => encodeVertex(buildVertex(net.genesis.chainId, {
      author: author.publicKey, secretKey: author.secretKey, parents, txs, timestampMs: BigInt(Date.now())
    }))

    const badSig = vertex([goodTx])
    badSig[badSig.length - 100] ^= 0xff
    const unknownKind = new Uint8Array(goodTx)
    unknownKind[1] = 0x03; unknownKind[2] = 0xe7
    const unknownKindVertex = vertex([unknownKind])
    const zeroParents = vertex([goodTx])
    zeroParents[1 + ML_DSA65_PUBLIC_KEY_BYTES + 8] = 0
    const malformed = vertex([goodTx]).subarray(0, 3000)

    // Positive control: a well-formed vertex from the same peer is accepted, so the checks below are the cause.
    await rogue.services.pubsub.publish(GOSSIP_TOPICS.vertex, vertex([goodTx]))
    await waitFor(async () => (await node.dag.stats()).vertices === 1, 'valid vertex stored')

    const scoreBefore = pubsub.getScore(rogue.peerId.toString())
    const cases: Array<[string, Uint8Array]> = [
      ['SIGNATURE_INVALID', badSig],
      ['KIND_UNKNOWN', unknownKindVertex],
      ['PARENTS_INVALID', zeroParents],
      ['ENCODING_INVALID', malformed]
    ]
    for (const [code, data] of cases) {
      await rogue.services.pubsub.publish(GOSSIP_TOPICS.vertex, data)
      await waitFor(async () => (await rejected(node.registry, code)) === 1, `rejection with ${code}`)
      t.is(await rejected(node.registry, code), 1, code)
    }
    await waitFor(() => pubsub.getScore(rogue.peerId.toString()) < scoreBefore, 'the sender\'s gossip score drops')
    t.true(pubsub.getScore(rogue.peerId.toString()) < 0)
    t.is((await node.dag.stats()).vertices, 1, 'no invalid vertex was stored')
  } finally {
    await rogue.stop()
    await net.close()
  }
})
