// Pays 1 AGC from a wallet file to a fresh account through the typed SDK, signing on this side (the key never
// reaches the node), watches the transfer become final over a WebSocket subscription, and receives the signed
// `payment` webhook for the recipient on a local receiver.
//   node examples/sdk-quickstart.ts http://127.0.0.1:9545 path/to/wallet.json    (HARMONY_RPC_TOKEN for auth)
// A wallet from `harmonyd wallet new` is an encrypted keystore: as for the CLI, HARMONY_PASSWORD_FILE names a file
// whose first line is its password (a devnet's plain faucet wallet needs none).
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readWalletFile, unlockWalletFile } from '../src/core/keys/keystore.ts'
import { walletFromSeed, type WalletKey } from '../src/core/keys/wallet.ts'
import { parseAgc, signTransfer } from '../src/dag/wallet.ts'
import { HarmonyClient, verifyWebhookSignature, type PaymentWebhookEvent } from '../src/sdk/index.ts'

const [url = 'http://127.0.0.1:9545', walletFile = 'wallet.json'] = process.argv.slice(2)
const client = new HarmonyClient({ url, token: process.env.HARMONY_RPC_TOKEN })
const sender = await openWallet(walletFile, process.env.HARMONY_PASSWORD_FILE).catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`) // one line, no stack trace
  process.exit(1)
})
const recipient = walletFromSeed(randomBytes(32)).address

const info = await client.call('node_info') // typed: info.chainId is string | undefined
if (info.chainId === undefined) throw new Error('the node runs no ledger')
const before = await client.call('account_getBalance', [sender.address]) // a decimal string of base units

// a webhook receiver: check X-Harmony-Signature with the secret webhook_add returned, then answer 2xx
let secret = ''
const paid = Promise.withResolvers<PaymentWebhookEvent>()
const receiver = createServer((req, res) => {
  let body = ''
  req.on('data', (chunk: Buffer) => { body += chunk.toString() })
  req.on('end', () => {
    const valid = verifyWebhookSignature(secret, req.headers['x-harmony-signature'] as string | undefined, body)
    res.writeHead(valid ? 204 : 401).end()
    if (valid) paid.resolve((JSON.parse(body) as { data: PaymentWebhookEvent }).data)
  })
})
receiver.listen(0, '127.0.0.1')
await once(receiver, 'listening')
const hook = await client.call('webhook_add', {
  url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/harmony`,
  events: ['payment'],
  accounts: [recipient]
})
secret = hook.secret

// subscribe before sending, so the final event cannot be missed (it may even beat the send's reply)
const decided = new Map<string, 'final' | 'rejected'>()
const unsubscribe = await client.subscribe('tx_status', undefined, (event) => { decided.set(event.id, event.status) })
const nonce = await client.call('account_getNonce', [sender.address])
const signed = signTransfer(sender, { chainId: info.chainId, to: recipient, amount: parseAgc('1'), nonce: BigInt(nonce) })
const txId = await client.call('account_sendTransaction', [signed])
while (!decided.has(txId)) await new Promise((resolve) => setTimeout(resolve, 50))
const status = decided.get(txId)
const payment = await paid.promise

console.log(JSON.stringify({ txId, status, before, recipient, payment }))
await unsubscribe()
await client.call('webhook_remove', [hook.id])
await client.close()
receiver.close()

async function openWallet (path: string, passwordFile: string | undefined): Promise<WalletKey> {
  const wallet = await readWalletFile(path) // an encrypted keystore or a plain key file; else an error saying why
  if (wallet.kind === 'keystore' && passwordFile === undefined) {
    throw new Error(`${path} is an encrypted keystore; set HARMONY_PASSWORD_FILE to a file whose first line is its password`)
  }
  const password = passwordFile === undefined ? undefined : (await readFile(passwordFile, 'utf8')).split(/\r?\n/, 1)[0]
  const keys = await unlockWalletFile(wallet, password)
  return { address: keys.address, ...keys.mldsa }
}
