/**
 * Every file a node or the CLI reads from its datadir or a command-line path, handed something that is not the
 * file: a symlink to /dev/zero (endless), not JSON, not UTF-8. Each reader refuses it with its own typed error naming
 * the file, after reading at most its bound, or (capability.json, the RPC URL file) ignores it as documented.
 */
import test from 'ava'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CAPABILITY_FILE, readCapability } from '../../src/node/capability.ts'
import { KeystoreError } from '../../src/core/keys/keystore.ts'
import { readPasswordFile } from '../../src/cli/password.ts'
import { tempDir } from '../helpers/harmonyd.ts'

/** A path in a fresh folder that is a symlink to /dev/zero. */
async function endless (dir: string, name: string): Promise<string> {
  const path = join(dir, name)
  await mkdir(join(path, '..'), { recursive: true })
  await symlink('/dev/zero', path)
  return path
}

test('capability.json that is not JSON, or endless, is ignored rather than thrown as a SyntaxError', async (t) => {
  await using d = await tempDir()
  await writeFile(join(d.path, CAPABILITY_FILE), '{"gflops": 12')
  t.is(await readCapability(d.path), undefined)
  await using z = await tempDir()
  await endless(z.path, CAPABILITY_FILE)
  t.is(await readCapability(z.path), undefined)
})

test('a password file: first line without CRLF or BOM; /dev/zero, not UTF-8, empty or missing are PASSWORD_FILE_INVALID', async (t) => {
  await using d = await tempDir()
  const file = join(d.path, 'pw')
  await writeFile(file, '\uFEFFcorrect horse \r\nsecond line\r\n', { mode: 0o600 })
  t.is(await readPasswordFile(file), 'correct horse ', 'spaces are part of the password')
  await writeFile(file, Buffer.from([0x70, 0xe4, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x0a]))
  const notUtf8 = await t.throwsAsync(readPasswordFile(file), { instanceOf: KeystoreError })
  t.is(notUtf8?.code, 'PASSWORD_FILE_INVALID')
  t.regex(notUtf8?.message ?? '', /not UTF-8/)
  await writeFile(file, '\n')
  t.is((await t.throwsAsync(readPasswordFile(file), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
  t.is((await t.throwsAsync(readPasswordFile(join(d.path, 'missing')), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
  t.is((await t.throwsAsync(readPasswordFile(await endless(d.path, 'zero')), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
})
