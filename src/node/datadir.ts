import { mkdir, stat, writeFile, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { openDatabase, type BinaryDb } from '../core/storage.ts'
import { StartupError, errorMessage } from '../core/errors.ts'
import { readBoundedText } from '../core/bounded-file.ts'

export const DB_DIR = 'db'
/** The vertex body log's segment files (src/dag/body-log.ts), beside the database that references them. */
export const BODIES_DIR = 'dag-bodies'
export const PID_FILE = 'harmonyd.pid'
/** The running daemon's RPC URL (written once its server listens, removed at stop), for a client given `--datadir`. */
export const RPC_URL_FILE = join('rpc', 'url')
// a pid is a line of digits; a URL longer than 256 characters is refused anyway
const MAX_PID_FILE_BYTES = 64
const MAX_RPC_URL_FILE_BYTES = 1024

/** `--datadir` > `HARMONY_DATADIR` > `~/.harmony`. */
export function resolveDatadir (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.HARMONY_DATADIR ?? join(homedir(), '.harmony'))
}

export async function isInitialized (datadir: string): Promise<boolean> {
  try {
    await stat(join(datadir, 'keys', 'p2p.key'))
    return true
  } catch {
    return false
  }
}

async function readPid (datadir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readBoundedText(join(datadir, PID_FILE), MAX_PID_FILE_BYTES), 10)
    return Number.isSafeInteger(pid) ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Opens the datadir's LevelDB. LevelDB holds an OS file lock on its directory for as long as the process lives
 * (released by the kernel even after kill -9), so a second daemon on the same datadir fails here, before it has
 * written anything.
 */
export async function lockDatadir (datadir: string): Promise<BinaryDb> {
  if (!(await isInitialized(datadir))) {
    throw new StartupError('DATADIR_UNINITIALIZED', `datadir ${datadir} is not initialised; run 'harmonyd init --datadir ${datadir}' first`, { datadir })
  }
  await mkdir(join(datadir, DB_DIR), { recursive: true })
  let db: BinaryDb
  try {
    db = await openDatabase(join(datadir, DB_DIR))
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED' || (err as { code?: string }).code === 'LEVEL_LOCKED') {
      const pid = await readPid(datadir)
      const who = pid === undefined ? 'another harmonyd' : `another harmonyd (pid ${pid})`
      throw new StartupError('DATADIR_IN_USE', `datadir ${datadir} is in use by ${who}; stop it or pass --datadir`, { datadir, pid })
    }
    throw new StartupError('DATADIR_INVALID', `cannot open the database in ${datadir}: ${errorMessage(err)}`, { datadir })
  }
  await writeFile(join(datadir, PID_FILE), `${process.pid}\n`)
  return db
}

/** Records the RPC URL the daemon listens on, for the clients given this datadir (`runningRpcUrl`). */
export async function writeRpcUrl (datadir: string, url: string): Promise<void> {
  await mkdir(join(datadir, 'rpc'), { recursive: true })
  await writeFile(join(datadir, RPC_URL_FILE), `${url}\n`)
}

export async function removeRpcUrl (datadir: string): Promise<void> {
  await unlink(join(datadir, RPC_URL_FILE)).catch(() => {})
}

/**
 * The RPC URL of the daemon running on `datadir`, or undefined when none runs there (no pid file, or its process is
 * gone: a daemon killed with -9 leaves both files) or its URL file is missing or malformed.
 */
export async function runningRpcUrl (datadir: string): Promise<string | undefined> {
  const pid = await readPid(datadir)
  if (pid === undefined || !processAlive(pid)) return undefined
  const url = await readBoundedText(join(datadir, RPC_URL_FILE), MAX_RPC_URL_FILE_BYTES).then(s => s.trim(), () => '')
  return url.length <= 256 && /^https?:\/\/[^\s/]+\/?$/.test(url) ? url : undefined
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as { code?: string }).code === 'EPERM'
  }
}

export async function releaseDatadir (datadir: string, db: BinaryDb): Promise<void> {
  await db.close()
  await unlink(join(datadir, PID_FILE)).catch(() => {})
}
