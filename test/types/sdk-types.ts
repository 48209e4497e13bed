/**
 * Type-level checks of the SDK, compiled by test/unit/sdk-types.test.ts: each `expectType<Equal<…>>` holds and
 * each `@ts-expect-error` line really is an error (tsc reports an unused one), so results, params and topic
 * events stay typed end to end from src/api/definitions.ts. Never run, only compiled.
 */
import type { HarmonyClient, HookView, RpcResultOf } from '../../src/sdk/index.ts'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
// takes the value it speaks of, so the checked variables count as used
function expectType<T extends true> (..._values: unknown[]): T | undefined { return undefined }

export async function typedCalls (client: HarmonyClient): Promise<void> {
  const balance = await client.call('account_getBalance', ['hmy1qqqq'])
  expectType<Equal<typeof balance, string>>(balance)
  const tx = await client.call('tx_get', ['0x00'])
  expectType<Equal<NonNullable<typeof tx>['status'], 'pending' | 'final' | 'rejected' | 'pruned'>>(tx)
  expectType<Equal<typeof tx, RpcResultOf<'tx_get'>>>(tx)
  const info = await client.call('node_info')
  expectType<Equal<typeof info.peerId, string>>(info)
  const health = await client.call('node_health', [])
  expectType<Equal<typeof health.consensus, { live: boolean, reachableStake: number, quorumStake: number, totalStake: number, halted?: string | undefined, historyGap?: string | undefined } | undefined>>(health)

  const added = await client.call('webhook_add', ['http://127.0.0.1:8080/hook', ['tx', 'payment'], { label: 'ops' }])
  expectType<Equal<typeof added.secret, string>>(added)
  const byName = await client.call('webhook_add', { url: 'http://127.0.0.1:8080/hook', events: ['task'] })
  expectType<Equal<typeof byName.events, Array<'tx' | 'payment' | 'task'>>>(byName)
  const hooks = await client.call('webhook_list')
  expectType<Equal<NonNullable<(typeof hooks)[number]['last']>['outcome'], 'delivered' | 'retrying' | 'failed'>>(hooks)
  const view: HookView = hooks[0]
  expectType<Equal<typeof view.queued, number>>(view)
  const removed = await client.call('webhook_remove', [added.id])
  expectType<Equal<typeof removed, boolean>>(removed)

  // @ts-expect-error: no such method
  await client.call('account_getBalanse', ['hmy1qqqq'])
  // @ts-expect-error: an address is a string
  await client.call('account_getBalance', [42])
  // @ts-expect-error: account_getBalance needs its params
  await client.call('account_getBalance')
  // @ts-expect-error: no such event kind
  await client.call('webhook_add', ['http://127.0.0.1:8080/hook', ['blocks']])
  // @ts-expect-error: the result is a string, not a number
  const wrong: number = await client.call('account_getNonce', ['hmy1qqqq'])
  void wrong

  await client.subscribe('tx_status', { id: '0x00' }, (event) => {
    expectType<Equal<typeof event.status, 'final' | 'rejected'>>(event)
  })
  await client.subscribe('net_announcements', undefined, (event) => {
    expectType<Equal<typeof event.text, string>>(event)
  })
  // @ts-expect-error: net_announcements takes no filter
  await client.subscribe('net_announcements', { id: '0x00' }, () => {})
  // @ts-expect-error: no such topic
  await client.subscribe('blocks', undefined, () => {})
}
