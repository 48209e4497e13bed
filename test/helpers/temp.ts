// Temporary directories a test file makes and does not remove itself (ledgers it opens and closes many times, or
// that outlive one test): each is removed when the file's worker process exits, so a run leaves nothing in /tmp.
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made = new Set<string>()
process.once('exit', () => { for (const dir of made) rmSync(dir, { recursive: true, force: true }) })

/** A new directory under the OS temp dir, removed at process exit. */
export async function tempDirUntilExit (prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  made.add(dir)
  return dir
}
