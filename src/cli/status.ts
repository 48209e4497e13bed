import type { CommandModule } from 'yargs'
import { clientFor, output, rpcOption, type GlobalArgs, type RpcArgs } from './common.ts'

export const statusCommand: CommandModule<GlobalArgs, RpcArgs> = {
  command: 'status',
  describe: 'Show the state of a running node',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const [info, health] = await Promise.all([
      client.call<Record<string, unknown>>('node_info', []),
      client.call<{ state: string, uptimeSeconds: number, peers: number, boundPeers: number }>('node_health', [])
    ])
    output(args.json, { ...info, ...health }, () => [
      `peer id     ${String(info.peerId)}`,
      `version     ${String(info.version)} (${String(info.network)})`,
      `state       ${health.state}, up ${health.uptimeSeconds} s`,
      `peers       ${health.peers} (${health.boundPeers} with a verified ledger key)`,
      `listening   ${(info.listenAddrs as string[]).join(' ')}`,
      `rpc         ${String(info.rpc)}`
    ].join('\n'))
  }
}

export const peersCommand: CommandModule<GlobalArgs, RpcArgs> = {
  command: 'peers',
  describe: 'List the peers of a running node',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const peers = await client.call<Array<{ peerId: string, addrs: string[], direction: string, bound: boolean }>>('net_peers', [])
    output(args.json, peers, () => peers.length === 0
      ? 'no peers'
      : peers.map(p => `${p.peerId}  ${p.direction.padEnd(8)}  ${p.bound ? 'bound ' : 'unbound'}  ${p.addrs.join(' ')}`).join('\n'))
  }
}
