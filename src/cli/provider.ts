import type { CommandModule } from 'yargs'
import { clientFor, output, rpcOption, type RpcArgs } from './common.ts'
import { providerReport } from './market-format.ts'

const statusCommand: CommandModule<RpcArgs, RpcArgs> = {
  command: 'status',
  describe: 'This node\'s provider: registration, bond, capability, attestation, why it did not bid, payments',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const status = await client.call('provider_status')
    output(args.json, status, () => providerReport(status))
  }
}

const listCommand: CommandModule<RpcArgs, RpcArgs & { limit: number, cursor?: string }> = {
  command: 'list',
  describe: 'Providers registered on the DAG: bond, capability, attestation, reputation',
  builder: (y) => y
    .option('rpc', rpcOption)
    .option('limit', { type: 'number', default: 20, describe: 'providers per page (1-100)' })
    .option('cursor', { type: 'string', describe: 'the `next` of the previous page' }) as never,
  handler: async (args) => {
    const client = await clientFor(args)
    const page = await client.call('market_providers', [{ limit: args.limit, ...(args.cursor === undefined ? {} : { cursor: args.cursor }) }])
    output(args.json, page, () => [
      ...page.providers.map(p => `${p.address}  bond ${p.bond}  ${p.capability.executor} ${p.capability.gflops} GFLOP/s  rep ${p.reputation}  ${p.attestation?.passed === true ? 'attested' : 'unattested'}`),
      ...(page.next === null ? [] : [`more: --cursor ${page.next}`])
    ].join('\n') || 'no providers')
  }
}

export const providerCommand: CommandModule<RpcArgs, RpcArgs> = {
  command: 'provider <command>',
  describe: 'Compute market provider: status of this node\'s provider, registered providers',
  builder: (y) => y
    .command(statusCommand as never)
    .command(listCommand as never)
    .demandCommand(1),
  handler: () => {}
}
