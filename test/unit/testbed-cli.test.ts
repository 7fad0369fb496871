import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatStatus } from '../../src/cli/testbed/handler';
import { parseDownArgs, parseUpArgs } from '../../src/cli/testbed/options';
import { UserError } from '../../src/cli/shared/user-error';

describe('dysco testbed options', () => {
  test('up: only given flags reach the library; always persistent', () => {
    assert.deepEqual(parseUpArgs({ topology: 'pair' }), { topology: 'pair', options: { persistent: true } });
    assert.deepEqual(parseUpArgs({ topology: 'chain-2', deviceKind: 'af_xdp', agents: false, metricsPort: 9000 }), {
      topology: 'chain-2',
      options: { persistent: true, deviceKind: 'af_xdp', startAgents: false, metricsPort: 9000 },
    });
    assert.deepEqual(parseUpArgs({ topology: 'chain-1', dysco: true }), {
      topology: 'chain-1',
      options: { persistent: true, dysco: true },
    });
    assert.throws(() => parseUpArgs({ topology: 'pair', metricsPort: 70000 }), UserError);
    assert.throws(() => parseUpArgs({ topology: 'pair', readyTimeoutMs: -1 }), /--ready-timeout-ms/);
  });
  test('down: a run id or all', () => {
    assert.deepEqual(parseDownArgs({}), {});
    assert.deepEqual(parseDownArgs({ run: 'AB12' }), { runId: 'ab12' });
    assert.throws(() => parseDownArgs({ run: 'dysco-ab12' }), UserError);
  });
  test('status text', () => {
    assert.equal(formatStatus([]), 'no testbeds\n');
    const text = formatStatus([
      {
        runId: 'ab12',
        topology: 'pair',
        persistent: true,
        owner: { pid: 1, alive: false },
        stale: false,
        namespaces: [
          { name: 'dysco-ab12-client', present: true },
          { name: 'dysco-ab12-router', present: false },
        ],
        hosts: [{ name: 'client', ns: 'dysco-ab12-client', address: '10.77.1.2', agentNs: 'dysco-ab12-client-ag', agentPid: 42, agentAlive: true }],
      },
    ]);
    assert.match(text, /^ab12 {2}pair {2}owner pid 1 gone {2}\(persistent\)/);
    assert.match(text, /client {2}10\.77\.1\.2 {2}dysco-ab12-client {2}agent pid 42 alive/);
    assert.match(text, /namespaces: 1 present, missing: dysco-ab12-router/);
  });
});
