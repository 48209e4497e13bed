/**
 * The storage table is the on-disk layout: these tests pin its bytes (an existing datadir must keep working) and
 * check that names and prefixes cannot collide.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoalescedWriter, DEPOSIT_SCOPE_KEYS, getValue, KEY_PREFIXES, keyBytes, openDatabase, RETIRED_SUBLEVELS, SUBLEVELS, sublevel } from '../../src/core/storage.ts'

test('sublevel names are the bytes existing datadirs hold, distinct, and none is retired', t => {
  t.deepEqual({ ...SUBLEVELS }, {
    meta: 'meta',
    p2p: 'p2p',
    dagVertices: 'dag-v',
    dagChildren: 'dag-c',
    dagTips: 'dag-t',
    dagTx: 'dag-x',
    dagAccounts: 'dag-a',
    dagConsensus: 'dag-s',
    dagMeta: 'dag-m',
    chain: 'chain',
    blobs: 'blobs',
    market: 'market',
    webhooks: 'webhooks',
    dagGraph: 'dag-g',
    dagBodies: 'dag-b',
    dagCredits: 'dag-u',
    dagForwarded: 'dag-f'
  })
  const names = Object.values(SUBLEVELS)
  t.is(new Set(names).size, names.length)
  for (const name of names) t.false(RETIRED_SUBLEVELS.includes(name), name)
})

test('inner prefixes are the bytes existing datadirs hold', t => {
  t.deepEqual(KEY_PREFIXES.meta, { roundGuard: 'round-guard/' })
  t.deepEqual(KEY_PREFIXES.dagTx, { txRecord: 'i', nonceIndex: 'n' })
  t.deepEqual(KEY_PREFIXES.dagConsensus, { decision: 'v', slotLeader: 's', conflictWinner: 'c' })
  t.deepEqual(KEY_PREFIXES.dagMeta, { genesis: 'genesis', counters: 'counters', finalClock: 'final-clock', history: 'history', syncBase: 'sync-base', accountsFormat: 'accounts', syncedAuthors: 'synced-authors' })
  t.deepEqual(KEY_PREFIXES.dagGraph, { record: 'r', byHeight: 'h', undecided: 'u' })
  t.deepEqual(KEY_PREFIXES.chain, {
    deposit: 'deposit/',
    withdrawalLeaves: 'withdrawals/',
    withdrawalIndex: 'withdrawal/',
    bridgeEpoch: 'bridge/epoch',
    bridgeDeposit: 'bridge/deposit/',
    bridgeUnsettled: 'bridge/unsettled/',
    bridgeSettled: 'bridge/settled/',
    bridgeStateCut: 'bridge/cut/',
    proposedCheckpoint: 'checkpoint/'
  })
  t.deepEqual(KEY_PREFIXES.webhooks, { hook: 'h/', queue: 'q/', status: 's/', outbox: 'o/' })
  t.deepEqual(DEPOSIT_SCOPE_KEYS, { cursor: 'cursor', history: 'history', done: 'done/' })
  t.deepEqual(keyBytes(KEY_PREFIXES.chain.withdrawalIndex, '0xab/1'), new TextEncoder().encode('withdrawal/0xab/1'))
})

test('within one sublevel no prefix is a prefix of another, and every listed sublevel exists', t => {
  const groups: Array<[string, Record<string, string>]> = [...Object.entries(KEY_PREFIXES), ['deposit scope', DEPOSIT_SCOPE_KEYS]]
  for (const [sublevel, prefixes] of groups) {
    if (sublevel !== 'deposit scope') t.true(Object.hasOwn(SUBLEVELS, sublevel), sublevel)
    const values = Object.values(prefixes)
    for (const a of values) {
      for (const b of values) {
        if (a !== b) t.false(b.startsWith(a), `${sublevel}: ${a} is a prefix of ${b}`)
      }
    }
  }
})

test('getValue reads a sublevel before it has opened (through get) and after (getSync): the same values', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-getvalue-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const db = await openDatabase(dir)
  t.teardown(async () => { await db.close() })
  await sublevel(db, 'dagAccounts').put(new Uint8Array([1, 2]), new Uint8Array([7, 8, 9]))
  // a sublevel made now is still opening: getSync would throw LEVEL_DATABASE_NOT_OPEN (how the first version failed)
  const fresh = sublevel(db, 'dagAccounts')
  const read = async (key: number[]): Promise<number[] | undefined> => { const v = await getValue(fresh, new Uint8Array(key)); return v === undefined ? undefined : [...v] }
  t.not(fresh.status, 'open')
  t.deepEqual(await read([1, 2]), [7, 8, 9])
  t.is(fresh.status, 'open')
  t.deepEqual(await read([1, 2]), [7, 8, 9])
  t.is(await read([3]), undefined)
  // a write that resolved is seen by the next read, and a key of another sublevel is not
  await fresh.put(new Uint8Array([3]), new Uint8Array([4]))
  t.deepEqual(await read([3]), [4])
  t.is(await getValue(sublevel(db, 'dagTx'), new Uint8Array([3])), undefined)
})

test('a CoalescedWriter writes a lone write at once and the writes made while it is written together in the next batch, in the order made; each resolves once on disk, and a failed batch fails only its own writes', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-coalesced-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const db = await openDatabase(dir)
  t.teardown(async () => { await db.close() })
  const sub = sublevel(db, 'market')
  const batches: number[] = []
  const batch = sub.batch.bind(sub)
  let refuse = false
  type Ops = Array<{ type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }>
  sub.batch = (async (ops: Ops) => {
    batches.push(ops.length)
    if (refuse) { refuse = false; throw new Error('disk full') }
    await batch(ops)
  }) as unknown as typeof sub.batch
  const w = new CoalescedWriter(sub)
  const key = (n: number): Uint8Array => new Uint8Array([n])
  const read = (n: number): number[] | undefined => { const v = sub.getSync(key(n)); return v === undefined ? undefined : [...v] }
  const writes = [w.put(key(1), Uint8Array.of(1))]
  for (let i = 2; i <= 9; i++) writes.push(w.put(key(i), Uint8Array.of(i)))
  // the same key three times, in one batch: the last one made wins
  writes.push(w.put(key(10), Uint8Array.of(1)), w.del(key(10)), w.put(key(10), Uint8Array.of(3)))
  await writes[0]
  t.deepEqual(read(1), [1], 'on disk once resolved')
  await Promise.all(writes)
  t.deepEqual(batches, [1, 11])
  for (let i = 1; i <= 9; i++) t.deepEqual(read(i), [i])
  t.deepEqual(read(10), [3])
  // a batch that fails (once) rejects its writes only: the next ones are written
  refuse = true
  const failed = w.put(key(11), Uint8Array.of(11))
  const later = w.del(key(1))
  await t.throwsAsync(failed, { message: 'disk full' })
  await later
  t.is(read(11), undefined)
  t.is(read(1), undefined)
  t.deepEqual(batches, [1, 11, 1, 1])
})
