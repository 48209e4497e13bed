export { HarmonyClient, type CallOptions, type HarmonyClientOptions, type RpcParams, type Unsubscribe } from './client.ts'
export { RpcClientError, RpcTransportError, type RpcTransportErrorCode } from './errors.ts'
