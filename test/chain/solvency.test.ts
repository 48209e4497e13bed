/**
 * Solvency of the bridge on anvil (docs/chain.md "Solvency"): the withdrawable supply on the DAG never exceeds the
 * AGC the settlement contract holds for it.
 *
 * - A property test over random histories (genesis allocations locked at deployment, deposits, DAG transfers
 *   paying fees into the fee pool, withdraw burns, epoch closes that sweep the fee pool into a fee leaf, claims,
 *   and a quorum that signs a leaf above the backing): after every step the contract's escrow equals the DAG's
 *   supply plus what is owed to withdrawers, withdrawals never exceed genesis lock + deposits, fee leaves reach the
 *   stakers' fee pool, and the over-backed leaf reverts with EscrowExceeded.
 * - A node refuses to bridge against a settlement contract whose genesis lock does not back its genesis.
 *
 * The DAG side of the property test is the ledger's accounting rule written out (amount + fee leave the sender,
 * the fee enters the fee pool, a close sweeps the pool); test/net/bridge-kinds.test.ts and
 * test/chain/bridge-e2e.test.ts check the real ledger follows it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getAddress, hexlify, keccak256, randomBytes, toUtf8Bytes, Wallet } from 'ethers'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { connectChainToDag } from '../../src/bridge/dag-bridge.ts'
import { genesisBacking } from '../../src/bridge/genesis-lock.ts'
import { type AnvilInstance, startAnvil } from '../../src/chain/anvil.ts'
import { connectContracts, decodeRevert, type HarmonyContracts } from '../../src/chain/bindings.ts'
import { signCheckpoint } from '../../src/chain/checkpoint-digest.ts'
import { dagAccountFromAddressBytes } from '../../src/chain/dag-account.ts'
import { AGC_UNIT, ANVIL_DEPLOYER_KEY, type Deployment, deployContracts, type GenesisBacking, registerValidators } from '../../src/chain/deploy.ts'
import { ChainError } from '../../src/chain/errors.ts'
import { createProvider } from '../../src/chain/provider.ts'
import { ChainService } from '../../src/chain/service.ts'
import { buildWithdrawalTree, claimWithdrawal, type WithdrawalLeaf } from '../../src/chain/withdrawals.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { createTestNet } from '../helpers/dag-net.ts'

const FEE = 1000n
const DAG_ACCOUNTS = 3
const EVM_USERS = 3

let anvil: AnvilInstance
let provider: ReturnType<typeof createProvider>
let deployer: Wallet
const validator = new Wallet(keccak256(toUtf8Bytes('harmony-test:solvency-validator')))
/** The validator's ML-DSA ledger key: its hash is the registered identity (open registration in these deployments). */
const validatorLedgerKey = generateKeyPair()
const evmUsers = Array.from({ length: EVM_USERS }, (_, i) => new Wallet(keccak256(toUtf8Bytes(`harmony-test:solvency-user-${i}`))).address)

test.before(async () => {
  anvil = await startAnvil()
  provider = createProvider(anvil.url, anvil.chainId, { pollingIntervalMs: 50 })
  deployer = new Wallet(ANVIL_DEPLOYER_KEY, provider)
})
test.after.always(async () => {
  provider?.destroy()
  await anvil?.stop()
})

/** A fresh deployment locking `genesis`, with one validator holding all the stake (it alone signs checkpoints). */
async function deploy (genesis: GenesisBacking): Promise<{ deployment: Deployment, contracts: HarmonyContracts }> {
  const deployment = await deployContracts(deployer, { genesis, unbondingPeriodSec: 60 })
  await registerValidators(deployer, deployment, [{ signerKey: validator.privateKey, ledgerKey: validatorLedgerKey }], { extraAgc: 0n })
  return { deployment, contracts: connectContracts(deployment, deployer) }
}

type Op =
  | { kind: 'deposit', to: number, amount: bigint }
  | { kind: 'transfer', from: number, to: number, amount: bigint }
  | { kind: 'withdraw', from: number, to: number, amount: bigint }
  | { kind: 'close' }
  | { kind: 'claim', pick: number }
  | { kind: 'overdraw', extra: bigint }

const amount = fc.bigInt(1n, 10n ** 21n)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('deposit' as const), to: fc.nat(DAG_ACCOUNTS - 1), amount }),
  fc.record({ kind: fc.constant('transfer' as const), from: fc.nat(DAG_ACCOUNTS - 1), to: fc.nat(DAG_ACCOUNTS - 1), amount }),
  fc.record({ kind: fc.constant('withdraw' as const), from: fc.nat(DAG_ACCOUNTS - 1), to: fc.nat(EVM_USERS - 1), amount }),
  fc.record({ kind: fc.constant('close' as const) }),
  fc.record({ kind: fc.constant('claim' as const), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('overdraw' as const), extra: fc.bigInt(1n, 10n ** 20n) })
)

interface Owed { epoch: bigint, leaf: WithdrawalLeaf, proof: string[] }

test.serial('property: withdrawals never exceed genesis lock + deposits, escrow equals DAG supply + owed, fee leaves reach the fee pool', async (t) => {
  let runs = 0
  await fc.assert(fc.asyncProperty(
    // genesis allocations of the DAG accounts (0 allowed: an account funded only by deposits)
    fc.array(fc.bigInt(0n, 10n ** 24n), { minLength: DAG_ACCOUNTS, maxLength: DAG_ACCOUNTS }),
    fc.array(opArb, { minLength: 4, maxLength: 14 }),
    async (allocations, ops) => {
      runs++
      const genesisTotal = allocations.reduce((a, b) => a + b, 0n)
      const { deployment, contracts } = await deploy({ id: hexlify(randomBytes(32)), total: genesisTotal })
      const s = contracts.settlement
      const settlement = getAddress(deployment.settlement)
      const domain = { chainId: deployment.chainId, settlement }
      // the DAG side: balances, the fee pool, burns not yet in an epoch, and leaves anchored but unclaimed
      const balances = [...allocations]
      let pool = 0n
      let burned: WithdrawalLeaf[] = []
      const owed: Owed[] = []
      let nextNonce = 1n
      let epoch = 0n

      const anchor = async (leaves: WithdrawalLeaf[]): Promise<Owed[]> => {
        epoch++
        const tree = buildWithdrawalTree(leaves)
        const cp = { epoch, dagRoot: hexlify(randomBytes(32)), stateRoot: hexlify(randomBytes(32)), withdrawalsRoot: tree.root }
        await (await s.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, [signCheckpoint(validator.signingKey, domain, cp)])).wait()
        return leaves.map((leaf) => ({ epoch, leaf, proof: tree.proof(leaf) }))
      }
      const check = async (): Promise<void> => {
        const [held, backed, feePool, locked, deposited, withdrawn] = await Promise.all([
          contracts.agc.balanceOf(settlement), s.backedEscrow(), s.feePool(), s.genesisLocked(), s.totalDeposited(), s.totalWithdrawn()
        ])
        const dagSupply = balances.reduce((a, b) => a + b, 0n) + pool
        const owedTotal = [...burned, ...owed.map(o => o.leaf)].reduce((a, l) => a + l.amount, 0n)
        t.is(locked, genesisTotal)
        t.is(held, backed + feePool, 'the token balance is the backed escrow plus the fee pool')
        t.is(backed, dagSupply + owedTotal, 'the backed escrow is the DAG supply plus what is owed to withdrawers')
        t.true(withdrawn <= locked + deposited, 'withdrawals never exceed genesis lock + deposits')
      }

      await check()
      for (const op of ops) {
        if (op.kind === 'deposit') {
          await (await contracts.agc.approve(settlement, op.amount)).wait()
          await (await s.deposit(dagAccountFromAddressBytes(new Uint8Array(20).fill(op.to + 1)), op.amount)).wait()
          balances[op.to] += op.amount // the validators' credit, once (bridge-e2e checks the real path)
        } else if (op.kind === 'transfer') {
          if (balances[op.from] < op.amount + FEE) continue // the ledger rejects it
          balances[op.from] -= op.amount + FEE
          balances[op.to] += op.amount
          pool += FEE
        } else if (op.kind === 'withdraw') {
          if (balances[op.from] < op.amount + FEE) continue
          balances[op.from] -= op.amount + FEE
          pool += FEE
          burned.push({ account: evmUsers[op.to], amount: op.amount, nonce: nextNonce++ })
        } else if (op.kind === 'close') {
          // the epoch lists the burns and sweeps the whole fee pool into a leaf paid to the settlement contract
          const leaves = [...burned, ...(pool > 0n ? [{ account: settlement, amount: pool, nonce: nextNonce++ }] : [])]
          if (leaves.length === 0) continue
          owed.push(...await anchor(leaves))
          burned = []
          pool = 0n
        } else if (op.kind === 'claim') {
          if (owed.length === 0) continue
          const [o] = owed.splice(op.pick % owed.length, 1)
          const toFees = o.leaf.account === settlement
          const before = toFees ? await s.feePool() : await contracts.agc.balanceOf(o.leaf.account)
          await claimWithdrawal(s, o.epoch, o.leaf, o.proof)
          t.is(toFees ? await s.feePool() : await contracts.agc.balanceOf(o.leaf.account), before + o.leaf.amount)
        } else {
          // a quorum signs a leaf above what the contract holds for the DAG: the claim reverts, nothing moves
          const tooMuch = (await s.backedEscrow()) + op.extra
          const [bogus] = await anchor([{ account: evmUsers[0], amount: tooMuch, nonce: nextNonce++ }])
          const err = await t.throwsAsync(claimWithdrawal(s, bogus.epoch, bogus.leaf, bogus.proof))
          t.is(decodeRevert(err)?.name, 'EscrowExceeded')
        }
        await check()
      }
      // everything owed can be paid: claim it all; the escrow then holds exactly the DAG's supply
      for (const o of owed.splice(0)) await claimWithdrawal(s, o.epoch, o.leaf, o.proof)
      await check()
    }
  ), { numRuns: 12 })
  t.is(runs, 12)
})

test.serial('a node refuses to bridge against a settlement contract that does not lock its genesis', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-solvency-'))
  const net = await createTestNet({ nodes: 1, accounts: 2 })
  const node = net.nodes[0]
  const backing = genesisBacking(net.genesis)
  t.true(backing.total > 0n)
  const bridgeWith = async (genesis: GenesisBacking): Promise<() => Promise<void>> => {
    const { deployment } = await deploy(genesis)
    const chain = new ChainService({
      contractsFile: { version: 1, chainId: deployment.chainId, rpcUrl: anvil.url, agc: deployment.agc, staking: deployment.staking, settlement: deployment.settlement, deployBlock: deployment.deployBlock },
      db: node.db,
      depositSink: async () => {},
      genesisValidatorKeys: net.validatorKeys.map((k) => k.publicKey),
      logger: silentLogger(),
      registry: new Registry()
    }, { pollIntervalMs: 100 })
    await chain.start()
    const bridge = connectChainToDag({ dag: node.dag, chain, genesis: net.genesis, identity: node.key, db: node.db, logger: silentLogger() }, { propose: false })
    try {
      await bridge.start()
    } catch (err) {
      await bridge.stop()
      await chain.stop()
      throw err
    }
    return async () => { await bridge.stop(); await chain.stop() }
  }
  try {
    // no lock at all (genesis money would be paid from depositors' escrow), a short lock, another genesis
    for (const wrong of [{ id: backing.id, total: 0n }, { id: backing.id, total: backing.total - 1n }, { id: hexlify(randomBytes(32)), total: backing.total }]) {
      const err = await t.throwsAsync(bridgeWith(wrong), { instanceOf: ChainError })
      t.is(err?.code, 'GENESIS_LOCK_MISMATCH')
      t.regex(err?.message ?? '', /does not bridge/)
    }
    // the deployment made for this genesis is accepted
    const stop = await bridgeWith(backing)
    await stop()
    t.pass()
  } finally {
    await net.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.serial('the devnet deployment mints what the genesis lock needs: 10^9 AGC of faucet plus allocations', async (t) => {
  const total = 10n ** 9n * AGC_UNIT + 5n * AGC_UNIT
  const { contracts } = await deploy({ id: hexlify(randomBytes(32)), total })
  t.is(await contracts.settlement.genesisLocked(), total)
  t.is(await contracts.settlement.backedEscrow(), total)
  t.is(await contracts.agc.balanceOf(await contracts.settlement.getAddress()), total)
  // minted for the lock: the deployer's own supply stays free for stakes and the EVM faucet
  t.is(await contracts.agc.totalSupply(), 2n * 10n ** 9n * AGC_UNIT + 5n * AGC_UNIT)
  // the lock emitted no Deposited event: the genesis already credits it, so no watcher mints it twice
  t.is(await contracts.settlement.depositCount(), 0n)
})
