import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino'

export type Logger = PinoLogger
export type LogLevel = LevelWithSilent

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

export interface LoggerInit {
  /** @default 'info' */
  level?: LogLevel
  /** Human-readable output. @default process.stderr.isTTY */
  pretty?: boolean
  /** Fields bound to every line (e.g. the node index in a devnet). */
  base?: Record<string, unknown>
}

/**
 * The root logger. JSON lines on stderr when not on a TTY (machines parse them), pino-pretty on a TTY.
 * Modules take a child: `logger.child({ module: 'dag' })`. Key material is redacted by path as a second guard.
 */
export function createLogger (init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info'
  const pretty = init.pretty ?? process.stderr.isTTY === true
  const options = {
    level,
    base: init.base ?? {},
    redact: { paths: ['privateKey', '*.privateKey', 'secretKey', '*.secretKey', 'seed', '*.seed'], censor: '[redacted]' }
  }
  if (pretty) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l' } }))
  }
  return pino(options, pino.destination({ dest: 2, sync: true }))
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
