import { mkdir, readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { sha256 } from '@noble/hashes/sha2.js'
import { StartupError, errorMessage } from '../errors.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, generateKeyPair as mldsaKeyPair, sign, verify } from '../crypto.ts'
import { writeSecretFile } from './secret-file.ts'

/** ML-DSA-65 sizes (FIPS 204), shared with the ledger. */
export const MLDSA65_PUBLIC_KEY_BYTES = ML_DSA65_PUBLIC_KEY_BYTES
export const MLDSA65_SIGNATURE_BYTES = ML_DSA65_SIGNATURE_BYTES
const MLDSA_SEED_BYTES = 32

export const KEYS_DIR = 'keys'
export const P2P_KEY_FILE = 'p2p.key'
export const LEDGER_KEY_FILE = 'ledger.key'

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
    return new Uint8Array(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StartupError('DATADIR_UNINITIALIZED', `${what} ${path} is missing; run 'harmonyd init' first`, { path })
    }
    throw new StartupError('KEY_INVALID', `cannot read ${what} ${path}: ${errorMessage(err)}`, { path })
  }
}

/** Creates both keys in `<datadir>/keys`; fails if they exist (a node never silently changes identity). */
export async function createIdentity (datadir: string): Promise<NodeIdentity> {
  const dir = join(datadir, KEYS_DIR)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const p2pKey = await generateKeyPair('Ed25519')
  const ledgerKey = generateLedgerKey()
  await writeSecretFile(join(dir, P2P_KEY_FILE), privateKeyToProtobuf(p2pKey))
  await writeSecretFile(join(dir, LEDGER_KEY_FILE), ledgerKey.seed)
  return { p2pKey, peerId: peerIdFromPrivateKey(p2pKey), ledgerKey }
}

export async function loadIdentity (datadir: string): Promise<NodeIdentity> {
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
  const seed = await readKeyFile(ledgerPath, 'ledger key file')
  if (seed.length !== MLDSA_SEED_BYTES) {
    throw new StartupError('KEY_INVALID', `ledger key file ${ledgerPath} must hold a ${MLDSA_SEED_BYTES}-byte ML-DSA-65 seed, found ${seed.length} bytes`, { path: ledgerPath })
  }
  return { p2pKey, peerId: peerIdFromPrivateKey(p2pKey), ledgerKey: ledgerKeyFromSeed(seed) }
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
