/**
 * The deposit side of the bridge (dag-bridge.ts runs it in its round; docs/chain.md "The DAG bridge"):
 *
 * - `accept` (the bridge's `depositSink`) keeps each confirmed deposit from the watcher (in the `chain` sublevel, so
 *   a restart resumes) until its credit is final on the DAG. A validator submits a `deposit-credit` for each, in
 *   turn: rank r (the validator's position rotated by the deposit id) waits r × `proposeDelayMs`, so normally one
 *   validator proposes; if several do, the credits conflict (one deposit account, nonce 0) and exactly one becomes
 *   final.
 * - `check` is the ledger's outside-validity checker of deposit credits (registered by the bridge), so this node does
 *   not prefer or vote for a vertex with a credit its own chain view has not confirmed. Under the commit rule it
 *   attests each confirmed deposit instead, and credits once a quorum attested (deposit-attestations.ts).
 */
import type { BinarySublevel } from '../core/storage.ts'
import { KEY_PREFIXES } from '../core/storage.ts'
import type { Logger } from '../core/logger.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { DagError } from '../dag/errors.ts'
import type { ExternalVerdict } from '../dag/external-validity.ts'
import type { Genesis } from '../dag/genesis.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { DagService } from '../dag/service.ts'
import type { TxInfo } from '../dag/tx.ts'
import { buildDepositCredit } from './kinds/builders.ts'
import { depositAccount, depositCreditKind, MAX_CREDIT_AMOUNT } from './kinds/index.ts'
import type { BridgeMetrics } from './metrics.ts'
import { decodePendingDeposit, encodePendingDeposit, type PendingDeposit } from './pending-deposits.ts'
import { DepositAttestations, TAKEN_CODES } from './deposit-attestations.ts'
import { addressBytesFromDagAccount, dagAccountFromAddressBytes } from '../chain/dag-account.ts'
import type { Deposit } from '../chain/deposit-watcher.ts'
import { ChainError } from '../chain/errors.ts'
import type { BridgeChain } from './dag-bridge-options.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
// key layout from the storage table (src/core/storage.ts), in the `chain` sublevel
const PREFIX_DEPOSIT = KEY_PREFIXES.chain.bridgeDeposit

export interface DepositCreditsComponents {
  dag: Pick<DagService, 'reader' | 'submitTransaction'>
  chain: Pick<BridgeChain, 'checkDeposit'>
  genesis: Genesis
  identity: { publicKey: Uint8Array, secretKey: Uint8Array }
  /** The `chain` sublevel. */
  db: BinarySublevel
  /** The bridge's. */
  logger: Logger
  metrics?: BridgeMetrics
  /** The bridge's own state, which this side reads. */
  bridge: {
    /** Loads every stored record of the bridge once (this side's with `load`). */
    load: () => Promise<void>
    running: () => boolean
    evmChainId: () => bigint | undefined
    /** The settlement contract's genesis lock matches this node's genesis. */
    genesisChecked: () => boolean
    /** This validator's position among the sorted genesis validator keys. */
    validatorIndex: () => number
  }
}

/** DagBridgeInit's deposit options, resolved. */
export interface DepositCreditsInit {
  propose: boolean
  proposeDelayMs: number
  resubmitMs: number
  maxPendingDeposits: number
}

export class DepositCredits {
  private readonly c: DepositCreditsComponents
  private readonly init: DepositCreditsInit
  private readonly log: Logger
  private readonly pending = new Map<string, PendingDeposit>()
  /** The commit rule's attestations of deposits (deposit-attestations.ts); undefined under Avalanche. */
  private readonly attestations: DepositAttestations | undefined

  constructor (components: DepositCreditsComponents, init: DepositCreditsInit) {
    this.c = components
    this.init = init
    this.log = components.logger
    this.attestations = DepositAttestations.of({ ledger: components.dag.reader, genesis: components.genesis, identity: components.identity, submit: async (tx) => await components.dag.submitTransaction(tx), logger: this.log }, init.resubmitMs)
  }

  private get ledger (): LedgerReader { return this.c.dag.reader }

  /** Deposits waiting for their credit. */
  get size (): number { return this.pending.size }

  async accept (d: Deposit): Promise<void> {
    if (!this.ledger.isValidator) return
    await this.c.bridge.load()
    const key = `${d.txHash.toLowerCase()}:${d.logIndex}`
    if (this.pending.has(key)) return
    try {
      addressBytesFromDagAccount(d.dagAccount)
    } catch {
      this.log.warn({ txHash: d.txHash }, 'deposit to a malformed DAG account skipped')
      return
    }
    // the contract never emits these; from a malformed chain answer they would wait for good for a credit never built
    if (d.amount <= 0n || d.amount > MAX_CREDIT_AMOUNT) {
      this.log.warn({ txHash: d.txHash, amount: d.amount.toString() }, 'deposit of an amount no credit can carry skipped')
      return
    }
    if (this.pending.size >= this.init.maxPendingDeposits) {
      throw new ChainError('DEPOSIT_INVALID', 'too many deposits waiting for their DAG credit; the watcher delivers this one again later')
    }
    const p: PendingDeposit = { txHash: d.txHash.toLowerCase(), logIndex: d.logIndex, depositId: d.depositId, dagAccount: d.dagAccount.toLowerCase(), amount: d.amount, seenAtMs: Date.now(), lastSubmitMs: 0 }
    await this.c.db.put(enc(PREFIX_DEPOSIT + key), encodePendingDeposit(p))
    this.pending.set(key, p)
  }

  async credit (): Promise<void> {
    const chainId = this.c.bridge.evmChainId()
    // a validator that does not propose still attests under the commit rule (it is its vote)
    if (chainId === undefined || !this.ledger.isValidator || (!this.init.propose && this.attestations === undefined)) return
    const validators = this.ledger.validatorKeys().length
    const me = this.c.bridge.validatorIndex()
    for (const [key, p] of [...this.pending]) {
      if (!this.c.bridge.running()) return
      const txHash = fromHex(p.txHash, 'deposit transaction hash')
      const account = depositAccount(chainId, txHash, p.logIndex)
      if ((await this.ledger.account(account)).nonce > 0n) {
        // credited (final) on this node: done
        this.attestations?.forget(key)
        this.pending.delete(key)
        await this.c.db.del(enc(PREFIX_DEPOSIT + key))
        continue
      }
      const rank = (me - Number(p.depositId % BigInt(validators)) + validators) % validators
      const now = Date.now()
      const deposit = { evmChainId: chainId, txHash, logIndex: p.logIndex, account: addressBytesFromDagAccount(p.dagAccount), amount: p.amount }
      // the commit rule: attest first; the credit once the attestations final here and this validator hold the quorum
      if (this.attestations !== undefined && !await this.attestations.step(key, deposit, now)) continue
      if (!this.init.propose) continue
      if (now < p.seenAtMs + rank * this.init.proposeDelayMs) continue
      if (p.lastSubmitMs !== 0 && now < p.lastSubmitMs + this.init.resubmitMs) continue
      p.lastSubmitMs = now
      const tx = buildDepositCredit(this.ledger.chainId, this.c.identity, deposit)
      try {
        const id = await this.c.dag.submitTransaction(tx)
        this.c.metrics?.proposals.inc({ kind: 'deposit-credit' })
        this.log.info({ txHash: p.txHash, logIndex: p.logIndex, id }, 'deposit credit proposed')
      } catch (err) {
        if (err instanceof DagError && TAKEN_CODES.has(err.code)) continue // another credit of it is pending or final
        this.log.warn({ err, txHash: p.txHash }, 'deposit credit refused')
      }
    }
  }

  /** This node's verdict on a deposit credit, from its own chain view. */
  async check (tx: TxInfo): Promise<ExternalVerdict> {
    const chainId = this.c.bridge.evmChainId()
    if (chainId === undefined || !this.c.bridge.genesisChecked()) return 'pending'
    const p = depositCreditKind.decode(tx.tx.payload)
    if (p.evmChainId !== chainId) return 'invalid'
    const check = await this.c.chain.checkDeposit({
      txHash: `0x${toHex(p.txHash)}`, logIndex: p.logIndex, dagAccount: dagAccountFromAddressBytes(p.account), amount: p.amount
    })
    if (check.status === 'invalid') this.log.warn({ txHash: `0x${toHex(p.txHash)}`, reason: check.reason }, 'deposit credit contradicts this node\'s chain view')
    return check.status
  }

  /** The stored deposits (once, from the bridge's load). */
  async load (): Promise<void> {
    for await (const [k, v] of this.c.db.iterator({ gte: enc(PREFIX_DEPOSIT), lt: enc(`${PREFIX_DEPOSIT}\xff`) })) {
      try {
        this.pending.set(dec(k).slice(PREFIX_DEPOSIT.length), decodePendingDeposit(v))
      } catch {
        this.log.warn('unreadable pending deposit record skipped')
      }
    }
  }
}
