/**
 * A validator restarted between closing an epoch and its anchoring signs and gossips that epoch's checkpoint again.
 * The aggregator holds signatures in memory only and the bridge hands an epoch to the chain side once, so before,
 * a restart lost the validator's signature for good: when it was needed for the quorum, that epoch, and every later
 * one (the contract takes epochs in order), was never anchored and final withdrawals could not be claimed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { keccak256, toUtf8Bytes } from 'ethers'
import { Registry } from 'prom-client'
import { ChainService, type CheckpointTransport, type DevnetChain, type GossipVerdict, startDevnetChain } from '../../src/chain/index.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { testLedgerKey, testWallet } from '../helpers/anvil.ts'
import { waitFor } from '../helpers/dag-net.ts'

const ledgerKeys = [testLedgerKey('resume-0'), testLedgerKey('resume-1')]
const evmKeys = [testWallet('resume-signer-0'), testWallet('resume-signer-1')]
let dir = ''
let devnet: DevnetChain

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'harmony-checkpoint-resume-'))
  // two validators of equal stake: a checkpoint needs both signatures
  devnet = await startDevnetChain({ validators: evmKeys.map((w, i) => ({ signerKey: w.privateKey, ledgerKey: ledgerKeys[i] })) })
})
test.after.always(async () => {
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** An in-process gossip topic: every subscriber gets every message. */
function bus (): () => CheckpointTransport {
  const handlers = new Set<(data: Uint8Array) => Promise<GossipVerdict>>()
  return () => ({
    publish: async (data) => { for (const h of [...handlers]) await h(data) },
    subscribe: (h) => { handlers.add(h); return () => { handlers.delete(h) } }
  })
}

function service (i: number, db: BinaryDb, transport: CheckpointTransport): ChainService {
  return new ChainService({
    contractsFile: devnet.contractsFile,
    db,
    evmKey: evmKeys[i],
    checkpointTransport: transport,
    depositSink: async () => {},
    logger: silentLogger(),
    registry: new Registry(),
    genesisValidatorKeys: ledgerKeys.map((k) => k.publicKey)
  }, { depositConfirmations: 1, pollIntervalMs: 50, aggregator: { submitDelayMs: 10, republishIntervalMs: 100 }, client: { pollIntervalMs: 50 } })
}

test.serial('a validator restarted after closing an epoch signs its checkpoint again, and the epoch is anchored', async (t) => {
  const topic = bus()
  const dbs = [await openDatabase(join(dir, 'db-0')), await openDatabase(join(dir, 'db-1'))]
  const roots = { dagRoot: keccak256(toUtf8Bytes('dag-1')), stateRoot: keccak256(toUtf8Bytes('state-1')) }
  const leaves = [{ account: evmKeys[0].address, amount: 5n, nonce: 1n }]

  // validator 0 closes epoch 1 and signs it while validator 1 is down; then validator 0 stops (its signature with it)
  let first = service(0, dbs[0], topic())
  await first.start()
  await first.closeEpoch(1n, roots.dagRoot, roots.stateRoot, leaves)
  await first.stop()

  // validator 0 comes back on its datadir; validator 1 comes up and closes the same epoch
  first = service(0, dbs[0], topic())
  await first.start()
  const second = service(1, dbs[1], topic())
  await second.start()
  await second.closeEpoch(1n, roots.dagRoot, roots.stateRoot, leaves)

  await waitFor(async () => await devnet.contracts.settlement.lastEpoch() === 1n, 'epoch 1 anchored with both signatures', 20_000)
  const onchain = await devnet.contracts.settlement.getCheckpoint(1n)
  t.is(onchain.dagRoot, roots.dagRoot)
  const proof = await first.proofFor(evmKeys[0].address, 1n)
  t.is(proof?.root, onchain.withdrawalsRoot)
  t.true(proof?.anchored)

  await first.stop()
  await second.stop()
  for (const db of dbs) await db.close()
})
