/** The compute market (docs/market.md): kinds, accounts, state, rules, coordinator, service. */
export { bondAccount, escrowAccount, taskIdHexOf, taskIdOf } from './accounts.ts'
export * from './kinds/index.ts'
export * from './state/reader.ts'
