/**
 * The event kinds a hook can ask for: `tx` (a transaction became final or was rejected), `payment` (a credit or
 * debit to an account, from a final transaction), `task` (a market task changed state; the market publishes it).
 * A module of its own, so that the API's schemas and `harmonyd webhook` read the one list without loading the service.
 */
export const WEBHOOK_EVENT_KINDS = ['tx', 'payment', 'task'] as const
export type WebhookEventKind = (typeof WEBHOOK_EVENT_KINDS)[number]
