import test from 'ava'
import { keccak256, toUtf8Bytes, ZeroHash } from 'ethers'
import { Registry } from 'prom-client'
import { CheckpointAggregator, type CheckpointSubmitter, type CheckpointTransport, type GossipVerdict } from '../../src/chain/checkpoint-aggregator.ts'
import { decodeCheckpointMessage, encodeCheckpointMessage } from '../../src/chain/checkpoint-message.ts'
import { type Checkpoint, recoverCheckpointSigner, signCheckpoint } from '../../src/chain/checkpoint-digest.ts'
import { ChainClient } from '../../src/chain/client.ts'
import { AGC_UNIT } from '../../src/chain/deploy.ts'
import { SettlementSubmitter } from '../../src/chain/settlement-submitter.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type ChainFixture, startChainFixture, type TestValidator } from '../helpers/anvil.ts'

let chain: ChainFixture
let snap = ''
const K = AGC_UNIT * 1000n

test.before(async () => { chain = await startChainFixture({ stakes: [K, K, K, K] }) })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => { await chain.revert(snap) })

/** An in-process pub/sub bus: every subscriber gets every message, including the publisher (as gossipsub). */
function createBus (): { transport: () => CheckpointTransport, verdicts: GossipVerdict[] } {
  const handlers = new Set<(data: Uint8Array) => Promise<GossipVerdict>>()
  const verdicts: GossipVerdict[] = []
  return {
    verdicts,
    transport: () => ({
      publish: async (data) => { for (const h of [...handlers]) verdicts.push(await h(data)) },
      subscribe: (handler) => {
        handlers.add(handler)
        return () => { handlers.delete(handler) }
      }
    })
  }
}

function domain (): { chainId: number, settlement: string } {
  return { chainId: chain.anvil.chainId, settlement: chain.deployment.settlement }
}

function node (transport: CheckpointTransport, v?: TestValidator): CheckpointAggregator {
  const wallet = v?.operator ?? chain.users[0]
  const client = new ChainClient({ provider: chain.provider, wallet, logger: silentLogger() }, { pollIntervalMs: 20 })
  return new CheckpointAggregator({
    transport,
    validators: chain.validatorSet({ cacheMs: 60_000 }),
    submitter: new SettlementSubmitter(chain.contracts.settlement, chain.deployment.settlement, client),
    domain: domain(),
    signingKey: v?.signer.signingKey,
    logger: silentLogger(),
    registry: new Registry()
  }, { submitDelayMs: 50 })
}

function checkpoint (epoch: bigint): Checkpoint {
  return { epoch, dagRoot: keccak256(toUtf8Bytes(`dag-${epoch}`)), stateRoot: keccak256(toUtf8Bytes(`state-${epoch}`)), withdrawalsRoot: ZeroHash }
}

test.serial('validators gossip signatures; once 2/3 of stake signed, the checkpoint is submitted on chain', async (t) => {
  const bus = createBus()
  const nodes = chain.validators.map((v) => node(bus.transport(), v))
  for (const n of nodes) await n.start()
  const onchain = Promise.race(nodes.map(async (n) => await new Promise((resolve) => n.once('submitted', resolve))))
  const cp = checkpoint(1n)
  // two of four: no quorum yet
  await nodes[0].propose(cp)
  await nodes[1].propose(cp)
  for (const n of nodes.slice(0, 2)) {
    const status = await n.status(1n)
    t.is(status.signedStake, 2n * K)
    t.false(status.quorum)
  }
  const quorum = new Promise<{ epoch: bigint }>((resolve) => nodes[2].once('quorum', resolve))
  await nodes[2].propose(cp)
  t.is((await quorum).epoch, 1n)
  await onchain
  t.is(await chain.contracts.settlement.lastEpoch(), 1n)
  const stored = await chain.contracts.settlement.getCheckpoint(1n)
  t.is(stored.dagRoot, cp.dagRoot)
  t.true(hasAtLeastTwoThirds(stored.signedStake, stored.totalStake))
  for (const n of nodes) await n.stop()
})

function hasAtLeastTwoThirds (signed: bigint, total: bigint): boolean {
  return signed * 3n >= total * 2n
}

test.serial('a later epoch waits for the earlier one; an observer without a key can submit', async (t) => {
  const bus = createBus()
  const validators = chain.validators.map((v) => node(bus.transport(), v))
  const observer = node(bus.transport())
  for (const n of [...validators, observer]) await n.start()
  const cp1 = checkpoint(1n)
  const cp2 = checkpoint(2n)
  // epoch 2 reaches quorum first: it cannot be anchored before epoch 1
  for (const n of [...validators, observer]) await n.propose(cp2)
  t.true((await observer.status(2n)).quorum)
  t.is(await chain.contracts.settlement.lastEpoch(), 0n)
  const anchored2 = new Promise((resolve) => observer.on('onchain', ({ epoch }) => { if (epoch >= 2n) resolve(epoch) }))
  for (const n of [...validators, observer]) await n.propose(cp1)
  await anchored2
  t.is(await chain.contracts.settlement.lastEpoch(), 2n)
  t.is((await chain.contracts.settlement.getCheckpoint(2n)).stateRoot, cp2.stateRoot)
  for (const n of [...validators, observer]) await n.stop()
})

test.serial('gossip validation: malformed is rejected; outsiders, duplicates and far epochs are ignored', async (t) => {
  const bus = createBus()
  const n = node(bus.transport(), chain.validators[0])
  await n.start()
  const cp = checkpoint(1n)
  t.is(await n.handleMessage(new TextEncoder().encode('not json')), 'reject')
  t.is(await n.handleMessage(new Uint8Array(5000)), 'reject')
  t.is(await n.handleMessage(new TextEncoder().encode(JSON.stringify({ v: 1, epoch: '1' }))), 'reject')
  const bad = encodeCheckpointMessage({ checkpoint: cp, signature: `0x${'ff'.repeat(65)}` })
  t.is(await n.handleMessage(bad), 'reject')
  const outsider = encodeCheckpointMessage({ checkpoint: cp, signature: signCheckpoint(chain.users[1].signingKey, domain(), cp) })
  t.is(await n.handleMessage(outsider), 'ignore')
  const v1 = encodeCheckpointMessage({ checkpoint: cp, signature: signCheckpoint(chain.validators[1].signer.signingKey, domain(), cp) })
  t.is(await n.handleMessage(v1), 'accept')
  t.is(await n.handleMessage(v1), 'ignore')
  const far = checkpoint(100n)
  t.is(await n.handleMessage(encodeCheckpointMessage({ checkpoint: far, signature: signCheckpoint(chain.validators[1].signer.signingKey, domain(), far) })), 'ignore')
  // the message round-trips
  t.deepEqual(decodeCheckpointMessage(v1).checkpoint, { ...cp, dagRoot: cp.dagRoot.toLowerCase(), stateRoot: cp.stateRoot.toLowerCase() })
  await n.stop()
})

test.serial('a validator signing two checkpoints for one epoch is reported and slashed', async (t) => {
  const bus = createBus()
  const n = node(bus.transport(), chain.validators[0])
  await n.start()
  const cheater = chain.validators[3]
  const a = checkpoint(1n)
  const b = { ...a, stateRoot: ZeroHash }
  t.is(await n.handleMessage(encodeCheckpointMessage({ checkpoint: a, signature: signCheckpoint(cheater.signer.signingKey, domain(), a) })), 'accept')
  const seen = new Promise<{ signer: string }>((resolve) => n.once('equivocation', resolve))
  t.is(await n.handleMessage(encodeCheckpointMessage({ checkpoint: b, signature: signCheckpoint(cheater.signer.signingKey, domain(), b) })), 'accept')
  t.is((await seen).signer, cheater.signer.address)
  t.true(await chain.contracts.settlement.equivocationSlashed(cheater.signer.address, 1n))
  t.is((await chain.contracts.staking.getValidator(cheater.operator.address)).stake, K - K / 10n)
  await n.stop()
})

test.serial('a failing publish does not fail the proposal; re-publishing sends new bytes each round', async (t) => {
  let fail = true
  const sent: Uint8Array[] = []
  const transport: CheckpointTransport = {
    publish: async (data) => {
      if (fail) throw new Error('no peers subscribed')
      sent.push(data)
    },
    subscribe: () => () => {}
  }
  const n = node(transport, chain.validators[0])
  await n.start()
  const cp = checkpoint(1n)
  await n.propose(cp)
  t.is((await n.status(1n)).signedStake, K)
  fail = false
  await n.republish()
  await n.republish()
  t.is(sent.length, 2)
  t.notDeepEqual(sent[0], sent[1])
  t.deepEqual(decodeCheckpointMessage(sent[0]), decodeCheckpointMessage(sent[1]))
  await n.stop()
})

test.serial('a submission that failed its attempts (chain down) is retried on the next re-publish round', async (t) => {
  const client = new ChainClient({ provider: chain.provider, wallet: chain.validators[0].operator, logger: silentLogger() }, { pollIntervalMs: 20 })
  const real = new SettlementSubmitter(chain.contracts.settlement, chain.deployment.settlement, client)
  let failures = 0
  let exhausted: () => void = () => {}
  const gaveUp = new Promise<void>((resolve) => { exhausted = resolve })
  // fault injection around the real submitter: the first two submissions fail as if the chain were down
  const flaky: CheckpointSubmitter = {
    lastEpoch: async () => await real.lastEpoch(),
    submit: async (cp, sigs) => {
      if (failures < 2) {
        failures++
        if (failures === 2) exhausted()
        throw new Error('connection refused')
      }
      return await real.submit(cp, sigs)
    }
  }
  const bus = createBus()
  const nodes = chain.validators.map((val, i) => new CheckpointAggregator({
    transport: bus.transport(),
    validators: chain.validatorSet({ cacheMs: 60_000 }),
    submitter: i === 0 ? flaky : { lastEpoch: async () => await real.lastEpoch(), submit: async () => { throw new Error('not this node') } },
    domain: domain(),
    signingKey: val.signer.signingKey,
    logger: silentLogger()
  }, { submitDelayMs: 10, maxSubmitAttempts: 2, republishIntervalMs: 3_600_000 }))
  for (const n of nodes) await n.start()
  for (const n of nodes) await n.propose(checkpoint(1n))
  await gaveUp
  t.is(await chain.contracts.settlement.lastEpoch(), 0n)
  const anchored = new Promise((resolve) => nodes[0].once('submitted', resolve))
  await nodes[0].republish()
  await anchored
  t.is(await chain.contracts.settlement.lastEpoch(), 1n)
  t.is(failures, 2)
  for (const n of nodes) await n.stop()
})

test.serial('a signature whose v the contract refuses (0/1 or EIP-155) is rejected, so it never blocks the quorum\'s submission', async (t) => {
  const bus = createBus()
  const nodes = chain.validators.map((v) => node(bus.transport(), v))
  for (const n of nodes) await n.start()
  const cp = checkpoint(1n)
  // validator 0 gossips its signature with v = 0 / 1 (ethers recovers it; OpenZeppelin's ECDSA on chain does not),
  // and with an EIP-155 v (37 / 38)
  const good = signCheckpoint(chain.validators[0].signer.signingKey, domain(), cp)
  const v = parseInt(good.slice(130), 16)
  for (const odd of [v - 27, v + 10]) {
    const malformed = `${good.slice(0, 130)}${odd.toString(16).padStart(2, '0')}`
    t.is(await nodes[1].handleMessage(encodeCheckpointMessage({ checkpoint: cp, signature: malformed })), 'reject')
    t.is(await nodes[2].handleMessage(encodeCheckpointMessage({ checkpoint: cp, signature: malformed })), 'reject')
  }
  // an s above secp256k1's n/2 (which OpenZeppelin refuses) but below 2^255 (which ethers alone would take)
  const highS = `${good.slice(0, 66)}${'7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1'}${good.slice(130)}`
  t.throws(() => recoverCheckpointSigner(domain(), cp, highS), { message: /high s/ })
  // three honest validators reach the quorum and the checkpoint is anchored
  const submitted = Promise.race(nodes.map(async (n) => await new Promise((resolve) => n.once('submitted', resolve))))
  for (const n of nodes.slice(1)) await n.propose(cp)
  await submitted
  t.is(await chain.contracts.settlement.lastEpoch(), 1n)
  for (const n of nodes) await n.stop()
})
