/**
 * The running daemon's RPC URL in its datadir (`rpc/url`): what a CLI given only `--datadir` calls. A URL is read
 * only while the datadir's pid file names a live process: a daemon killed with -9 leaves both files behind.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PID_FILE, removeRpcUrl, RPC_URL_FILE, runningRpcUrl, writeRpcUrl } from '../../src/node/datadir.ts'

test('the URL of the daemon running on a datadir; none once it is gone, removed or malformed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-datadir-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  t.is(await runningRpcUrl(dir), undefined, 'nothing written')
  await writeRpcUrl(dir, 'http://127.0.0.1:9546')
  t.is(await runningRpcUrl(dir), undefined, 'no pid file: no daemon')
  await writeFile(join(dir, PID_FILE), `${process.pid}\n`)
  t.is(await runningRpcUrl(dir), 'http://127.0.0.1:9546')
  // a process that has exited (its pid, reaped): the files are stale
  const gone = spawnSync(process.execPath, ['-e', '']).pid
  await writeFile(join(dir, PID_FILE), `${gone}\n`)
  t.is(await runningRpcUrl(dir), undefined)
  await writeFile(join(dir, PID_FILE), `${process.pid}\n`)
  await writeFile(join(dir, RPC_URL_FILE), 'http://127.0.0.1:9546/x\nmore\n')
  t.is(await runningRpcUrl(dir), undefined, 'a malformed URL is not called')
  await writeRpcUrl(dir, 'http://[::1]:9545')
  t.is(await runningRpcUrl(dir), 'http://[::1]:9545')
  await removeRpcUrl(dir)
  t.is(await runningRpcUrl(dir), undefined)
})
