import test from 'ava'
import { getBytes, keccak256, toUtf8Bytes } from 'ethers'
import { Registry } from 'prom-client'
import { ChainClient } from '../../src/chain/client.ts'
import { dagAccountFromAddressBytes } from '../../src/chain/dag-account.ts'
import { AGC_UNIT } from '../../src/chain/deploy.ts'
import { ChainError } from '../../src/chain/errors.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type ChainFixture, startChainFixture } from '../helpers/anvil.ts'
import { mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''

test.before(async () => { chain = await startChainFixture() })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => {
  await chain.provider.send('evm_setAutomine', [true])
  await chain.revert(snap)
})

const ACCOUNT = dagAccountFromAddressBytes(getBytes(keccak256(toUtf8Bytes('dag-account'))).slice(0, 20))

function client (init: ConstructorParameters<typeof ChainClient>[1] = {}): ChainClient {
  return new ChainClient({ provider: chain.provider, wallet: chain.users[0], logger: silentLogger(), registry: new Registry() }, { pollIntervalMs: 20, ...init })
}

async function fundUser (): Promise<void> {
  await mined(chain.contracts.agc.transfer(chain.users[0].address, 100n * AGC_UNIT))
  await mined(chain.connect(chain.users[0]).agc.approve(chain.deployment.settlement, 100n * AGC_UNIT))
}

function depositCall (amount: bigint): { to: string, data: string } {
  return { to: chain.deployment.settlement, data: chain.contracts.settlement.interface.encodeFunctionData('deposit', [ACCOUNT, amount]) }
}

test.serial('concurrent sends get consecutive nonces and are all mined', async (t) => {
  await fundUser()
  const c = client()
  await c.start()
  const start = await chain.provider.getTransactionCount(c.address)
  const receipts = await Promise.all([1n, 2n, 3n, 4n, 5n].map(async (n) => await c.send(depositCall(n))))
  const nonces = await Promise.all(receipts.map(async (r) => (await chain.provider.getTransaction(r.hash))?.nonce))
  t.deepEqual([...nonces].sort((a, b) => (a ?? 0) - (b ?? 0)), [start, start + 1, start + 2, start + 3, start + 4])
  t.is(await chain.contracts.settlement.totalDeposited(), 15n)
  await c.stop()
})

test.serial('a reverting call fails with TX_REVERTED and the decoded error, consuming no nonce', async (t) => {
  const c = client()
  const before = await chain.provider.getTransactionCount(c.address)
  const err = await t.throwsAsync(c.send(depositCall(0n)), { instanceOf: ChainError })
  t.is(err?.code, 'TX_REVERTED')
  t.is(err?.meta.revert, 'ZeroAmount')
  t.is(await chain.provider.getTransactionCount(c.address), before)
})

test.serial('a stuck transaction is re-sent with the same nonce and higher fees, and the replacement is mined', async (t) => {
  await fundUser()
  const c = client({ stuckAfterMs: 100 })
  await chain.provider.send('evm_setAutomine', [false])
  const sent = new Promise<{ hash: string }>((resolve) => c.once('sent', resolve))
  const resent = new Promise<{ hash: string, nonce: number, maxFeePerGas: bigint }>((resolve) => c.once('resend', resolve))
  const receiptPromise = c.send(depositCall(7n))
  const first = await sent
  const resend = await resent
  t.not(resend.hash, first.hash)
  await chain.provider.send('evm_mine', [])
  const receipt = await receiptPromise
  t.is(receipt.hash, resend.hash)
  t.is(receipt.status, 1)
  t.is(await chain.provider.getTransactionReceipt(first.hash), null)
  t.is((await chain.provider.getTransaction(receipt.hash))?.nonce, resend.nonce)
  t.is(await chain.contracts.settlement.totalDeposited(), 7n)
})

test.serial('gives up with TX_STUCK after the allowed re-sends', async (t) => {
  await fundUser()
  const c = client({ stuckAfterMs: 30, maxResends: 2 })
  await chain.provider.send('evm_setAutomine', [false])
  const err = await t.throwsAsync(c.send(depositCall(7n)), { instanceOf: ChainError })
  t.is(err?.code, 'TX_STUCK')
})

test.serial('the nonce re-syncs when the same key sent a transaction behind the client\'s back', async (t) => {
  await fundUser()
  const c = client()
  await c.send(depositCall(1n))
  // another process with the same key
  await mined(chain.connect(chain.users[0]).settlement.deposit(ACCOUNT, 2n))
  const receipt = await c.send(depositCall(3n))
  t.is(receipt.status, 1)
  t.is(await chain.contracts.settlement.totalDeposited(), 6n)
})

test.serial('an unreachable chain fails with CHAIN_UNREACHABLE, not a crash', async (t) => {
  const { createProvider } = await import('../../src/chain/provider.ts')
  // a port nothing listens on: the fixture's port after the chain is gone is not knowable, so use a closed one
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const dead = createProvider(`http://127.0.0.1:${port}`, chain.anvil.chainId)
  const c = new ChainClient({ provider: dead, wallet: chain.users[0], logger: silentLogger() }, { pollIntervalMs: 20 })
  const err = await t.throwsAsync(c.send({ ...depositCall(1n), gasLimit: 100_000n }), { instanceOf: ChainError })
  t.is(err?.code, 'CHAIN_UNREACHABLE')
  dead.destroy()
})
