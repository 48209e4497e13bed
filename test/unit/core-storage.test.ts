/**
 * The storage table is the on-disk layout: these tests pin its bytes (an existing datadir must keep working) and
 * check that names and prefixes cannot collide.
 */
import test from 'ava'
import { DEPOSIT_SCOPE_KEYS, KEY_PREFIXES, keyBytes, RETIRED_SUBLEVELS, SUBLEVELS } from '../../src/core/storage.ts'

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
    dagBodies: 'dag-b'
  })
  const names = Object.values(SUBLEVELS)
  t.is(new Set(names).size, names.length)
  for (const name of names) t.false(RETIRED_SUBLEVELS.includes(name), name)
})

test('inner prefixes are the bytes existing datadirs hold', t => {
  t.deepEqual(KEY_PREFIXES.dagTx, { txRecord: 'i', nonceIndex: 'n' })
  t.deepEqual(KEY_PREFIXES.dagConsensus, { decision: 'v', conflictWinner: 'c' })
  t.deepEqual(KEY_PREFIXES.dagMeta, { genesis: 'genesis', counters: 'counters', history: 'history', syncBase: 'sync-base' })
  t.deepEqual(KEY_PREFIXES.dagGraph, { record: 'r', byHeight: 'h', undecided: 'u' })
  t.deepEqual(KEY_PREFIXES.chain, {
    deposit: 'deposit/',
    withdrawalLeaves: 'withdrawals/',
    withdrawalIndex: 'withdrawal/',
    bridgeEpoch: 'bridge/epoch',
    bridgeDeposit: 'bridge/deposit/',
    bridgeUnsettled: 'bridge/unsettled/',
    bridgeSettled: 'bridge/settled/',
    bridgeStateCut: 'bridge/cut/'
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
