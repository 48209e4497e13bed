import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { ConfigError } from '../core/errors.ts'
import { resolveDatadir } from '../node/datadir.ts'
import { API_KEYS_FILE, ApiKeyStore, type ApiKeyInfo } from '../rpc/api-keys.ts'
import { isMethodClass, type MethodClass } from '../rpc/method-class.ts'
import { output, type GlobalArgs } from './common.ts'

interface AddArgs extends GlobalArgs { label: string, scope: string }
interface RevokeArgs extends GlobalArgs { id: string }

function storeOf (args: GlobalArgs): ApiKeyStore {
  return new ApiKeyStore(join(resolveDatadir(args.datadir), API_KEYS_FILE))
}

function parseScope (text: string): MethodClass[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const bad = names.filter((n) => !isMethodClass(n))
  if (names.length === 0 || bad.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `--scope must list method classes from public, admin, spending (comma-separated), got ${JSON.stringify(text)}`)
  }
  return names as MethodClass[]
}

function describe (key: ApiKeyInfo): string {
  return `${key.id}  ${key.label.padEnd(16)}  ${key.scope.join(',').padEnd(22)}  created ${key.createdAt}${key.revokedAt === undefined ? '' : `  REVOKED ${key.revokedAt}`}`
}

const add: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add',
  describe: 'Create an API key (printed once; the node keeps only its hash)',
  builder: (y) => y
    .option('label', { type: 'string', demandOption: true, describe: 'who or what the key is for' })
    .option('scope', { type: 'string', default: 'public', describe: 'method classes it may call: public, admin, spending (comma-separated)' }),
  handler: async (args) => {
    const created = await storeOf(args).add(args.label, parseScope(args.scope))
    output(args.json, created, () => [
      `API key ${created.id} (${created.label}), scope ${created.scope.join(',')}:`,
      `  ${created.key}`,
      'It is shown only now: store it. Send it as Authorization: Bearer <key> or X-API-Key: <key>.'
    ].join('\n'))
  }
}

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'List API keys (id, label, scope; never the key)',
  handler: async (args) => {
    const keys = await storeOf(args).list()
    output(args.json, keys, () => keys.length === 0 ? 'no API keys' : keys.map(describe).join('\n'))
  }
}

const revoke: CommandModule<GlobalArgs, RevokeArgs> = {
  command: 'revoke <id>',
  describe: 'Revoke an API key; a running node refuses it within a second',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true, describe: 'the key id from list' }),
  handler: async (args) => {
    const found = await storeOf(args).revoke(args.id)
    if (!found) throw new ConfigError('CONFIG_INVALID', `no API key with id ${args.id}; see harmonyd rpc keys list`)
    output(args.json, { id: args.id, revoked: true }, () => `revoked ${args.id}`)
  }
}

/** `harmonyd rpc keys add|list|revoke`: API keys for the node's JSON-RPC (in the datadir). */
export const rpcCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'rpc <command>',
  describe: 'RPC access: API keys',
  builder: (y: Argv<GlobalArgs>) => y.command({
    command: 'keys <command>',
    describe: 'Add, list or revoke API keys',
    builder: (k: Argv<GlobalArgs>) => k.command(add as never).command(list).command(revoke as never).demandCommand(1),
    handler: () => {}
  }).demandCommand(1),
  handler: () => {}
}
