import test from 'ava'
import fc from 'fast-check'
import { addressFromPublicKey, generateKeyPair } from '../../src/dag/index.ts'
import { assertFaultInjectionAllowed, defaultProviderConfig, parseProviderConfig } from '../../src/market/provider/config.ts'
import type { CapabilityRecord } from '../../src/market/provider/capability.ts'
import { capabilityRecord, gflopsToMilli } from '../../src/market/provider/capability.ts'
import { NoBidLog, OPEN_BIDS_PER_SLOT, PricingPolicy, type ProviderSelf, type TaskOffer } from '../../src/market/provider/policy.ts'
import { estimateWork } from '../../src/market/provider/work.ts'
import { DEFAULT_LIMITS, EXECUTION_PROFILE, type ExecutorInfo } from '../../src/compute/types.ts'

const requester = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(7)).publicKey)
const other = addressFromPublicKey(generateKeyPair(new Uint8Array(32).fill(8)).publicKey)

const cpu: CapabilityRecord = { executor: 'cpu', adapter: 'CPU reference executor', memoryMiB: 4096, gflopsMilli: 400, profile: EXECUTION_PROFILE }
const self: ProviderSelf = { capability: cpu, kernels: ['matmul', 'conv2d', 'elementwise', 'reduce', 'softmax', 'layernorm', 'mlp'], attested: false }

function offer (over: Partial<TaskOffer> = {}): TaskOffer {
  return {
    taskId: 'aa'.repeat(32),
    requester,
    kernel: 'matmul',
    params: { m: 64, k: 64, n: 64 },
    inputs: 2,
    outputLimitBytes: 4 * 64 * 64,
    budget: 10n ** 18n,
    replicas: 1,
    requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false },
    ...over
  }
}

test('a matmul is priced per GFLOP, rounded up, never below the minimum', t => {
  const policy = new PricingPolicy(parseProviderConfig({ pricePerGflop: '1000000000', minPrice: '5' }))
  // 2·64³ = 524288 FLOP = 0.000524288 GFLOP at 10^9 per GFLOP = 524288 base units
  t.is(policy.price(estimateWork('matmul', { m: 64, k: 64, n: 64 })!), 524288n)
  // 2·1·1·1 = 2 FLOP: 2 base units by work, the minimum is 5
  t.is(policy.price(estimateWork('matmul', { m: 1, k: 1, n: 1 })!), 5n)
  // rounding up: 3 FLOP at 1 per GFLOP is a fraction of a unit, which costs one unit (minimum 0)
  const fine = new PricingPolicy(parseProviderConfig({ pricePerGflop: '1', minPrice: '0' }))
  t.is(fine.price({ flops: 3n, bytes: 0 }), 1n)
  // free compute still bids 1 base unit: a reveal of price 0 is refused (kinds/bid.ts), so the bid would be lost
  const free = new PricingPolicy(parseProviderConfig({ pricePerGflop: '0', minPrice: '0' }))
  t.is(free.price({ flops: 3n, bytes: 0 }), 1n)
})

test('the provider bids only when it can run the task, the price fits the budget and the escrow holds budget × replicas', t => {
  const policy = new PricingPolicy(parseProviderConfig({ pricePerGflop: '1000000000', minPrice: '1000' }))
  const task = offer({ budget: 600_000n, replicas: 3 })
  const decision = policy.decide(task, 1_800_000n, { committed: 0, reserved: 0 }, self)
  t.deepEqual(decision.bid ? decision.price : undefined, 524288n)

  const reasons = (d: ReturnType<PricingPolicy['decide']>): string => d.bid ? 'bid' : d.reason
  t.is(reasons(policy.decide(task, 1_799_999n, { committed: 0, reserved: 0 }, self)), 'escrow-missing', 'an escrow one unit short of budget × replicas')
  t.is(reasons(policy.decide(task, 0n, { committed: 0, reserved: 0 }, self)), 'escrow-missing')
  t.is(reasons(policy.decide(offer({ budget: 524287n }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'price-floor')
  t.is(reasons(policy.decide(task, 1_800_000n, { committed: 0, reserved: 16 }, self)), 'capacity', 'work in hand at capacity')
  t.is(reasons(policy.decide(task, 1_800_000n, { committed: 60, reserved: 3 }, self)), 'bid', 'sealed commits beyond capacity: dropping them costs nothing')
  t.is(reasons(policy.decide(task, 1_800_000n, { committed: 60, reserved: 4 }, self)), 'capacity', `at most ${OPEN_BIDS_PER_SLOT} × capacity bids open`)
  t.is(policy.revealRefusal({ committed: 40, reserved: 15 }), undefined, 'a reveal while reserved work is under capacity')
  t.regex(policy.revealRefusal({ committed: 0, reserved: 16 }) ?? '', /capacity 16: the commit is left unrevealed/)
  t.is(reasons(policy.decide(offer({ inputs: 1 }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'invalid-task', 'one input for a matmul, which takes two')
  t.is(reasons(policy.decide(offer({ inputs: 3 }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'invalid-task')
  t.is(reasons(policy.decide(offer({ outputLimitBytes: 4 * 64 * 64 - 1 }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'invalid-task', 'an output limit one byte short of the 64×64 output')
  t.is(reasons(policy.decide(offer({ kernel: 'custom', params: {} }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'kernel', 'the CPU executor runs no custom WGSL')
  t.is(reasons(policy.decide(offer({ kernel: 'mlp', params: { batch: 4 } }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'kernel', 'an mlp cannot be priced before its weights are seen')
  t.is(reasons(policy.decide(offer({ requirements: { executor: 'webgpu', minGflopsMilli: 0, minMemoryMiB: 0, attested: false } }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'capability')
  t.is(reasons(policy.decide(offer({ requirements: { executor: 'any', minGflopsMilli: 401, minMemoryMiB: 0, attested: false } }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'capability')
  t.is(reasons(policy.decide(offer({ requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 4097, attested: false } }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'capability')
  t.is(reasons(policy.decide(offer({ requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: true } }), 10n ** 20n, { committed: 0, reserved: 0 }, self)), 'capability')
  t.is(reasons(policy.decide(offer({ requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: true } }), 10n ** 20n, { committed: 0, reserved: 0 }, { ...self, attested: true })), 'bid')
  t.is(reasons(policy.decide(offer({ params: { m: 4096, k: 4096, n: 4096 }, outputLimitBytes: 4 * 4096 * 4096 }), 10n ** 30n, { committed: 0, reserved: 0 }, self)), 'too-large', '4096² floats ×3 is over 64 MiB')
})

test('allow and deny lists of requester addresses', t => {
  const reason = (config: object, who: string): string => {
    const d = new PricingPolicy(parseProviderConfig(config)).decide(offer({ requester: who }), 10n ** 20n, { committed: 0, reserved: 0 }, self)
    return d.bid ? 'bid' : d.reason
  }
  t.is(reason({ deny: [requester] }, requester), 'denied')
  t.is(reason({ deny: [requester] }, other), 'bid')
  t.is(reason({ allow: [other] }, requester), 'denied')
  t.is(reason({ allow: [other] }, other), 'bid')
  t.throws(() => parseProviderConfig({ allow: [other], deny: [other] }), { message: /both allowed and denied/ })
  t.throws(() => parseProviderConfig({ deny: ['hmy1nope'] }), { message: /hmy1/ })
})

test('the provider config is validated: amounts are u128 decimal strings, unknown keys are refused', t => {
  const defaults = defaultProviderConfig()
  t.false(defaults.enabled)
  t.is(defaults.faultInjection, 'none')
  t.is(parseProviderConfig({ bond: '340282366920938463463374607431768211455' }).bond, (1n << 128n) - 1n)
  t.throws(() => parseProviderConfig({ bond: '340282366920938463463374607431768211456' }), { message: /u128/ })
  t.throws(() => parseProviderConfig({ bond: -1 }))
  t.throws(() => parseProviderConfig({ bond: 1.5 }))
  t.throws(() => parseProviderConfig({ capacity: 0 }))
  t.throws(() => parseProviderConfig({ enable: true }), { message: /enable/ })
  t.throws(() => parseProviderConfig({ faultInjection: 'crash' }))
  t.is(parseProviderConfig({ bond: 1000 }).bond, 1000n)
})

test('fault injection is refused unless the genesis is a devnet one', t => {
  const lying = parseProviderConfig({ faultInjection: 'wrong-result' })
  t.notThrows(() => assertFaultInjectionAllowed(lying, 'harmony-devnet'))
  t.notThrows(() => assertFaultInjectionAllowed(lying, 'harmony-devnet-7'))
  t.throws(() => assertFaultInjectionAllowed(lying, 'harmony-testnet'), { message: /test networks only/ })
  t.throws(() => assertFaultInjectionAllowed(lying, 'harmony-devnetx'), { message: /test networks only/ })
  t.notThrows(() => assertFaultInjectionAllowed(defaultProviderConfig(), 'harmony-testnet'))
})

test('the reasons not to bid are kept, bounded, newest first, with totals per reason', t => {
  const log = new NoBidLog(3)
  for (let i = 0; i < 5; i++) log.record(`t${i}`, i % 2 === 0 ? 'capacity' : 'price-floor', 'x', i)
  t.deepEqual(log.recent().map(e => e.taskId), ['t4', 't3', 't2'])
  t.is(log.totals().capacity, 3)
  t.is(log.totals()['price-floor'], 2)
  t.is(log.totals().denied, 0)
  log.record('t2', 'denied', 'y', 9)
  t.deepEqual(log.recent().map(e => e.taskId), ['t2', 't4', 't3'])
  t.is(log.get('t2')?.reason, 'denied')
})

test('every estimate of a library kernel is positive and never throws on any parameters', t => {
  fc.assert(fc.property(fc.constantFrom('matmul', 'conv2d', 'elementwise', 'reduce', 'softmax', 'layernorm', 'mlp', 'custom', 'x'), fc.dictionary(fc.constantFrom('m', 'k', 'n', 'op', 'rows', 'cols', 'channels', 'height', 'width', 'filters', 'kernelH', 'kernelW'), fc.oneof(fc.integer({ min: -5, max: 1 << 25 }), fc.string(), fc.constant('add'))), (kernel, params) => {
    const work = estimateWork(kernel, params)
    if (work !== undefined) return work.flops > 0n && work.bytes > 0
    return true
  }))
  t.deepEqual(estimateWork('matmul', { m: 2, k: 3, n: 4 }), { flops: 48n, bytes: 4 * (6 + 12 + 8), shape: { inputs: 2, outputBytes: 4 * 8 } })
  t.is(estimateWork('matmul', { m: 2, k: 3 }), undefined)
})

test('the capability record of an executor: kind, adapter cut to 64 bytes, memory, GFLOP/s ×1000', t => {
  const info: ExecutorInfo = {
    kind: 'software',
    adapter: { vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'llvmpipe (LLVM 15.0.6, 256 bits) '.repeat(4), backend: 'opengles', featureLevel: 'compatibility', isFallbackAdapter: false },
    limits: { maxStorageBufferBindingSize: 128 * 1024 * 1024, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535 },
    taskLimits: DEFAULT_LIMITS,
    profile: EXECUTION_PROFILE,
    kernels: ['matmul', 'custom']
  }
  const record = capabilityRecord(info, 12.3456)
  t.is(record.executor, 'webgpu')
  t.true(new TextEncoder().encode(record.adapter).length <= 64)
  t.true(info.adapter.description.startsWith(record.adapter))
  t.is(record.gflopsMilli, 12346)
  t.is(record.memoryMiB, 192)
  t.is(record.profile, EXECUTION_PROFILE)
  t.is(gflopsToMilli(Number.NaN), 0)
  t.is(gflopsToMilli(1e12), 0xffffffff)
})
