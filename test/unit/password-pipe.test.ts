// A password file that is a pipe: read when something writes to it, refused (not waited on for ever) when nothing does.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { KeystoreError } from '../../src/core/keys/keystore.ts'
import { readPasswordFile } from '../../src/cli/password.ts'
import { tempDir } from '../helpers/harmonyd.ts'

test('a named pipe: its writer\'s first line is the password; one no one writes to is PASSWORD_FILE_INVALID after the wait, not a hang', async (t) => {
  await using d = await tempDir()
  const fifo = join(d.path, 'pw.fifo')
  execFileSync('mkfifo', ['-m', '600', fifo])

  // a writer: both opens wait for the other end, then the line goes through
  const reading = readPasswordFile(fifo, 60_000)
  const writer = await open(fifo, 'w')
  await writer.write('from a pipe\nrest\n')
  await writer.close()
  t.is(await reading, 'from a pipe')

  // no writer: the reader's open waits for one; the read is refused once the wait is over
  const err = await t.throwsAsync(readPasswordFile(fifo, 200), { instanceOf: KeystoreError })
  t.is(err?.code, 'PASSWORD_FILE_INVALID')
  t.regex(err?.message ?? '', /pipe that gave nothing to read/)
  // the open left waiting ends when a writer comes and goes (so this test's process has nothing left pending)
  const late = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
  await late.close()
})
