import type { Libp2p } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { addressFromPublicKey } from '../../core/address.ts'
import type { Startable } from '../../core/lifecycle.ts'
import type { Logger } from '../../core/logger.ts'
import type { LedgerReader } from '../../dag/reader.ts'
import type { Transaction } from '../../dag/tx.ts'
import type { PeerBindingService } from '../../network/peer-binding.ts'
import type { MarketReader } from '../state/reader.ts'
import { Attester, type AttesterInit } from './attester.ts'
import { type ChallengeExecutor, ChallengeResponder, type ChallengeResponderInit, Challenger, type ChallengerInit, type ProviderKeys } from './challenge.ts'

export interface ChallengeSideComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  peerBinding: Pick<PeerBindingService, 'verifiedPeers'>
  market: Pick<MarketReader, 'providers'>
  ledger: Pick<LedgerReader, 'account' | 'validatorKeys' | 'isValidator'>
  submit: (tx: Transaction) => Promise<string>
  chainId: string
  /** The node's ML-DSA ledger key (a provider answers with it, a validator attests with it). */
  keys: ProviderKeys
  executor: () => ChallengeExecutor
  logger: Logger
  registry?: Registry
}

export interface ChallengeSideInit {
  /** This node sells compute (`provider.enabled`): it answers challenges. */
  provider: boolean
  responder?: ChallengeResponderInit
  challenger?: ChallengerInit
  attester?: AttesterInit
}

/**
 * The benchmark challenge's services for one node, in start order: the responder when it is a provider, the
 * attester when it is a validator. A composition adds each to its LifecycleRunner (`runner.start(name, service)`).
 */
export function challengeServices (c: ChallengeSideComponents, init: ChallengeSideInit): Array<[string, Startable]> {
  const log = c.logger.child({ module: 'challenge' })
  const out: Array<[string, Startable]> = []
  if (init.provider) {
    out.push(['challenge-responder', new ChallengeResponder({ libp2p: c.libp2p, keys: c.keys, chainId: c.chainId, executor: c.executor, logger: log }, init.responder)])
  }
  if (c.ledger.isValidator) {
    out.push(['provider-attester', new Attester({
      market: c.market,
      ledger: c.ledger,
      challenger: new Challenger({ libp2p: c.libp2p, chainId: c.chainId, logger: log }, init.challenger),
      peerOf: (address) => {
        const peer = c.peerBinding.verifiedPeers().find(p => addressFromPublicKey(p.ledgerPublicKey) === address)
        return peer === undefined ? undefined : { peerId: peer.peerId, publicKey: peer.ledgerPublicKey }
      },
      submit: c.submit,
      chainId: c.chainId,
      keys: c.keys,
      logger: c.logger,
      ...(c.registry === undefined ? {} : { registry: c.registry })
    }, init.attester)])
  }
  return out
}
