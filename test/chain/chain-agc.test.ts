import test from 'ava'
import { parseUnits, Signature } from 'ethers'
import fc from 'fast-check'
import { AGC_UNIT } from '../../src/chain/deploy.ts'
import { type ChainFixture, startChainFixture } from '../helpers/anvil.ts'
import { assertReverts, mined } from '../helpers/chain-revert.ts'

let chain: ChainFixture
let snap = ''

test.before(async () => { chain = await startChainFixture() })
test.after.always(async () => { await chain?.stop() })
test.beforeEach(async () => { snap = await chain.snapshot() })
test.afterEach.always(async () => { await chain.revert(snap) })

const INITIAL = 1_000_000_000n * AGC_UNIT
const CAP = 10_000_000_000n * AGC_UNIT

test.serial('metadata, cap and initial supply', async (t) => {
  const { agc } = chain.contracts
  t.is(await agc.name(), 'AgentCoin')
  t.is(await agc.symbol(), 'AGC')
  t.is(await agc.decimals(), 18n)
  t.is(await agc.cap(), CAP)
  t.is(await agc.totalSupply(), INITIAL)
  t.is(await agc.balanceOf(chain.deployer.address), INITIAL)
  t.true(await agc.hasRole(await agc.MINTER_ROLE(), chain.deployer.address))
  t.true(await agc.hasRole(await agc.PAUSER_ROLE(), chain.deployer.address))
  t.true(await agc.hasRole(await agc.DEFAULT_ADMIN_ROLE(), chain.deployer.address))
})

test.serial('transfer, approve, transferFrom and their reverts', async (t) => {
  const [alice, bob] = chain.users
  const { agc } = chain.contracts
  await mined(agc.transfer(alice.address, 100n))
  t.is(await agc.balanceOf(alice.address), 100n)
  const asAlice = chain.connect(alice).agc
  await assertReverts(t, () => asAlice.transfer(bob.address, 101n), 'ERC20InsufficientBalance')
  await mined(asAlice.approve(bob.address, 60n))
  const asBob = chain.connect(bob).agc
  await assertReverts(t, () => asBob.transferFrom(alice.address, bob.address, 61n), 'ERC20InsufficientAllowance')
  await mined(asBob.transferFrom(alice.address, bob.address, 60n))
  t.is(await agc.balanceOf(bob.address), 60n)
  t.is(await agc.allowance(alice.address, bob.address), 0n)
  await assertReverts(t, () => asAlice.transfer('0x0000000000000000000000000000000000000000', 1n), 'ERC20InvalidReceiver')
})

test.serial('mint is role-gated and capped', async (t) => {
  const [alice] = chain.users
  const { agc } = chain.contracts
  await mined(agc.mint(alice.address, 5n * AGC_UNIT))
  t.is(await agc.totalSupply(), INITIAL + 5n * AGC_UNIT)
  const args = await assertReverts(t, () => chain.connect(alice).agc.mint(alice.address, 1n), 'AccessControlUnauthorizedAccount')
  t.is(args[1], await agc.MINTER_ROLE())
  const room = CAP - (await agc.totalSupply())
  await assertReverts(t, () => agc.mint(alice.address, room + 1n), 'ERC20ExceededCap')
  await mined(agc.mint(alice.address, room))
  t.is(await agc.totalSupply(), CAP)
})

test.serial('role admin can grant and revoke the minter role', async (t) => {
  const [alice] = chain.users
  const { agc } = chain.contracts
  const minter = await agc.MINTER_ROLE()
  await mined(agc.grantRole(minter, alice.address))
  await mined(chain.connect(alice).agc.mint(alice.address, 7n))
  t.is(await agc.balanceOf(alice.address), 7n)
  await mined(agc.revokeRole(minter, alice.address))
  await assertReverts(t, () => chain.connect(alice).agc.mint(alice.address, 1n), 'AccessControlUnauthorizedAccount')
  await assertReverts(t, () => chain.connect(alice).agc.grantRole(minter, alice.address), 'AccessControlUnauthorizedAccount')
  // a holder gives up its own role; nobody can renounce for someone else
  await assertReverts(t, () => chain.connect(alice).agc.renounceRole(minter, chain.deployer.address), 'AccessControlBadConfirmation')
  await mined(agc.renounceRole(minter, chain.deployer.address))
  t.false(await agc.hasRole(minter, chain.deployer.address))
  await assertReverts(t, () => agc.mint(alice.address, 1n), 'AccessControlUnauthorizedAccount')
})

test.serial('burn and burnFrom', async (t) => {
  const [alice, bob] = chain.users
  const { agc } = chain.contracts
  await mined(agc.transfer(alice.address, 100n))
  await mined(chain.connect(alice).agc.burn(40n))
  t.is(await agc.totalSupply(), INITIAL - 40n)
  await assertReverts(t, () => chain.connect(alice).agc.burn(61n), 'ERC20InsufficientBalance')
  await assertReverts(t, () => chain.connect(bob).agc.burnFrom(alice.address, 1n), 'ERC20InsufficientAllowance')
  await mined(chain.connect(alice).agc.approve(bob.address, 10n))
  await mined(chain.connect(bob).agc.burnFrom(alice.address, 10n))
  t.is(await agc.balanceOf(alice.address), 50n)
  t.is(await agc.totalSupply(), INITIAL - 50n)
})

test.serial('pause stops transfers, mints and burns; only pausers pause', async (t) => {
  const [alice] = chain.users
  const { agc } = chain.contracts
  await mined(agc.transfer(alice.address, 10n))
  await assertReverts(t, () => chain.connect(alice).agc.pause(), 'AccessControlUnauthorizedAccount')
  await mined(agc.pause())
  t.true(await agc.paused())
  await assertReverts(t, () => chain.connect(alice).agc.transfer(chain.deployer.address, 1n), 'EnforcedPause')
  await assertReverts(t, () => agc.mint(alice.address, 1n), 'EnforcedPause')
  await assertReverts(t, () => chain.connect(alice).agc.burn(1n), 'EnforcedPause')
  await assertReverts(t, () => agc.pause(), 'EnforcedPause')
  await assertReverts(t, () => chain.connect(alice).agc.unpause(), 'AccessControlUnauthorizedAccount')
  await mined(agc.unpause())
  await assertReverts(t, () => agc.unpause(), 'ExpectedPause')
  await mined(chain.connect(alice).agc.transfer(chain.deployer.address, 1n))
  t.is(await agc.balanceOf(alice.address), 9n)
})

async function signPermit (owner: ChainFixture['users'][number], spender: string, value: bigint, deadline: bigint): Promise<Signature> {
  const { agc } = chain.contracts
  const sig = await owner.signTypedData(
    { name: 'AgentCoin', version: '1', chainId: chain.anvil.chainId, verifyingContract: chain.deployment.agc },
    { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    { owner: owner.address, spender, value, nonce: await agc.nonces(owner.address), deadline }
  )
  return Signature.from(sig)
}

test.serial('EIP-2612 permit sets an allowance by signature, once; expired and forged permits revert', async (t) => {
  const [alice, bob] = chain.users
  const { agc } = chain.contracts
  const value = parseUnits('3', 18)
  const deadline = BigInt((await chain.provider.getBlock('latest'))?.timestamp ?? 0) + 3600n
  const sig = await signPermit(alice, bob.address, value, deadline)
  // bob relays alice's permit: alice pays no gas
  await mined(chain.connect(bob).agc.permit(alice.address, bob.address, value, deadline, sig.v, sig.r, sig.s))
  t.is(await agc.allowance(alice.address, bob.address), value)
  t.is(await agc.nonces(alice.address), 1n)
  await assertReverts(t, () => chain.connect(bob).agc.permit(alice.address, bob.address, value, deadline, sig.v, sig.r, sig.s), 'ERC2612InvalidSigner')
  const forged = await signPermit(bob, bob.address, value, deadline)
  await assertReverts(t, () => agc.permit(alice.address, bob.address, value, deadline, forged.v, forged.r, forged.s), 'ERC2612InvalidSigner')
  const past = deadline - 7200n
  const late = await signPermit(alice, bob.address, value, past)
  await assertReverts(t, () => agc.permit(alice.address, bob.address, value, past, late.v, late.r, late.s), 'ERC2612ExpiredSignature')
})

// Supply conservation: after any sequence of mints, burns and transfers, total supply = initial + minted - burned,
// equals the sum of all balances, and never exceeds the cap.
test.serial('property: supply conservation', async (t) => {
  const actors = [chain.deployer, ...chain.users.slice(0, 3)]
  const op = fc.oneof(
    fc.record({ kind: fc.constant('mint' as const), to: fc.nat(3), amount: fc.bigInt(0n, 10n ** 24n) }),
    fc.record({ kind: fc.constant('burn' as const), from: fc.nat(3), amount: fc.bigInt(0n, 10n ** 24n) }),
    fc.record({ kind: fc.constant('transfer' as const), from: fc.nat(3), to: fc.nat(3), amount: fc.bigInt(0n, 10n ** 24n) })
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
    const id = await chain.snapshot()
    try {
      let minted = 0n
      let burned = 0n
      for (const o of ops) {
        if (o.kind === 'mint') {
          await mined(chain.contracts.agc.mint(actors[o.to].address, o.amount))
          minted += o.amount
        } else {
          const from = actors[o.from]
          const balance = await chain.contracts.agc.balanceOf(from.address)
          // never more than the balance (a revert would end the sequence)
          let amount = o.amount
          if (amount > balance) amount = balance
          if (o.kind === 'burn') {
            await mined(chain.connect(from).agc.burn(amount))
            burned += amount
          } else {
            await mined(chain.connect(from).agc.transfer(actors[o.to].address, amount))
          }
        }
      }
      const supply = await chain.contracts.agc.totalSupply()
      let sum = 0n
      for (const a of actors) sum += await chain.contracts.agc.balanceOf(a.address)
      return supply === INITIAL + minted - burned && supply === sum && supply <= CAP
    } finally {
      await chain.revert(id)
    }
  }), { numRuns: 12 })
  t.pass()
})
