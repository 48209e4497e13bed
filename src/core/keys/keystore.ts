import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { z } from 'zod'
import { fromHex, toHex } from '../codec.ts'
import { sha256 } from '../crypto.ts'
import { errorMessage } from '../errors.ts'
import { readBoundedFile } from '../bounded-file.ts'
import { isSecretFileExists, replaceSecretFile, writeSecretFile } from './secret-file.ts'
import { KeystoreError } from './keystore-error.ts'
import { SEED_BYTES, keysFromSeed, phraseFromSeed, type WalletKeys } from './seed-keys.ts'

/**
 * Encrypted keystore files (format: docs/keystore.md). The file holds one 32-byte seed, encrypted with
 * AES-256-GCM under a key stretched from the password by scrypt; every key of the wallet derives from the seed
 * (seed-keys.ts). The address and the ML-KEM-768 public key stay readable without the password (so `wallet
 * address`, `wallet balance` and a provider's advertised encryption key need no unlock) and are bound to the
 * ciphertext as AES-GCM additional data, so altering them is detected.
 */
export const KEYSTORE_VERSION = 2
export const KEYSTORE_TYPE = 'harmony-keystore'
export const KEYSTORE_CIPHER = 'aes-256-gcm'

export interface ScryptParams {
  /** CPU/memory cost, a power of two. @default 131072 (2^17) */
  n: number
  /** block size. @default 8 */
  r: number
  /** parallelism. @default 1 */
  p: number
}

// 2^17 × 8: 128 MiB and ~0.7 s per unlock on the 2-core machines here (2^18, geth's "standard", took 1.3 s)
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ n: 1 << 17, r: 8, p: 1 })
// Bounds on the params read from a file: a crafted file must not make an unlock allocate GiBs or run for hours.
// The floor (2^10) is what tests use through an explicit option; nothing writes less.
const MIN_SCRYPT_N = 1 << 10
const MAX_SCRYPT_N = 1 << 20
const MAX_SCRYPT_R = 32
const MAX_SCRYPT_P = 16
const MAX_SCRYPT_MEMORY_BYTES = 1024 * 1024 * 1024
const MAX_KEYSTORE_FILE_BYTES = 64 * 1024
// scrypt output: 32 bytes of AES key, then 32 bytes whose hash is the password check
const DERIVED_KEY_BYTES = 64
const SALT_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const CHECK_TAG = new TextEncoder().encode('harmony/keystore/password-check/v1')
/** A new password is at least this long; an existing file opens with any password. */
export const MIN_PASSWORD_CHARS = 8

export { KeystoreError, type KeystoreErrorCode } from './keystore-error.ts'

const hex = (bytes: number): z.ZodString => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`))

const keystoreSchema = z.strictObject({
  version: z.literal(KEYSTORE_VERSION),
  type: z.literal(KEYSTORE_TYPE),
  address: z.string().regex(/^hmy1[0-9a-f]{48}$/),
  mlkemPublicKey: hex(1184),
  crypto: z.strictObject({
    kdf: z.literal('scrypt'),
    kdfparams: z.strictObject({
      n: z.number().int().min(MIN_SCRYPT_N).max(MAX_SCRYPT_N).refine(n => (n & (n - 1)) === 0, 'a power of two'),
      r: z.number().int().min(1).max(MAX_SCRYPT_R),
      p: z.number().int().min(1).max(MAX_SCRYPT_P),
      salt: hex(SALT_BYTES)
    }).refine(k => 128 * k.n * k.r <= MAX_SCRYPT_MEMORY_BYTES, 'scrypt memory (128·n·r) over 1 GiB'),
    cipher: z.literal(KEYSTORE_CIPHER),
    iv: hex(IV_BYTES),
    ciphertext: hex(SEED_BYTES),
    tag: hex(TAG_BYTES),
    check: hex(32)
  })
})

/** A parsed keystore file (version 2). */
export type KeystoreFile = z.infer<typeof keystoreSchema>

export interface KeystoreOptions {
  /** scrypt cost of a file written now; lower only in tests (n ≥ 1024). @default DEFAULT_SCRYPT */
  scrypt?: Partial<ScryptParams>
}

function scrypt (password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  // maxmem: node refuses above 32 MiB by default; the params were bounded (≤ 1 GiB) before we get here
  const options: ScryptOptions = { N: params.n, r: params.r, p: params.p, maxmem: 2 * 128 * params.n * params.r + 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFKC'), salt, DERIVED_KEY_BYTES, options, (err, key) => {
      if (err !== null) reject(err)
      else resolve(new Uint8Array(key))
    })
  })
}

/** Additional data of the AES-GCM encryption: every clear field of the file, in a fixed order (docs/keystore.md). */
function additionalData (f: Pick<KeystoreFile, 'address' | 'mlkemPublicKey'> & { kdfparams: KeystoreFile['crypto']['kdfparams'] }): Uint8Array {
  const k = f.kdfparams
  return new TextEncoder().encode(JSON.stringify([KEYSTORE_TYPE, KEYSTORE_VERSION, f.address, f.mlkemPublicKey, 'scrypt', k.n, k.r, k.p, k.salt, KEYSTORE_CIPHER]))
}

function passwordCheck (derived: Uint8Array): string {
  return toHex(sha256(CHECK_TAG, derived.subarray(32, 64)))
}

function scryptParams (options: KeystoreOptions): ScryptParams {
  const params = { ...DEFAULT_SCRYPT, ...options.scrypt }
  const { n, r, p } = params
  if (!Number.isInteger(n) || n < MIN_SCRYPT_N || n > MAX_SCRYPT_N || (n & (n - 1)) !== 0 || !Number.isInteger(r) || r < 1 || r > MAX_SCRYPT_R ||
    !Number.isInteger(p) || p < 1 || p > MAX_SCRYPT_P || 128 * n * r > MAX_SCRYPT_MEMORY_BYTES) {
    throw new RangeError(`scrypt params out of bounds: n a power of two in [${MIN_SCRYPT_N}, ${MAX_SCRYPT_N}], r ≤ ${MAX_SCRYPT_R}, p ≤ ${MAX_SCRYPT_P}, 128·n·r ≤ 1 GiB`)
  }
  return params
}

function checkNewPassword (password: string): void {
  if (password.length < MIN_PASSWORD_CHARS) {
    throw new KeystoreError('PASSWORD_TOO_SHORT', `a keystore password has at least ${MIN_PASSWORD_CHARS} characters; choose a longer one (a passphrase of a few words is easy to remember)`)
  }
}

/** Encrypts `seed` under `password` into a version 2 keystore (a fresh salt and IV every time). */
export async function encryptSeed (seed: Uint8Array, password: string, options: KeystoreOptions = {}): Promise<KeystoreFile> {
  checkNewPassword(password)
  const keys = keysFromSeed(seed)
  const params = scryptParams(options)
  const kdfparams = { ...params, salt: toHex(randomBytes(SALT_BYTES)) }
  const derived = await scrypt(password, fromHex(kdfparams.salt), params)
  const iv = randomBytes(IV_BYTES)
  const clear = { address: keys.address, mlkemPublicKey: toHex(keys.mlkem.publicKey) }
  const cipher = createCipheriv(KEYSTORE_CIPHER, derived.subarray(0, 32), iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(additionalData({ ...clear, kdfparams }))
  const ciphertext = Buffer.concat([cipher.update(seed), cipher.final()])
  const file: KeystoreFile = {
    version: KEYSTORE_VERSION,
    type: KEYSTORE_TYPE,
    ...clear,
    crypto: { kdf: 'scrypt', kdfparams, cipher: KEYSTORE_CIPHER, iv: toHex(iv), ciphertext: toHex(ciphertext), tag: toHex(cipher.getAuthTag()), check: passwordCheck(derived) }
  }
  derived.fill(0)
  return file
}

/**
 * The seed in a keystore. Throws KEYSTORE_PASSWORD_WRONG when the password does not open it (also when the scrypt
 * params were altered: the check cannot tell the two apart) and KEYSTORE_CORRUPT when the password is right but
 * the ciphertext, tag, address or ML-KEM key was altered or damaged.
 */
export async function decryptSeed (file: KeystoreFile, password: string, path = 'keystore'): Promise<Uint8Array> {
  const { kdfparams } = file.crypto
  const derived = await scrypt(password, fromHex(kdfparams.salt), kdfparams)
  try {
    if (!timingSafeEqual(fromHex(passwordCheck(derived)), fromHex(file.crypto.check))) {
      throw new KeystoreError('KEYSTORE_PASSWORD_WRONG', `wrong password for ${path}; try again, or restore the wallet from its recovery phrase with 'harmonyd wallet import'`, { path })
    }
    const decipher = createDecipheriv(KEYSTORE_CIPHER, derived.subarray(0, 32), fromHex(file.crypto.iv), { authTagLength: TAG_BYTES })
    decipher.setAAD(additionalData({ address: file.address, mlkemPublicKey: file.mlkemPublicKey, kdfparams }))
    decipher.setAuthTag(fromHex(file.crypto.tag))
    let seed: Uint8Array
    try {
      seed = new Uint8Array(Buffer.concat([decipher.update(fromHex(file.crypto.ciphertext)), decipher.final()]))
    } catch {
      throw corrupt(path, 'its ciphertext fails authentication')
    }
    const keys = keysFromSeed(seed)
    if (keys.address !== file.address || toHex(keys.mlkem.publicKey) !== file.mlkemPublicKey) throw corrupt(path, 'its keys do not match its address')
    return seed
  } finally {
    derived.fill(0)
  }
}

function corrupt (path: string, why: string): KeystoreError {
  return new KeystoreError('KEYSTORE_CORRUPT', `${path} was altered or damaged (${why}); restore it from a backup, or from the recovery phrase with 'harmonyd wallet import'`, { path })
}

/** Parses a keystore's JSON text; throws KEYSTORE_INVALID naming the first bad field. */
export function parseKeystore (text: string, path = 'keystore'): KeystoreFile {
  let json: unknown
  try { json = JSON.parse(text) } catch (err) {
    throw new KeystoreError('KEYSTORE_INVALID', `${path} is not JSON: ${errorMessage(err)}`, { path })
  }
  const parsed = keystoreSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new KeystoreError('KEYSTORE_INVALID', `${path} is not a version ${KEYSTORE_VERSION} Harmony keystore: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { path })
  }
  return parsed.data
}

export function serializeKeystore (file: KeystoreFile): string {
  return `${JSON.stringify(file, null, 2)}\n`
}

/**
 * What a wallet path holds: an encrypted keystore, or a plain seed written before keystores existed (a version 1
 * wallet JSON `{version: 1, type: "ml-dsa-65", seed}`, or a node's raw 32-byte `ledger.key`).
 */
export type WalletFile =
  | { kind: 'keystore', path: string, address: string, file: KeystoreFile }
  | { kind: 'plain', path: string, address: string, seed: Uint8Array }

/** Reads a wallet file of either kind; throws KEYSTORE_INVALID saying what is wrong. */
export async function readWalletFile (path: string): Promise<WalletFile> {
  let bytes: Buffer
  try {
    bytes = await readBoundedFile(path, MAX_KEYSTORE_FILE_BYTES)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    throw new KeystoreError('KEYSTORE_INVALID', missing ? `no wallet file at ${path}; create one with 'harmonyd wallet new' or restore one with 'harmonyd wallet import'` : `cannot read wallet file ${path}: ${errorMessage(err)}`, { path })
  }
  // a JSON keystore is never 32 bytes long, so the length tells a raw ledger.key seed apart
  if (bytes.length === SEED_BYTES) {
    const seed = new Uint8Array(bytes)
    return { kind: 'plain', path, address: keysFromSeed(seed).address, seed }
  }
  const text = bytes.toString('utf8')
  const plain = plainWalletSeed(text)
  if (plain !== undefined) return { kind: 'plain', path, address: keysFromSeed(plain).address, seed: plain }
  const file = parseKeystore(text, path)
  return { kind: 'keystore', path, address: file.address, file }
}

function plainWalletSeed (text: string): Uint8Array | undefined {
  let o: { version?: unknown, type?: unknown, seed?: unknown }
  try { o = JSON.parse(text) as typeof o } catch { return undefined }
  if (o === null || typeof o !== 'object' || o.version !== 1) return undefined
  if (o.type !== 'ml-dsa-65' || typeof o.seed !== 'string' || !/^[0-9a-f]{64}$/.test(o.seed)) return undefined
  return fromHex(o.seed)
}

/** The keys of a wallet file already read: a plain one as it is, a keystore after `password` opens it. */
export async function unlockWalletFile (wallet: WalletFile, password: string | undefined): Promise<WalletKeys> {
  if (wallet.kind === 'plain') return keysFromSeed(wallet.seed)
  if (password === undefined) {
    throw new KeystoreError('KEYSTORE_LOCKED', `${wallet.path} is encrypted; unlock it with --password-file FILE, or run on a terminal to be asked for the password`, { path: wallet.path })
  }
  return keysFromSeed(await decryptSeed(wallet.file, password, wallet.path))
}

/** Opens the keystore at `path` with `password`: the API the market and the CLI use to get a wallet's keys. */
export async function loadKeystore (path: string, password: string): Promise<WalletKeys> {
  const wallet = await readWalletFile(path)
  if (wallet.kind === 'plain') {
    throw new KeystoreError('KEYSTORE_INVALID', `${path} holds its seed in plain text; encrypt it with 'harmonyd wallet migrate --wallet ${path}'`, { path })
  }
  return unlockWalletFile(wallet, password)
}

export interface CreatedKeystore {
  keys: WalletKeys
  /** The 24-word recovery phrase: show it once, never store it. */
  phrase: string
}

/**
 * Writes a new keystore at `path` (mode 0600, never replacing a file there: KEYSTORE_EXISTS) for `seed`, or for a
 * fresh random seed.
 */
export async function createKeystore (path: string, password: string, options: KeystoreOptions & { seed?: Uint8Array } = {}): Promise<CreatedKeystore> {
  const seed = options.seed ?? new Uint8Array(randomBytes(SEED_BYTES))
  const file = await encryptSeed(seed, password, options)
  try {
    await writeSecretFile(path, serializeKeystore(file))
  } catch (err) {
    if (isSecretFileExists(err)) throw new KeystoreError('KEYSTORE_EXISTS', `${path} already exists and is never overwritten; pick another --wallet path`, { path })
    throw err
  }
  return { keys: keysFromSeed(seed), phrase: phraseFromSeed(seed) }
}

/** Re-encrypts the keystore at `path` under a new password (new salt and IV); the keys and address stay. */
export async function changeKeystorePassword (path: string, oldPassword: string, newPassword: string, options: KeystoreOptions = {}): Promise<WalletKeys> {
  checkNewPassword(newPassword)
  const wallet = await readWalletFile(path)
  if (wallet.kind === 'plain') {
    throw new KeystoreError('KEYSTORE_INVALID', `${path} holds its seed in plain text and has no password yet; encrypt it with 'harmonyd wallet migrate --wallet ${path}'`, { path })
  }
  const seed = await decryptSeed(wallet.file, oldPassword, path)
  return rewrite(path, seed, newPassword, options)
}

/**
 * Encrypts a plain wallet file (version 1 JSON, or a raw 32-byte ledger.key) in place under `password`; the seed,
 * so the address, stays. The encrypted file is checked to open before it replaces the plain one.
 */
export async function migratePlainWallet (path: string, password: string, options: KeystoreOptions = {}): Promise<WalletKeys> {
  checkNewPassword(password)
  const wallet = await readWalletFile(path)
  if (wallet.kind === 'keystore') {
    throw new KeystoreError('KEYSTORE_ALREADY_ENCRYPTED', `${path} is already encrypted; to change its password run 'harmonyd wallet change-password --wallet ${path}'`, { path })
  }
  return rewrite(path, wallet.seed, password, options)
}

async function rewrite (path: string, seed: Uint8Array, password: string, options: KeystoreOptions): Promise<WalletKeys> {
  const file = await encryptSeed(seed, password, options)
  const reopened = await decryptSeed(parseKeystore(serializeKeystore(file), path), password, path)
  if (!timingSafeEqual(reopened, seed)) throw new Error(`re-encrypting ${path} did not round-trip; the file was left as it was`)
  await replaceSecretFile(path, serializeKeystore(file))
  return keysFromSeed(seed)
}
