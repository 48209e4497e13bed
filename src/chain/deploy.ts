/**
 * Deploys AGC, HarmonyStaking and HarmonySettlement, and (for a devnet) funds validators and registers their
 * keys, each with the ML-DSA binding of its ledger key. The staking contract fixes the settlement address at construction: the deployer's next nonces are known,
 * so the settlement address is computed before it exists and no admin key is left in staking or settlement.
 */
import { ContractFactory, getCreateAddress, type JsonRpcProvider, parseEther, parseUnits, type Signer, Wallet, ZeroHash } from 'ethers'
import { type AnvilInit, type AnvilInstance, startAnvil } from './anvil.ts'
import { type ContractName, loadArtifact } from './artifacts.ts'
import { agcAt, type ContractAddresses, connectContracts, type HarmonyContracts } from './bindings.ts'
import { type ContractsFile, writeContractsFile } from './contracts-file.ts'
import { ChainError } from './errors.ts'
import { createProvider } from './provider.ts'
import { signValidatorBinding, validatorIdentity } from './validator-binding.ts'

/** 1 AGC in base units (18 decimals). */
export const AGC_UNIT = 10n ** 18n

/** What the settlement contract locks for a DAG genesis (docs/chain.md "Solvency"). */
export interface GenesisBacking {
  /** The genesis vertex id, 0x-hex (32 bytes): `genesisId(genesis)`. */
  id: string
  /** The sum of the genesis allocations, base units: `genesisSupply(genesis)`. */
  total: bigint
}

export interface DeployInit {
  /**
   * The DAG genesis the settlement contract backs: its total is moved from the deployer into escrow by the
   * settlement constructor (minted for it when the deployer holds the MINTER role, else from its balance). Without it nothing is
   * locked, and a node whose genesis has allocations refuses to bridge against this deployment.
   * @default no genesis lock (id 0, total 0)
   */
  genesis?: GenesisBacking
  /** Holder of DEFAULT_ADMIN, MINTER and PAUSER roles of AGC. @default the deployer */
  admin?: string
  /** Receiver of the 1e9 AGC minted at deployment. @default the deployer */
  initialHolder?: string
  /** Minimum validator stake, base units. @default 1000 AGC */
  minStake?: bigint
  /** Unbonding period in seconds. @default 604800 (7 days) */
  unbondingPeriodSec?: number
  /**
   * The ledger's genesis validators, fixed in the staking contract: only these identities register, each only with
   * its signer, so EVM stake alone cannot buy checkpoint weight. Empty: open registration, where only the nodes'
   * own ML-DSA binding check keeps unbound stake out of the checkpoints they sign (docs/chain.md). @default []
   */
  genesisValidators?: GenesisRegistration[]
}

/** A genesis validator as the staking contract fixes it at construction. */
export interface GenesisRegistration {
  /** sha256 of the ML-DSA-65 public key (validatorIdentity), 0x-hex. */
  identity: string
  /** The EVM key that signs checkpoints for it. */
  signer: string
}

export interface Deployment extends ContractAddresses {
  chainId: number
  deployBlock: number
  deployer: string
}

async function deployOne (name: ContractName, deployer: Signer, nonce: number, args: unknown[]): Promise<string> {
  const artifact = loadArtifact(name)
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer)
  try {
    const contract = await factory.deploy(...args, { nonce })
    await contract.waitForDeployment()
    return await contract.getAddress()
  } catch (err) {
    throw new ChainError('DEPLOY_FAILED', `deploying ${name} failed: ${(err as Error).message}`, { name }, { cause: err })
  }
}

export async function deployContracts (deployer: Signer, init: DeployInit = {}): Promise<Deployment> {
  const provider = deployer.provider
  if (provider === null) throw new ChainError('DEPLOY_FAILED', 'the deployer signer has no provider')
  const from = await deployer.getAddress()
  const chainId = Number((await provider.getNetwork()).chainId)
  const deployBlock = await provider.getBlockNumber()
  const agc = await deployOne('AGC', deployer, await provider.getTransactionCount(from, 'pending'), [init.admin ?? from, init.initialHolder ?? from])
  const genesis = init.genesis ?? { id: ZeroHash, total: 0n }
  if (genesis.total > 0n) await fundGenesisLock(deployer, from, agc, genesis.total)
  // staking fixes the settlement address at construction and the settlement constructor pulls the genesis lock
  // from the deployer: both need the address before it exists (approve at n, staking at n+1, settlement at n+2)
  const nonce = await provider.getTransactionCount(from, 'pending')
  const settlementAddress = getCreateAddress({ from, nonce: nonce + 2 })
  try {
    await (await agcAt(agc, deployer).approve(settlementAddress, genesis.total, { nonce })).wait()
  } catch (err) {
    throw new ChainError('DEPLOY_FAILED', `approving the genesis lock failed: ${(err as Error).message}`, {}, { cause: err })
  }
  const staking = await deployOne('HarmonyStaking', deployer, nonce + 1, [
    agc, settlementAddress, init.minStake ?? 1000n * AGC_UNIT, init.unbondingPeriodSec ?? 604_800,
    (init.genesisValidators ?? []).map((g) => g.identity), (init.genesisValidators ?? []).map((g) => g.signer)
  ])
  const settlement = await deployOne('HarmonySettlement', deployer, nonce + 2, [agc, staking, genesis.id, genesis.total])
  if (settlement !== settlementAddress) {
    throw new ChainError('DEPLOY_FAILED', `settlement deployed at ${settlement}, expected ${settlementAddress}`)
  }
  return { chainId, deployBlock, deployer: from, agc, staking, settlement }
}

/**
 * Gives the deployer `total` AGC for the genesis lock: minted fresh when it holds MINTER_ROLE (so the supply it
 * already holds stays free for stakes and the devnet's EVM faucet), else taken from its balance.
 */
async function fundGenesisLock (deployer: Signer, from: string, agc: string, total: bigint): Promise<void> {
  const token = agcAt(agc, deployer)
  if (!(await token.hasRole(await token.MINTER_ROLE(), from))) {
    const balance = await token.balanceOf(from)
    if (balance >= total) return
    throw new ChainError('DEPLOY_FAILED', `the deployer ${from} holds ${balance} base units of AGC, less than the genesis lock of ${total}, and cannot mint`)
  }
  try {
    await (await token.mint(from, total)).wait()
  } catch (err) {
    throw new ChainError('DEPLOY_FAILED', `minting the genesis lock of ${total} base units failed: ${(err as Error).message}`, {}, { cause: err })
  }
}

/** The EIP-712 proof a validator's signing key gives to bind itself to (operator, identity). */
export async function signRegistration (signer: Wallet, staking: string, chainId: number, operator: string, identity: string): Promise<string> {
  return await signer.signTypedData(
    { name: 'HarmonyStaking', version: '1', chainId, verifyingContract: staking },
    { Register: [{ name: 'operator', type: 'address' }, { name: 'identity', type: 'bytes32' }] },
    { operator, identity }
  )
}

export interface ValidatorSetup {
  /** Key of the account that stakes (pays gas, owns the stake). @default signerKey */
  operatorKey?: string
  /** Key that signs checkpoints. */
  signerKey: string
  /**
   * The node's ML-DSA-65 ledger key: its public key's hash is the identity, and it signs the binding of
   * (operator, signer) that every node checks against its genesis validators (validator-binding.ts).
   */
  ledgerKey: { publicKey: Uint8Array, secretKey: Uint8Array }
  /** Stake in base units. @default the minimum stake */
  stake?: bigint
}

export interface FundInit {
  /** Extra AGC per validator beyond its stake, for deposits and fees. @default 10000 AGC */
  extraAgc?: bigint
  /** Ether sent to operators with less than this. @default 10 ETH */
  ethPerOperator?: bigint
}

/** Funds each validator's operator with ETH and AGC, then registers and stakes it. Sequential and idempotent per operator. */
export async function registerValidators (deployer: Wallet, deployment: Deployment, validators: ValidatorSetup[], init: FundInit = {}): Promise<void> {
  const provider = deployer.provider
  if (provider === null) throw new ChainError('DEPLOY_FAILED', 'the deployer signer has no provider')
  const admin = connectContracts(deployment, deployer)
  const minStake = await admin.staking.minStake()
  const ethPerOperator = init.ethPerOperator ?? parseEther('10')
  for (const v of validators) {
    const operator = new Wallet(v.operatorKey ?? v.signerKey, provider)
    const signer = new Wallet(v.signerKey)
    if (await admin.staking.isValidator(operator.address)) continue
    const stake = v.stake ?? minStake
    if (await provider.getBalance(operator.address) < ethPerOperator) {
      await (await deployer.sendTransaction({ to: operator.address, value: ethPerOperator })).wait()
    }
    await (await admin.agc.transfer(operator.address, stake + (init.extraAgc ?? parseUnits('10000', 18)))).wait()
    const own = connectContracts(deployment, operator)
    await (await own.agc.approve(deployment.staking, stake)).wait()
    const identity = validatorIdentity(v.ledgerKey.publicKey)
    const proof = await signRegistration(signer, deployment.staking, deployment.chainId, operator.address, identity)
    const binding = signValidatorBinding(v.ledgerKey, { chainId: deployment.chainId, staking: deployment.staking }, operator.address, signer.address)
    await (await own.staking.register(signer.address, identity, proof, binding, stake)).wait()
  }
}

export interface DevnetChainInit {
  anvil?: AnvilInit
  deploy?: DeployInit
  fund?: FundInit
  validators: ValidatorSetup[]
  /** The DAG genesis to lock in escrow (overrides `deploy.genesis`). @default none locked */
  genesis?: GenesisBacking
  /** Writes the contracts file here when set. */
  contractsFile?: string
}

export interface DevnetChain {
  anvil: AnvilInstance
  deployment: Deployment
  contractsFile: ContractsFile
  /** Private key of anvil's first account, the deployer and AGC admin (public test key). */
  deployerKey: string
  contracts: HarmonyContracts
  provider: JsonRpcProvider
  stop: () => Promise<void>
}

/** anvil's first account private key for ANVIL_MNEMONIC (public, test only). */
export const ANVIL_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

/**
 * For `harmonyd devnet`: starts anvil, deploys, funds and registers the validators, and writes the contracts file.
 * Unbonding defaults to 60 s on a devnet.
 */
export async function startDevnetChain (init: DevnetChainInit): Promise<DevnetChain> {
  const anvil = await startAnvil(init.anvil)
  try {
    const provider = createProvider(anvil.url, anvil.chainId, { pollingIntervalMs: 250 })
    const deployer = new Wallet(ANVIL_DEPLOYER_KEY, provider)
    // the devnet's validators are its genesis: fixed in the staking contract, so nothing else can register
    const genesisValidators = init.validators.map((v) => ({ identity: validatorIdentity(v.ledgerKey.publicKey), signer: new Wallet(v.signerKey).address }))
    const deployment = await deployContracts(deployer, { unbondingPeriodSec: 60, genesisValidators, ...init.deploy, ...(init.genesis !== undefined ? { genesis: init.genesis } : {}) })
    await registerValidators(deployer, deployment, init.validators, init.fund)
    const contractsFile: ContractsFile = {
      version: 1,
      chainId: deployment.chainId,
      rpcUrl: anvil.url,
      agc: deployment.agc,
      staking: deployment.staking,
      settlement: deployment.settlement,
      deployBlock: deployment.deployBlock
    }
    if (init.contractsFile !== undefined) await writeContractsFile(init.contractsFile, contractsFile)
    const stop = async (): Promise<void> => {
      provider.destroy()
      await anvil.stop()
    }
    return { anvil, deployment, contractsFile, deployerKey: ANVIL_DEPLOYER_KEY, contracts: connectContracts(deployment, deployer), provider, stop }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}
