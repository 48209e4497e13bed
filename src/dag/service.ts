import { EventEmitter } from 'node:events'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import type { BinaryDb } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { addressFromPublicKey, parseAddress } from '../core/address.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { DagError } from './errors.ts'
import type { Genesis } from './genesis.ts'
import { DagLedger, type DagLedgerInit, type TxStatusView } from './ledger.ts'
import { createDagMetrics } from './metrics.ts'
import { DagNetwork, type DagNetworkInit, VERTEX_TOPIC } from './network.ts'
import { encodeTx, type Transaction, type TxInfo, txToJSON } from './tx.ts'
import { VerifyPool, type VerifyPoolInit } from './verify-pool.ts'
import { vertexInfo } from './vertex.ts'

export interface DagComponents {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  db: BinaryDb
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  genesis: Genesis
  logger: Logger
  registry: Registry
}

export interface DagServiceInit extends DagLedgerInit, DagNetworkInit {
  /** Signature verifier pool options. */
  verifier?: VerifyPoolInit
}

export interface DagServiceEvents {
  /** A transaction became final and its effects are applied (the market and chain listen to this). */
  'tx:final': [{ id: string, vertexId: string, tx: TxInfo }]
  'tx:rejected': [{ id: string, reason: string, tx: TxInfo }]
}

export interface DagStats {
  vertices: number
  finalized: number
  rejected: number
  processing: number
  finalTxs: number
  stateRoot: string
  mempool: number
  peers: number
}

/**
 * The QuDAG ledger service the node composes: verifier pool, ledger (store, consensus state, accounts) and network
 * (gossip, sync, Avalanche queries, batcher). Started in that order and stopped in reverse.
 */
export class DagService extends EventEmitter<DagServiceEvents> implements Startable {
  readonly ledger: DagLedger
  readonly network: DagNetwork
  readonly verifier: VerifyPool
  private readonly log: Logger
  private running = false

  constructor (components: DagComponents, init: DagServiceInit = {}) {
    super()
    const metrics = createDagMetrics(components.registry)
    this.log = components.logger.child({ module: 'dag' })
    this.verifier = new VerifyPool({ logger: components.logger, ...init.verifier }, components.registry)
    this.ledger = new DagLedger({ db: components.db, genesis: components.genesis, identity: components.identity, verifier: this.verifier, logger: components.logger, metrics }, init)
    this.network = new DagNetwork({ libp2p: components.libp2p, ledger: this.ledger, identity: components.identity, logger: components.logger, metrics }, init)
    this.ledger.on('tx:final', (tx, vertexId) => { this.emit('tx:final', { id: `0x${tx.idHex}`, vertexId: `0x${vertexId}`, tx }) })
    this.ledger.on('tx:rejected', (tx, reason) => { this.emit('tx:rejected', { id: `0x${tx.idHex}`, reason, tx }) })
  }

  static readonly topic = VERTEX_TOPIC

  async start (): Promise<void> {
    if (this.running) return
    await this.verifier.start()
    await this.ledger.start()
    await this.network.start()
    this.running = true
    this.log.info({ address: this.ledger.address, validator: this.ledger.isValidator }, 'dag started')
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.network.stop()
    await this.ledger.stop()
    await this.verifier.stop()
  }

  /** Validates (encoding, signature, fee, nonce, balance) and queues a signed transaction. Returns its 0x id. */
  async submitTransaction (tx: Transaction | Uint8Array): Promise<string> {
    if (!this.running) throw new DagError('NOT_RUNNING', 'the ledger is not running')
    const encoded = tx instanceof Uint8Array ? tx : encodeTx(tx)
    if (!this.ledger.isValidator) return `0x${await this.network.forwardTransaction(encoded)}`
    return `0x${await this.ledger.submitTransaction(encoded)}`
  }

  async getBalance (address: string): Promise<bigint> {
    return (await this.ledger.getAccount(parseAddress(address))).balance
  }

  async getNonce (address: string): Promise<bigint> {
    return (await this.ledger.getAccount(parseAddress(address))).nonce
  }

  async getTx (id: string): Promise<TxStatusView | undefined> {
    return await this.ledger.getTx(toHex(fromHex(id, 'transaction id')))
  }

  /** JSON view of a vertex, or undefined. */
  async getVertex (id: string): Promise<Record<string, unknown> | undefined> {
    const idHex = toHex(fromHex(id, 'vertex id'))
    const bytes = await this.ledger.getVertexBytes(idHex)
    if (bytes === undefined) return undefined
    const info = vertexInfo(bytes)
    return {
      id: `0x${info.idHex}`,
      status: this.ledger.vertexStatus(idHex) ?? 'processing',
      height: this.ledger.graph.get(idHex)?.height ?? null,
      author: addressFromPublicKey(info.vertex.author),
      timestampMs: Number(info.vertex.timestampMs),
      parents: info.parentHex.map(p => `0x${p}`),
      transactions: info.txs.map(t => txToJSON(t))
    }
  }

  tips (): string[] { return this.ledger.tips().map(t => `0x${t}`) }

  async stats (): Promise<DagStats> {
    return { ...(await this.ledger.stats()), peers: this.network.validatorPeers().length }
  }

  get chainId (): string { return this.ledger.chainId }
  get address (): string { return this.ledger.address }
}
