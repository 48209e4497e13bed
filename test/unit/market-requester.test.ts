import test from 'ava'
import { createHash } from 'node:crypto'
import { registerMarketRpc, type MarketRpcSource } from '../../src/api/index.ts'
import { createLogger } from '../../src/core/logger.ts'
import { Requester, type AnnounceSummary, type FinalAward, type RequesterBlobStore } from '../../src/market/requester.ts'
import { RpcRegistry } from '../../src/rpc/registry.ts'
import { HarmonyClient, RpcClientError } from '../../src/sdk/index.ts'
import { startFixture } from '../helpers/rpc-fixture.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const logger = createLogger({ level: 'silent' })

/** An in-memory blob store that records what the requester did, in order. */
class MemoryBlobs implements RequesterBlobStore {
  readonly stored = new Map<string, { bytes: Uint8Array, private: boolean }>()
  readonly sealed: Array<{ id: string, taskId: string, provider: string }> = []
  readonly events: string[] = []
  async put (bytes: Uint8Array, options: { private: boolean, taskId: string }): Promise<string> {
    const id = sha(bytes)
    this.stored.set(id, { bytes, private: options.private })
    this.events.push(`put ${id.slice(0, 8)}`)
    return id
  }

  async hasPlaintext (id: string): Promise<boolean> { return this.stored.get(id)?.private === true }
  async sealFor (id: string, taskId: string, provider: string): Promise<void> {
    this.sealed.push({ id, taskId, provider })
  }
}

/** A fake encoding of an announce for the requester's parser: JSON of the summary (the real kinds are m1's). */
function announceBytes (summary: AnnounceSummary): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ kind: 'announce', ...summary }))
}

function setup (): { requester: Requester, blobs: MemoryBlobs, submitted: Uint8Array[], announces: Map<string, AnnounceSummary>, award: (a: FinalAward) => void } {
  const blobs = new MemoryBlobs()
  const submitted: Uint8Array[] = []
  const announces = new Map<string, AnnounceSummary>()
  let listener: ((a: FinalAward) => void) | undefined
  const parse = (kind: string) => (encoded: Uint8Array): Record<string, unknown> => {
    const value = JSON.parse(new TextDecoder().decode(encoded)) as Record<string, unknown>
    if (value.kind !== kind) throw new Error(`not a ${kind}`)
    return value
  }
  const requester = new Requester({
    blobs,
    parseAnnounce: (encoded) => parse('announce')(encoded) as unknown as AnnounceSummary,
    parseCancel: (encoded) => parse('cancel')(encoded).taskId as string,
    submitTransaction: async (encoded) => {
      blobs.events.push('submit')
      submitted.push(encoded)
      return `0x${sha(encoded)}`
    },
    announceOf: async (taskId) => announces.get(taskId),
    onAward: (l) => { listener = l; return () => { listener = undefined } },
    logger
  })
  return { requester, blobs, submitted, announces, award: (a) => listener?.(a) }
}

test('submit checks each input against the announce, stores the inputs, then submits the announce', async (t) => {
  const { requester, blobs, submitted } = setup()
  const a = new Uint8Array([1, 2, 3, 4])
  const b = new Uint8Array([5, 6, 7, 8])
  const announce = announceBytes({ taskId: 'aa'.repeat(32), inputs: [sha(a), sha(b)], private: false })
  const out = await requester.submit(announce, [a, b])
  t.is(out.taskId, `0x${'aa'.repeat(32)}`)
  t.is(out.txId, `0x${sha(announce)}`)
  t.deepEqual(blobs.events, [`put ${sha(a).slice(0, 8)}`, `put ${sha(b).slice(0, 8)}`, 'submit'])
  t.is(submitted.length, 1)
})

test('a submit whose inputs differ from the announce, or that is no announce, stores and sends nothing', async (t) => {
  const { requester, blobs, submitted } = setup()
  const a = new Uint8Array([1, 2, 3, 4])
  const announce = announceBytes({ taskId: 'bb'.repeat(32), inputs: [sha(a)], private: false })
  const swapped = await t.throwsAsync(requester.submit(announce, [new Uint8Array([9])]))
  t.is((swapped as { code?: string }).code, 'TASK_INPUTS_MISMATCH')
  const missing = await t.throwsAsync(requester.submit(announce, []))
  t.is((missing as { code?: string }).code, 'TASK_INPUTS_MISMATCH')
  const notAnnounce = await t.throwsAsync(requester.submit(new TextEncoder().encode('{"kind":"cancel"}'), [a]))
  t.is((notAnnounce as { code?: string }).code, 'TASK_ANNOUNCE_INVALID')
  const tooMany = await t.throwsAsync(requester.submit(announce, Array.from({ length: 9 }, () => a)))
  t.is((tooMany as { code?: string }).code, 'TASK_INPUTS_TOO_LARGE')
  t.is(blobs.stored.size, 0)
  t.is(submitted.length, 0)
})

test('a private task\'s inputs are sealed to every awarded provider once the award is final, only by the node holding them', async (t) => {
  const { requester, blobs, announces, award } = setup()
  await requester.start()
  t.teardown(async () => { await requester.stop() })
  const a = new Uint8Array([1, 2, 3, 4])
  const mine: AnnounceSummary = { taskId: 'cc'.repeat(32), inputs: [sha(a)], private: true }
  await requester.submit(announceBytes(mine), [a])
  announces.set(mine.taskId, mine)
  // another requester's private task: this node holds none of its plaintext and seals nothing
  const theirs: AnnounceSummary = { taskId: 'dd'.repeat(32), inputs: ['ee'.repeat(32)], private: true }
  announces.set(theirs.taskId, theirs)
  const kem = new Uint8Array(1184)
  award({ taskId: theirs.taskId, round: 0, recipients: [{ provider: 'p1', kemPublicKey: kem }] })
  award({ taskId: mine.taskId, round: 0, recipients: [{ provider: 'p1', kemPublicKey: kem }, { provider: 'p2', kemPublicKey: kem }] })
  await waitUntil(() => blobs.sealed.length === 2)
  t.deepEqual(blobs.sealed.map(s => [s.taskId, s.provider]), [[mine.taskId, 'p1'], [mine.taskId, 'p2']])
})

async function waitUntil (done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise(resolve => setImmediate(resolve))
  if (!done()) throw new Error('condition never held')
}

test('task_submit over RPC: bounded inputs, typed errors with their reason', async (t) => {
  const { requester } = setup()
  const unused = async (): Promise<never> => { throw new Error('unused') }
  const source: MarketRpcSource = {
    submit: async (announce, inputs) => await requester.submit(announce, inputs),
    cancel: async (encoded) => await requester.cancel(encoded),
    task: async () => null,
    tasks: async () => ({ tasks: [], next: null }),
    result: unused,
    bids: async () => null,
    providers: async () => ({ providers: [], next: null }),
    providerStatus: unused
  }
  const registry = new RpcRegistry()
  registerMarketRpc(registry, source)
  const fixture = await startFixture({}, registry)
  t.teardown(async () => { await fixture.server.stop() })
  const client = new HarmonyClient({ url: fixture.url })
  const a = new Uint8Array([1, 2, 3, 4])
  const announce = announceBytes({ taskId: 'ab'.repeat(32), inputs: [sha(a)], private: false })
  const hex = `0x${Buffer.from(announce).toString('hex')}`
  const ok = await client.call('task_submit', [{ announce: hex, inputs: [Buffer.from(a).toString('base64')] }])
  t.is(ok.taskId, `0x${'ab'.repeat(32)}`)

  const mismatch = await t.throwsAsync(client.call('task_submit', { announce: hex, inputs: [Buffer.from([7]).toString('base64')] }))
  t.true(mismatch instanceof RpcClientError)
  t.is((mismatch as RpcClientError).code, -32602)
  t.like((mismatch as RpcClientError).data, { reason: 'TASK_INPUTS_MISMATCH' })

  // an input over the per-input bound is refused by the schema before anything is decoded
  const huge = 'A'.repeat(Math.ceil(512 * 1024 / 3) * 4 + 4)
  const oversize = await t.throwsAsync(client.call('task_submit', [{ announce: hex, inputs: [huge] }]))
  t.is((oversize as RpcClientError).code, -32602)
  // a cancel that is no cancel
  const cancel = await t.throwsAsync(client.call('task_cancel', [hex]))
  t.like((cancel as RpcClientError).data, { reason: 'TASK_CANCEL_INVALID' })
  t.deepEqual(await client.call('task_list', [{ state: 'settled', limit: 5 }]), { tasks: [], next: null })
  const badLimit = await t.throwsAsync(client.call('task_list', [{ limit: 1000 }]))
  t.is((badLimit as RpcClientError).code, -32602)
  t.is(await client.call('task_get', [`0x${'ab'.repeat(32)}`]), null)
  await client.close()
})
