import test from 'ava'
import { generateKeyPair, sha256, verify } from '../../src/core/crypto.ts'
import { toHex } from '../../src/core/codec.ts'
import { buildTransfer, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { buildVertex, buildVertexInfo, encodeUnsignedVertex, encodeVertex, vertexInfo, vertexSigningMessage, vertexSigningMessageOf } from '../../src/dag/vertex.ts'

test('a vertex built from decoded transactions has the bytes, id and signature of the generic path', t => {
  const author = generateKeyPair()
  const from = generateKeyPair()
  const txs = [0n, 1n, 2n].map(nonce => txInfo(encodeTx(buildTransfer({ chainId: 'c', publicKey: from.publicKey, secretKey: from.secretKey, to: new Uint8Array(20).fill(7), amount: 5n, nonce, fee: 1000n }))))
  const parents = [new Uint8Array(32).fill(9), new Uint8Array(32).fill(3), new Uint8Array(32).fill(9)]
  const built = buildVertexInfo('c', { author: author.publicKey, secretKey: author.secretKey, parents, txs, timestampMs: 1234n })
  // ML-DSA signing is randomised: compare against the generic encoding of the same signed vertex
  t.deepEqual(built.encoded, encodeVertex(built.vertex))
  const decoded = vertexInfo(built.encoded)
  t.is(built.idHex, decoded.idHex)
  t.deepEqual(built.parentHex, decoded.parentHex)
  t.deepEqual(built.parentHex, [toHex(parents[1]), toHex(parents[0])], 'parents deduplicated and ascending')
  t.deepEqual(built.txs.map(x => x.idHex), decoded.txs.map(x => x.idHex))
  // the id is sha256 of the whole encoding, the signed digest sha256 of its unsigned part, however either was reached
  t.deepEqual(decoded.id, sha256(built.encoded))
  t.deepEqual(decoded.unsignedDigest, sha256(encodeUnsignedVertex(built.vertex)))
  t.deepEqual(built.unsignedDigest, decoded.unsignedDigest)
  t.deepEqual(vertexSigningMessageOf('c', decoded), vertexSigningMessage('c', built.vertex))
  t.true(verify(built.vertex.signature, vertexSigningMessageOf('c', decoded), author.publicKey))
  const generic = buildVertex('c', { author: author.publicKey, secretKey: author.secretKey, parents, txs: txs.map(x => x.encoded), timestampMs: 1234n })
  t.is(encodeVertex(generic).length, built.encoded.length)
})
