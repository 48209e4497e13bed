import { existsSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { z } from 'zod'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { BlobError } from '../../src/market/blobs/errors.ts'
import { seal } from '../../src/market/blobs/seal.ts'
import { outputContext } from '../../src/market/seal-contexts.ts'
import { fetchTaskOutput, HarmonyClient, requesterKemKey, TaskOutputError } from '../../src/sdk/index.ts'
import { runHarmonyd, tempDir } from '../helpers/harmonyd.ts'
import { startFixture, testRegistry } from '../helpers/rpc-fixture.ts'

const TASK_ID = `0x${'ab'.repeat(32)}`
const OUTPUT = new TextEncoder().encode('the verified output')

/** A node whose task_result serves the output of one private task, sealed to `requester`'s ML-KEM key. */
async function nodeWithSealedOutput (requesterSecretKey: Uint8Array): Promise<Awaited<ReturnType<typeof startFixture>>> {
  const envelope = seal(OUTPUT, requesterKemKey(requesterSecretKey).publicKey, { context: outputContext(TASK_ID.slice(2)) })
  const registry = testRegistry()
  registry.register({
    name: 'task_result',
    summary: 'The output of the one private task.',
    params: z.tuple([z.string()]),
    result: z.unknown(),
    handler: () => ({ taskId: TASK_ID, provider: `hmy1${'q'.repeat(38)}`, commitment: '0x00', outputBlob: '0x00', encoding: 'sealed', data: Buffer.from(envelope).toString('base64') })
  })
  // a record that does not mark the task private (a node and a client that disagree): the CLI opens no wallet
  registry.register({
    name: 'task_get',
    summary: 'The one task, not marked private.',
    params: z.tuple([z.string()]),
    result: z.unknown(),
    handler: () => ({ taskId: TASK_ID, state: 'settled', private: false, settlement: null })
  })
  return await startFixture({}, registry)
}

test.serial('fetchTaskOutput: a private output without the requester\'s ML-KEM key is a typed TaskOutputError; with the key it opens', async (t) => {
  const requester = generateKeyPair()
  const { server, url } = await nodeWithSealedOutput(requester.secretKey)
  t.teardown(async () => { await server.stop() })
  const client = new HarmonyClient({ url })
  t.teardown(async () => { await client.close() })

  const err = await t.throwsAsync(fetchTaskOutput(client, TASK_ID), { instanceOf: TaskOutputError })
  t.is(err?.code, 'OUTPUT_KEY_REQUIRED')
  t.is(err?.name, 'TaskOutputError')
  t.is(err?.meta.taskId, TASK_ID)
  t.regex(err?.message ?? '', /is private: its output is sealed to the requester's ML-KEM key; pass the key/)

  t.deepEqual(await fetchTaskOutput(client, TASK_ID, requesterKemKey(requester.secretKey).secretKey), OUTPUT)
  const wrongKey = await t.throwsAsync(fetchTaskOutput(client, TASK_ID, requesterKemKey(generateKeyPair().secretKey).secretKey), { instanceOf: BlobError })
  t.is(wrongKey?.code, 'SEAL_OPEN_FAILED')
})

test.serial('task result: a sealed output the CLI has no key for is a one-line error naming the task, nothing written', async (t) => {
  const { server, url } = await nodeWithSealedOutput(generateKeyPair().secretKey)
  t.teardown(async () => { await server.stop() })
  await using dir = await tempDir('harmony-task-output-')
  const out = join(dir.path, 'out.bin')

  const run = await runHarmonyd(['task', 'result', TASK_ID, '--rpc', url, '--out', out])
  t.is(run.code, 1, run.stderr)
  t.is(run.stderr, `harmonyd: task ${TASK_ID}'s output is sealed to its requester's ML-KEM key, but the node's record of the task does not mark it private, so no wallet key was opened; nothing was written to ${out}\n`)
  t.false(existsSync(out))
})
