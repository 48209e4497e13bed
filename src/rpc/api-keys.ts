import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { HarmonyError, errorMessage } from '../core/errors.ts'
import { readBoundedText } from '../core/bounded-file.ts'
import { METHOD_CLASSES, type MethodClass } from './method-class.ts'

/**
 * API keys for the RPC: random, shown once, stored as a SHA-256 hash with a label and a scope (a set of method
 * classes) in `<datadir>/rpc/api-keys.json`. The CLI (`harmonyd rpc keys add|list|revoke`) writes the file; a
 * running node notices the change within `reloadIntervalMs` (a revoked key stops working without a restart).
 * A plain hash is enough: a key is 32 random bytes, so there is nothing to guess (unlike a password).
 */

/** The API key file inside a node's datadir. */
export const API_KEYS_FILE = join('rpc', 'api-keys.json')

/** Keys in one file: a bound on memory and on the file the node reads. */
export const MAX_API_KEYS = 1024
// key text: hk_<id>_<secret>; the id finds the entry, the secret's hash is compared in constant time
const KEY_PREFIX = 'hk_'
const ID_BYTES = 6
const SECRET_BYTES = 32
const MAX_FILE_BYTES = 1024 * 1024
const MAX_LABEL_CHARS = 64
const FILE_VERSION = 1

export type ApiKeyErrorCode = 'API_KEYS_FILE_INVALID' | 'API_KEY_LIMIT' | 'API_KEY_ARGUMENT_INVALID'

export class ApiKeyError extends HarmonyError<ApiKeyErrorCode> {
  constructor (code: ApiKeyErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'ApiKeyError'
  }
}

const Entry = z.object({
  id: z.string().regex(/^[0-9a-f]{12}$/),
  label: z.string().max(MAX_LABEL_CHARS),
  scope: z.array(z.enum(METHOD_CLASSES)).max(METHOD_CLASSES.length),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  revokedAt: z.string().optional()
}).strict()
const FileShape = z.object({ version: z.literal(FILE_VERSION), keys: z.array(Entry).max(MAX_API_KEYS) }).strict()

type StoredEntry = z.infer<typeof Entry>

/** What `list` shows: everything but the hash. */
export interface ApiKeyInfo {
  id: string
  label: string
  scope: MethodClass[]
  createdAt: string
  revokedAt?: string
}

/** A key that matched: who it is and what it may call. */
export interface ApiKeyGrant {
  id: string
  label: string
  scope: ReadonlySet<MethodClass>
}

export interface ApiKeyStoreInit {
  /** A running node re-reads the file at most this often (on use). @default 1000 */
  reloadIntervalMs?: number
}

function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** True when `text` has the shape of an API key (so a bearer value is not mistaken for a JWT). */
export function looksLikeApiKey (text: string): boolean {
  return text.startsWith(KEY_PREFIX)
}

export class ApiKeyStore {
  readonly path: string
  private readonly reloadIntervalMs: number
  private entries = new Map<string, StoredEntry>()
  private checkedAtMs = -Infinity
  private fileStamp = ''
  private reloading?: Promise<void>

  constructor (path: string, init: ApiKeyStoreInit = {}) {
    this.path = path
    this.reloadIntervalMs = init.reloadIntervalMs ?? 1000
  }

  /** Creates a key; the returned `key` is the only time its secret exists outside the caller. */
  async add (label: string, scope: readonly MethodClass[]): Promise<ApiKeyInfo & { key: string }> {
    if (label.length === 0 || label.length > MAX_LABEL_CHARS || [...label].some((c) => c.charCodeAt(0) < 0x20)) {
      throw new ApiKeyError('API_KEY_ARGUMENT_INVALID', `a key label must be 1-${MAX_LABEL_CHARS} printable characters`)
    }
    const classes = [...new Set(scope)].sort((a, b) => METHOD_CLASSES.indexOf(a) - METHOD_CLASSES.indexOf(b))
    if (!classes.includes('public')) classes.unshift('public')
    const stored = await this.readFile()
    if (stored.length >= MAX_API_KEYS) {
      throw new ApiKeyError('API_KEY_LIMIT', `${this.path} holds ${MAX_API_KEYS} keys, the most it may; revoke and prune some first`)
    }
    const id = randomBytes(ID_BYTES).toString('hex')
    const secret = randomBytes(SECRET_BYTES).toString('base64url')
    const entry: StoredEntry = { id, label, scope: classes, hash: hashSecret(secret), createdAt: new Date().toISOString() }
    await this.writeFile([...stored, entry])
    return { ...publicInfo(entry), key: `${KEY_PREFIX}${id}_${secret}` }
  }

  async list (): Promise<ApiKeyInfo[]> {
    return (await this.readFile()).map(publicInfo)
  }

  /** Marks a key revoked; false when no key has this id. Revoking twice keeps the first time. */
  async revoke (id: string): Promise<boolean> {
    const stored = await this.readFile()
    const entry = stored.find((e) => e.id === id)
    if (entry === undefined) return false
    if (entry.revokedAt === undefined) {
      entry.revokedAt = new Date().toISOString()
      await this.writeFile(stored)
    }
    return true
  }

  /**
   * The grant of a presented key: `unknown` (no such key, or the secret does not match), `revoked`, or the key's
   * grant. Re-reads the file when it changed and the last check is older than the reload interval.
   */
  async check (key: string): Promise<ApiKeyGrant | 'unknown' | 'revoked'> {
    await this.refresh()
    const match = /^hk_([0-9a-f]{12})_([A-Za-z0-9_-]{1,64})$/.exec(key)
    if (match === null) return 'unknown'
    const entry = this.entries.get(match[1])
    if (entry === undefined) return 'unknown'
    const given = Buffer.from(hashSecret(match[2]), 'hex')
    if (!timingSafeEqual(given, Buffer.from(entry.hash, 'hex'))) return 'unknown'
    if (entry.revokedAt !== undefined) return 'revoked'
    return { id: entry.id, label: entry.label, scope: new Set(entry.scope) }
  }

  private async refresh (): Promise<void> {
    if (performance.now() - this.checkedAtMs < this.reloadIntervalMs) return
    // concurrent requests share one reload
    this.reloading ??= this.reload().finally(() => { this.reloading = undefined })
    await this.reloading
  }

  private async reload (): Promise<void> {
    this.checkedAtMs = performance.now()
    let stamp: string
    try {
      const s = await stat(this.path)
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`
    } catch {
      stamp = 'absent'
    }
    if (stamp === this.fileStamp) return
    try {
      this.entries = new Map((await this.readFile()).map((e) => [e.id, e]))
      this.fileStamp = stamp
    } catch {
      // a half-written or broken file keeps the keys loaded before; the CLI reports the problem when it runs
    }
  }

  private async readFile (): Promise<StoredEntry[]> {
    let text: string
    try {
      text = await readBoundedText(this.path, MAX_FILE_BYTES)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new ApiKeyError('API_KEYS_FILE_INVALID', `cannot read API key file ${this.path}: ${errorMessage(err)}`, { path: this.path })
    }
    let parsed: z.infer<typeof FileShape>
    try {
      parsed = FileShape.parse(JSON.parse(text))
    } catch {
      throw new ApiKeyError('API_KEYS_FILE_INVALID', `${this.path} is not a valid API key file; restore it from a backup or delete it (every key is then revoked)`, { path: this.path })
    }
    return parsed.keys
  }

  /** Whole or not at all: a temp file beside it, fsync'd, renamed over the old one; 0600. */
  private async writeFile (entries: StoredEntry[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify({ version: FILE_VERSION, keys: entries }, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await rename(tmp, this.path)
    } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    this.checkedAtMs = -Infinity
  }
}

function publicInfo (entry: StoredEntry): ApiKeyInfo {
  return { id: entry.id, label: entry.label, scope: [...entry.scope], createdAt: entry.createdAt, ...(entry.revokedAt === undefined ? {} : { revokedAt: entry.revokedAt }) }
}
