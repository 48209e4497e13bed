/**
 * Gas of the settlement path on a real EVM (anvil), next to a plain ERC-20 transfer measured in the same run.
 *
 *   npm run bench:chain            table
 *   npm run bench:chain -- --json  one JSON object per line
 *
 * Metrics (all in gas, from transaction receipts):
 * - erc20_transfer: AGC transfer between two accounts that already hold AGC (the baseline);
 * - deposit, deposit_with_permit: a deposit into escrow in steady state (the contract already holds AGC);
 * - checkpoint_v{4,16,64}: submitCheckpoint with equal stakes and the smallest quorum (ceil(2n/3) signatures);
 * - withdrawal: a claim from a 1,000-leaf withdrawals tree to an account holding no AGC yet;
 * - task_settlement_v{n}: checkpoint gas amortized over 1,000 tasks settled on the DAG in that epoch.
 */
import { type ContractTransactionResponse, getBytes, keccak256, parseUnits, Signature, toUtf8Bytes, Wallet, ZeroHash } from 'ethers'
import { startAnvil } from '../src/chain/anvil.ts'
import { connectContracts } from '../src/chain/bindings.ts'
import { type Checkpoint, signCheckpoint } from '../src/chain/checkpoint-digest.ts'
import { dagAccountFromAddressBytes } from '../src/chain/dag-account.ts'
import { AGC_UNIT, ANVIL_DEPLOYER_KEY, deployContracts, registerValidators } from '../src/chain/deploy.ts'
import { createProvider } from '../src/chain/provider.ts'
import { buildWithdrawalTree } from '../src/chain/withdrawals.ts'
import { generateKeyPair, sha256 } from '../src/core/crypto.ts'

const VALIDATOR_COUNTS = [4, 16, 64]
const TASKS_PER_CHECKPOINT = 1000n
const WITHDRAWALS_PER_TREE = 1000

interface Metric { metric: string, value: bigint, note: string }

async function gasOf (tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait()
  if (receipt === null || receipt.status !== 1) throw new Error('transaction failed')
  return receipt.gasUsed
}

const key = (label: string): Wallet => new Wallet(keccak256(toUtf8Bytes(`harmony-bench:${label}`)))

async function main (): Promise<void> {
  const json = process.argv.includes('--json')
  const anvil = await startAnvil({ accounts: 2 })
  const provider = createProvider(anvil.url, anvil.chainId, { pollingIntervalMs: 20 })
  const metrics: Metric[] = []
  try {
    const deployer = new Wallet(ANVIL_DEPLOYER_KEY, provider)
    const alice = new Wallet(key('alice').privateKey, provider)
    for (const n of VALIDATOR_COUNTS) {
      const deployment = await deployContracts(deployer, { unbondingPeriodSec: 60 })
      const validators = Array.from({ length: n }, (_, i) => key(`v${n}-${i}`))
      await registerValidators(deployer, deployment, validators.map((v, i) => ({ signerKey: v.privateKey, ledgerKey: generateKeyPair(sha256(toUtf8Bytes(`harmony-bench:node-${i}`))) })), { extraAgc: 0n, ethPerOperator: parseUnits('1', 18) })
      const c = connectContracts(deployment, deployer)
      const checkpointFor = (withdrawalsRoot: string): Checkpoint => ({ epoch: 1n, dagRoot: keccak256(toUtf8Bytes('dag')), stateRoot: keccak256(toUtf8Bytes('state')), withdrawalsRoot })
      let withdrawalsRoot = ZeroHash
      let tree: ReturnType<typeof buildWithdrawalTree> | undefined
      if (n === VALIDATOR_COUNTS[0]) {
        // baseline and per-operation costs, once
        await (await deployer.sendTransaction({ to: alice.address, value: parseUnits('1', 18) })).wait()
        await gasOf(c.agc.transfer(alice.address, 1000n * AGC_UNIT))
        metrics.push({ metric: 'erc20_transfer', value: await gasOf(c.agc.transfer(alice.address, AGC_UNIT)), note: 'AGC transfer, both holders' })
        await gasOf(c.agc.approve(deployment.settlement, 100n * AGC_UNIT))
        const account = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('dag-account'))).slice(0, 20))
        await gasOf(c.settlement.deposit(account, AGC_UNIT))
        metrics.push({ metric: 'deposit', value: await gasOf(c.settlement.deposit(account, AGC_UNIT)), note: 'deposit after approve (approve not counted)' })
        const asAlice = connectContracts(deployment, alice)
        const deadline = BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n
        const permit = Signature.from(await alice.signTypedData(
          { name: 'AgentCoin', version: '1', chainId: anvil.chainId, verifyingContract: deployment.agc },
          { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
          { owner: alice.address, spender: deployment.settlement, value: AGC_UNIT, nonce: await c.agc.nonces(alice.address), deadline }))
        metrics.push({ metric: 'deposit_with_permit', value: await gasOf(asAlice.settlement.depositWithPermit(account, AGC_UNIT, deadline, permit.v, permit.r, permit.s)), note: 'one transaction, no approve' })
        tree = buildWithdrawalTree(Array.from({ length: WITHDRAWALS_PER_TREE }, (_, i) => ({ account: key(`recipient-${i}`).address, amount: 1000n + BigInt(i), nonce: BigInt(i) })))
        withdrawalsRoot = tree.root
      }
      const cp = checkpointFor(withdrawalsRoot)
      const quorum = Math.ceil((2 * n) / 3)
      const signatures = validators.slice(0, quorum)
        .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1))
        .map((v) => signCheckpoint(v.signingKey, { chainId: anvil.chainId, settlement: deployment.settlement }, cp))
      const checkpointGas = await gasOf(c.settlement.submitCheckpoint(cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, signatures))
      metrics.push({ metric: `checkpoint_v${n}`, value: checkpointGas, note: `${n} validators, ${quorum} signatures` })
      metrics.push({ metric: `task_settlement_v${n}`, value: checkpointGas / TASKS_PER_CHECKPOINT, note: `checkpoint_v${n} / ${TASKS_PER_CHECKPOINT} tasks` })
      if (tree !== undefined) {
        const leaf = tree.leaves[WITHDRAWALS_PER_TREE - 1]
        metrics.push({ metric: 'withdrawal', value: await gasOf(c.settlement.withdraw(1n, leaf.account, leaf.amount, leaf.nonce, tree.proof(leaf))), note: `${WITHDRAWALS_PER_TREE}-leaf tree, fresh recipient` })
      }
    }
  } finally {
    provider.destroy()
    await anvil.stop()
  }
  const order = ['erc20_transfer', 'deposit', 'deposit_with_permit', 'withdrawal', ...VALIDATOR_COUNTS.map((n) => `checkpoint_v${n}`), ...VALIDATOR_COUNTS.map((n) => `task_settlement_v${n}`)]
  metrics.sort((a, b) => order.indexOf(a.metric) - order.indexOf(b.metric))
  const baseline = metrics.find((m) => m.metric === 'erc20_transfer')?.value ?? 1n
  const ratio = (v: bigint): number => Math.round((Number(v) / Number(baseline)) * 1000) / 1000
  if (json) {
    for (const m of metrics) {
      process.stdout.write(`${JSON.stringify({ bench: 'chain', metric: m.metric, value: Number(m.value), unit: 'gas', baseline: 'erc20_transfer', baseline_value: Number(baseline), ratio: ratio(m.value) })}\n`)
    }
    return
  }
  const rows = metrics.map((m) => [m.metric, m.value.toString(), ratio(m.value).toFixed(3), m.note])
  const header = ['metric', 'gas', 'x erc20_transfer', 'what']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`)
}

await main()
