/**
 * Who may call a method. Reads are `public`; what moves funds (`account_sendTransaction`, `task_submit`...) is
 * `spending`; what changes the node (announcements, peers, webhooks, provider settings) is `admin`. Admin and
 * spending calls need a bearer JWT signed with the node's secret or an API key whose scope lists the class.
 */
export const METHOD_CLASSES = ['public', 'admin', 'spending'] as const

export type MethodClass = (typeof METHOD_CLASSES)[number]

/** True when `value` names a method class. */
export function isMethodClass (value: string): value is MethodClass {
  return (METHOD_CLASSES as readonly string[]).includes(value)
}
