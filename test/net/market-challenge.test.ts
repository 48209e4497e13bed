import test from 'ava'
import { outputBlob, resultCommitment } from '../../src/compute/blob.ts'
import { createExecutor } from '../../src/compute/device.ts'
import type { WorkerExecutor } from '../../src/compute/sandbox.ts'
import type { ComputeTask, ExecutorInfo, TaskResult } from '../../src/compute/types.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { capabilityRecord, type CapabilityRecord } from '../../src/market/provider/capability.ts'
import { type ChallengeExecutor, ChallengeResponder, Challenger, measureGflops } from '../../src/market/provider/challenge.ts'
import { addressBytesFromPublicKey, addressFromPublicKey } from '../../src/core/address.ts'
import { bytesEqual, toHex } from '../../src/core/codec.ts'
import type { Transaction } from '../../src/dag/tx.ts'
import { providerAttestKind, TX_KIND_PROVIDER_ATTEST } from '../../src/market/kinds/index.ts'
import type { ProviderView } from '../../src/market/state/reader.ts'
import { Attester } from '../../src/market/provider/attester.ts'
import { createDagLibp2p, type DagLibp2p } from '../helpers/dag-net.ts'

// The benchmark challenge over real libp2p on loopback: a provider on the CPU executor (its worker process)
// answers `/harmony/market/challenge/1.0.0`; a challenger checks each answer against the CPU reference and
// measures GFLOP/s from its own round trips.

const CHAIN = 'harmony-devnet'
const SIZE = 128
// The challengers here allow a claim up to 10x the measurement (the product's default is 2x): on this shared 2-core
// machine two timings of the same matmul a second apart differed by up to 6x, and a test must not fail on a neighbour's
// load. A CPU posing as a GPU claims ~10^5x what it runs at, so the verdicts the tests check keep a wide margin.
const OVERCLAIM_FACTOR = 10

interface Provider {
  libp2p: DagLibp2p
  responder: ChallengeResponder
  keys: KeyPair
}

async function provider (executor: ChallengeExecutor, keys: KeyPair): Promise<Provider> {
  const libp2p = await createDagLibp2p()
  const responder = new ChallengeResponder({ libp2p, keys, chainId: CHAIN, executor: () => executor, logger: silentLogger() })
  await responder.start()
  return { libp2p, responder, keys }
}

/** The CPU worker posing as a GPU: it reports a GPU adapter, and runs on the CPU. */
function posingAsGpu (cpu: WorkerExecutor): ChallengeExecutor {
  const gpuInfo = (): ExecutorInfo => {
    const info = cpu.info()
    return { ...info, kind: 'gpu', adapter: { ...info.adapter, vendor: 'nvidia', device: 'H100', description: 'NVIDIA H100 80GB HBM3', backend: 'vulkan', featureLevel: 'core' } }
  }
  return { info: gpuInfo, run: async (task: ComputeTask) => await cpu.run(task) }
}

/** The CPU worker returning a wrong output, committed to and signed as if right. */
function wrongAnswers (cpu: WorkerExecutor): ChallengeExecutor {
  return {
    info: () => cpu.info(),
    run: async (task: ComputeTask): Promise<TaskResult> => {
      const result = await cpu.run(task)
      const bytes = result.outputs[0].bytes.slice()
      bytes[7] ^= 0x40
      const output = outputBlob(bytes, 'f32', result.outputs[0].shape)
      return { ...result, outputs: [output], commitment: resultCommitment([output]) }
    }
  }
}

test.serial('an honest CPU provider passes; a CPU claiming a GPU fails; a wrong answer fails; an unreachable one is not judged', async t => {
  const cpu = await createExecutor({ executor: 'cpu', logger: silentLogger() })
  const challengerHost = await createDagLibp2p()
  const providers: Provider[] = []
  try {
    const challenger = new Challenger({ libp2p: challengerHost, chainId: CHAIN, logger: silentLogger() }, { size: SIZE, overclaimFactor: OVERCLAIM_FACTOR })
    const connect = async (p: Provider): Promise<void> => { await challengerHost.dial(p.libp2p.getMultiaddrs()[0]) }

    // honest: claims what it measured at start, by the path a challenge takes
    const honestKeys = generateKeyPair()
    const measured = await measureGflops(cpu, honestKeys, CHAIN, SIZE)
    t.true(measured > 0)
    const honestRecord: CapabilityRecord = capabilityRecord(cpu.info(), measured)
    const honest = await provider(cpu, honestKeys)
    providers.push(honest)
    await connect(honest)
    const pass = await challenger.challenge(honest.libp2p.peerId, { publicKey: honestKeys.publicKey, capability: honestRecord })
    t.is(pass.outcome, 'passed', pass.detail)
    t.true(pass.passed && pass.definitive)
    t.true(pass.measuredGflops > 0)
    t.is(pass.challengeId.length, 64)

    // the same honest provider claiming a GPU's throughput (H100 fp32: ~60 TFLOP/s)
    const overclaim = await challenger.challenge(honest.libp2p.peerId, { publicKey: honestKeys.publicKey, capability: { ...honestRecord, gflopsMilli: 60_000_000 } })
    t.is(overclaim.outcome, 'overclaim', overclaim.detail)
    t.false(overclaim.passed)
    t.true(overclaim.definitive)

    // a CPU provider that registered as an H100 and answers consistently as one: right answers, CPU speed
    const posingKeys = generateKeyPair()
    const posing = await provider(posingAsGpu(cpu), posingKeys)
    providers.push(posing)
    await connect(posing)
    const gpuRecord: CapabilityRecord = { executor: 'webgpu', adapter: 'NVIDIA H100 80GB HBM3', memoryMiB: 81920, gflopsMilli: 60_000_000, profile: honestRecord.profile }
    const posed = await challenger.challenge(posing.libp2p.peerId, { publicKey: posingKeys.publicKey, capability: gpuRecord })
    t.is(posed.outcome, 'overclaim', posed.detail)
    // and an answer from the CPU for a provider registered as a GPU is refused before any timing
    const mismatch = await challenger.challenge(honest.libp2p.peerId, { publicKey: honestKeys.publicKey, capability: gpuRecord })
    t.is(mismatch.outcome, 'adapter-mismatch', mismatch.detail)
    // one provider's key cannot stand in for another's
    const borrowed = await challenger.challenge(honest.libp2p.peerId, { publicKey: posingKeys.publicKey, capability: honestRecord })
    t.is(borrowed.outcome, 'key-mismatch', borrowed.detail)

    // wrong answers, signed as if right
    const liarKeys = generateKeyPair()
    const liar = await provider(wrongAnswers(cpu), liarKeys)
    providers.push(liar)
    await connect(liar)
    const wrong = await challenger.challenge(liar.libp2p.peerId, { publicKey: liarKeys.publicKey, capability: honestRecord })
    t.is(wrong.outcome, 'wrong-answer', wrong.detail)
    t.false(wrong.passed)
    t.is(wrong.measuredGflops, 0)

    // a peer that does not serve challenges: nothing is learnt about its claim
    await liar.responder.stop()
    const gone = await challenger.challenge(liar.libp2p.peerId, { publicKey: liarKeys.publicKey, capability: honestRecord })
    t.is(gone.outcome, 'unreachable', gone.detail)
    t.false(gone.definitive)
  } finally {
    for (const p of providers) {
      await p.responder.stop().catch(() => {})
      await p.libp2p.stop()
    }
    await challengerHost.stop()
    await cpu.close()
  }
})

test.serial('a provider answers one challenge at a time and refuses past its rate', async t => {
  const cpu = await createExecutor({ executor: 'cpu', logger: silentLogger() })
  // the executor holds the first challenge until the test lets it go, so the second surely meets a busy provider
  let started: () => void = () => {}
  const running = new Promise<void>(resolve => { started = resolve })
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const gated: ChallengeExecutor = { info: () => cpu.info(), run: async (task: ComputeTask) => { started(); await gate; return await cpu.run(task) } }
  const keys = generateKeyPair()
  const libp2p = await createDagLibp2p()
  const responder = new ChallengeResponder({ libp2p, keys, chainId: CHAIN, executor: () => gated, logger: silentLogger() }, { maxPerMinute: 2 })
  await responder.start()
  const challengerHost = await createDagLibp2p()
  try {
    await challengerHost.dial(libp2p.getMultiaddrs()[0])
    const record = capabilityRecord(cpu.info(), 0.001)
    const challenger = new Challenger({ libp2p: challengerHost, chainId: CHAIN, logger: silentLogger() }, { size: 64, rounds: 1 })
    const expectation = { publicKey: keys.publicKey, capability: record }
    const first = challenger.challenge(libp2p.peerId, expectation)
    await running
    const second = await challenger.challenge(libp2p.peerId, expectation)
    t.is(second.outcome, 'refused')
    t.regex(second.detail, /busy/)
    t.false(second.definitive)
    release()
    t.is((await first).outcome, 'passed')
    const third = await challenger.challenge(libp2p.peerId, expectation)
    t.is(third.outcome, 'passed', third.detail)
    // two answered in the last minute: the next is refused
    const fourth = await challenger.challenge(libp2p.peerId, expectation)
    t.is(fourth.outcome, 'refused')
    t.regex(fourth.detail, /rate-limited/)
  } finally {
    release()
    await responder.stop()
    await libp2p.stop()
    await challengerHost.stop()
    await cpu.close()
  }
})

test.serial('a validator challenges the providers whose turn is its own and records each verdict with a provider-attest', async t => {
  const cpu = await createExecutor({ executor: 'cpu', logger: silentLogger() })
  const validatorHost = await createDagLibp2p()
  const validatorKeys = generateKeyPair()
  const providers: Provider[] = []
  try {
    const honestKeys = generateKeyPair()
    const honestRecord = capabilityRecord(cpu.info(), await measureGflops(cpu, honestKeys, CHAIN, SIZE))
    const posingKeys = generateKeyPair()
    providers.push(await provider(cpu, honestKeys), await provider(posingAsGpu(cpu), posingKeys))
    for (const p of providers) await validatorHost.dial(p.libp2p.getMultiaddrs()[0])
    const gpuRecord: CapabilityRecord = { executor: 'webgpu', adapter: 'NVIDIA H100 80GB HBM3', memoryMiB: 81920, gflopsMilli: 60_000_000, profile: honestRecord.profile }
    const view = (keys: KeyPair, capability: CapabilityRecord): ProviderView => ({
      address: addressFromPublicKey(keys.publicKey), bond: 10n ** 20n, kemPublicKey: '00'.repeat(1184), capability, registeredAtMs: Date.now(),
      reputation: 0, verified: 0, faults: 0, lates: 0, received: 0n, owed: 0n, openTasks: []
    })
    const registered = [view(honestKeys, honestRecord), view(posingKeys, gpuRecord)]
    const submitted: Transaction[] = []
    const attester = new Attester({
      market: { providers: async () => registered },
      ledger: { account: async () => ({ balance: 0n, nonce: 0n }), validatorKeys: () => [validatorKeys.publicKey] },
      challenger: new Challenger({ libp2p: validatorHost, chainId: CHAIN, logger: silentLogger() }, { size: SIZE, overclaimFactor: OVERCLAIM_FACTOR }),
      peerOf: (address) => {
        const p = providers.find(x => addressFromPublicKey(x.keys.publicKey) === address)
        return p === undefined ? undefined : { peerId: p.libp2p.peerId, publicKey: p.keys.publicKey }
      },
      submit: async (tx) => { submitted.push(tx); return toHex(new Uint8Array(32)) },
      chainId: CHAIN,
      keys: validatorKeys,
      logger: silentLogger()
    })
    await attester.scan()
    t.is(submitted.length, 2)
    const verdicts = submitted.map(tx => {
      t.is(tx.kind, TX_KIND_PROVIDER_ATTEST)
      t.is(tx.fee, 0n)
      t.deepEqual(tx.publicKey, validatorKeys.publicKey)
      return providerAttestKind.decode(tx.payload)
    })
    const byProvider = new Map(verdicts.map(v => [addressFromPublicKey(providers.find(p => bytesEqual(addressBytesFromPublicKey(p.keys.publicKey), v.provider))!.keys.publicKey), v]))
    t.true(byProvider.get(addressFromPublicKey(honestKeys.publicKey))?.passed, 'the honest CPU provider passes')
    t.false(byProvider.get(addressFromPublicKey(posingKeys.publicKey))?.passed, 'the CPU posing as an H100 fails')
    t.true((byProvider.get(addressFromPublicKey(honestKeys.publicKey))?.measuredGflopsMilli ?? 0) > 0)

    // an attested registration is not challenged again
    registered[0] = { ...registered[0], attestation: { challengeId: '00'.repeat(32), measuredGflopsMilli: 1, passed: true, timeMs: Date.now(), txId: '00'.repeat(32) } }
    registered[1] = { ...registered[1], attestation: { challengeId: '00'.repeat(32), measuredGflopsMilli: 1, passed: false, timeMs: Date.now(), txId: '00'.repeat(32) } }
    await attester.scan()
    t.is(submitted.length, 2)
  } finally {
    for (const p of providers) {
      await p.responder.stop().catch(() => {})
      await p.libp2p.stop()
    }
    await validatorHost.stop()
    await cpu.close()
  }
})
