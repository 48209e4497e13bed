import test from 'ava'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { operatorAuth, runHarmonyd, startHarmonyd, tempDir, waitFor } from '../helpers/harmonyd.ts'

interface Reply { result?: unknown, error?: { code: number, message: string, data?: { reason?: string } } }

async function call (url: string, method: string, params: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return await res.json() as Reply
}

const loopbackArgs = (dir: string): string[] => ['--datadir', dir, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn']

test.serial('harmonyd: a non-loopback RPC with auth off does not start; API keys made by the CLI work on a running node until revoked', async (t) => {
  await using d = await tempDir()
  const init = await runHarmonyd(['init', '--datadir', d.path, '--network', 'devnet', '--json'])
  t.is(init.code, 0, init.stderr)
  t.is((await stat(join(d.path, 'rpc', 'jwt.hex'))).mode & 0o777, 0o600, 'init writes the JWT secret, private to the operator')

  const open = await runHarmonyd(['start', ...loopbackArgs(d.path), '--rpc-host', '0.0.0.0', '--rpc-auth', 'off'])
  t.is(open.code, 3)
  t.regex(open.stderr, /refusing to serve JSON-RPC on 0\.0\.0\.0 with --rpc-auth off/)

  await using node = await startHarmonyd(loopbackArgs(d.path))
  const announce = async (headers: Record<string, string>): Promise<Reply> => await call(node.rpc, 'net_announce', ['hello'], headers)
  t.is((await announce({})).error?.data?.reason, 'auth_required')
  t.is((await announce(await operatorAuth(d.path))).error, undefined, 'the operator may announce')

  const added = await runHarmonyd(['rpc', 'keys', 'add', '--datadir', d.path, '--label', 'ops', '--scope', 'admin', '--json'])
  t.is(added.code, 0, added.stderr)
  const { id, key } = JSON.parse(added.stdout) as { id: string, key: string }
  const spender = JSON.parse((await runHarmonyd(['rpc', 'keys', 'add', '--datadir', d.path, '--label', 'wallet', '--scope', 'spending', '--json'])).stdout) as { key: string }
  await waitFor('the node to accept the new key', async () => (await announce({ 'x-api-key': key })).error === undefined ? true : undefined, 10_000, 100)
  t.is((await announce({ authorization: `Bearer ${spender.key}` })).error?.data?.reason, 'scope')

  const revoked = await runHarmonyd(['rpc', 'keys', 'revoke', id, '--datadir', d.path])
  t.is(revoked.code, 0, revoked.stderr)
  const refusal = await waitFor('the node to refuse the revoked key', async () => {
    const reply = await announce({ 'x-api-key': key })
    return reply.error?.data?.reason === 'key_revoked' ? reply : undefined
  }, 10_000, 100)
  t.is(refusal.error?.code, -32010)
  const listed = JSON.parse((await runHarmonyd(['rpc', 'keys', 'list', '--datadir', d.path, '--json'])).stdout) as Array<{ id: string, revokedAt?: string }>
  t.truthy(listed.find((k) => k.id === id)?.revokedAt)
  // the secret part of hk_<id>_<secret> (base64url, so it may itself hold '_') is never listed
  t.false(JSON.stringify(listed).includes(key.slice(`hk_${id}_`.length)))
})
