import { Counter, Gauge } from 'prom-client'
import { defineMetrics } from '../../core/metrics.ts'

/** Every metric of the blob store and `/harmony/blob/1.0.0`. */
export interface BlobMetrics {
  storedBytes: Gauge
  storedBlobs: Gauge
  collected: Counter<'reason'>
  servedBytes: Counter
  serveStreams: Gauge
  serveRefused: Counter<'reason'>
  fetchedBytes: Counter
  fetches: Counter<'outcome'>
}

export const createBlobMetrics = defineMetrics<BlobMetrics>((registers) => ({
  storedBytes: new Gauge({ name: 'harmony_blob_store_bytes', help: 'Bytes of complete blobs in the store', registers }),
  storedBlobs: new Gauge({ name: 'harmony_blob_store_blobs', help: 'Complete blobs in the store', registers }),
  collected: new Counter({ name: 'harmony_blob_collected_total', help: 'Blobs removed from the store, by reason (released, expired, corrupt)', labelNames: ['reason'], registers }),
  servedBytes: new Counter({ name: 'harmony_blob_served_bytes_total', help: 'Chunk bytes served to peers', registers }),
  serveStreams: new Gauge({ name: 'harmony_blob_serve_streams', help: 'Inbound blob streams being served', registers }),
  serveRefused: new Counter({ name: 'harmony_blob_serve_refused_total', help: 'Inbound blob requests refused, by reason', labelNames: ['reason'], registers }),
  fetchedBytes: new Counter({ name: 'harmony_blob_fetched_bytes_total', help: 'Verified chunk bytes fetched from peers', registers }),
  fetches: new Counter({ name: 'harmony_blob_fetches_total', help: 'Blob fetches from peers, by outcome (ok, local, or an error code)', labelNames: ['outcome'], registers })
}))
