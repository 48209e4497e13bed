// patches/@libp2p+tcp+11.0.28.patch: noise hands the TCP connection each frame as two buffers (its 2-byte length and
// its ciphertext); the connection writes them corked, as one writev, instead of one write (and, with Nagle off, one
// TCP segment) each. Two libp2p nodes on loopback (TCP, noise, yamux) exchange small messages; the sockets' writes
// are watched: no lone 2-byte length prefix goes out, and the messages arrive whole and in order.
import { Socket } from 'node:net'
import test from 'ava'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import { noiseCrypto } from '../../src/network/noise-crypto.ts'

const PROTOCOL = '/harmony-test/echo/1'

async function node (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()]
  })
}

test('a noise frame leaves the TCP socket in one write: no lone length prefix, and messages arrive whole', async (t) => {
  const [a, b] = [await node(), await node()]
  type Proto = { _write: (chunk: Uint8Array, enc: string, cb: () => void) => void, _writev: (chunks: Array<{ chunk: Uint8Array }>, cb: () => void) => void }
  const proto = Socket.prototype as unknown as Proto
  const write = proto._write
  const writev = proto._writev
  const single: number[] = []
  const vectors: number[][] = []
  proto._write = function (this: Socket, chunk, enc, cb) { single.push(chunk.byteLength); write.call(this, chunk, enc, cb) }
  proto._writev = function (this: Socket, chunks, cb) { vectors.push(chunks.map(c => c.chunk.byteLength)); writev.call(this, chunks, cb) }
  try {
    await b.handle(PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try { for (;;) await lp.write((await lp.read()).subarray()) } catch { stream.abort(new Error('done')) }
    })
    const lp = lpStream(await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL))
    single.length = 0
    vectors.length = 0
    for (let i = 0; i < 50; i++) {
      const msg = new Uint8Array(20 + i).fill(i)
      await lp.write(msg)
      t.deepEqual(Uint8Array.from((await lp.read()).subarray()), msg)
    }
    t.true(vectors.length >= 100, `frames went out as vectors (${vectors.length} writev calls)`)
    t.true(vectors.every(v => v.length >= 2 && v[0] === 2), 'each vector starts with a frame\'s 2-byte length')
    t.deepEqual(single.filter(n => n === 2), [], 'no 2-byte length prefix written on its own')
  } finally {
    proto._write = write
    proto._writev = writev
    await a.stop()
    await b.stop()
  }
})
