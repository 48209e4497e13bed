import test from 'ava'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { runHarmonyd, startHarmonyd, tempDir } from '../helpers/harmonyd.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/sdk-quickstart.ts', import.meta.url))
const README = fileURLToPath(new URL('../../README.md', import.meta.url))

test('the README shows the SDK example exactly as it runs', async (t) => {
  const [readme, example] = await Promise.all([readFile(README, 'utf8'), readFile(EXAMPLE, 'utf8')])
  t.true(readme.includes(`\`\`\`ts\n${example}\`\`\``), 'README.md holds examples/sdk-quickstart.ts verbatim')
})

test.serial('the README\'s SDK example runs against a node: a client-signed transfer becomes final and its payment webhook arrives signed', async (t) => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'devnet', '--json'])
  t.is(init.code, 0, init.stderr)
  const { faucetWallet } = JSON.parse(init.stdout) as { faucetWallet: string }
  const node = await startHarmonyd(['--datadir', d.path, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn'])
  t.teardown(async () => { await node.stop() })

  // the example adds a webhook (admin) and sends a transfer (spending): an API key with those classes, as a user would
  const key = await runHarmonyd(['rpc', 'keys', 'add', '--label', 'example', '--scope', 'admin,spending', '--datadir', d.path, '--json'])
  t.is(key.code, 0, key.stderr)
  const HARMONY_RPC_TOKEN = (JSON.parse(key.stdout) as { key: string }).key
  const child = fork(EXAMPLE, [node.rpc, faucetWallet], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, HARMONY_RPC_TOKEN } })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  t.is(code, 0, stderr)
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { txId: string, status: string, before: string, recipient: string, payment: Record<string, unknown> }
  t.is(result.status, 'final')
  t.regex(result.before, /^[0-9]+$/)
  t.deepEqual(result.payment, { account: result.recipient, direction: 'credit', amount: (10n ** 18n).toString(), txId: result.txId, txKind: 'transfer', vertex: result.payment.vertex })
})
