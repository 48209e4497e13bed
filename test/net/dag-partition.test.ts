import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { generateGenesis } from '../../src/dag/genesis.ts'
import type { ExecutionContext } from 'ava'
import type { KeyPair } from '../../src/core/crypto.ts'
import type { ConsensusRule, Genesis } from '../../src/dag/genesis.ts'
import { ConsensusProbe, type ProbeTxStatus, waitStalled } from '../helpers/dag-consensus-probe.ts'
import { transfer, waitFor } from '../helpers/dag-net.ts'
import { NodeProcess } from '../helpers/dag-processes.ts'

// β small enough for a quick test; under Avalanche the split is watched for POLLS_WHILE_SPLIT failed polls on every
// node, several times the β_rogue successful polls that finalized a conflict before the quorum rule (it took ~200 ms
// then); under the commit rule until every node built the one round it can (waitStalled).
const CONSENSUS = { k: 20, alpha: 15, betaVirtuous: 8, betaRogue: 10 }
const POLLS_WHILE_SPLIT = 3 * CONSENSUS.betaRogue

interface FourNodes { genesis: Genesis, nodes: NodeProcess[], probes: ConsensusProbe[], accounts: KeyPair[] }

/** Four validator processes of stake 1 (quorum 3), none connected; accounts a and b funded, c not. */
async function startFour (dir: string, nodes: NodeProcess[], chainId: string, rule: ConsensusRule): Promise<FourNodes> {
  const seeds = Array.from({ length: 4 }, () => randomBytes(32))
  const accounts = Array.from({ length: 3 }, () => generateKeyPair())
  const genesis = generateGenesis({
    chainId,
    validatorPublicKeys: seeds.map(s => generateKeyPair(s).publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: accounts.slice(0, 2).map(k => ({ address: parseAddress(addressFromPublicKey(k.publicKey)), balance: 10n ** 21n })),
    consensus: { ...CONSENSUS, rule }
  })
  for (let i = 0; i < 4; i++) nodes.push(await NodeProcess.start(dir, `node${i}`, genesis, seeds[i]))
  await waitFor(() => nodes.every(n => n.addr !== ''), 'nodes listening')
  return { genesis, nodes, probes: nodes.map(n => new ConsensusProbe(n)), accounts }
}

/** Runs `run` on four fresh node processes in a temporary directory; kills them and removes it afterwards. */
async function withFourNodes (prefix: string, chainId: string, rule: ConsensusRule, run: (net: FourNodes) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const nodes: NodeProcess[] = []
  try {
    await run(await startFour(dir, nodes, chainId, rule))
  } finally {
    await Promise.all(nodes.map(async n => { if (!n.exited) await n.kill() }))
    await rm(dir, { recursive: true, force: true })
  }
}

const decided = (s: ProbeTxStatus): boolean => s === 'final' || s === 'rejected'

/**
 * Waits until both transactions are decided on every node; on a timeout, logs where each node's consensus stands.
 * `rejectedUnseen`: a transaction whose vertex was rejected before some node ever heard of it, which that node may
 * never hear of (a rejected vertex is no tip, so anti-entropy does not carry it): there it may stay unknown.
 */
async function bothDecided (t: ExecutionContext, net: FourNodes, id1: string, id2: string, rejectedUnseen?: string): Promise<void> {
  const done = (id: string, s: ProbeTxStatus): boolean => decided(s) || (id === rejectedUnseen && s === 'unknown')
  try {
    await waitFor(async () => {
      for (const p of net.probes) if (!done(id1, await p.tx(id1)) || !done(id2, await p.tx(id2))) return false
      return true
    }, 'both transactions decided on every node', 120_000)
  } catch (err) {
    // in the error itself, not only t.log: CI keeps the failure summary, not the log lines above it
    const report: string[] = []
    for (let i = 0; i < 4; i++) report.push(`node ${i}: ${await net.probes[i].tx(id1)} ${await net.probes[i].tx(id2)} peers ${net.nodes[i].peers} ${JSON.stringify(await net.probes[i].conflicts())}`)
    t.log(report.join('\n'))
    throw new Error(`${(err as Error).message}\n${report.join('\n')}`)
  }
}

/** The state roots of every node (one value when they agree). */
async function roots (nodes: NodeProcess[]): Promise<Set<string>> {
  for (const n of nodes) n.stats = undefined
  for (const n of nodes) n.send('stats')
  await waitFor(() => nodes.every(n => n.stats !== undefined), 'stats')
  return new Set(nodes.map(n => n.stats?.stateRoot ?? ''))
}

const partition = test.macro(async (t, rule: ConsensusRule) => {
  await withFourNodes('harmony-dag-partition-', 'harmony-partition', rule, async net => {
    const { genesis, probes, nodes } = net
    const [a, b, c] = net.accounts
    // The halves {0, 1} and {2, 3}: each node dials only its partner. The node processes have no discovery
    // (no bootstrap list, no DHT, no mDNS; gossipsub peer exchange is off), checked below by the bound counts.
    nodes[0].dial(nodes[1].addr)
    nodes[2].dial(nodes[3].addr)
    await waitFor(() => nodes.every(n => n.peers === 1), 'each node bound to its partner')
    for (const h of await Promise.all(probes.map(async p => await p.health()))) {
      t.false(h.live, 'a half holds 2 of 4 stake, below the quorum')
      t.deepEqual([h.reachableStake, h.quorumStake, h.totalStake], [2, 3, 4])
    }

    const tx1 = transfer(genesis, a, b, 5000n, 0n)
    const tx2 = transfer(genesis, a, c, 7000n, 0n)
    const id1 = nodes[0].submit(tx1)
    const id2 = nodes[2].submit(tx2)
    const mine = (i: number): string => (i < 2 ? id1 : id2)
    const theirs = (i: number): string => (i < 2 ? id2 : id1)
    // each side holds its own transaction as pending ...
    await waitFor(async () => {
      for (let i = 0; i < 4; i++) if (await probes[i].tx(mine(i)) !== 'pending') return false
      return true
    }, 'each side has its transaction pending')
    // ... and polls it over and over (Avalanche), or builds the one round it can (commit), without ever finalizing it
    const decidedWhileSplit = async (): Promise<boolean> => {
      for (let i = 0; i < 4; i++) if (await probes[i].tx(mine(i)) !== 'pending') return true
      return false
    }
    const stuck = await waitStalled(probes, rule, POLLS_WHILE_SPLIT, 'while split', decidedWhileSplit)
    for (let i = 0; i < 4; i++) {
      t.is(await probes[i].tx(mine(i)), 'pending', `node ${i}: its side's transaction is not final while split`)
      t.is(await probes[i].tx(theirs(i)), 'unknown', `node ${i}: the other side's transaction never crossed`)
      const h = await probes[i].health()
      t.false(h.live)
      t.is(h.polls.success, 0, `node ${i}: no poll succeeded while split`)
      t.is(nodes[i].finals.size, 0)
    }
    t.true(nodes.every(n => n.peers === 1), 'nothing connected the halves')
    if (rule === 'commit') t.deepEqual(await Promise.all(probes.map(async p => (await p.rounds())?.round)), stuck, 'no node built past the round it reached while split')

    // join the halves
    for (const i of [0, 1]) for (const j of [2, 3]) nodes[i].dial(nodes[j].addr)
    await waitFor(() => nodes.every(n => n.peers === 3), 'every node bound to every other')
    await bothDecided(t, net, id1, id2)
    const statuses = await Promise.all(probes.map(async p => [await p.tx(id1), await p.tx(id2)]))
    const winner = statuses[0][0] === 'final' ? 0 : 1
    for (const s of statuses) {
      t.is(s[winner], 'final', 'the same transaction is final on every node')
      t.is(s[1 - winner], 'rejected', 'the other is rejected on every node')
    }
    for (const h of await Promise.all(probes.map(async p => await p.health()))) t.true(h.live)
    t.is((await roots(nodes)).size, 1, 'equal state roots')

    // the joined network finalizes new transfers (one from each former side's account)
    const id3 = nodes[1].submit(transfer(genesis, a, b, 1n, 1n))
    const id4 = nodes[3].submit(transfer(genesis, b, a, 1n, 0n))
    await waitFor(() => nodes.every(n => n.finals.has(id3) && n.finals.has(id4)), 'new transfers final on every node', 120_000)
    t.is((await roots(nodes)).size, 1, 'equal state roots after the new transfers')
  })
})
test('a 2 | 2 partition finalizes neither side of a double spend; joined, exactly one wins everywhere and new transfers finalize (commit rule)', partition, 'commit')
test('the same under Avalanche', partition, 'avalanche')

const comesBack = test.macro(async (t, rule: ConsensusRule) => {
  // Nodes 0-2 (3 of 4 stake, the quorum) finalize tx1 while node 3, alone, holds the conflicting tx2. Back, node 3
  // prefers its own tx2 and polls only it; the others rejected it on sight and have nothing processing. Their answers
  // name their accepted tips, so node 3 hears of tx1's vertex and adopts it (before they did, it stayed pending for
  // good: dag-partition's flake). Under the commit rule node 3's vertex of round 1 comes late to rounds the others
  // went on without it: it is ordered after tx1 (a weak link) and its tx2 loses on the nonce, or is never ordered.
  await withFourNodes('harmony-dag-late-', 'harmony-late', rule, async net => {
    const { genesis, probes, nodes } = net
    const [a, b, c] = net.accounts
    nodes[0].dial(nodes[1].addr)
    nodes[0].dial(nodes[2].addr)
    nodes[1].dial(nodes[2].addr)
    await waitFor(() => [0, 1, 2].every(i => nodes[i].peers === 2), 'nodes 0-2 bound to each other')
    const id1 = nodes[0].submit(transfer(genesis, a, b, 5000n, 0n))
    const id2 = nodes[3].submit(transfer(genesis, a, c, 7000n, 0n))
    await waitFor(() => [0, 1, 2].every(i => nodes[i].finals.has(id1)), 'tx1 final on nodes 0-2')
    await waitFor(async () => await probes[3].tx(id2) === 'pending', 'tx2 pending on node 3')
    t.false((await probes[3].health()).live, 'node 3 alone is not live')
    for (const i of [0, 1, 2]) nodes[3].dial(nodes[i].addr)
    await waitFor(() => nodes.every(n => n.peers === 3), 'every node bound to every other')
    // node 3's vertex with tx2 was rejected on arrival at every node that fetched it; one that synced with node 3
    // only after node 3 had itself rejected it never sees it (found by the 10-run loop: node 2 "final unknown")
    await bothDecided(t, net, id1, id2, id2)
    t.deepEqual([await probes[3].tx(id1), await probes[3].tx(id2)], ['final', 'rejected'], 'node 3 adopted the others\' decision')
    for (let i = 0; i < 3; i++) {
      t.is(await probes[i].tx(id1), 'final', `node ${i}`)
      t.not(await probes[i].tx(id2), 'final', `node ${i}`)
    }
    t.is((await roots(nodes)).size, 1, 'equal state roots')
  })
})
test('a validator away while the others decided a double spend, holding the other side, adopts their decision when it comes back, with nothing else to decide (commit rule)', comesBack, 'commit')
test('the same under Avalanche (the validator away)', comesBack, 'avalanche')
