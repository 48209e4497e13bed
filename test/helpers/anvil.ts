/**
 * Chain test harness: one anvil per test file on a free loopback port, the contracts deployed, validators
 * registered, and evm_snapshot / evm_revert so each test starts from the same state.
 */
import { HDNodeWallet, type JsonRpcProvider, type JsonRpcSigner, keccak256, toUtf8Bytes, Wallet } from 'ethers'
import { type AnvilInstance, startAnvil } from '../../src/chain/anvil.ts'
import { connectContracts, type HarmonyContracts } from '../../src/chain/bindings.ts'
import { AGC_UNIT, ANVIL_DEPLOYER_KEY, type Deployment, deployContracts, type DevnetChain, registerValidators } from '../../src/chain/deploy.ts'
import { dagAccountFromAddressBytes } from '../../src/chain/index.ts'
import { createProvider } from '../../src/chain/provider.ts'
import { validatorIdentity } from '../../src/chain/validator-binding.ts'
import { StakingValidatorSet, type StakingValidatorSetInit } from '../../src/chain/validator-set.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'

export interface TestValidator {
  operator: Wallet
  signer: Wallet
  /** The validator's ML-DSA-65 ledger key (a genesis validator of the fixture's ledger). */
  ledgerKey: KeyPair
  identity: string
  stake: bigint
}

export interface ChainFixture {
  anvil: AnvilInstance
  provider: JsonRpcProvider
  /** anvil account 0: deployer, AGC admin and holder of the initial supply. */
  deployer: Wallet
  /** anvil accounts 1..5, each funded with ETH (no AGC). */
  users: Wallet[]
  deployment: Deployment
  /** Connected to the deployer. */
  contracts: HarmonyContracts
  validators: TestValidator[]
  /** The validators' ML-DSA public keys: the genesis validator set a node would pass to StakingValidatorSet. */
  genesisValidatorKeys: Uint8Array[]
  /** The validator set a node with the fixture's genesis reads (bound validators weigh). */
  validatorSet: (init?: StakingValidatorSetInit) => StakingValidatorSet
  minStake: bigint
  unbondingPeriodSec: number
  connect: (runner: Wallet | JsonRpcSigner) => HarmonyContracts
  snapshot: () => Promise<string>
  revert: (id: string) => Promise<void>
  mine: (blocks?: number) => Promise<void>
  increaseTime: (seconds: number) => Promise<void>
  /** A signer for any address (anvil_impersonateAccount), funded with ETH. */
  impersonate: (address: string) => Promise<JsonRpcSigner>
  stop: () => Promise<void>
}

export interface ChainFixtureInit {
  /** Stakes of the registered validators, base units. @default [] (none registered) */
  stakes?: bigint[]
  /** @default 1000 AGC */
  minStake?: bigint
  /** @default 3600 */
  unbondingPeriodSec?: number
  /** Fix the validators as the staking contract's genesis list (closed registration). @default false (open) */
  fixGenesis?: boolean
}

/** Deterministic test keys, so failures reproduce. */
export function testWallet (label: string, provider?: JsonRpcProvider): Wallet {
  return new Wallet(keccak256(toUtf8Bytes(`harmony-test:${label}`)), provider)
}

/** Deterministic ML-DSA-65 test keys (seeded by the label). */
export function testLedgerKey (label: string): KeyPair {
  return generateKeyPair(sha256(new TextEncoder().encode(`harmony-test-mldsa:${label}`)))
}

export async function startChainFixture (init: ChainFixtureInit = {}): Promise<ChainFixture> {
  const anvil = await startAnvil({ accounts: 6 })
  const provider = createProvider(anvil.url, anvil.chainId, { pollingIntervalMs: 50 })
  try {
    const deployer = new Wallet(ANVIL_DEPLOYER_KEY, provider)
    const users = [1, 2, 3, 4, 5].map((i) => new Wallet(HDNodeWallet.fromPhrase(anvil.mnemonic, undefined, `m/44'/60'/0'/0/${i}`).privateKey, provider))
    const minStake = init.minStake ?? 1000n * AGC_UNIT
    const unbondingPeriodSec = init.unbondingPeriodSec ?? 3600
    const validators: TestValidator[] = (init.stakes ?? []).map((stake, i) => {
      const ledgerKey = testLedgerKey(`validator-${i}`)
      return { operator: testWallet(`operator-${i}`, provider), signer: testWallet(`signer-${i}`), ledgerKey, identity: validatorIdentity(ledgerKey.publicKey), stake }
    })
    const genesisValidators = init.fixGenesis === true ? validators.map((v) => ({ identity: v.identity, signer: v.signer.address })) : []
    const deployment = await deployContracts(deployer, { minStake, unbondingPeriodSec, genesisValidators })
    await registerValidators(deployer, deployment, validators.map((v) => ({
      operatorKey: v.operator.privateKey, signerKey: v.signer.privateKey, ledgerKey: v.ledgerKey, stake: v.stake
    })))
    const send = async (method: string, params: unknown[]): Promise<unknown> => await provider.send(method, params)
    return {
      anvil,
      provider,
      deployer,
      users,
      deployment,
      contracts: connectContracts(deployment, deployer),
      validators,
      genesisValidatorKeys: validators.map((v) => v.ledgerKey.publicKey),
      validatorSet: (setInit) => new StakingValidatorSet({
        staking: connectContracts(deployment, provider).staking,
        domain: { chainId: deployment.chainId, staking: deployment.staking },
        genesisValidatorKeys: validators.map((v) => v.ledgerKey.publicKey),
        fromBlock: deployment.deployBlock
      }, setInit),
      minStake,
      unbondingPeriodSec,
      connect: (runner) => connectContracts(deployment, runner),
      snapshot: async () => String(await send('evm_snapshot', [])),
      revert: async (id) => {
        if (await send('evm_revert', [id]) !== true) throw new Error(`evm_revert ${id} failed`)
      },
      mine: async (blocks = 1) => { await send('anvil_mine', [`0x${blocks.toString(16)}`]) },
      increaseTime: async (seconds) => {
        await send('evm_increaseTime', [seconds])
        await send('evm_mine', [])
      },
      impersonate: async (address) => {
        await send('anvil_impersonateAccount', [address])
        await send('anvil_setBalance', [address, '0x56BC75E2D63100000'])
        return await provider.getSigner(address)
      },
      stop: async () => {
        provider.destroy()
        await anvil.stop()
      }
    }
  } catch (err) {
    provider.destroy()
    await anvil.stop()
    throw err
  }
}

/**
 * A user on a devnet chain deposits `amount` AGC into the DAG account `dagAddress`: the deployer gives the user's
 * wallet the AGC and gas, the wallet approves and deposits. Returns the deposit's transaction hash.
 */
export async function fundAndDeposit (devnet: DevnetChain, user: Wallet, dagAddress: Uint8Array, amount: bigint): Promise<string> {
  const funder = new Wallet(devnet.deployerKey, devnet.provider)
  await (await devnet.contracts.agc.transfer(user.address, amount)).wait()
  await (await funder.sendTransaction({ to: user.address, value: 10n ** 18n })).wait()
  const asUser = connectContracts(devnet.contractsFile, user.connect(devnet.provider))
  await (await asUser.agc.approve(devnet.contractsFile.settlement, amount)).wait()
  const receipt = await (await asUser.settlement.deposit(dagAccountFromAddressBytes(dagAddress), amount)).wait()
  if (receipt === null) throw new Error('deposit dropped')
  return receipt.hash
}
