import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { toHex } from '../../src/core/codec.ts'
import { registerDagRpc } from '../../src/api/dag.ts'
import { createWalletFile, loadWalletFile } from '../../src/core/keys/wallet.ts'
import { TX_KIND_TRANSFER, transferKind } from '../../src/dag/tx-kinds.ts'
import { formatAgc, parseAgc, signTransfer } from '../../src/dag/wallet.ts'
import { type RpcContext, RpcErrorCode, RpcMethodError, RpcRegistry } from '../../src/rpc/registry.ts'
import { addressOf, createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const ctx: RpcContext = { transport: 'http', signal: new AbortController().signal }

async function call (registry: RpcRegistry, name: string, params: unknown[]): Promise<unknown> {
  const m = registry.get(name)
  if (m === undefined) throw new Error(`no method ${name}`)
  const parsed = m.params.parse(params)
  return await m.handler(parsed, ctx)
}

test.serial('the RPC methods send, track and refuse transactions with clear errors', async t => {
  const net = await createTestNet({ nodes: 1, accounts: 2, accountBalance: 1_000_000n })
  const dir = await mkdtemp(join(tmpdir(), 'harmony-wallet-'))
  try {
    const registry = new RpcRegistry()
    const dag = net.nodes[0].dag
    registerDagRpc(registry, dag)
    const [a, b] = net.accounts
    const hex = (bytes: Uint8Array): string => `0x${toHex(bytes)}`

    const id = await call(registry, 'account_sendTransaction', [hex(transfer(net.genesis, a, b, 100n, 0n))]) as string
    await waitFor(async () => ((await call(registry, 'tx_get', [id])) as { status: string }).status === 'final', 'final')
    const got = await call(registry, 'tx_get', [id]) as { status: string, vertex: string, tx: { from: string, amount: string } }
    t.is(got.tx.from, addressOf(a))
    t.is(got.tx.amount, '100')
    t.is(await call(registry, 'account_getBalance', [addressOf(b)]), String(1_000_000n + 100n))
    t.is(await call(registry, 'account_getNonce', [addressOf(a)]), '1')
    const stats = await call(registry, 'dag_stats', []) as { finalized: number, stateRoot: string }
    t.is(stats.finalized, 1)
    t.regex(stats.stateRoot, /^0x[0-9a-f]{64}$/)
    const tips = await call(registry, 'dag_tips', []) as string[]
    t.true(tips.length > 0 && tips.every(tip => /^0x[0-9a-f]{64}$/.test(tip)))
    // the vertex that carried the transfer (the tips may be later ones: under the commit rule, rounds built after it)
    const v = await call(registry, 'dag_getVertex', [got.vertex]) as { status: string, transactions: unknown[] }
    t.is(v.status, 'accepted')
    t.is(v.transactions.length, 1)

    const refuse = async (bytes: Uint8Array, reason: string, message: RegExp): Promise<void> => {
      const err = await t.throwsAsync(call(registry, 'account_sendTransaction', [hex(bytes)]), { instanceOf: RpcMethodError })
      t.is(err?.rpcCode, RpcErrorCode.TRANSACTION_REJECTED, reason)
      t.is((err?.data as { reason?: string } | undefined)?.reason, reason)
      t.regex(err?.message ?? '', message)
    }
    await refuse(transfer(net.genesis, a, b, 1n, 0n), 'NONCE_TOO_LOW', /already used; the account's next nonce is 1/)
    await refuse(transfer(net.genesis, a, b, 1n, 5n), 'NONCE_GAP', /ahead of the account's next nonce 1/)
    await refuse(transfer(net.genesis, a, b, 10n ** 9n, 1n), 'INSUFFICIENT_BALANCE', /below amount \+ fee/)
    const forged = transfer(net.genesis, a, b, 1n, 1n)
    forged[forged.length - 5] ^= 1
    await refuse(forged, 'SIGNATURE_INVALID', /signature/)
    await refuse(transfer(net.genesis, a, b, 1n, 1n, 1n), 'FEE_TOO_LOW', /below the minimum/)
    const otherChain = transfer({ ...net.genesis, chainId: 'other-chain' }, a, b, 1n, 1n)
    await refuse(otherChain, 'SIGNATURE_INVALID', /this chain/)
    // a part's state check (the market's, for bids) refuses with TX_REFUSED and names its rule in data.rule
    dag.setStateCheck(TX_KIND_TRANSFER, async (tx) => transferKind.decode(tx.tx.payload).amount === 9n ? { rule: 'AMOUNT_NINE', message: 'nine is refused here' } : undefined)
    await refuse(transfer(net.genesis, a, b, 9n, 1n), 'TX_REFUSED', /AMOUNT_NINE rule .*nine is refused here/)
    const ruled = await t.throwsAsync(call(registry, 'account_sendTransaction', [hex(transfer(net.genesis, a, b, 9n, 1n))]), { instanceOf: RpcMethodError })
    t.is((ruled?.data as { rule?: string } | undefined)?.rule, 'AMOUNT_NINE')
    dag.setStateCheck(TX_KIND_TRANSFER, undefined)
    const malformed = await t.throwsAsync(call(registry, 'account_sendTransaction', ['0x0102']), { instanceOf: RpcMethodError })
    t.is(malformed?.rpcCode, RpcErrorCode.INVALID_PARAMS)
    const badAddress = await t.throwsAsync(call(registry, 'account_getBalance', [`0x${'11'.repeat(20)}`]), { instanceOf: RpcMethodError })
    t.is(badAddress?.rpcCode, RpcErrorCode.INVALID_PARAMS)
    t.is(await call(registry, 'tx_get', [`0x${'00'.repeat(32)}`]), null)

    // wallet helper: a key file, a signed transfer accepted by the node
    const wallet = await createWalletFile(join(dir, 'w.json'))
    t.deepEqual((await loadWalletFile(join(dir, 'w.json'))).publicKey, wallet.publicKey)
    await t.throwsAsync(createWalletFile(join(dir, 'w.json')), { message: /never overwritten/ })
    const fund = await call(registry, 'account_sendTransaction', [signTransfer(a, { chainId: net.genesis.chainId, to: wallet.address, amount: 5000n, nonce: 1n })]) as string
    await waitFor(async () => ((await call(registry, 'tx_get', [fund])) as { status: string }).status === 'final', 'funding final')
    t.is(await call(registry, 'account_getBalance', [wallet.address]), '5000')
    t.is(parseAgc('1.5'), 1_500_000_000_000_000_000n)
    t.is(formatAgc(1_500_000_000_000_000_000n), '1.5')
  } finally {
    await net.close()
    await rm(dir, { recursive: true, force: true })
  }
})
