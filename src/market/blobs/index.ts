/**
 * Task blobs for the compute market: a content-addressed chunked store, `/harmony/blob/1.0.0`, and sealing of
 * private payloads to a provider's ML-KEM-768 key. See docs/market.md "Blobs".
 */
export { BLOB_ERROR_CODES, BlobError, type BlobErrorCode, isBlobError, PEER_FAULT_CODES } from './errors.ts'
export { assertBlobId, type BlobManifest, buildManifest, CHUNK_BYTES, PROTOCOL_MAX_BLOB_BYTES } from './manifest.ts'
export { BlobService, type BlobServiceComponents, type BlobServiceInit, type FetchOptions } from './service.ts'
export { BlobStore, type BlobStoreComponents, type BlobStoreInit, type PutOptions } from './store.ts'
export { BlobWriter } from './writer.ts'
export { generateKemKeyPair, KEM_PUBLIC_KEY_BYTES, KEM_SECRET_KEY_BYTES, KEM_SEED_BYTES, type KemKeyPair, open, seal, SEAL_OVERHEAD_BYTES, type SealOptions, seedGivesKey, taskKeySeed } from './seal.ts'
export { BlobCollector, type BlobCollectorComponents, type BlobCollectorInit } from './collector.ts'
