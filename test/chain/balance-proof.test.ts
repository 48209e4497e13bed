/**
 * Checkpoints carry a real state root: the Merkle root over accounts at the epoch-close's cut, equal on every
 * node, anchored on chain; `account_getProof` (DagBridge.stateProof) proves a balance against it. Three real
 * libp2p nodes running DagService + ChainService + DagBridge, anvil with the contracts.
 */
import test from 'ava'
import { getBytes } from 'ethers'
import { Registry } from 'prom-client'
import { connectChainToDag, type DagBridge } from '../../src/bridge/dag-bridge.ts'
import { genesisBacking } from '../../src/bridge/genesis-lock.ts'
import { buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import { AGC_UNIT, ChainService, type DevnetChain, gossipsubCheckpointTransport, startDevnetChain } from '../../src/chain/index.ts'
import { parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { verifyAccountProof } from '../../src/dag/state-root.ts'
import { fundAndDeposit, testWallet } from '../helpers/anvil.ts'
import { addressOf, createTestNet, type TestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const NODES = 3
let devnet: DevnetChain
let net: TestNet
const evmKeys = Array.from({ length: NODES }, (_, i) => testWallet(`proof-validator-${i}`))
const chains: ChainService[] = []
const bridges: DagBridge[] = []
const user = generateKeyPair()
const recipient = generateKeyPair()
const userWallet = testWallet('proof-user')

test.before(async () => {
  net = await createTestNet({ nodes: NODES, consensus: { k: 2, alpha: 2, betaVirtuous: 3, betaRogue: 5 } })
  devnet = await startDevnetChain({ validators: evmKeys.map((w, i) => ({ signerKey: w.privateKey, ledgerKey: net.validatorKeys[i] })), genesis: genesisBacking(net.genesis) })
  await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === NODES - 1), 'validator peers bound')
  for (let i = 0; i < NODES; i++) {
    const node = net.nodes[i]
    chains[i] = new ChainService({
      contractsFile: devnet.contractsFile,
      db: node.db,
      evmKey: evmKeys[i],
      checkpointTransport: gossipsubCheckpointTransport(node.libp2p.services.pubsub),
      depositSink: async (d) => { await bridges[i].depositSink(d) },
      genesisValidatorKeys: net.validatorKeys.map((k) => k.publicKey),
      logger: silentLogger(),
      registry: new Registry()
    }, { depositConfirmations: 1, pollIntervalMs: 100, aggregator: { submitDelayMs: 300, republishIntervalMs: 1000 }, client: { pollIntervalMs: 50 } })
    bridges[i] = connectChainToDag({ dag: node.dag, chain: chains[i], genesis: net.genesis, identity: node.key, db: node.db, logger: silentLogger(), registry: new Registry() },
      { propose: i === 0, proposeDelayMs: 0, tickMs: 100, epochIntervalMs: 0, resubmitMs: 3000 })
  }
  for (let i = 0; i < NODES; i++) {
    await chains[i].start()
    await bridges[i].start()
  }
})

test.after.always(async () => {
  for (const b of bridges) await b?.stop()
  for (const c of chains) await c?.stop()
  await net?.close()
  await devnet?.stop()
})

async function balances (k: KeyPair): Promise<bigint[]> {
  return await Promise.all(net.nodes.map(async n => await n.dag.getBalance(addressOf(k))))
}

test.serial('every node proves a balance against the state root anchored on chain', async (t) => {
  const userAddress = parseAddress(addressOf(user))
  // nothing anchored yet: no proof
  for (const b of bridges) t.is(await b.stateProof(userAddress), null)

  // deposit 10 AGC on chain; it is credited on the DAG
  const deposited = 10n * AGC_UNIT
  await fundAndDeposit(devnet, userWallet, userAddress, deposited)
  await waitFor(async () => (await balances(user)).every(b => b === deposited), 'deposit credited on every node')

  // a transfer and a withdraw: the withdraw makes a validator close epoch 1
  const fee = net.genesis.minFee
  const sent = 2n * AGC_UNIT
  const tid = await net.nodes[1].dag.submitTransaction(transfer(net.genesis, user, recipient, sent, 0n))
  await waitFor(async () => (await balances(recipient)).every(b => b === sent), 'transfer final on every node')
  t.truthy(tid)
  const burned = 3n * AGC_UNIT
  await net.nodes[2].dag.submitTransaction(buildWithdraw({ chainId: net.genesis.chainId, publicKey: user.publicKey, secretKey: user.secretKey, evmAddress: getBytes(userWallet.address), amount: burned, nonce: 1n, fee }))
  const expected = deposited - sent - fee - burned - fee
  await waitFor(async () => (await balances(user)).every(b => b === expected), 'withdraw final on every node')
  await waitFor(async () => await devnet.contracts.settlement.lastEpoch() >= 1n, 'checkpoint 1 on chain', 60_000)
  await waitFor(() => bridges.every(b => b.epoch >= 1n), 'epoch 1 processed on every node')

  const onchain = await devnet.contracts.settlement.getCheckpoint(1n)
  t.not(onchain.stateRoot, `0x${'00'.repeat(32)}`)
  for (const b of bridges) {
    // the cut holds the withdraw (it is in the close's causal past): balance and nonce after it
    const p = await b.stateProof(userAddress)
    if (p === null) return t.fail('no proof of the user')
    t.is(p.epoch, 1n)
    t.is(p.root, onchain.stateRoot)
    t.is(p.balance, expected)
    t.is(p.nonce, 2n)
    t.true(verifyAccountProof(onchain.stateRoot, p, p.proof))
    t.false(verifyAccountProof(onchain.stateRoot, { ...p, balance: p.balance + 1n }, p.proof))
    const r = await b.stateProof(parseAddress(addressOf(recipient)))
    if (r === null) return t.fail('no proof of the recipient')
    t.is(r.balance, sent)
    t.is(r.nonce, 0n)
    t.true(verifyAccountProof(onchain.stateRoot, r, r.proof))
    // an account that holds nothing has no leaf
    t.is(await b.stateProof(parseAddress(addressOf(generateKeyPair()))), null)
  }
})
