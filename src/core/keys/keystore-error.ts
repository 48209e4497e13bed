/**
 * The keystore's typed refusals, apart from its code (keystore.ts: scrypt, the file's schema), so that the CLI's
 * password handling can throw them without loading it.
 */
import { HarmonyError } from '../errors.ts'

export type KeystoreErrorCode =
  | 'KEYSTORE_PASSWORD_WRONG'
  | 'KEYSTORE_CORRUPT'
  | 'KEYSTORE_INVALID'
  | 'KEYSTORE_LOCKED'
  | 'KEYSTORE_EXISTS'
  | 'KEYSTORE_ALREADY_ENCRYPTED'
  | 'PASSWORD_TOO_SHORT'
  | 'PASSWORD_FILE_INVALID'
  | 'PHRASE_FILE_INVALID'

/** A keystore refused, with what the person can do about it in the message. */
export class KeystoreError extends HarmonyError<KeystoreErrorCode> {
  constructor (code: KeystoreErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'KeystoreError'
  }
}
