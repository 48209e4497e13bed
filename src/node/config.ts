import { readBoundedText } from '../core/bounded-file.ts'
import { isIP } from 'node:net'
import { parseDocument } from 'yaml'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError, errorMessage } from '../core/errors.ts'
import { LOG_LEVELS, type LogLevel } from '../core/logger.ts'
import { DEFAULT_MAX_QUEUE_PER_HOOK, MAX_QUEUE_PER_HOOK } from '../webhooks/types.ts'
import { defaultProviderConfig, parseProviderConfig, type ProviderSettings, toProviderSettings } from '../market/provider/config.ts'

/**
 * One flat set of settings. Each key has the same name as a CLI flag (`--p2p-port`), an env var
 * (`HARMONY_P2P_PORT`) and a config file key (`p2p-port:`). Precedence: flags > env > config file > defaults.
 */
export interface NodeConfig {
  /** Network preset: `devnet` (loopback/private addresses allowed) or `testnet`. */
  network: 'devnet' | 'testnet'
  'p2p-host': string
  'p2p-port': number
  /** Addresses announced to peers instead of the listen addresses. */
  announce: string[]
  bootstrap: string[]
  /** Allow loopback and private addresses in the DHT (devnets, private testnets). */
  'allow-private-addrs': boolean
  'max-connections': number
  /** The node dials peers it discovers until it has this many connections. */
  'target-peers': number
  'rpc-host': string
  'rpc-port': number
  'log-level': LogLevel
  executor: 'auto' | 'gpu' | 'software' | 'cpu'
  /** Genesis file; relative paths are taken from the datadir. */
  genesis: string
  /** EVM JSON-RPC endpoint for settlement; empty disables the chain client. */
  'chain-rpc': string
  /** Deployed contract addresses (JSON); relative paths are taken from the datadir. */
  contracts: string
  /** Blocks on top of a deposit before it is credited. */
  'chain-confirmations': number
  /**
   * fsync every committed consensus decision so that what was reported final survives a power loss. `auto`: on
   * for a genesis validator, off otherwise.
   */
  'sync-writes': 'auto' | 'true' | 'false'
  /** Selling compute: a mapping in the config file, JSON in a flag or env (src/market/provider/config.ts). */
  provider: ProviderSettings
  /** `on`: admin and spending methods need a bearer JWT or an API key; `off` (loopback only): every method is open. */
  'rpc-auth': 'on' | 'off'
  /** Host names the RPC answers (Host header), comma-separated; `*` for any (geth's --http.vhosts). */
  'rpc-vhosts': string
  /** JSON-RPC calls per second per client (API key or IP address). */
  'rpc-rate-limit': number
  /** JSON-RPC calls per second of the operator (the node's JWT), in a bucket of its own. */
  'rpc-operator-rate-limit': number
  /**
   * Webhooks may target loopback, private and link-local addresses (receivers on this machine or its network).
   * Off, webhook_add refuses such a URL and a delivery whose host resolves to one fails: admin credentials cannot
   * make the node POST into its own network. On by default for the devnet preset, like allow-private-addrs.
   */
  'allow-private-webhooks': boolean
  /**
   * Keep every vertex body (an archive node). false: a pruned node deletes vertex bodies below the last checkpoint
   * anchored on chain (needs the chain client); tx_get answers `pruned` for what it deleted.
   */
  archive: boolean
  /**
   * An empty ledger starts from the last checkpoint anchored on chain, its state fetched from peers and checked
   * against the checkpoint, instead of replaying the history from the genesis (src/node/state-sync.ts).
   */
  'state-sync': boolean
  /**
   * With state-sync: start again from the last anchored checkpoint even when the datadir holds a ledger (one that
   * was offline for longer than its peers keep history: node_health's consensus.historyGap). The ledger's, the
   * bridge's and the market's state are replaced once a cut matching the checkpoint is in hand; keys, config, blobs
   * and webhooks stay (src/node/state-sync.ts).
   */
  resync: boolean
  /**
   * Admission control's latency target for clients' transactions (ms): while they take longer to finalize, a
   * validator limits how many it holds pending and refuses the excess with BUSY (src/dag/admission-control.ts).
   */
  'latency-target-ms': number
  /**
   * Webhook events kept waiting per hook while its receiver is down or slower than the node's events; past it the
   * oldest are dropped and counted (src/webhooks/service.ts). Each waits in memory and on disk: at most ~64 KiB.
   */
  'webhook-queue': number
}

export type ConfigKey = keyof NodeConfig

type Kind = 'string' | 'port' | 'count' | 'bool' | 'multiaddrs' | 'provider' | { oneOf: readonly string[] }

interface KeySpec {
  kind: Kind
  describe: string
  default: NodeConfig[ConfigKey]
  validate?: (value: never) => string | undefined
}

function validHost (value: string): string | undefined {
  return isIP(value) === 0 && value !== 'localhost' ? 'an IPv4/IPv6 address or localhost' : undefined
}

/** The table every source of settings is checked against. Descriptions also become the config file's comments. */
export const CONFIG_KEYS: Record<ConfigKey, KeySpec> = {
  network: { kind: { oneOf: ['devnet', 'testnet'] }, describe: 'network preset', default: 'testnet' },
  'p2p-host': { kind: 'string', describe: 'address the libp2p host listens on', default: '0.0.0.0', validate: validHost },
  'p2p-port': { kind: 'port', describe: 'libp2p TCP port', default: 9400 },
  announce: { kind: 'multiaddrs', describe: 'multiaddrs announced to peers instead of the listen addresses', default: [] },
  bootstrap: { kind: 'multiaddrs', describe: 'bootstrap peers (multiaddrs ending in /p2p/<peerId>)', default: [] },
  'allow-private-addrs': {
    kind: 'bool',
    describe: 'keep loopback and private addresses in the DHT (devnets and private testnets)',
    default: false
  },
  'max-connections': { kind: 'count', describe: 'maximum open libp2p connections', default: 128 },
  'target-peers': { kind: 'count', describe: 'dial discovered peers until this many are connected', default: 16 },
  'rpc-host': {
    kind: 'string',
    describe: 'address the JSON-RPC server listens on (keep it loopback unless you know why)',
    default: '127.0.0.1',
    validate: validHost
  },
  'rpc-port': { kind: 'port', describe: 'JSON-RPC port (HTTP POST / and WebSocket)', default: 9545 },
  'log-level': { kind: { oneOf: LOG_LEVELS }, describe: 'log level', default: 'info' },
  executor: {
    kind: { oneOf: ['auto', 'gpu', 'software', 'cpu'] },
    describe: 'compute executor: auto picks a GPU, then the software GPU, then the CPU',
    default: 'auto'
  },
  genesis: { kind: 'string', describe: 'genesis file (relative to the datadir)', default: 'genesis.json' },
  'chain-rpc': { kind: 'string', describe: 'EVM JSON-RPC URL for settlement (empty: no chain client)', default: '' },
  contracts: { kind: 'string', describe: 'deployed contract addresses file (relative to the datadir); the chain client runs when it exists', default: 'contracts.json' },
  'chain-confirmations': { kind: 'count', describe: 'blocks a deposit needs on top (itself included) before it is credited', default: 12 },
  'sync-writes': {
    kind: { oneOf: ['auto', 'true', 'false'] },
    describe: 'fsync each committed consensus decision so reported finality survives a power loss (auto: on for genesis validators)',
    default: 'auto'
  },
  provider: {
    kind: 'provider',
    describe: 'sell compute: {enabled, bond, pricePerGflop, minPrice, capacity, allow, deny, maxTaskBytes, maxTaskGflop} (amounts in base units as decimal strings)',
    default: toProviderSettings(defaultProviderConfig())
  },
  'rpc-auth': {
    kind: { oneOf: ['on', 'off'] },
    describe: 'require a bearer JWT (<datadir>/rpc/jwt.hex) or an API key for admin and spending RPC methods (off: every method open; loopback only)',
    default: 'on'
  },
  'rpc-vhosts': {
    kind: 'string',
    describe: 'host names the RPC answers, comma-separated, * for any (a DNS-rebinding guard, like geth --http.vhosts)',
    default: 'localhost,127.0.0.1,::1',
    validate: (value: string) => value.split(',').every((h) => h.trim() !== '') ? undefined : 'a comma-separated list of host names'
  },
  'rpc-rate-limit': { kind: 'count', describe: 'JSON-RPC calls per second per client (API key or IP)', default: 1000 },
  'rpc-operator-rate-limit': { kind: 'count', describe: 'JSON-RPC calls per second of the operator (the node\'s JWT), a bucket of its own that a flood from other clients does not touch', default: 10000 },
  'allow-private-webhooks': {
    kind: 'bool',
    describe: 'let webhooks POST to loopback, private and link-local addresses (receivers on this machine or its network; on for devnets); off, such URLs are refused so admin credentials cannot make the node reach into its own network',
    default: false
  },
  archive: { kind: 'bool', describe: 'keep every vertex body (false: prune bodies below the last checkpoint anchored on chain)', default: true },
  'state-sync': { kind: 'bool', describe: 'start an empty ledger from the last checkpoint anchored on chain (its state from peers, checked against the checkpoint) instead of replaying the history', default: false },
  resync: { kind: 'bool', describe: 'with --state-sync: replace a ledger this datadir already holds (one whose peers pruned the history it lacks) with the last anchored checkpoint\'s state, once a matching cut is fetched; keys, blobs and webhooks stay', default: false },
  'latency-target-ms': { kind: 'count', describe: 'admission control: while clients\' transactions take longer than this to finalize, a validator limits how many it holds pending (refusing the excess with BUSY, retryable)', default: 600 },
  'webhook-queue': {
    kind: 'count',
    describe: 'webhook events kept waiting per hook while its receiver is down or slow (in memory and on disk); past it the oldest are dropped and counted',
    default: DEFAULT_MAX_QUEUE_PER_HOOK,
    validate: (value: number) => value <= MAX_QUEUE_PER_HOOK ? undefined : `at most ${MAX_QUEUE_PER_HOOK}`
  }
}

export const CONFIG_FILE_NAME = 'config.yaml'

function expected (kind: Kind): string {
  if (typeof kind === 'object') return `one of ${kind.oneOf.join(', ')}`
  switch (kind) {
    case 'string': return 'a string'
    case 'port': return 'an integer port from 0 to 65535'
    case 'count': return 'a positive integer'
    case 'bool': return 'true or false'
    case 'multiaddrs': return 'a list of multiaddrs'
    case 'provider': return 'a provider mapping (JSON in a flag or env)'
  }
}

/** What a key takes, in words (`an integer port from 0 to 65535`): for help texts and errors. */
export function expectedValue (key: ConfigKey): string {
  return expected(CONFIG_KEYS[key].kind)
}

/**
 * Coerces one raw value (string from a flag/env, or a YAML value) to the key's type, or throws a ConfigError
 * naming the key, where it came from and what was expected.
 */
export function coerceValue (key: ConfigKey, raw: unknown, source: string): NodeConfig[ConfigKey] {
  const spec = CONFIG_KEYS[key]
  const fail = (): never => {
    throw new ConfigError('CONFIG_INVALID', `${source}: '${key}' must be ${expected(spec.kind)}, got ${shown(raw)}`, { key, source })
  }
  let value: NodeConfig[ConfigKey]
  const kind = spec.kind
  if (typeof kind === 'object') {
    // a YAML `true`/`false` is a boolean: the choices spell it as a string
    const text = typeof raw === 'boolean' ? String(raw) : raw
    if (typeof text !== 'string' || !kind.oneOf.includes(text)) fail()
    value = text as string
  } else if (kind === 'string') {
    if (typeof raw !== 'string') fail()
    value = raw as string
  } else if (kind === 'port' || kind === 'count') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n)) fail()
    if (kind === 'port' && (n < 0 || n > 65535)) fail()
    if (kind === 'count' && n < 1) fail()
    value = n
  } else if (kind === 'provider') {
    let data = raw
    if (typeof raw === 'string') {
      try { data = JSON.parse(raw) } catch { fail() }
    }
    try {
      value = toProviderSettings(parseProviderConfig(data))
    } catch (err) {
      throw new ConfigError('CONFIG_INVALID', `${source}: ${errorMessage(err)}`, { key, source })
    }
  } else if (kind === 'bool') {
    if (raw === true || raw === 'true' || raw === '1') value = true
    else if (raw === false || raw === 'false' || raw === '0') value = false
    else value = fail()
  } else {
    const list = typeof raw === 'string' ? raw.split(',').map(s => s.trim()).filter(s => s !== '') : raw
    if (!Array.isArray(list) || list.some(a => typeof a !== 'string')) fail()
    for (const addr of list as string[]) {
      try {
        multiaddr(addr)
      } catch (err) {
        throw new ConfigError('CONFIG_INVALID', `${source}: '${key}' has an invalid multiaddr ${JSON.stringify(addr)}: ${errorMessage(err)}`, { key, source })
      }
    }
    value = list as string[]
  }
  const problem = spec.validate?.(value as never)
  if (problem !== undefined) {
    throw new ConfigError('CONFIG_INVALID', `${source}: '${key}' must be ${problem}, got ${shown(raw)}`, { key, source })
  }
  return value
}

/** A refused value as its source wrote it: JSON, except the numbers JSON cannot spell (NaN, Infinity read as `null`). */
function shown (raw: unknown): string {
  return typeof raw === 'number' && !Number.isFinite(raw) ? String(raw) : JSON.stringify(raw)
}

function isConfigKey (key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key)
}

// the file `harmonyd init` writes is ~3 KB; a megabyte is a wrong file, not a config
const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/** Reads and checks the config file; a missing file is an empty config. */
export async function readConfigFile (path: string): Promise<Partial<NodeConfig>> {
  let text: string
  try {
    text = await readBoundedText(path, MAX_CONFIG_FILE_BYTES)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${errorMessage(err)}`, { path })
  }
  return parseConfigText(text, path)
}

export function parseConfigText (text: string, path: string): Partial<NodeConfig> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw new ConfigError('CONFIG_UNREADABLE', `config file ${path} is not valid YAML: ${doc.errors[0].message}`, { path })
  }
  const data: unknown = doc.toJS()
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError('CONFIG_INVALID', `config file ${path} must be a mapping of keys to values`, { path })
  }
  const out: Partial<NodeConfig> = {}
  for (const [key, raw] of Object.entries(data)) {
    if (!isConfigKey(key)) {
      throw new ConfigError('CONFIG_UNKNOWN_KEY', `config file ${path}: unknown key '${key}'; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`, { key, path })
    }
    Object.assign(out, { [key]: coerceValue(key, raw, `config file ${path}`) })
  }
  return out
}

/** `HARMONY_P2P_PORT` -> `p2p-port`. Unknown HARMONY_* variables are refused so typos do not pass silently. */
export function readEnv (env: NodeJS.ProcessEnv, ignore: readonly string[] = ['HARMONY_DATADIR']): Partial<NodeConfig> {
  const out: Partial<NodeConfig> = {}
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('HARMONY_') || raw === undefined || ignore.includes(name)) continue
    const key = name.slice('HARMONY_'.length).toLowerCase().replaceAll('_', '-')
    if (!isConfigKey(key)) {
      throw new ConfigError('CONFIG_UNKNOWN_KEY', `environment variable ${name} is not a setting; known: ${Object.keys(CONFIG_KEYS).map(envName).join(', ')}`, { key: name })
    }
    Object.assign(out, { [key]: coerceValue(key, raw, `environment variable ${name}`) })
  }
  return out
}

export function envName (key: ConfigKey | string): string {
  return `HARMONY_${key.toUpperCase().replaceAll('-', '_')}`
}

/** Flags as yargs parsed them (only keys that were given on the command line). */
export function readFlags (flags: Record<string, unknown>): Partial<NodeConfig> {
  const out: Partial<NodeConfig> = {}
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const raw = flags[key]
    if (raw === undefined) continue
    Object.assign(out, { [key]: coerceValue(key, Array.isArray(raw) ? raw.map(String) : raw, `flag --${key}`) })
  }
  return out
}

export function defaultConfig (): NodeConfig {
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    out[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default
  }
  return out as unknown as NodeConfig
}

export interface ResolveConfigInput {
  flags?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
  configFile?: string
}

/**
 * flags > env > config file > defaults; a `devnet` network preset allows private addresses (in the DHT and as
 * webhook targets) unless a setting says otherwise.
 */
export async function resolveConfig (input: ResolveConfigInput): Promise<NodeConfig> {
  const file = input.configFile === undefined ? {} : await readConfigFile(input.configFile)
  const env = readEnv(input.env ?? {})
  const flags = readFlags(input.flags ?? {})
  const merged: NodeConfig = { ...defaultConfig(), ...file, ...env, ...flags }
  for (const key of ['allow-private-addrs', 'allow-private-webhooks'] as const) {
    const explicit = key in file || key in env || key in flags
    if (merged.network === 'devnet' && !explicit) merged[key] = true
  }
  return merged
}

/** The commented config file `harmonyd init` writes. */
export function renderConfigFile (values: Partial<NodeConfig>): string {
  const lines = [
    '# harmonyd configuration.',
    '# Every key is also a flag (--p2p-port) and an environment variable (HARMONY_P2P_PORT).',
    '# Precedence: flags > environment > this file > defaults. Unknown keys are refused.',
    ''
  ]
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as Array<[ConfigKey, KeySpec]>) {
    const value = values[key] ?? spec.default
    lines.push(`# ${spec.describe} (${expected(spec.kind)}; default ${JSON.stringify(spec.default)})`)
    const set = values[key] !== undefined
    lines.push(`${set ? '' : '# '}${key}: ${JSON.stringify(value)}`)
    lines.push('')
  }
  return lines.join('\n')
}
