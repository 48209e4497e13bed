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
  'DATADIR_IN_USE' | 'PORT_IN_USE' | 'KEY_INVALID' | 'DATADIR_UNINITIALIZED' | 'DATADIR_INVALID'
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
