/** What the wallet commands share: the wallet file path and flags, unlocking it, and waiting for a transaction. */
import { join } from 'node:path'
import type { Argv } from 'yargs'
import type { WalletFile } from '../core/keys/keystore.ts'
import { formatAgc } from '../dag/wallet.ts'
import { resolveDatadir } from '../node/datadir.ts'
import type { HarmonyClient } from '../sdk/client.ts'
import { type TxStatus, waitForTransaction, type WaitForTransactionOptions } from '../sdk/transactions.ts'
import { rpcOption, type RpcArgs } from './common.ts'
import { passwordFileOption, requirePassword, type PasswordArgs } from './password.ts'

export interface WalletArgs extends RpcArgs, PasswordArgs {
  wallet?: string
}

/** The ML-DSA-65 key a transaction is signed with, here in the CLI process: it never travels to a node. */
export interface SigningKey {
  address: string
  publicKey: Uint8Array
  secretKey: Uint8Array
}

const WAIT_TIMEOUT_MS = 120_000

export function walletPath (args: WalletArgs): string {
  return args.wallet ?? join(resolveDatadir(args.datadir), 'wallet.json')
}

export const walletOption = { type: 'string', describe: 'wallet file (default <datadir>/wallet.json)' } as const

export function walletOptions<T> (y: Argv<T>): Argv<T & WalletArgs> {
  return y
    .option('wallet', walletOption)
    .option('password-file', passwordFileOption)
    .option('rpc', rpcOption) as Argv<T & WalletArgs>
}

/**
 * Reads the wallet file. A plain one (written before keystores) still works, with a warning on stderr: the devnet's
 * throwaway faucet wallets are plain by design, and refusing them would strand funds until a migration.
 */
export async function openWallet (args: WalletArgs): Promise<WalletFile> {
  // the keystore (scrypt, its schema) is loaded when a wallet is opened, not by every command that offers --wallet
  const { readWalletFile } = await import('../core/keys/keystore.ts')
  const wallet = await readWalletFile(walletPath(args))
  if (wallet.kind === 'plain') {
    process.stderr.write(`warning: wallet ${wallet.path} holds its seed in plain text; encrypt it with 'harmonyd wallet migrate --wallet ${wallet.path}'\n`)
  }
  return wallet
}

/** The wallet's address: readable without the password. */
export async function walletAddress (args: WalletArgs): Promise<string> {
  return (await openWallet(args)).address
}

/** The wallet's signing key, unlocked with the password from --password-file or a prompt. */
export async function walletSigningKey (args: WalletArgs): Promise<SigningKey> {
  const wallet = await openWallet(args)
  const password = wallet.kind === 'keystore' ? await requirePassword(args, `wallet ${wallet.path}`) : undefined
  const { unlockWalletFile } = await import('../core/keys/keystore.ts')
  const keys = await unlockWalletFile(wallet, password)
  return { address: keys.address, publicKey: keys.mldsa.publicKey, secretKey: keys.mldsa.secretKey }
}

/** An amount for a person: AGC and base units, e.g. `2.5 AGC (2500000000000000000 base units)`. */
export function agcText (base: bigint): string {
  return `${formatAgc(base)} AGC (${base} base units)`
}

/**
 * Follows the transaction until it is decided, sending it again (`resend`: the signed hex, or it and how to send it) while
 * the node does not know it (sdk/transactions.ts: a node's mempool dies with its process).
 */
export async function waitForTx (client: HarmonyClient, id: string, resend: string | ResendOptions, timeoutMs = WAIT_TIMEOUT_MS): Promise<TxStatus> {
  return await waitForTransaction(client, id, { ...(typeof resend === 'string' ? { resend } : resend), timeoutMs })
}

/** The signed transaction, and how to send it again when that is not `account_sendTransaction`. */
export type ResendOptions = Pick<WaitForTransactionOptions, 'resend' | 'sendWith'>
