import test from 'ava'
import { failureLine } from '../../src/cli/index.ts'
import { HarmonyError } from '../../src/core/errors.ts'
import { RpcClientError } from '../../src/sdk/errors.ts'

test('a failed command prints the message, and a node\'s refusal its typed reason and rule', t => {
  t.is(failureLine(new RpcClientError('account_sendTransaction', -32003, 'balance 5 is below amount + fee 7', { reason: 'INSUFFICIENT_BALANCE' })), 'harmonyd: balance 5 is below amount + fee 7 (INSUFFICIENT_BALANCE)')
  t.is(failureLine(new RpcClientError('account_sendTransaction', -32003, 'refused by the BID_LATE rule', { reason: 'TX_REFUSED', rule: 'BID_LATE' })), 'harmonyd: refused by the BID_LATE rule (TX_REFUSED: BID_LATE)')
  // no reason, or one that is not a code (a node's data is input too): the message alone
  t.is(failureLine(new RpcClientError('task_get', -32602, 'bad params')), 'harmonyd: bad params')
  t.is(failureLine(new RpcClientError('task_get', -32602, 'bad params', { reason: 'x\n(FAKE)' })), 'harmonyd: bad params')
  t.is(failureLine(new RpcClientError('task_get', -32602, 'bad params', { reason: 'A', rule: 'no\nrule' })), 'harmonyd: bad params (A)')
  t.is(failureLine(new HarmonyError('CONFIG_INVALID', 'port must be an integer')), 'harmonyd: port must be an integer')
})
