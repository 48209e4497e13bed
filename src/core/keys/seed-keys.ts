import { hkdfSync } from 'node:crypto'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { addressFromPublicKey } from '../address.ts'
import { generateKeyPair } from '../crypto.ts'
import { HarmonyError } from '../errors.ts'

/**
 * One 32-byte seed, every key of a wallet (docs/keystore.md, "From seed to keys"):
 * - ML-DSA-65 (FIPS 204): `ML-DSA.KeyGen_internal(seed)`, the seed itself. The plain wallet files and the node's
 *   `ledger.key` always held exactly this seed, so a migrated wallet keeps its address.
 * - ML-KEM-768 (FIPS 203): `ML-KEM.KeyGen_internal(d || z)` with the 64 bytes `d || z` =
 *   HKDF-SHA256(ikm = seed, salt = empty, info = "harmony/ml-kem-768/v1"): a separate, domain-separated key, so
 *   the encryption key reveals nothing about the signing key.
 * - The recovery phrase: the seed as BIP-39 entropy, 24 English words. The BIP-39 PBKDF2 "seed" is not used: the
 *   words encode our seed directly, so the phrase restores exactly the keys (and address) of the wallet.
 */
export const SEED_BYTES = 32
const MLKEM_INFO = 'harmony/ml-kem-768/v1'
const MLKEM_SEED_BYTES = 64

export interface MldsaKeys {
  /** 1,952 bytes */
  publicKey: Uint8Array
  /** 4,032 bytes (noble's expanded form; node:crypto signs with it too) */
  secretKey: Uint8Array
}

export interface MlkemKeys {
  /** 1,184 bytes: what a requester encrypts private task payloads to */
  publicKey: Uint8Array
  /** 2,400 bytes */
  secretKey: Uint8Array
}

/** Every key a wallet (or a node's ledger identity) holds, derived from its seed. */
export interface WalletKeys {
  /** `hmy1…` address of the ML-DSA-65 public key */
  address: string
  mldsa: MldsaKeys
  mlkem: MlkemKeys
}

/** A recovery phrase refused: not BIP-39 English words, a bad checksum, or the wrong length. */
export class PhraseError extends HarmonyError<'PHRASE_INVALID'> {
  constructor (message: string) {
    super('PHRASE_INVALID', message)
    this.name = 'PhraseError'
  }
}

/** The raw derivation: seed → ML-DSA-65 and ML-KEM-768 key pairs and the address. Throws on a seed not 32 bytes. */
export function keysFromSeed (seed: Uint8Array): WalletKeys {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new RangeError(`a wallet seed is ${SEED_BYTES} bytes`)
  const mldsa = generateKeyPair(seed)
  const kemSeed = new Uint8Array(hkdfSync('sha256', seed, new Uint8Array(0), MLKEM_INFO, MLKEM_SEED_BYTES))
  const mlkem = ml_kem768.keygen(kemSeed)
  kemSeed.fill(0)
  return { address: addressFromPublicKey(mldsa.publicKey), mldsa, mlkem: { publicKey: mlkem.publicKey, secretKey: mlkem.secretKey } }
}

/** The 24-word BIP-39 (English) phrase encoding `seed`. */
export function phraseFromSeed (seed: Uint8Array): string {
  if (seed.length !== SEED_BYTES) throw new RangeError(`a wallet seed is ${SEED_BYTES} bytes`)
  return entropyToMnemonic(seed, wordlist)
}

/**
 * The seed a recovery phrase encodes. Accepts any spacing and case; refuses (PHRASE_INVALID) words outside the
 * list, a bad checksum, or a phrase that is not 24 words (a 12-word phrase encodes 16 bytes, too few for a seed).
 */
export function seedFromPhrase (phrase: string): Uint8Array {
  const normalized = phrase.trim().toLowerCase().split(/\s+/).join(' ')
  const words = normalized === '' ? 0 : normalized.split(' ').length
  if (words !== 24) throw new PhraseError(`a Harmony recovery phrase is 24 words; this one has ${words}`)
  const unknown = normalized.split(' ').filter(w => !wordlist.includes(w))
  if (unknown.length > 0) throw new PhraseError(`${unknown.length} word(s) of the phrase are not BIP-39 English words (word ${normalized.split(' ').indexOf(unknown[0]) + 1} is one); check the spelling`)
  if (!validateMnemonic(normalized, wordlist)) throw new PhraseError('the recovery phrase checksum does not match: a word is wrong or out of order')
  return mnemonicToEntropy(normalized, wordlist)
}
