/**
 * The amount flags of the commands that sign a transaction (`wallet send|withdraw|deposit`, `task submit|cancel`),
 * read before the wallet is opened and within what the transaction can carry: a value out of range is refused naming
 * its flag (a ConfigError: a usage error, exit code 2), not by the transaction builder after the password prompt.
 */
import { ConfigError } from '../core/errors.ts'
import { parseAgc } from '../dag/wallet.ts'
import { MAX_TX_AMOUNT } from '../dag/tx.ts'
// the bound alone: the kinds' index would load every market kind (and zod) into `harmonyd wallet …`
import { BUDGET_LIMIT } from '../market/kinds/ids.ts'

/** `--fee`: a whole number of base units, 0 to 2^128-1 (a transaction's fee is a u128). */
export function feeFlag (text: string, flag = '--fee'): bigint {
  if (!/^[0-9]{1,39}$/.test(text) || BigInt(text) > MAX_TX_AMOUNT) refuse(`${flag} must be a whole number of base units from 0 to 2^128-1, got ${text}`)
  return BigInt(text)
}

/** `--amount`: AGC above 0 with at most 18 decimals (parseAgc; its largest value fits a u128). */
export function agcFlag (text: string, flag = '--amount'): bigint {
  const amount = orZero(() => parseAgc(text))
  if (amount === 0n) refuse(`${flag} must be an amount of AGC above 0 with at most 18 decimals, e.g. 1.5, got ${text}`)
  return amount
}

/** `--budget`: AGC (0.01) or base units (10000wei), from 1 base unit to 2^120-1 (the task-announce bound). */
export function budgetFlag (text: string, flag = '--budget'): bigint {
  const budget = orZero(() => /^[0-9]{1,37}wei$/.test(text) ? BigInt(text.slice(0, -3)) : parseAgc(text))
  if (budget < 1n || budget >= BUDGET_LIMIT) refuse(`${flag} must be AGC (e.g. 0.01) or base units (e.g. 10000wei) from 1 base unit to 2^120-1, got ${text}`)
  return budget
}

/** What `read` parses, or 0 (refused by the caller) when it throws (parseAgc's DagError). */
function orZero (read: () => bigint): bigint {
  try {
    return read()
  } catch {
    return 0n
  }
}

function refuse (message: string): never {
  throw new ConfigError('CONFIG_INVALID', message)
}
