export {
  HarmonyClient, type CallArgs, type CallOptions, type HarmonyClientOptions, type ReconnectOptions, type RpcParams,
  type TokenSource, type Unsubscribe
} from './client.ts'
export { RpcClientError, RpcTransportError, type RpcTransportErrorCode, TaskOutputError, type TaskOutputErrorCode } from './errors.ts'
export type { RpcMethodName, RpcParamsOf, RpcResultOf, RpcTopicEventOf, RpcTopicFilterOf, RpcTopicName } from '../api/definitions.ts'
// for webhook receivers: check a delivery's X-Harmony-Signature against the hook's secret
export { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verifyWebhookSignature, type VerifyWebhookOptions } from '../webhooks/signature.ts'
export type { HookView, PaymentWebhookEvent, TxWebhookEvent, WebhookEventKind } from '../webhooks/index.ts'
export type { RpcCredentials } from './client.ts'
export { TransactionError, type TransactionErrorCode, type TxStatus, waitForTransaction, type WaitForTransactionOptions } from './transactions.ts'
export { fetchTaskOutput, FINAL_TASK_STATES, requesterKemKey, submitTask, type TaskRecord, type TaskState, waitForTask, type WaitForTaskOptions } from './market.ts'
