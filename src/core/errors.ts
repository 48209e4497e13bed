/**
 * Typed errors with a bounded `code` (Lodestar's LodestarError shape). Bounded codes keep metric labels finite
 * and let the RPC layer map errors through one table.
 */
export class HarmonyError<Code extends string = string> extends Error {
  readonly code: Code
  readonly meta: Record<string, unknown>

  constructor (code: Code, message: string, meta: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HarmonyError'
    this.code = code
    this.meta = meta
  }
}

/** Configuration, flags, env or config file refused: names the key and what was expected. */
export class ConfigError extends HarmonyError<'CONFIG_INVALID' | 'CONFIG_UNKNOWN_KEY' | 'CONFIG_UNREADABLE'> {
  constructor (code: ConfigError['code'], message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'ConfigError'
  }
}

/** Fatal start-up problems an operator must act on (datadir in use, port in use, bad key file). */
export class StartupError extends HarmonyError<
  'DATADIR_IN_USE' | 'PORT_IN_USE' | 'KEY_INVALID' | 'DATADIR_UNINITIALIZED' | 'DATADIR_INVALID' | 'RPC_AUTH_REQUIRED'
> {
  constructor (code: StartupError['code'], message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'StartupError'
  }
}

/** Returns a message safe to show to an operator for any thrown value. */
export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/**
 * Bytes that do not decode under the canonical codec (src/core/codec.ts): truncated, overlong, trailing bytes,
 * not hex. The code is the ledger's own `ENCODING_INVALID` (DagErrorCode), so a gossip validator or the RPC
 * error table that maps by code treats it exactly as the ledger's refusals.
 */
export class CodecError extends HarmonyError<'ENCODING_INVALID'> {
  constructor (message: string, meta: Record<string, unknown> = {}) {
    super('ENCODING_INVALID', message, meta)
    this.name = 'CodecError'
  }
}

/** A `hmy1…` account address refused (src/core/address.ts); the ledger's `ADDRESS_INVALID` code. */
export class AddressError extends HarmonyError<'ADDRESS_INVALID'> {
  constructor (message: string, meta: Record<string, unknown> = {}) {
    super('ADDRESS_INVALID', message, meta)
    this.name = 'AddressError'
  }
}

/**
 * A key file that cannot be read, is malformed, or already exists where a new one was asked for
 * (src/core/keys). `KEY_FILE_INVALID` is the wallet files' code (shared with DagErrorCode), `EVM_KEY_INVALID` the
 * EVM key's (shared with ChainErrorCode).
 */
export class KeyFileError extends HarmonyError<'KEY_FILE_INVALID' | 'EVM_KEY_INVALID'> {
  constructor (code: KeyFileError['code'], message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'KeyFileError'
  }
}
