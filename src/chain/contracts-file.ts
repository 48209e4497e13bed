import { rename, writeFile } from 'node:fs/promises'
import { getAddress } from 'ethers'
import { z } from 'zod'
import { readBoundedText } from '../core/bounded-file.ts'
import { ChainError } from './errors.ts'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address').transform((a) => getAddress(a))

/** The contracts file a node reads (`harmonyd start --contracts FILE`); `harmonyd devnet` writes it. */
export const ContractsFileSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  /** JSON-RPC URL of the chain, when known (devnet). `--chain-rpc` overrides it. */
  rpcUrl: z.string().url().optional(),
  agc: address,
  staking: address,
  settlement: address,
  /** Block of the deployment: the deposit watcher starts scanning here. */
  deployBlock: z.number().int().nonnegative()
}).strict()

export type ContractsFile = z.output<typeof ContractsFileSchema>

const MAX_CONTRACTS_FILE_BYTES = 64 * 1024

export function parseContractsFile (text: string, source = 'contracts file'): ContractsFile {
  if (text.length > MAX_CONTRACTS_FILE_BYTES) {
    throw new ChainError('CONTRACTS_FILE_INVALID', `${source} is larger than ${MAX_CONTRACTS_FILE_BYTES} bytes`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ChainError('CONTRACTS_FILE_INVALID', `${source} is not JSON: ${(err as Error).message}`)
  }
  const parsed = ContractsFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ChainError('CONTRACTS_FILE_INVALID', `${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

export async function readContractsFile (path: string): Promise<ContractsFile> {
  let text: string
  try {
    text = await readBoundedText(path, MAX_CONTRACTS_FILE_BYTES)
  } catch (err) {
    throw new ChainError('CONTRACTS_FILE_INVALID', `cannot read contracts file ${path}: ${(err as Error).message}`, { path })
  }
  return parseContractsFile(text, path)
}

/** Writes atomically (temp file + rename) so a reader never sees half a file. */
export async function writeContractsFile (path: string, file: ContractsFile): Promise<void> {
  const checked = ContractsFileSchema.parse(file)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(checked, null, 2)}\n`)
  await rename(tmp, path)
}
