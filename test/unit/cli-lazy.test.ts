/** The CLI loads only the command it runs: a client command does not pay for the daemon's modules (cli/index.ts). */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { commandName } from '../../src/cli/index.ts'
import { BIN, tempDir } from '../helpers/harmonyd.ts'

const TRACE_HOOK = fileURLToPath(new URL('../helpers/module-trace.ts', import.meta.url))

/** Runs harmonyd with `args` and returns the modules it loaded and its exit code. */
async function modulesLoaded (args: string[]): Promise<{ code: number | null, stderr: string, modules: string[] }> {
  await using d = await tempDir('harmony-cli-lazy-')
  const trace = join(d.path, 'modules.txt')
  const child = fork(BIN, ['--datadir', d.path, ...args], {
    execArgv: [...process.execArgv, '--import', TRACE_HOOK],
    env: { ...process.env, HARMONY_MODULE_TRACE: trace, HARMONY_DATADIR: undefined, HARMONY_RPC_TOKEN: undefined },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc']
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  const modules = (await readFile(trace, 'utf8').catch(() => '')).split('\n').filter(l => l !== '')
  return { code, stderr, modules }
}

/** The daemon's parts a client command has no use for. */
const DAEMON = [/\/node_modules\/libp2p\//, /\/node_modules\/@chainsafe\/libp2p-gossipsub\//, /\/node_modules\/@libp2p\/gossipsub\//, /\/src\/node\/node\.ts$/, /\/src\/dag\/service\.ts$/, /\/src\/dag\/ledger\.ts$/, /\/src\/market\/service\.ts$/]
const CHAIN = [/\/node_modules\/ethers\//, /\/src\/chain\/client\.ts$/]

for (const args of [['status'], ['peers'], ['task', 'status', 'x'], ['task', 'list'], ['provider', 'status'], ['webhook', 'list'], ['wallet', 'address'], ['wallet', 'balance'], ['--version'], ['wallet', '--help']]) {
  test(`harmonyd ${args.join(' ')} loads none of the daemon's or the chain's modules`, async t => {
    const run = await modulesLoaded(args)
    t.true(run.modules.length > 0, `no module trace: ${run.stderr}`)
    t.true(run.modules.some(m => m.endsWith('/src/cli/index.ts')), 'the trace holds the CLI itself')
    for (const re of [...DAEMON, ...CHAIN]) t.false(run.modules.some(m => re.test(m)), `${args.join(' ')} loaded ${run.modules.find(m => re.test(m))}`)
  })
}

/** What a command that only reads from a node has no use for: the schema library, libp2p's key code, the market's kinds. */
const READER = [/\/node_modules\/zod\//, /\/node_modules\/@libp2p\/crypto\//, /\/src\/market\/kinds\/index\.ts$/, /\/src\/core\/keys\/keystore\.ts$/]

// task status and task list loaded the submit path's kinds, task schema and sealing code (~270 modules more). Each
// names its node (--rpc; nothing listens on port 9): one found from the datadir's settings reads them (yaml, zod)
for (const args of [['status'], ['peers'], ['task', 'status', '0x' + '00'.repeat(32)], ['task', 'list'], ['provider', 'status'], ['webhook', 'list']]) {
  test(`harmonyd ${args.join(' ')} loads no schema, key or market kind code`, async t => {
    const run = await modulesLoaded([...args, '--rpc', 'http://127.0.0.1:9'])
    t.true(run.modules.some(m => m.endsWith('/src/cli/index.ts')), `no module trace: ${run.stderr}`)
    for (const re of READER) t.false(run.modules.some(m => re.test(m)), `${args.join(' ')} loaded ${run.modules.find(m => re.test(m))}`)
  })
}

test('harmonyd --help still lists every command', async t => {
  const run = await modulesLoaded(['--help'])
  t.is(run.code, 0, run.stderr)
  t.true(run.modules.some(m => /\/src\/cli\/start\.ts$/.test(m)))
  t.true(run.modules.some(m => /\/src\/cli\/wallet\.ts$/.test(m)))
})

test('the command is the first positional, after global flags and their values', t => {
  t.is(commandName(['wallet', 'address']), 'wallet')
  t.is(commandName(['--datadir', '/x', '--json', 'task', 'list']), 'task')
  t.is(commandName(['--rpc-token', 'start', 'status']), 'status')
  t.is(commandName(['--datadir=/x', 'peers']), 'peers')
  t.is(commandName(['--help']), undefined)
  t.is(commandName(['--', 'wallet']), undefined)
  t.is(commandName([]), undefined)
})
