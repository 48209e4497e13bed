// The vertex rules that differ by consensus rule, at admission (before anything is stored): the wire allows a round's
// worth of parents (64) and empty vertices, which the commit rule needs; Avalanche still refuses more than 8 parents
// (PARENTS_INVALID) and an empty vertex (ENCODING_INVALID), and a genesis may run the commit rule with at most 48
// validators and 1 to n leader slots a round.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, verify } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase } from '../../src/core/storage.ts'
import type { DagError } from '../../src/dag/errors.ts'
import { COMMIT_RULE_MAX_VALIDATORS, type ConsensusRule, generateGenesis, genesisId, genesisToJson, parseGenesis } from '../../src/dag/genesis.ts'
import { DagLedger } from '../../src/dag/ledger.ts'
import { txInfo } from '../../src/dag/tx.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'
import { buildVertexInfo, MAX_PARENTS, MAX_ROUND_PARENTS } from '../../src/dag/vertex.ts'
import { addressOf, transfer } from '../helpers/dag-net.ts'

const verifier: SignatureVerifier = { verifyBatch: async items => items.map(i => verify(i.sig, i.msg, i.publicKey)) }

async function admits (t: { teardown: (fn: () => Promise<void>) => void }, rule: ConsensusRule, parents: number, withTx: boolean): Promise<string> {
  const key = generateKeyPair()
  const user = generateKeyPair()
  const genesis = generateGenesis({
    chainId: 'harmony-vertex-rules',
    validatorPublicKeys: [key.publicKey, generateKeyPair().publicKey],
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: [{ address: parseAddress(addressOf(user)), balance: 10n ** 18n }],
    consensus: { rule }
  })
  const dir = await mkdtemp(join(tmpdir(), 'harmony-vertex-rules-'))
  const db = await openDatabase(join(dir, 'db'))
  const ledger = new DagLedger({ db, genesis, identity: key, verifier, logger: silentLogger() })
  await ledger.start()
  t.teardown(async () => { await ledger.stop(); await db.close(); await rm(dir, { recursive: true, force: true }) })
  const txs = withTx ? [txInfo(transfer(genesis, user, key, 1n, 0n))] : []
  const info = buildVertexInfo(genesis.chainId, { author: key.publicKey, secretKey: key.secretKey, parents: Array.from({ length: parents }, () => randomBytes(32)), txs, timestampMs: BigInt(Date.now()) })
  return await ledger.checkStandalone(info).then(() => 'admitted', (err: DagError) => err.code)
}

test('Avalanche refuses more than 8 parents and an empty vertex; the commit rule takes a round\'s worth of parents and no transaction', async t => {
  t.is(await admits(t, 'avalanche', MAX_PARENTS, true), 'admitted')
  t.is(await admits(t, 'avalanche', MAX_PARENTS + 1, true), 'PARENTS_INVALID')
  t.is(await admits(t, 'avalanche', 1, false), 'ENCODING_INVALID')
  t.is(await admits(t, 'commit', MAX_ROUND_PARENTS, false), 'admitted')
  t.is(await admits(t, 'commit', MAX_ROUND_PARENTS, true), 'admitted')
})

test('a commit genesis allows up to 48 validators', t => {
  const genesisOf = (n: number): unknown => generateGenesis({
    chainId: 'harmony-vertex-rules',
    validatorPublicKeys: Array.from({ length: n }, () => generateKeyPair().publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: [],
    consensus: { rule: 'commit' }
  })
  t.is(COMMIT_RULE_MAX_VALIDATORS, 48)
  t.truthy(genesisOf(48))
  t.throws(() => genesisOf(49), { message: /at most 48 validators/ })
})

test('consensus.leaders: commit only, 1 to the number of validators; a devnet genesis has every validator lead; the id tells them apart, and a genesis without it keeps its id', t => {
  const keys = Array.from({ length: 4 }, () => generateKeyPair().publicKey)
  const base = generateGenesis({ chainId: 'harmony-leaders', validatorPublicKeys: keys, faucetPublicKey: keys[0], allocations: [], timestampMs: 1, consensus: { rule: 'commit' } })
  t.is(base.consensus.leaders, 4)
  const json = genesisToJson(base)
  const withLeaders = (leaders: number | undefined, rule: ConsensusRule = 'commit'): unknown => ({ ...json, consensus: { ...json.consensus, rule, leaders } })
  t.is(parseGenesis(withLeaders(1)).consensus.leaders, 1)
  t.throws(() => parseGenesis(withLeaders(5)), { message: /leaders is for the commit rule, 1 to the number of validators \(4\)/ })
  t.throws(() => parseGenesis(withLeaders(0)), { message: /consensus\.leaders/ })
  t.throws(() => parseGenesis(withLeaders(2, 'avalanche')), { message: /leaders is for the commit rule/ })
  const ids = [withLeaders(4), withLeaders(1), withLeaders(undefined)].map(j => Buffer.from(genesisId(parseGenesis(j))).toString('hex'))
  t.is(new Set(ids).size, 3, 'each setting is its own network')
  // absent: the encoding a commit genesis had before the setting existed (no "/leaders:" part)
  const { leaders: _, ...plain } = json.consensus
  t.is(ids[2], Buffer.from(genesisId(parseGenesis({ ...json, consensus: plain }))).toString('hex'))
  t.is(parseGenesis({ ...json, consensus: plain }).consensus.leaders, undefined)
})
