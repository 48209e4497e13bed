/**
 * The checkpoint loop over real gossipsub between two libp2p hosts on loopback: each validator holds half the
 * stake, so the checkpoint needs both signatures. Signatures published before the gossip mesh formed arrive
 * through the aggregator's re-publishing. The topic is registered through each host's gossip registry.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import test from 'ava'
import { Registry } from 'prom-client'
import { keccak256, toUtf8Bytes, ZeroHash } from 'ethers'
import { CheckpointAggregator } from '../../src/chain/checkpoint-aggregator.ts'
import { ChainClient } from '../../src/chain/client.ts'
import { AGC_UNIT } from '../../src/chain/deploy.ts'
import { gossipCheckpointTransport } from '../../src/chain/gossip-transport.ts'
import { SettlementSubmitter } from '../../src/chain/settlement-submitter.ts'
import { GossipRegistry } from '../../src/network/gossip.ts'
import { createHost, type HarmonyLibp2p } from '../../src/network/host.ts'
import { GOSSIP_TOPICS } from '../../src/network/protocols.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type ChainFixture, startChainFixture } from '../helpers/anvil.ts'

let chain: ChainFixture
const hosts: HarmonyLibp2p[] = []

test.before(async () => {
  chain = await startChainFixture({ stakes: [1000n * AGC_UNIT, 1000n * AGC_UNIT] })
  for (let i = 0; i < 2; i++) {
    hosts.push(await createHost({ privateKey: await generateKeyPair('Ed25519'), listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true }))
  }
})
test.after.always(async () => {
  for (const h of hosts) await h.stop()
  await chain?.stop()
})

test.serial('two validators reach quorum over gossipsub and the checkpoint is anchored', async (t) => {
  const registries = hosts.map(() => new Registry())
  const aggregators = chain.validators.map((v, i) => new CheckpointAggregator({
    transport: gossipCheckpointTransport(new GossipRegistry({ pubsub: hosts[i].services.pubsub, logger: silentLogger(), registry: registries[i] })),
    validators: chain.validatorSet({ cacheMs: 60_000 }),
    submitter: new SettlementSubmitter(chain.contracts.settlement, chain.deployment.settlement, new ChainClient({ provider: chain.provider, wallet: v.operator, logger: silentLogger() }, { pollIntervalMs: 20 })),
    domain: { chainId: chain.anvil.chainId, settlement: chain.deployment.settlement },
    signingKey: v.signer.signingKey,
    logger: silentLogger()
  }, { submitDelayMs: 100, republishIntervalMs: 200 }))
  for (const a of aggregators) await a.start()
  const checkpoint = { epoch: 1n, dagRoot: keccak256(toUtf8Bytes('dag')), stateRoot: keccak256(toUtf8Bytes('state')), withdrawalsRoot: ZeroHash }
  // both sign before they are even connected: the first publications reach nobody
  for (const a of aggregators) await a.propose(checkpoint)
  t.false((await aggregators[0].status(1n)).quorum)
  const anchored = aggregators.map(async (a) => await new Promise((resolve) => a.once('onchain', resolve)))
  await hosts[0].dial(hosts[1].getMultiaddrs()[0])
  await Promise.all(anchored)
  t.is(await chain.contracts.settlement.lastEpoch(), 1n)
  const stored = await chain.contracts.settlement.getCheckpoint(1n)
  t.is(stored.signedStake, 2000n * AGC_UNIT)
  // the submitter reached quorum only with the other's signature, taken through its gossip registry (which
  // counted the verdict); the other node may have learnt of the anchor from the chain first
  const accepted = await Promise.all(registries.map(async (registry) => {
    const counted = (await registry.getSingleMetric('harmony_gossip_validations_total')?.get())?.values ?? []
    return counted.some((v) => v.labels.topic === GOSSIP_TOPICS.checkpoint && v.labels.verdict === 'accept' && v.value >= 1)
  }))
  t.true(accepted.includes(true))
  for (const a of aggregators) await a.stop()
  t.false(hosts[0].services.pubsub.getTopics().includes(GOSSIP_TOPICS.checkpoint), 'stopping the aggregator unregisters the topic')
})
