import { JsonRpcProvider } from 'ethers'

export interface ProviderInit {
  /** Block polling interval. @default 1000 */
  pollingIntervalMs?: number
}

/**
 * A JSON-RPC provider for a known chain id. Response caching is off: ethers caches identical calls for 250 ms by
 * default, which hands back stale nonces when one key sends several transactions in a row.
 */
export function createProvider (url: string, chainId: number, init: ProviderInit = {}): JsonRpcProvider {
  return new JsonRpcProvider(url, chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: init.pollingIntervalMs ?? 1000 })
}
