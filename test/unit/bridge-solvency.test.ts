/**
 * The pure parts of the bridge's solvency rules: what a deployment must lock for a genesis, the check every node
 * makes before it bridges, the epoch-close's fee field and the fee leaf.
 */
import test from 'ava'
import { getAddress, ZeroHash } from 'ethers'
import { checkGenesisLock, genesisBacking, genesisSupply } from '../../src/bridge/genesis-lock.ts'
import { EPOCH_ACCOUNT, epochCloseKind } from '../../src/bridge/kinds/index.ts'
import { feeLeafOf } from '../../src/bridge/withdrawals.ts'
import { ChainError } from '../../src/chain/errors.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { generateGenesis, genesisId } from '../../src/dag/genesis.ts'

const validator = generateKeyPair(new Uint8Array(32).fill(1))
const faucet = generateKeyPair(new Uint8Array(32).fill(2))
const other = generateKeyPair(new Uint8Array(32).fill(3))
const genesis = generateGenesis({
  validatorPublicKeys: [validator.publicKey], faucetPublicKey: faucet.publicKey, timestampMs: 1,
  allocations: [{ address: genesisAddress(other.publicKey), balance: 5n }]
})

function genesisAddress (publicKey: Uint8Array): Uint8Array {
  return generateGenesis({ validatorPublicKeys: [validator.publicKey], faucetPublicKey: publicKey, timestampMs: 1 }).allocations[0].address
}

test('the genesis lock is the genesis id and the sum of its allocations (the devnet faucet included)', (t) => {
  t.is(genesisSupply(genesis), 10n ** 27n + 5n)
  t.deepEqual(genesisBacking(genesis), { id: `0x${Buffer.from(genesisId(genesis)).toString('hex')}`, total: 10n ** 27n + 5n })
})

test('a node bridges only against the lock of its own genesis', (t) => {
  const backing = genesisBacking(genesis)
  t.notThrows(() => { checkGenesisLock(genesis, backing, ZeroHash.slice(0, 42)) })
  t.notThrows(() => { checkGenesisLock(genesis, { ...backing, id: backing.id.toUpperCase().replace('0X', '0x') }, ZeroHash.slice(0, 42)) })
  for (const wrong of [{ ...backing, total: 0n }, { ...backing, total: backing.total + 1n }, { id: ZeroHash, total: backing.total }]) {
    const err = t.throws(() => { checkGenesisLock(genesis, wrong, '0x00000000000000000000000000000000000000aa') }, { instanceOf: ChainError })
    t.is(err?.code, 'GENESIS_LOCK_MISMATCH')
    t.true(err?.message.includes('0x00000000000000000000000000000000000000aa'))
  }
})

test('the epoch account is the fee pool; a close carries its fee sweep; the fee leaf pays the settlement contract', (t) => {
  t.deepEqual(EPOCH_ACCOUNT, FEE_POOL_ACCOUNT)
  const p = { epoch: 3n, withdrawals: [new Uint8Array(32).fill(9)], fees: 12_345n }
  t.deepEqual(epochCloseKind.decode(epochCloseKind.encode(p)), p)
  t.deepEqual(epochCloseKind.effects(p, { account: EPOCH_ACCOUNT, nonce: 2n }), { debit: 12_345n, credits: [] })
  // the old payload without the fee field is refused, not read as a zero sweep
  const truncated = epochCloseKind.encode(p).slice(0, -16)
  t.throws(() => epochCloseKind.decode(truncated))
  const settlement = '0x5fbdb2315678afecb367f032d93f642f64180aa3'
  t.deepEqual(feeLeafOf('ff'.repeat(32), 7n, settlement), { account: getAddress(settlement), amount: 7n, nonce: (1n << 256n) - 1n })
})
