// The node settings as `harmonyd start` and `init` flags (every key of node/config.ts CONFIG_KEYS), apart from
// common.ts so that client commands do not load the settings' parsers.
import { join } from 'node:path'
import type { Argv } from 'yargs'
import { CONFIG_FILE_NAME, CONFIG_KEYS, expectedValue, resolveConfig, type ConfigKey, type NodeConfig } from '../node/config.ts'
import { resolveDatadir } from '../node/datadir.ts'

/** Adds every config key as a flag (no yargs default, so precedence stays flags > env > file > defaults). */
export function withConfigFlags<T> (yargs: Argv<T>): Argv<T> {
  let y = yargs
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    const array = spec.kind === 'multiaddrs'
    // numbers stay strings here: yargs would turn `--p2p-port abc` into NaN, and coerceValue checks (and quotes
    // in its error) what was typed, as it does for the environment and config.yaml
    const numeric = spec.kind === 'port' || spec.kind === 'count'
    const type = spec.kind === 'bool' ? 'boolean' : 'string'
    y = y.option(key, {
      describe: `${spec.describe} [${numeric ? `${expectedValue(key as ConfigKey)}; ` : ''}env ${`HARMONY_${key.toUpperCase().replaceAll('-', '_')}`}, default ${JSON.stringify(spec.default)}]`,
      type: array ? 'string' : type,
      array,
      group: 'Node settings:',
      ...(typeof spec.kind === 'object' ? { choices: spec.kind.oneOf } : {})
    }) as Argv<T>
  }
  return y
}

/** Flags parsed by yargs, filtered to those actually given (yargs sets undefined for absent ones). */
export async function configFromArgs (args: Record<string, unknown>): Promise<{ datadir: string, config: NodeConfig }> {
  const datadir = resolveDatadir(args.datadir as string | undefined)
  const flags: Record<string, unknown> = {}
  for (const key of Object.keys(CONFIG_KEYS)) {
    if (args[key] !== undefined) flags[key] = args[key]
  }
  const config = await resolveConfig({ flags, env: process.env, configFile: join(datadir, CONFIG_FILE_NAME) })
  return { datadir, config }
}
