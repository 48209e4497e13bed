/**
 * Where the CLI gets a keystore password: a file (`--password-file F`, or the env `HARMONY_PASSWORD_FILE` naming
 * one), else a prompt without echo when stdin is a terminal. Never from argv (visible in `ps` and shell history)
 * nor from an environment variable holding the password itself (inherited by every child, kept in /proc and CI
 * logs): geth and ethdo made the same choice. Decided in docs/keystore.md.
 */
import { stat } from 'node:fs/promises'
import { read } from 'read'
import { readBoundedText } from '../core/bounded-file.ts'
import { errorMessage } from '../core/errors.ts'
import { KeystoreError } from '../core/keys/keystore-error.ts'

export interface PasswordArgs {
  'password-file'?: string
}

// a password file is one line; anything larger is the wrong file
const MAX_PASSWORD_FILE_BYTES = 4096
// a person gets this long to type a password before the prompt gives up (no hung scripts)
const PROMPT_TIMEOUT_MS = 5 * 60_000
// a password file that is a pipe (`<(pass show x)`, a FIFO) gets as long as a prompt to give its line (its writer may
// itself be asking a person, as gpg does): a named pipe that no one writes to blocks its reader for ever (the open
// itself waits for a writer), which hung `start` with no word
const PIPE_WAIT_MS = PROMPT_TIMEOUT_MS

export const passwordFileOption = {
  type: 'string',
  describe: 'file whose first line is the keystore password (never pass a password on the command line) [env HARMONY_PASSWORD_FILE]'
} as const

/**
 * The first line of a password file, without its line ending (LF or CRLF) or a leading byte-order mark; spaces are
 * part of the password. Refuses (PASSWORD_FILE_INVALID) a missing, empty, oversized or non-UTF-8 file: bytes that
 * are not UTF-8 would all read as U+FFFD, so different passwords would open the same keystore.
 */
export async function readPasswordFile (path: string, pipeWaitMs = PIPE_WAIT_MS): Promise<string> {
  let text: string
  try {
    text = await readSecretText(path, MAX_PASSWORD_FILE_BYTES, pipeWaitMs)
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)
    throw new KeystoreError('PASSWORD_FILE_INVALID', `cannot read password file ${path}: ${why}; its first line is the password`, { path })
  }
  // a password others can read protects nothing: say so, but do not refuse (the operator may know better)
  // (a file gone since, or a pipe's path already closed, has no mode to warn about)
  const mode = (await stat(path).catch(() => undefined))?.mode ?? 0
  if ((mode & 0o077) !== 0) process.stderr.write(`warning: password file ${path} is readable by other users; chmod 600 it\n`)
  const line = text.split(/\r?\n/, 1)[0]
  if (line.length === 0) throw new KeystoreError('PASSWORD_FILE_INVALID', `password file ${path} is empty; its first line is the password`, { path })
  return line
}

/**
 * The text of a file holding a secret (a password, a recovery phrase), bounded as readBoundedText. A regular file is
 * read at once; a pipe or device that gives nothing to read within `waitMs` is refused.
 */
export async function readSecretText (path: string, maxBytes: number, waitMs = PIPE_WAIT_MS): Promise<string> {
  // stat does not wait for a writer, as opening a FIFO does
  if ((await stat(path)).isFile()) return await readBoundedText(path, maxBytes)
  const reading = readBoundedText(path, maxBytes)
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`it is a pipe that gave nothing to read in ${Math.round(waitMs / 1000)} s (is anything writing to it?)`)) }, waitMs)
  })
  // the read left waiting, if the wait ends first, is not an error of its own
  reading.catch(() => undefined)
  try {
    return await Promise.race([reading, waited])
  } finally {
    clearTimeout(timer)
  }
}

/** A prompt without echo on the terminal; undefined when stdin is not a terminal. */
export async function promptSecret (prompt: string): Promise<string | undefined> {
  if (process.stdin.isTTY !== true) return undefined
  const answer = await read({ prompt, silent: true, replace: '', output: process.stderr, timeout: PROMPT_TIMEOUT_MS })
  // nothing was echoed, not even the Enter: end the prompt's line so the next output starts on its own
  process.stderr.write('\n')
  return String(answer)
}

/** `--password-file`, else the file `HARMONY_PASSWORD_FILE` names. */
export function passwordFilePath (args: PasswordArgs): string | undefined {
  return args['password-file'] ?? process.env.HARMONY_PASSWORD_FILE
}

/** The password that opens an existing keystore, or undefined when there is no file and no terminal. */
export async function existingPassword (args: PasswordArgs, what: string): Promise<string | undefined> {
  const path = passwordFilePath(args)
  if (path !== undefined) return readPasswordFile(path)
  return promptSecret(`password for ${what}: `)
}

/** The password that opens an existing keystore; KEYSTORE_LOCKED saying how to give one when there is none. */
export async function requirePassword (args: PasswordArgs, what: string): Promise<string> {
  const password = await existingPassword(args, what)
  if (password === undefined) {
    throw new KeystoreError('KEYSTORE_LOCKED', `${what} is encrypted; unlock it with --password-file FILE (first line: the password), or run on a terminal to be asked`)
  }
  return password
}

/** A new password: from `file` when given, else typed twice at a prompt. */
export async function newPassword (file: string | undefined, what: string): Promise<string> {
  if (file !== undefined) return readPasswordFile(file)
  const first = await promptSecret(`new password for ${what}: `)
  if (first === undefined) throw new Error(`no terminal to ask for a password for ${what}; pass --password-file FILE (first line: the password)`)
  const again = await promptSecret('repeat it: ')
  if (again !== first) throw new Error('the two passwords differ; nothing was written')
  return first
}
