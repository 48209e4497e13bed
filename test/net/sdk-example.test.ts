import test from 'ava'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createKeystore } from '../../src/core/keys/keystore.ts'
import { runHarmonyd, startHarmonyd, tempDir } from '../helpers/harmonyd.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/sdk-quickstart.ts', import.meta.url))
const README = fileURLToPath(new URL('../../README.md', import.meta.url))

/** Runs the example to its exit with this environment and no HARMONY_PASSWORD_FILE of ours; SIGKILL after `timeoutMs`. */
async function runExample (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const { HARMONY_PASSWORD_FILE: _ours, ...inherited } = process.env
  const child = fork(EXAMPLE, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...inherited, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

test('the README shows the SDK example exactly as it runs', async (t) => {
  const [readme, example] = await Promise.all([readFile(README, 'utf8'), readFile(EXAMPLE, 'utf8')])
  t.true(readme.includes(`\`\`\`ts\n${example}\`\`\``), 'README.md holds examples/sdk-quickstart.ts verbatim')
})

test('the SDK example refuses a keystore without its password in one line, before calling any node', async (t) => {
  await using d = await tempDir()
  const wallet = join(d.path, 'wallet.json')
  await createKeystore(wallet, 'correct horse', { scrypt: { n: 1024 } })
  // no node listens on port 1: the example must stop at the wallet
  const locked = await runExample(['http://127.0.0.1:1', wallet], {})
  t.is(locked.code, 1)
  t.is(locked.stderr, `error: ${wallet} is an encrypted keystore; set HARMONY_PASSWORD_FILE to a file whose first line is its password\n`)
  const wrong = join(d.path, 'wrong-password')
  await writeFile(wrong, 'not the password\n', { mode: 0o600 })
  const refused = await runExample(['http://127.0.0.1:1', wallet], { HARMONY_PASSWORD_FILE: wrong })
  t.is(refused.code, 1)
  t.regex(refused.stderr, /^error: [^\n]*password[^\n]*\n$/)
})

test.serial('the README\'s SDK example runs against a node with a keystore wallet: a client-signed transfer becomes final and its payment webhook arrives signed', async (t) => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'devnet', '--json'])
  t.is(init.code, 0, init.stderr)
  const { faucetWallet } = JSON.parse(init.stdout) as { faucetWallet: string }
  // the funded faucet wallet, encrypted as `harmonyd wallet new` writes wallets (a low scrypt cost keeps it quick)
  const wallet = join(d.path, 'wallet.json')
  const passwordFile = join(d.path, 'password')
  await copyFile(faucetWallet, wallet)
  await writeFile(passwordFile, 'correct horse battery\n', { mode: 0o600 })
  const migrate = await runHarmonyd(['wallet', 'migrate', '--wallet', wallet, '--password-file', passwordFile, '--scrypt-n', '1024'])
  t.is(migrate.code, 0, migrate.stderr)
  await using node = await startHarmonyd(['--datadir', d.path, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn'])

  // the example adds a webhook (admin) and sends a transfer (spending): an API key with those classes, as a user would
  const key = await runHarmonyd(['rpc', 'keys', 'add', '--label', 'example', '--scope', 'admin,spending', '--datadir', d.path, '--json'])
  t.is(key.code, 0, key.stderr)
  const HARMONY_RPC_TOKEN = (JSON.parse(key.stdout) as { key: string }).key
  const { code, stdout, stderr } = await runExample([node.rpc, wallet], { HARMONY_RPC_TOKEN, HARMONY_PASSWORD_FILE: passwordFile })
  t.is(code, 0, stderr)
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { txId: string, status: string, before: string, recipient: string, payment: Record<string, unknown> }
  t.is(result.status, 'final')
  t.regex(result.before, /^[0-9]+$/)
  t.deepEqual(result.payment, { account: result.recipient, direction: 'credit', amount: (10n ** 18n).toString(), txId: result.txId, txKind: 'transfer', vertex: result.payment.vertex })
})
