import type { Argv, CommandModule } from 'yargs'
import type { RpcResultOf } from '../api/definitions.ts'
import { WEBHOOK_EVENT_KINDS } from '../webhooks/kinds.ts'
import { clientFor, output, rpcOption, type GlobalArgs, type RpcArgs } from './common.ts'

interface AddArgs extends RpcArgs {
  url: string
  events: string[]
  account?: string[]
  label?: string
}

interface RemoveArgs extends RpcArgs {
  id: string
}

type Hook = RpcResultOf<'webhook_list'>[number]

function describeHook (h: Hook): string {
  const last = h.last === null ? 'no delivery yet' : `last ${h.last.outcome} after ${h.last.attempts} attempt(s)${h.last.httpStatus === null ? '' : ` (HTTP ${h.last.httpStatus})`}${h.last.error === null ? '' : ` ${h.last.error}`}`
  return [
    `${h.id}  ${h.url}${h.label === '' ? '' : `  [${h.label}]`}`,
    `  events ${h.events.join(',')}${h.accounts.length === 0 ? '' : `  accounts ${h.accounts.join(',')}`}`,
    `  queued ${h.queued}  delivered ${h.delivered}  failed ${h.failed}  dropped ${h.dropped}  ${last}`
  ].join('\n')
}

const addCommand: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add <url>',
  describe: 'Register a URL for event kinds; prints the signing secret (shown once)',
  builder: (y) => (y as Argv<GlobalArgs>)
    .positional('url', { type: 'string', demandOption: true, describe: 'http(s) URL that receives signed POSTs' })
    .option('events', { type: 'string', array: true, demandOption: true, choices: WEBHOOK_EVENT_KINDS, describe: 'event kinds' })
    .option('account', { type: 'string', array: true, describe: 'only events concerning this account (repeatable)' })
    .option('label', { type: 'string', describe: 'a name for the hook' })
    .option('rpc', rpcOption) as Argv<AddArgs>,
  handler: async (args) => {
    const client = await clientFor(args)
    const events = args.events as Array<(typeof WEBHOOK_EVENT_KINDS)[number]>
    const hook = await client.call('webhook_add', { url: args.url, events, ...(args.account === undefined ? {} : { accounts: args.account }), ...(args.label === undefined ? {} : { label: args.label }) })
    output(args.json, hook, () => `${describeHook(hook)}\n  secret ${hook.secret}\n  (keep the secret: it is not shown again; verify X-Harmony-Signature with it)`)
  }
}

const listCommand: CommandModule<GlobalArgs, RpcArgs> = {
  command: 'list',
  describe: 'List webhooks with their queue and last delivery status',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const hooks = await client.call('webhook_list')
    output(args.json, hooks, () => hooks.length === 0 ? 'no webhooks' : hooks.map(describeHook).join('\n'))
  }
}

const removeCommand: CommandModule<GlobalArgs, RemoveArgs> = {
  command: 'remove <id>',
  describe: 'Remove a webhook and drop its queued deliveries',
  builder: (y) => (y as Argv<GlobalArgs>)
    .positional('id', { type: 'string', demandOption: true })
    .option('rpc', rpcOption) as Argv<RemoveArgs>,
  handler: async (args) => {
    const client = await clientFor(args)
    const removed = await client.call('webhook_remove', [args.id])
    if (!removed) throw new Error(`no webhook ${args.id}; see harmonyd webhook list`)
    output(args.json, { removed }, () => `removed ${args.id}`)
  }
}

export const webhookCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'webhook <command>',
  describe: 'Webhooks of a running node: add, list, remove (admin)',
  builder: (y) => y.command(addCommand as never).command(listCommand as never).command(removeCommand as never).demandCommand(1),
  handler: () => {}
}
