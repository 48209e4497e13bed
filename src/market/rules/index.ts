/** The market's pure rules: award, verification and settlement, slashes, reputation. */
export * from './constants.ts'
export * from './award.ts'
export * from './settle.ts'
export * from './reputation.ts'
export * from './plan.ts'
export * from './input-judge.ts'
