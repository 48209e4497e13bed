import { mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { sha256 } from '@noble/hashes/sha2.js'
import { StartupError, errorMessage } from '../errors.ts'
import { readBoundedFile } from '../bounded-file.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, generateKeyPair as mldsaKeyPair, sign, verify } from '../crypto.ts'
import { KEYS_DIR, LEDGER_KEY_FILE, P2P_KEY_FILE } from './files.ts'
import { writeSecretFile } from './secret-file.ts'
import { KeystoreError, decryptSeed, encryptSeed, parseKeystore, serializeKeystore, type KeystoreOptions } from './keystore.ts'

/** ML-DSA-65 sizes (FIPS 204), shared with the ledger. */
export const MLDSA65_PUBLIC_KEY_BYTES = ML_DSA65_PUBLIC_KEY_BYTES
export const MLDSA65_SIGNATURE_BYTES = ML_DSA65_SIGNATURE_BYTES
const MLDSA_SEED_BYTES = 32
// a ledger key is a 32-byte seed or a keystore (bounded at 64 KiB there); a p2p key is ~70 bytes of protobuf
const MAX_KEY_FILE_BYTES = 64 * 1024


/** Domain separation for the peer-id binding so the signature can never be replayed as a ledger signature. */
const BINDING_DOMAIN = new TextEncoder().encode('harmony/peer-binding/v1\0')

export interface LedgerKey {
  /** 32-byte seed the key pair is derived from (FIPS 204 ML-DSA.KeyGen_internal). Never logged. */
  seed: Uint8Array
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/** The node's two keys: libp2p transport identity (Ed25519) and ledger identity (ML-DSA-65). */
export interface NodeIdentity {
  p2pKey: PrivateKey
  peerId: PeerId
  ledgerKey: LedgerKey
}

export function ledgerKeyFromSeed (seed: Uint8Array): LedgerKey {
  if (seed.length !== MLDSA_SEED_BYTES) throw new Error(`ML-DSA seed must be ${MLDSA_SEED_BYTES} bytes`)
  const { publicKey, secretKey } = mldsaKeyPair(seed)
  return { seed, publicKey, secretKey }
}

export function generateLedgerKey (): LedgerKey {
  return ledgerKeyFromSeed(new Uint8Array(randomBytes(MLDSA_SEED_BYTES)))
}

async function readKeyFile (path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readBoundedFile(path, MAX_KEY_FILE_BYTES))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StartupError('DATADIR_UNINITIALIZED', `${what} ${path} is missing; run 'harmonyd init' first`, { path })
    }
    throw new StartupError('KEY_INVALID', `cannot read ${what} ${path}: ${errorMessage(err)}`, { path })
  }
}

export interface IdentityOptions extends KeystoreOptions {
  /**
   * Password of the ledger key. createIdentity: when given, `ledger.key` is written as an encrypted keystore
   * (docs/keystore.md) instead of the raw seed. loadIdentity: opens an encrypted `ledger.key`. The Ed25519 p2p key
   * stays plain: it only names the transport, and the ledger key signs the binding that makes it count.
   * @default undefined (plain seed)
   */
  password?: string
}

/** Creates both keys in `<datadir>/keys`; fails if they exist (a node never silently changes identity). */
export async function createIdentity (datadir: string, options: IdentityOptions = {}): Promise<NodeIdentity> {
  const dir = join(datadir, KEYS_DIR)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const p2pKey = await generateKeyPair('Ed25519')
  const ledgerKey = generateLedgerKey()
  // encrypt first: a refused password leaves no half-created identity behind
  const ledgerFile = options.password === undefined ? ledgerKey.seed : serializeKeystore(await encryptSeed(ledgerKey.seed, options.password, options))
  await writeSecretFile(join(dir, P2P_KEY_FILE), privateKeyToProtobuf(p2pKey))
  await writeSecretFile(join(dir, LEDGER_KEY_FILE), ledgerFile)
  return { p2pKey, peerId: peerIdFromPrivateKey(p2pKey), ledgerKey }
}

/** True when the datadir's ledger key is an encrypted keystore (so loadIdentity needs a password). */
export async function isLedgerKeyEncrypted (datadir: string): Promise<boolean> {
  const bytes = await readKeyFile(join(datadir, KEYS_DIR, LEDGER_KEY_FILE), 'ledger key file')
  return bytes.length !== MLDSA_SEED_BYTES
}

export async function loadIdentity (datadir: string, options: IdentityOptions = {}): Promise<NodeIdentity> {
  const dir = join(datadir, KEYS_DIR)
  const p2pPath = join(dir, P2P_KEY_FILE)
  const ledgerPath = join(dir, LEDGER_KEY_FILE)
  let p2pKey: PrivateKey
  try {
    p2pKey = privateKeyFromProtobuf(await readKeyFile(p2pPath, 'p2p key file'))
  } catch (err) {
    if (err instanceof StartupError) throw err
    throw new StartupError('KEY_INVALID', `p2p key file ${p2pPath} is not a libp2p private key: ${errorMessage(err)}`, { path: p2pPath })
  }
  if (p2pKey.type !== 'Ed25519') {
    throw new StartupError('KEY_INVALID', `p2p key file ${p2pPath} holds a ${p2pKey.type} key; harmonyd uses Ed25519`, { path: p2pPath })
  }
  const seed = await ledgerSeed(ledgerPath, options.password)
  return { p2pKey, peerId: peerIdFromPrivateKey(p2pKey), ledgerKey: ledgerKeyFromSeed(seed) }
}

/** The ledger seed: the file itself (32 bytes, plain) or the seed in the keystore it holds. */
async function ledgerSeed (path: string, password: string | undefined): Promise<Uint8Array> {
  const bytes = await readKeyFile(path, 'ledger key file')
  if (bytes.length === MLDSA_SEED_BYTES) return bytes
  let file
  try {
    file = parseKeystore(Buffer.from(bytes).toString('utf8'), `ledger key file ${path}`)
  } catch (err) {
    throw new StartupError('KEY_INVALID', `ledger key file ${path} is neither a ${MLDSA_SEED_BYTES}-byte ML-DSA-65 seed nor a keystore: ${errorMessage(err)}`, { path })
  }
  if (password === undefined) {
    throw new KeystoreError('KEYSTORE_LOCKED', `the ledger key ${path} is encrypted; start with --password-file FILE (a 0600 file holding its password), or on a terminal to be asked`, { path })
  }
  return decryptSeed(file, password, `ledger key file ${path}`)
}

/** The message an ML-DSA key signs to claim a libp2p peer id. */
export function bindingMessage (peerId: PeerId): Uint8Array {
  const id = peerId.toMultihash().bytes
  const out = new Uint8Array(BINDING_DOMAIN.length + id.length)
  out.set(BINDING_DOMAIN)
  out.set(id, BINDING_DOMAIN.length)
  return out
}

export interface PeerBinding {
  ledgerPublicKey: Uint8Array
  signature: Uint8Array
}

export function signBinding (identity: NodeIdentity): PeerBinding {
  return {
    ledgerPublicKey: identity.ledgerKey.publicKey,
    signature: sign(bindingMessage(identity.peerId), identity.ledgerKey.secretKey)
  }
}

/** True only if `binding` is a valid ML-DSA-65 signature by its key over `peerId`. Never throws on bad input. */
export function verifyBinding (peerId: PeerId, binding: PeerBinding): boolean {
  // node:crypto when the runtime has ML-DSA, noble otherwise; checks sizes and never throws
  return verify(binding.signature, bindingMessage(peerId), binding.ledgerPublicKey)
}

/** A short, non-secret fingerprint of the ledger public key for logs and node_info. */
export function ledgerKeyFingerprint (publicKey: Uint8Array): string {
  return Buffer.from(sha256(publicKey).subarray(0, 8)).toString('hex')
}
