/**
 * The ranges of `harmonyd task submit`'s numeric flags, checked before the wallet is opened, with the bounds of the
 * task-announce kind (src/market/kinds/task.ts): a value out of range is refused naming its flag, not by the
 * encoder (`task-announce payload: redundancy must be 1..5 at byte 149`, `u32 out of range: -5`).
 */
import { ConfigError } from '../core/errors.ts'
import { MAX_DEADLINE_MS, MAX_REDUNDANCY, MAX_WINDOW_MS } from '../market/kinds/ids.ts'

// the announce carries the output limit and the GFLOP/s (in thousandths) as u32 fields, bounded by nothing else
const U32_MAX = 0xffff_ffff
const MAX_MIN_GFLOPS = Math.floor(U32_MAX / 1000)

export interface AnnounceFlags {
  redundancy: number
  k?: number
  verify: string
  'bid-window': number
  'reveal-window': number
  deadline: number
  'output-limit': number
  'min-gflops': number
}

/** Agreeing results needed: `-k`, else all replicas under redundancy verification, else one. */
export function agreeingResults (flags: Pick<AnnounceFlags, 'k' | 'redundancy' | 'verify'>): number {
  return flags.k ?? (flags.verify === 'redundancy' ? flags.redundancy : 1)
}

/** A yargs `.check`: true, or a ConfigError (a usage error: exit code 2) naming the flag and what it takes. */
export function checkAnnounceFlags (flags: AnnounceFlags): true {
  const r = flags.redundancy
  const k = agreeingResults(flags)
  integerIn('--redundancy', r, 1, MAX_REDUNDANCY, `providers, from 1 to ${MAX_REDUNDANCY}`)
  integerIn('-k', k, 1, r, `agreeing results, from 1 to --redundancy (${r})`)
  if (flags.verify === 'none' && (r !== 1 || k !== 1)) {
    refuse(`--verify none runs one replica, so --redundancy and -k must be 1, got ${r} and ${k}; for more replicas use --verify redundancy or --verify spot-check`)
  }
  if (flags.verify === 'redundancy' && (r < 2 || k < 2)) refuse(`--verify redundancy needs --redundancy and -k of at least 2, got ${r} and ${k}`)
  if (flags.verify === 'spot-check' && k !== 1) refuse(`--verify spot-check takes -k 1 (the checker agrees with each winner), got ${k}`)
  integerIn('--bid-window', flags['bid-window'], 1, MAX_WINDOW_MS, `ms, from 1 to ${MAX_WINDOW_MS}`)
  integerIn('--reveal-window', flags['reveal-window'], 1, MAX_WINDOW_MS, `ms, from 1 to ${MAX_WINDOW_MS}`)
  integerIn('--deadline', flags.deadline, 1, MAX_DEADLINE_MS, `ms, from 1 to ${MAX_DEADLINE_MS}`)
  integerIn('--output-limit', flags['output-limit'], 1, U32_MAX, `bytes, from 1 to ${U32_MAX}`)
  const gflops = flags['min-gflops']
  if (!(gflops >= 0 && gflops <= MAX_MIN_GFLOPS)) refuse(`--min-gflops must be a number of GFLOP/s from 0 to ${MAX_MIN_GFLOPS}, got ${gflops}`)
  return true
}

function integerIn (flag: string, value: number, min: number, max: number, takes: string): void {
  if (!Number.isInteger(value) || value < min || value > max) refuse(`${flag} must be a whole number of ${takes}, got ${value}`)
}

function refuse (message: string): never {
  throw new ConfigError('CONFIG_INVALID', message)
}

/** A task id argument: 32 bytes of hex, with or without 0x; lower-case with 0x. */
export function taskIdArg (id: string): string {
  const hex = id.startsWith('0x') ? id : `0x${id}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`not a task id (32 bytes of hex): ${id}`)
  return hex.toLowerCase()
}
