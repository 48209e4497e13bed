/**
 * The small files a node or the CLI reads whole (src/core/bounded-file.ts): a path that names something huge or
 * endless (a 1 GB sparse file, a symlink to /dev/zero or /dev/urandom) is refused after reading at most the file's
 * bound, with a typed error, never read into memory; text is UTF-8 and may start with a byte-order mark.
 */
import test from 'ava'
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FileContentError, readBoundedFile, readBoundedText } from '../../src/core/bounded-file.ts'
import { tempDir } from '../helpers/harmonyd.ts'

test('a file within its bound is read whole; one byte more is refused as FILE_TOO_LARGE', async (t) => {
  await using d = await tempDir()
  const file = join(d.path, 'f')
  await writeFile(file, 'x'.repeat(100))
  t.is((await readBoundedFile(file, 100)).length, 100)
  const err = await t.throwsAsync(readBoundedFile(file, 99), { instanceOf: FileContentError })
  t.is(err?.code, 'FILE_TOO_LARGE')
  t.regex(err?.message ?? '', /larger than 99 bytes/)
})

test('a 1 GB sparse file, /dev/zero and /dev/urandom are refused without being read into memory', async (t) => {
  await using d = await tempDir()
  const huge = join(d.path, 'huge')
  await writeFile(huge, '')
  await truncate(huge, 1024 ** 3)
  await symlink('/dev/zero', join(d.path, 'zero'))
  await symlink('/dev/urandom', join(d.path, 'random'))
  for (const name of ['huge', 'zero', 'random']) {
    const before = process.memoryUsage().arrayBuffers
    const err = await t.throwsAsync(readBoundedText(join(d.path, name), 4096), { instanceOf: FileContentError }, name)
    t.is(err?.code, 'FILE_TOO_LARGE', name)
    t.true(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, `${name} was not read whole`)
  }
})

test('text: a leading byte-order mark is dropped, CRLF kept, bytes that are not UTF-8 refused as FILE_NOT_UTF8', async (t) => {
  await using d = await tempDir()
  const file = join(d.path, 'f')
  await writeFile(file, Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"a":1}\r\n')]))
  t.is(await readBoundedText(file, 1024), '{"a":1}\r\n')
  await writeFile(file, Buffer.from([0x70, 0xe4, 0x73, 0x73]))
  const err = await t.throwsAsync(readBoundedText(file, 1024), { instanceOf: FileContentError })
  t.is(err?.code, 'FILE_NOT_UTF8')
})

test('open errors come as Node gives them: ENOENT for a missing file, EISDIR for a directory', async (t) => {
  await using d = await tempDir()
  t.is((await t.throwsAsync<NodeJS.ErrnoException>(readBoundedFile(join(d.path, 'missing'), 10)))?.code, 'ENOENT')
  await mkdir(join(d.path, 'dir'))
  t.is((await t.throwsAsync<NodeJS.ErrnoException>(readBoundedFile(join(d.path, 'dir'), 10)))?.code, 'EISDIR')
})
