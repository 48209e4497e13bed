/**
 * State sync from a checkpoint (issue 11), under either consensus rule (test/chain/state-sync*.test.ts register it
 * with theirs): three validators (real libp2p nodes, DagService + ChainService +
 * DagBridge, anvil with the contracts) anchor epoch 1; a new node asks a lying peer and then an honest one for
 * epoch 1's cut, refuses the lie, installs the honest cut without replaying the history below it, catches up the
 * DAG above it and then computes what the validators compute: the same ledger state root after more traffic, and
 * the same state root for epoch 2 as the checkpoint the validators anchor, with the leaves they anchor (a withdraw
 * final below the cut that epoch 1 left is settled by epoch 2 on the joiner too). The market's records below the
 * cut come with it: a provider registered and a task announced before the checkpoint are known to the synced node's market
 * state, which applies a bid on that task made after it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getBytes, Wallet } from 'ethers'
import { Registry } from 'prom-client'
import { connectChainToDag, type DagBridge } from '../../src/bridge/dag-bridge.ts'
import { genesisBacking } from '../../src/bridge/genesis-lock.ts'
import { registerBridge } from '../../src/bridge/index.ts'
import { WITHDRAWAL_CUT_PART_ID, type WithdrawalCut } from '../../src/bridge/withdrawal-cut.ts'
import { buildEpochClose, buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import { fetchCheckpointCut, StateSyncServer } from '../../src/bridge/state-sync.ts'
import { AGC_UNIT, ChainService, type DevnetChain, gossipsubCheckpointTransport, startDevnetChain, writeContractsFile } from '../../src/chain/index.ts'
import { parseAddress } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, KEY_PREFIXES, openDatabase, sublevel } from '../../src/core/storage.ts'
import { isDagError } from '../../src/dag/errors.ts'
import { COMMIT_GC_DEPTH } from '../../src/dag/consensus/commit-core.ts'
import { DagService } from '../../src/dag/service.ts'
import { decodeCut, encodeCut, syncDigest } from '../../src/dag/state-cut.ts'
import { installCut } from '../../src/dag/state-sync.ts'
import type { Transaction } from '../../src/dag/tx.ts'
import { buildBidCommit, buildProviderRegister, buildTaskAnnounce, MarketState, marketRules, registerMarket } from '../../src/market/index.ts'
import { syncFromCheckpoint } from '../../src/node/state-sync.ts'
import { fundAndDeposit, testWallet } from './anvil.ts'
import { addressOf, createDagLibp2p, createTestNet, type DagLibp2p, startDagNetworking, type TestNet, transfer, waitFor } from './dag-net.ts'
import { cpuProvider, matmulAnnounce } from './market.ts'

// as a node: the bridge's and the market's kinds, and their parts of every state cut
registerBridge()
registerMarket()

const NODES = 3

/** Registers the scenario's tests on a network whose genesis names `rule`. */
export function registerStateSyncTests (rule: 'avalanche' | 'commit'): void {
let devnet: DevnetChain
let net: TestNet
const evmKeys = Array.from({ length: NODES + 1 }, (_, i) => testWallet(`sync-validator-${i}`))
const chains: ChainService[] = []
const bridges: DagBridge[] = []
const servers: StateSyncServer[] = []
const user = generateKeyPair()
const recipient = generateKeyPair()
const userWallet = testWallet('sync-user')
const cleanup: Array<() => Promise<void>> = []

function chainFor (db: BinaryDb, libp2p: DagLibp2p, evmKey: Wallet, sink: () => DagBridge): ChainService {
  return new ChainService({
    contractsFile: devnet.contractsFile,
    db,
    evmKey,
    checkpointTransport: gossipsubCheckpointTransport(libp2p.services.pubsub),
    depositSink: async (d) => { await sink().depositSink(d) },
    genesisValidatorKeys: net.validatorKeys.map((k) => k.publicKey),
    logger: silentLogger(),
    registry: new Registry()
  }, { depositConfirmations: 1, pollIntervalMs: 100, aggregator: { submitDelayMs: 300, republishIntervalMs: 1000 }, client: { pollIntervalMs: 50 } })
}

test.before(async () => {
  net = await createTestNet({ nodes: NODES, consensus: { rule, k: 2, alpha: 2, betaVirtuous: 3, betaRogue: 5 } })
  devnet = await startDevnetChain({ validators: evmKeys.slice(0, NODES).map((w, i) => ({ signerKey: w.privateKey, ledgerKey: net.validatorKeys[i] })), genesis: genesisBacking(net.genesis) })
  await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === NODES - 1), 'validator peers bound')
  for (let i = 0; i < NODES; i++) {
    const node = net.nodes[i]
    chains[i] = chainFor(node.db, node.libp2p, evmKeys[i], () => bridges[i])
    bridges[i] = connectChainToDag({ dag: node.dag, chain: chains[i], genesis: net.genesis, identity: node.key, db: node.db, logger: silentLogger(), registry: new Registry() },
      // validator 0 proposes deposit credits; the test closes the epochs itself (below), to choose what each lists
      { propose: i === 0, proposeDelayMs: 0, tickMs: 100, epochIntervalMs: Number.MAX_SAFE_INTEGER, resubmitMs: 3000 })
    servers[i] = new StateSyncServer({ libp2p: node.libp2p, cuts: bridges[i], logger: silentLogger() })
  }
  for (let i = 0; i < NODES; i++) {
    await chains[i].start()
    await bridges[i].start()
    await servers[i].start()
  }
})

test.after.always(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined)
  for (const s of servers) await s?.stop()
  for (const b of bridges) await b?.stop()
  for (const c of chains) await c?.stop()
  await net?.close()
  await devnet?.stop()
})

const stateRoots = async (dags: DagService[]): Promise<string[]> => await Promise.all(dags.map(async d => (await d.stats()).stateRoot))

test.serial('a new node syncs from the anchored checkpoint, refuses a lying peer\'s cut, and then computes the state the validators compute', async (t) => {
  const userAddress = parseAddress(addressOf(user))
  // history below the checkpoint: a deposit, a transfer, two withdraws and the close of epoch 1 (listing one)
  const deposited = 10n * AGC_UNIT
  await fundAndDeposit(devnet, userWallet, userAddress, deposited)
  const dags = net.nodes.map(n => n.dag)
  await waitFor(async () => (await Promise.all(dags.map(async d => await d.getBalance(addressOf(user))))).every(b => b === deposited), 'deposit credited')
  const fee = net.genesis.minFee
  const early = await dags[1].submitTransaction(transfer(net.genesis, user, recipient, 2n * AGC_UNIT, 0n))
  await waitFor(async () => (await Promise.all(dags.map(async d => await d.getBalance(addressOf(recipient))))).every(b => b === 2n * AGC_UNIT), 'transfer final')
  // market history below the checkpoint: the user registers as a provider and announces a task (bids open 10 min)
  const by = (nonce: bigint): { chainId: string, keys: KeyPair, nonce: bigint, fee: bigint } => ({ chainId: net.genesis.chainId, keys: user, nonce, fee })
  const isFinal = async (id: string, what: string): Promise<void> => { await waitFor(async () => (await Promise.all(dags.map(async d => (await d.getTx(id))?.status))).every(s => s === 'final'), what) }
  await isFinal(await dags[0].submitTransaction(buildProviderRegister(by(1n), cpuProvider(marketRules.MIN_BOND))), 'provider registered')
  const { tx: announce, taskId } = buildTaskAnnounce(by(2n), matmulAnnounce({ bidWindowMs: 600_000 }))
  await isFinal(await dags[1].submitTransaction(announce), 'task announced')
  const withdraw = (nonce: bigint): Transaction => buildWithdraw({ chainId: net.genesis.chainId, publicKey: user.publicKey, secretKey: user.secretKey, evmAddress: getBytes(userWallet.address), amount: AGC_UNIT, nonce, fee })
  const settledIn = async (db: BinaryDb, txId: string): Promise<string | undefined> => {
    const v = await sublevel(db, 'chain').get(new TextEncoder().encode(KEY_PREFIXES.chain.bridgeSettled + toHex(fromHex(txId))))
    return v === undefined ? undefined : new TextDecoder().decode(v)
  }
  const closeEpoch = async (epoch: bigint, ...listed: string[]): Promise<void> => {
    await isFinal(await dags[0].submitTransaction(buildEpochClose(net.genesis.chainId, net.validatorKeys[0], epoch, listed.map(id => fromHex(id)))), `close ${epoch}`)
  }
  const first = await dags[2].submitTransaction(withdraw(3n))
  await isFinal(first, 'a withdraw')
  // final below the cut, but left for a later epoch: a node started from the cut must still list it then
  const left = await dags[2].submitTransaction(withdraw(4n))
  await isFinal(left, 'another withdraw')
  if (rule === 'commit') {
    // rounds past the ones the rule keeps (gcDepth) before the checkpoint: the cut's band then starts above the
    // user's history, which the joiner gets only as base records (the ancestry of its nonce chain and credits is
    // answered against the band's maximal vertices)
    const filler = net.faucet
    const sink = generateKeyPair()
    const from = dags[0].ledger.graph.maxAcceptedHeight
    let n = 0n
    await waitFor(async () => {
      await dags[0].submitTransaction(transfer(net.genesis, filler, sink, 1n, n++))
      return dags[0].ledger.graph.maxAcceptedHeight > from + COMMIT_GC_DEPTH + 10
    }, 'rounds past the kept ones', 60_000)
  }
  await closeEpoch(1n, first)
  await waitFor(async () => await devnet.contracts.settlement.lastEpoch() >= 1n, 'checkpoint 1 on chain', 60_000)
  await waitFor(() => bridges.every(b => b.epoch >= 1n), 'epoch 1 processed on every node')
  const onchain = await devnet.contracts.settlement.getCheckpoint(1n)
  const checkpoint = { epoch: 1n, dagRoot: onchain.dagRoot, stateRoot: onchain.stateRoot }
  const earlyVertex = (await dags[0].getTx(early))?.vertexId
  if (earlyVertex === undefined) return t.fail('the early transfer has no vertex')

  // a peer that serves epoch 1's cut with one balance raised (its state root and digest no longer match)
  const liar = await createDagLibp2p()
  cleanup.push(async () => { await liar.stop() })
  const real = await bridges[0].stateCut(1n)
  if (real === undefined) return t.fail('validator 0 holds no cut of epoch 1')
  // the cut's withdrawals part: the withdraw epoch 1 left (final in the close's past, not listed), not the listed one
  t.deepEqual([...(real.parts.get(WITHDRAWAL_CUT_PART_ID) as WithdrawalCut).keys()], [toHex(fromHex(left))])
  const lie = decodeCut(encodeCut(real))
  const lied = lie.accounts.get(toHex(parseAddress(addressOf(recipient))))
  if (lied === undefined) return t.fail('the recipient is not in the cut')
  lied.balance += AGC_UNIT
  const liarServer = new StateSyncServer({ libp2p: liar, cuts: { stateCut: async () => lie }, logger: silentLogger() })
  await liarServer.start()
  cleanup.push(async () => { await liarServer.stop() })

  // the joiner: an empty datadir, not a validator
  const dir = await mkdtemp(join(tmpdir(), 'harmony-sync-joiner-'))
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const joinerLibp2p = await createDagLibp2p()
  const db = await openDatabase(dir)
  const joinerKey: KeyPair = generateKeyPair()
  const networking = await startDagNetworking(joinerLibp2p, joinerKey, silentLogger())
  const joinerDag = (): DagService => new DagService({ libp2p: joinerLibp2p, ...networking, db, identity: joinerKey, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, ...(rule === 'commit' ? { historyWindow: 4 * COMMIT_GC_DEPTH } : {}) })
  let joiner = joinerDag()
  cleanup.push(async () => { await joiner.stop(); await networking.peerBinding.stop(); await joinerLibp2p.stop(); await db.close() })
  await joinerLibp2p.dial(liar.getMultiaddrs()[0])
  for (const n of net.nodes) await joinerLibp2p.dial(n.libp2p.getMultiaddrs()[0])

  // only the lie: refused with a typed error
  const onlyLie = await t.throwsAsync(fetchCheckpointCut(joinerLibp2p, [liar.peerId], checkpoint, silentLogger()))
  t.true(isDagError(onlyLie))
  t.is((onlyLie as { code?: string }).code, 'SYNC_FAILED')
  // the lie first, then an honest validator: the honest cut is taken
  const got = await fetchCheckpointCut(joinerLibp2p, [liar.peerId, net.nodes[1].libp2p.peerId], checkpoint, silentLogger())
  t.is(got.refused, 1)
  // under the commit rule: the state after a slot, its band the rounds the rule keeps (above the user's history)
  t.is(got.cut.slot !== undefined, rule === 'commit')
  if (rule === 'commit') t.true(Math.min(...got.cut.band.map(r => r.height)) > 1 && got.cut.band.every(r => r.author !== undefined))
  t.true(got.peer.equals(net.nodes[1].libp2p.peerId))
  // what `harmonyd --state-sync` runs: the checkpoint read from the contract, every connected peer asked in turn
  const contractsPath = join(dir, 'contracts.json')
  await writeContractsFile(contractsPath, devnet.contractsFile)
  const sync = { libp2p: joinerLibp2p, dag: joiner, db, contractsPath, chainRpc: '', logger: silentLogger() }
  t.is(await syncFromCheckpoint(sync), 1n)
  // a datadir that holds a ledger is never overwritten
  t.is(await syncFromCheckpoint(sync), undefined)
  t.is((await t.throwsAsync(installCut({ store: joiner.ledger.store, history: joiner.ledger.history, genesisId: fromHex(joiner.ledger.genesisIdHex) }, got.cut)) as { code?: string }).code, 'SYNC_FAILED')

  const joinerChain = chainFor(db, joinerLibp2p, evmKeys[NODES], () => joinerBridge)
  const joinerBridge: DagBridge = connectChainToDag({ dag: joiner, chain: joinerChain, genesis: net.genesis, identity: joinerKey, db, logger: silentLogger(), registry: new Registry() }, { propose: false, tickMs: 100 })
  await joiner.start()
  await joinerChain.start()
  await joinerBridge.start()
  let chainSideUp = true
  const stopChainSide = async (): Promise<void> => { if (chainSideUp) { chainSideUp = false; await joinerBridge.stop(); await joinerChain.stop() } }
  cleanup.push(stopChainSide)
  t.is(joinerBridge.epoch, 1n)
  // the history below the cut was not replayed: the early transfer's body and record are not here
  t.is(await joiner.ledger.getVertexBytes(earlyVertex), undefined)
  t.is(await joiner.getTx(early), undefined)
  t.is(await joiner.getBalance(addressOf(recipient)), 2n * AGC_UNIT)

  // the market's records below the cut came with it: the provider and the open task
  const market = new MarketState({ db, dag: joiner, logger: silentLogger() })
  await market.start()
  let marketUp = true
  const stopMarket = async (): Promise<void> => { if (marketUp) { marketUp = false; await market.stop() } }
  cleanup.push(stopMarket)
  t.is((await market.provider(addressOf(user)))?.bond, marketRules.MIN_BOND)
  t.is((await market.task(toHex(taskId)))?.requester, addressOf(user))
  t.deepEqual(market.openTaskIds(), [toHex(taskId)])

  // traffic above the cut, from the user whose last transaction and credits are below it; a bid on the task
  await dags[0].submitTransaction(transfer(net.genesis, user, recipient, AGC_UNIT, 5n))
  await waitFor(async () => (await dags[1].getBalance(addressOf(recipient))) === 3n * AGC_UNIT, 'a transfer above the cut')
  await dags[1].submitTransaction(transfer(net.genesis, recipient, user, AGC_UNIT / 2n, 0n))
  await waitFor(async () => (await joiner.getBalance(addressOf(recipient))) === 3n * AGC_UNIT - AGC_UNIT / 2n - fee, 'the joiner applied the transfers above the cut')
  await dags[1].submitTransaction(buildBidCommit({ chainId: net.genesis.chainId, keys: recipient, nonce: 1n, fee }, taskId, 500n, new Uint8Array(32).fill(3)))
  await waitFor(async () => (await market.bids(toHex(taskId))).length === 1, 'the joiner\'s market applied the bid on the task announced below the cut')
  t.is((await market.bids(toHex(taskId)))[0].provider, addressOf(recipient))
  await stopMarket()
  await waitFor(async () => new Set(await stateRoots([...dags, joiner])).size === 1, 'one ledger state root on every node and the joiner')
  // epoch 2 lists the withdraw left below the cut and a new one: the joiner settles both, as the validators do, and
  // its bridge advances its synced cut to the same state root the validators anchor
  const later = await dags[0].submitTransaction(withdraw(6n))
  await isFinal(later, 'a withdraw above the cut')
  await closeEpoch(2n, left, later)
  await waitFor(async () => await devnet.contracts.settlement.lastEpoch() >= 2n, 'checkpoint 2 on chain', 60_000)
  await waitFor(() => joinerBridge.epoch >= 2n && bridges[0].epoch >= 2n, 'epoch 2 processed on the joiner and on validator 0')
  // (the first withdraw was settled below the cut: the joiner holds no record of it)
  for (const [d, firstIn] of [[net.nodes[0].db, '1'], [db, undefined]] as const) {
    t.is(await settledIn(d, first), firstIn)
    t.is(await settledIn(d, left), '2')
    t.is(await settledIn(d, later), '2')
  }
  const second = await devnet.contracts.settlement.getCheckpoint(2n)
  const proof = await joinerBridge.stateProof(userAddress)
  t.is(proof?.epoch, 2n)
  t.is(proof?.root, second.stateRoot)
  const cut2 = await joinerBridge.stateCut(2n)
  if (cut2 === undefined) return t.fail('the joiner holds no cut of epoch 2')
  t.is(`0x${syncDigest(cut2)}`, second.dagRoot.toLowerCase())

  // a restart of the synced node starts from its own datadir (the sync base and band on disk) and keeps following
  await stopChainSide()
  await joiner.stop()
  joiner = joinerDag()
  await joiner.start()
  await dags[2].submitTransaction(transfer(net.genesis, recipient, user, AGC_UNIT / 4n, 2n))
  await waitFor(async () => (await joiner.getBalance(addressOf(recipient))) === 3n * AGC_UNIT - AGC_UNIT / 2n - AGC_UNIT / 4n - 3n * fee, 'the restarted joiner applied a transfer')
  await waitFor(async () => new Set(await stateRoots([...dags, joiner])).size === 1, 'one ledger state root after the restart')
  if (rule !== 'commit') return
  // the commit-rule joiner keeps its band in memory above the genesis: the history window (here the least the rule
  // allows, 4 × gcDepth heights) still moves past it once the rounds go on, so its memory does not grow with the history
  const genesisId = joiner.ledger.graph.genesisId
  t.is(joiner.ledger.graph.cutId, genesisId)
  let nonce = 3n
  await waitFor(async () => {
    await dags[0].submitTransaction(transfer(net.genesis, recipient, user, 1n, nonce++))
    return joiner.ledger.graph.cutId !== genesisId
  }, 'the joiner\'s history cut moved past the band', 60_000)
  await waitFor(async () => new Set(await stateRoots([...dags, joiner])).size === 1, 'one ledger state root after the window moved')
})
}
