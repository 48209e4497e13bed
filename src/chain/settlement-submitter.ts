import type { SettlementContract } from './bindings.ts'
import type { CheckpointSubmitter, SignedCheckpoint } from './checkpoint-aggregator.ts'
import type { ChainClient } from './client.ts'
import { ChainError } from './errors.ts'

/** Submits checkpoints and equivocation evidence through the node's ChainClient. */
export class SettlementSubmitter implements CheckpointSubmitter {
  private readonly settlement: SettlementContract
  private readonly client: ChainClient
  private readonly address: string

  constructor (settlement: SettlementContract, settlementAddress: string, client: ChainClient) {
    this.settlement = settlement
    this.address = settlementAddress
    this.client = client
  }

  async lastEpoch (): Promise<bigint> {
    try {
      return await this.settlement.lastEpoch()
    } catch (err) {
      throw new ChainError('CHAIN_UNREACHABLE', `cannot read the settlement contract: ${(err as Error).message}`, {}, { cause: err })
    }
  }

  async submit (cp: SignedCheckpoint['checkpoint'], signatures: string[]): Promise<string> {
    const data = this.settlement.interface.encodeFunctionData('submitCheckpoint', [cp.epoch, cp.dagRoot, cp.stateRoot, cp.withdrawalsRoot, signatures])
    const receipt = await this.client.send({ to: this.address, data })
    return receipt.hash
  }

  async reportEquivocation (a: SignedCheckpoint, b: SignedCheckpoint): Promise<string> {
    const roots = (s: SignedCheckpoint): string[] => [s.checkpoint.dagRoot, s.checkpoint.stateRoot, s.checkpoint.withdrawalsRoot]
    const data = this.settlement.interface.encodeFunctionData('slashEquivocation', [a.checkpoint.epoch, roots(a), a.signature, roots(b), b.signature])
    const receipt = await this.client.send({ to: this.address, data })
    return receipt.hash
  }
}
