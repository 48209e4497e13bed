// `harmonyd devnet --demo` as a newcomer meets it: tasks scroll by, and the faucet wallet the README hands out stays
// theirs to send from meanwhile. The demo announced from the faucet until s51, so a newcomer's send took the nonce
// the demo had chained locally and the demo's next announce was refused ("nonce N already used").
import test from 'ava'
import { join } from 'node:path'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { loadWalletFile } from '../../src/core/keys/wallet.ts'
import { DEMO_WALLET_FILE } from '../../src/cli/devnet-demo.ts'
import { rpc, runHarmonyd, startDevnet, tempDir, waitFor } from '../helpers/harmonyd.ts'

const count = (text: string, re: RegExp): number => [...text.matchAll(re)].length

test.serial('the demo announces from its own funded wallet: sends from the faucet while it runs refuse none of its announces, and its tasks are paid', async (t) => {
  await using dir = await tempDir('harmony-demo-')
  // stopped (Ctrl-C) before `dir` is removed: disposed in reverse order
  await using devnet = await startDevnet(['--nodes', '3', '--base-port', '0', '--datadir', dir.path, '--log-level', 'warn', '--demo', '--no-live'], 3)
  const url = devnet.nodes[0].rpc
  const paid = /^\S+ task 0x[0-9a-f]{8}… paid: /gm
  await waitFor('the demo\'s first paid task', async () => count(devnet.stdout(), paid) >= 1 ? true : undefined, 120_000)

  const demo = await loadWalletFile(join(dir.path, DEMO_WALLET_FILE))
  const faucet = await loadWalletFile(join(dir.path, 'faucet.json'))
  t.not(demo.address, faucet.address)
  // the newcomer's sends, one after another while tasks keep being announced
  const announced = /^\S+ task 0x[0-9a-f]{8}… announced: /gm
  const before = count(devnet.stdout(), announced)
  for (let i = 0; i < 3; i++) {
    const to = addressFromPublicKey(generateKeyPair().publicKey)
    const sent = await runHarmonyd(['wallet', 'send', '--wallet', join(dir.path, 'faucet.json'), '--to', to, '--amount', '1', '--rpc', url, '--datadir', join(dir.path, 'node-0'), '--wait', '--json'])
    t.is(sent.code, 0, sent.stderr)
    t.is(await rpc<string>(url, 'account_getBalance', [to]), (10n ** 18n).toString())
  }
  await waitFor('more tasks announced and paid after the sends', async () => count(devnet.stdout(), announced) >= before + 4 && count(devnet.stdout(), paid) >= 3 ? true : undefined, 120_000)
  t.notRegex(devnet.stdout(), /announce refused/, 'no announce of the demo was refused')

  // the demo's tasks are its wallet's, listed as the README says
  const listed = await runHarmonyd(['task', 'list', '--mine', '--wallet', join(dir.path, DEMO_WALLET_FILE), '--datadir', join(dir.path, 'node-0'), '--json'])
  t.is(listed.code, 0, listed.stderr)
  const { tasks } = JSON.parse(listed.stdout) as { tasks: Array<{ requester: string }> }
  t.true(tasks.length >= 4)
  t.true(tasks.every(x => x.requester === demo.address))
})
