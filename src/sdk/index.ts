export { HarmonyClient, type CallArgs, type CallOptions, type HarmonyClientOptions, type RpcParams, type Unsubscribe } from './client.ts'
export { RpcClientError, RpcTransportError, type RpcTransportErrorCode } from './errors.ts'
export type { RpcMethodName, RpcParamsOf, RpcResultOf, RpcTopicEventOf, RpcTopicFilterOf, RpcTopicName } from '../api/definitions.ts'
export { fetchTaskOutput, FINAL_TASK_STATES, requesterKemKey, submitTask, type TaskRecord, type TaskState, waitForTask, type WaitForTaskOptions } from './market.ts'
