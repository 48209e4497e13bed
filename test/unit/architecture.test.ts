import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { checkArchitecture } from '../../scripts/check-architecture.ts'

const SRC = fileURLToPath(new URL('../../src', import.meta.url))

test('src/: every floor imports only the floors below it, and no import cycle exists', (t) => {
  const report = checkArchitecture(SRC)
  t.deepEqual(report.unknownFolders, [], 'every folder of src/ has a floor in scripts/check-architecture.ts')
  t.deepEqual(report.upward, [])
  t.deepEqual(report.cycles, [])
})

test('the check finds an upward import and a cycle', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-arch-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'core'))
  await mkdir(join(dir, 'node'))
  await writeFile(join(dir, 'core', 'a.ts'), "import { b } from '../node/b.ts'\nexport const a = b\n")
  await writeFile(join(dir, 'node', 'b.ts'), "import type { a } from '../core/a.ts'\nexport const b = 1 as unknown as typeof a\n")
  const report = checkArchitecture(dir)
  t.deepEqual(report.upward, ['core/a.ts -> node/b.ts'])
  t.deepEqual(report.cycles, [['core/a.ts', 'node/b.ts']])
})
