import test from 'ava'
import { pino } from 'pino'
import { ProviderRegistration } from '../../src/market/provider/registration.ts'
import type { CapabilityRecord } from '../../src/market/provider/capability.ts'
import type { ProviderView } from '../../src/market/state/reader.ts'

// The provider's registration on its agent's clock: an unfunded account is read again every second (it registers
// about a second after it is funded) and warned about once per balance; a submitted registration is not sent again
// for 5 s (time to become final).

const CAPABILITY: CapabilityRecord = { executor: 'cpu', adapter: 'CPU reference executor', profile: 'cpu-ref-v1', memoryMiB: 1024, gflopsMilli: 100 }
const BOND = 1000n
const FEE = 10n

/** The provider's record on the DAG with this bond, its key and capability the ones it wants. */
function onDag (bond: bigint): ProviderView {
  return { address: 'hmy1provider', bond, kemPublicKey: '00'.repeat(1184), capability: { ...CAPABILITY } } as unknown as ProviderView
}

interface Fixture {
  registration: ProviderRegistration
  setBalance: (b: bigint) => void
  /** What `register` does next: admit (its tx id), not admit (undefined), or throw. */
  setRegister: (outcome: string | undefined | Error) => void
  /** The provider's record on the DAG as the market reads it. */
  setOnDag: (view: ProviderView | undefined) => void
  registers: bigint[]
  warnings: () => string[]
  /** A tick of the agent's clock at `now`, and the try it starts run to its end. */
  at: (now: number) => Promise<void>
}

function fixture (): Fixture {
  let balance = 0n
  let outcome: string | undefined | Error = 'tx'
  let onDag: ProviderView | undefined
  const registers: bigint[] = []
  const lines: Array<{ level: number, msg: string }> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number, msg: string }) } })
  const registration = new ProviderRegistration({
    address: 'hmy1provider',
    bond: BOND,
    kemPublicKey: new Uint8Array(1184),
    fee: FEE,
    market: { provider: async (): Promise<ProviderView | undefined> => onDag },
    balance: async () => balance,
    register: async (topUp) => {
      registers.push(topUp)
      if (outcome instanceof Error) throw outcome
      return outcome
    },
    log
  }, CAPABILITY)
  return {
    registration,
    setBalance: (b) => { balance = b },
    setRegister: (o) => { outcome = o },
    setOnDag: (v) => { onDag = v },
    registers,
    warnings: () => lines.filter(l => l.level === 40).map(l => l.msg),
    at: async (now) => {
      registration.tick(now)
      // a try runs on promises: let it end before the next tick
      for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
    }
  }
}

test('an unfunded provider reads its balance again each second and registers within a second of being funded', async (t) => {
  const f = fixture()
  await f.at(10_000)
  t.deepEqual(f.registers, [])
  t.is(f.warnings().length, 1)
  t.regex(f.warnings()[0], /cannot pay its bond/)
  // the same balance a second later: read again, not said again
  await f.at(11_000)
  t.is(f.warnings().length, 1)
  // funded: the next try, a second after the last, registers with the whole bond
  f.setBalance(BOND + FEE)
  await f.at(11_999)
  t.deepEqual(f.registers, [], 'not before the second is up')
  await f.at(12_000)
  t.deepEqual(f.registers, [BOND])
})

test('a balance that changes but still cannot pay is said again; a submitted registration is not sent again for 5 s', async (t) => {
  const f = fixture()
  await f.at(10_000)
  f.setBalance(BOND)
  await f.at(11_000)
  t.is(f.warnings().length, 2, 'a new balance, still short of bond + fee')
  f.setBalance(BOND + FEE)
  await f.at(12_000)
  t.deepEqual(f.registers, [BOND])
  // not final yet (the market still has no record): the next try waits the full retry
  await f.at(13_000)
  await f.at(16_999)
  t.deepEqual(f.registers, [BOND])
  await f.at(17_000)
  t.deepEqual(f.registers, [BOND, BOND])
})

test('provider_status\'s wait: unfunded (since the first try, with what it needs), submitted, failed, then none once on the DAG', async (t) => {
  const f = fixture()
  t.is(f.registration.wait(), undefined, 'nothing tried yet')
  await f.at(10_000)
  t.deepEqual(f.registration.wait(), { reason: 'unfunded', atMs: 10_000, balance: 0n, needed: BOND + FEE })
  f.setBalance(5n)
  await f.at(11_000)
  t.deepEqual(f.registration.wait(), { reason: 'unfunded', atMs: 10_000, balance: 5n, needed: BOND + FEE }, 'waiting since the first try')
  f.setBalance(BOND + FEE)
  f.setRegister(undefined)
  await f.at(12_000)
  t.deepEqual(f.registration.wait(), { reason: 'failed', atMs: 12_000, error: 'the registration was not admitted' })
  f.setRegister(new Error('node busy'))
  await f.at(17_000)
  t.deepEqual(f.registration.wait(), { reason: 'failed', atMs: 17_000, error: 'node busy' })
  f.setRegister('0xabc')
  await f.at(22_000)
  t.deepEqual(f.registration.wait(), { reason: 'submitted', atMs: 22_000, txId: '0xabc' })
  // final: the record on the DAG is the one it wants
  f.setOnDag(onDag(BOND))
  await f.registration.refresh()
  t.not(f.registration.self, undefined)
  t.is(f.registration.wait(), undefined)
})

test('a registered provider slashed below its bond waits afresh: a new since, and the warning said again', async (t) => {
  const f = fixture()
  await f.at(10_000)
  t.is(f.warnings().length, 1)
  f.setBalance(BOND + FEE)
  await f.at(11_000)
  f.setBalance(0n)
  f.setOnDag(onDag(BOND))
  await f.registration.refresh()
  t.is(f.registration.wait(), undefined)
  // slashed: the bond on the DAG is below the one it wants, and the account is empty again
  f.setOnDag(onDag(BOND / 2n))
  await f.registration.refresh()
  t.is(f.registration.self, undefined)
  await f.at(20_000)
  t.deepEqual(f.registration.wait(), { reason: 'unfunded', atMs: 20_000, balance: 0n, needed: BOND / 2n + FEE })
  t.is(f.warnings().length, 2, 'the same balance as the first warning, said again for the new wait')
})
