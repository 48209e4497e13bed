/**
 * Deploys AGC, HarmonyStaking and HarmonySettlement to a chain and writes the contracts file nodes read
 * (`harmonyd start --chain-rpc URL --contracts FILE`).
 *
 *   npm run deploy:contracts -- --rpc http://127.0.0.1:8545 --key-file deployer.key --out contracts.json \
 *     [--admin 0x...] [--min-stake-agc 1000] [--unbonding-sec 604800]
 *
 * The key file holds the deployer's 0x-hex private key; it pays gas and receives the initial 1e9 AGC unless
 * --holder is given. --admin receives the AGC admin, minter and pauser roles (default: the deployer).
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { Wallet, isAddress, isHexString } from 'ethers'
import { writeContractsFile } from '../src/chain/contracts-file.ts'
import { AGC_UNIT, deployContracts } from '../src/chain/deploy.ts'
import { createProvider } from '../src/chain/provider.ts'

function fail (message: string): never {
  process.stderr.write(`deploy: ${message}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    rpc: { type: 'string' },
    'key-file': { type: 'string' },
    out: { type: 'string' },
    admin: { type: 'string' },
    holder: { type: 'string' },
    'min-stake-agc': { type: 'string', default: '1000' },
    'unbonding-sec': { type: 'string', default: '604800' }
  }
})
if (values.rpc === undefined || values['key-file'] === undefined || values.out === undefined) fail('--rpc, --key-file and --out are required')
const key = (await readFile(values['key-file'], 'utf8')).trim()
if (!isHexString(key, 32)) fail(`${values['key-file']} must hold a 0x-hex 32-byte private key`)
for (const flag of ['admin', 'holder'] as const) {
  const v = values[flag]
  if (v !== undefined && !isAddress(v)) fail(`--${flag} must be an EVM address`)
}
if (!/^[0-9]{1,12}$/.test(values['min-stake-agc']) || values['min-stake-agc'] === '0') fail('--min-stake-agc must be a positive whole number of AGC')
if (!/^[0-9]{1,10}$/.test(values['unbonding-sec'])) fail('--unbonding-sec must be a whole number of seconds')

const probe = createProvider(values.rpc, 1)
const chainId = Number(BigInt(await probe.send('eth_chainId', []) as string))
probe.destroy()
const provider = createProvider(values.rpc, chainId)
try {
  const deployer = new Wallet(key, provider)
  const deployment = await deployContracts(deployer, {
    admin: values.admin,
    initialHolder: values.holder,
    minStake: BigInt(values['min-stake-agc']) * AGC_UNIT,
    unbondingPeriodSec: Number(values['unbonding-sec'])
  })
  await writeContractsFile(values.out, {
    version: 1, chainId, rpcUrl: values.rpc, agc: deployment.agc, staking: deployment.staking, settlement: deployment.settlement, deployBlock: deployment.deployBlock
  })
  process.stdout.write(`${JSON.stringify({ chainId, agc: deployment.agc, staking: deployment.staking, settlement: deployment.settlement, deployBlock: deployment.deployBlock, out: values.out })}\n`)
} finally {
  provider.destroy()
}
