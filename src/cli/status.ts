import type { CommandModule } from 'yargs'
import { clientFor, output, rpcOption, type GlobalArgs, type RpcArgs } from './common.ts'

export const statusCommand: CommandModule<GlobalArgs, RpcArgs> = {
  command: 'status',
  describe: 'Show the state of a running node',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const [info, health] = await Promise.all([
      client.call('node_info', []),
      client.call('node_health', [])
    ])
    output(args.json, { ...info, ...health }, () => [
      `peer id     ${info.peerId}`,
      `version     ${info.version} (${info.network})`,
      `state       ${health.state}, up ${health.uptimeSeconds} s`,
      `peers       ${health.peers} (${health.boundPeers} with a verified ledger key)`,
      `listening   ${info.listenAddrs.join(' ')}`,
      `rpc         ${info.rpc}`
    ].join('\n'))
  }
}

export const peersCommand: CommandModule<GlobalArgs, RpcArgs> = {
  command: 'peers',
  describe: 'List the peers of a running node',
  builder: (y) => y.option('rpc', rpcOption),
  handler: async (args) => {
    const client = await clientFor(args)
    const peers = await client.call('net_peers', [])
    output(args.json, peers, () => peers.length === 0
      ? 'no peers'
      : peers.map(p => `${p.peerId}  ${p.direction.padEnd(8)}  ${p.bound ? 'bound ' : 'unbound'}  ${p.addrs.join(' ')}`).join('\n'))
  }
}
