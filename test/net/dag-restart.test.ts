import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { generateGenesis } from '../../src/dag/genesis.ts'
import { transfer, waitFor } from '../helpers/dag-net.ts'
import { NodeProcess, txIdOf } from '../helpers/dag-processes.ts'
import { ConsensusProbe } from '../helpers/dag-consensus-probe.ts'

/** How often a client sends a transaction the node refused as BUSY before it gives up (bounded, as a wallet is). */
const MAX_ATTEMPTS = 100

test.serial('4 node processes: one killed with SIGKILL mid-load and restarted on its datadir catches up to the same state root', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-dag-kill-'))
  const nodes: NodeProcess[] = []
  try {
    const seeds = Array.from({ length: 4 }, () => randomBytes(32))
    const accounts = Array.from({ length: 6 }, () => generateKeyPair())
    const genesis = generateGenesis({
      chainId: 'harmony-kill',
      validatorPublicKeys: seeds.map(s => generateKeyPair(s).publicKey),
      faucetPublicKey: generateKeyPair().publicKey,
      allocations: accounts.map(a => ({ address: parseAddress(addressFromPublicKey(a.publicKey)), balance: 10n ** 21n }))
    })
    const perAccount = 30
    const txs = accounts.map((a, i) => Array.from({ length: perAccount }, (_, n) => transfer(genesis, a, accounts[(i + 1) % accounts.length], 3n, BigInt(n))))
    for (let i = 0; i < 4; i++) nodes.push(await NodeProcess.start(dir, `node${i}`, genesis, seeds[i]))
    await waitFor(() => nodes.every(n => n.addr !== ''), 'nodes listening')
    for (const a of nodes) for (const b of nodes) if (a !== b) a.dial(b.addr)
    await waitFor(() => nodes.every(n => n.peers === 3), 'validator peers bound')

    // Load goes to nodes 0..2 (account i -> node i % 3). Each account is a client that sends its next transaction once
    // the node has answered the last, so its nonces stay in order. Past capacity a node refuses a client's transaction
    // as BUSY (admission control: retryable, nothing queued; on a loaded machine the latency rule does this while
    // node 3 is down): the client sends the same bytes again after a pause, as a wallet does. Before, the test sent
    // every round blind, and one BUSY refusal left its account's later nonces refused as NONCE_GAP: never final.
    const ids = txs.flat().map(txIdOf)
    let busyRetries = 0
    const send = async (node: NodeProcess, bytes: Uint8Array): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const code = await node.submitAndWait(bytes)
        if (code === undefined) return
        if (code !== 'BUSY' || attempt === MAX_ATTEMPTS) throw new Error(`${txIdOf(bytes)} refused ${code} (attempt ${attempt})`)
        busyRetries++
        await new Promise(resolve => setTimeout(resolve, Math.min(1000, 50 * attempt)))
      }
    }
    const submitRound = async (n: number): Promise<void> => {
      await Promise.all(accounts.map(async (_a, i) => { await send(nodes[i % 3], txs[i][n]) }))
    }
    let n = 0
    for (; n < 10; n++) await submitRound(n)
    await waitFor(() => nodes[3].finals.size >= 20, 'node 3 has finalized transactions')
    for (; n < 15; n++) await submitRound(n)
    await nodes[3].kill() // mid-load: transactions are still being finalized
    const finalBeforeKill = [...nodes[3].finals]
    for (; n < perAccount; n++) {
      await submitRound(n)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    try {
      await waitFor(() => [0, 1, 2].every(i => ids.every(id => nodes[i].finals.has(id))), 'the three running nodes finalize everything', 120_000)
    } catch (err) {
      // the failure report: what each running node has not finalized, and its consensus state
      for (let i = 0; i < 3; i++) {
        const probe = new ConsensusProbe(nodes[i])
        const missing = ids.filter(id => !nodes[i].finals.has(id))
        const statuses = await Promise.all(missing.slice(0, 5).map(async id => `${id.slice(0, 10)}:${await probe.tx(id)}`))
        t.log(`node ${i}: ${missing.length} not final (first: ${statuses.join(' ')}); ${JSON.stringify(await probe.conflicts()).slice(0, 2000)}`)
      }
      throw err
    }

    nodes[3] = await NodeProcess.start(dir, 'node3', genesis, seeds[3])
    await waitFor(() => nodes[3].addr !== '', 'restarted node listening')
    for (let i = 0; i < 3; i++) nodes[3].dial(nodes[i].addr)
    await waitFor(async () => {
      for (const node of nodes) node.send('stats')
      await new Promise(resolve => setTimeout(resolve, 200))
      return nodes.every(node => node.stats !== undefined && node.stats.finalTxs === ids.length)
    }, 'every node, the restarted one included, has all transactions final', 120_000)
    const roots = nodes.map(node => node.stats?.stateRoot)
    t.is(new Set(roots).size, 1, 'equal state roots')
    t.is(nodes[3].stats?.finalTxs, accounts.length * perAccount)
    t.true(finalBeforeKill.length >= 20, 'the killed node had reported finality before the kill')
    // the only refusals were admission control's, each sent again until accepted
    t.deepEqual([0, 1, 2].flatMap(i => [...nodes[i].refusals.values()].filter(code => code !== 'BUSY')), [])
    t.is(nodes[0].refused + nodes[1].refused + nodes[2].refused, busyRetries)
    if (busyRetries > 0) t.log(`${busyRetries} BUSY refusals sent again`)
  } finally {
    await Promise.all(nodes.map(async node => { if (!node.exited) await node.kill() }))
    await rm(dir, { recursive: true, force: true })
  }
})
