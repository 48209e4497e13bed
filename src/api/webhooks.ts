import { RpcErrorCode, type RpcErrorCodeValue, RpcMethodError, type RpcRegistry } from '../rpc/registry.ts'
import { WebhookError, type AddedHook, type AddHookOptions, type HookView, type WebhookErrorCode } from '../webhooks/index.ts'
import { registerMethod } from './method.ts'

/** How each webhook refusal reaches a JSON-RPC caller. */
export const WEBHOOK_RPC_ERROR_CODES: Readonly<Record<WebhookErrorCode, RpcErrorCodeValue>> = {
  WEBHOOK_URL_INVALID: RpcErrorCode.INVALID_PARAMS,
  WEBHOOK_ACCOUNT_INVALID: RpcErrorCode.INVALID_PARAMS,
  WEBHOOK_TARGET_PRIVATE: RpcErrorCode.INVALID_INPUT,
  WEBHOOK_LIMIT: RpcErrorCode.LIMIT_EXCEEDED,
  WEBHOOK_NOT_RUNNING: RpcErrorCode.RESOURCE_UNAVAILABLE
}

/** What the webhook methods use; WebhookService satisfies it. */
export interface WebhookRpcSource {
  add: (options: AddHookOptions) => Promise<AddedHook>
  list: () => HookView[]
  remove: (id: string) => Promise<boolean>
}

async function mapped<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof WebhookError) throw new RpcMethodError(WEBHOOK_RPC_ERROR_CODES[err.code], err.message, { reason: err.code })
    throw err
  }
}

/** webhook_add, webhook_list, webhook_remove: admin methods (they name where the node sends its events). */
export function registerWebhookRpc (registry: RpcRegistry, webhooks: WebhookRpcSource): void {
  registry.registerErrorCodes(WEBHOOK_RPC_ERROR_CODES)
  registerMethod(registry, 'webhook_add', async (params) => await mapped(async () => {
    const options: AddHookOptions = Array.isArray(params)
      ? { url: params[0], events: params[1], ...(params[2] ?? {}) }
      : params
    const { hook, secret } = await webhooks.add(options)
    return { ...hook, secret }
  }))
  registerMethod(registry, 'webhook_list', () => webhooks.list())
  registerMethod(registry, 'webhook_remove', async (params) => await mapped(async () => await webhooks.remove(Array.isArray(params) ? params[0] : params.id)))
}
