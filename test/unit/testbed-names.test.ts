import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  MAX_IFNAME_LENGTH,
  agentNamespace,
  dpdkRuntimeDir,
  hostNamespace,
  isRunId,
  linkName,
  newRunId,
  pidOfDpdkRuntimeDir,
  routerNamespace,
  runDirectory,
  runIdOfNamespace,
} from '../../src/testbed/names';
import { listRunDirs, readState, writeState, type TestbedState } from '../../src/testbed/state';
import { isStale } from '../../src/testbed/cleanup';
import { builtinTopology, MAX_HOSTS } from '../../src/testbed/topology';
import { Testbed } from '../../src/testbed/testbed';

describe('names', () => {
  test('run ids are 4 lowercase hex characters and vary', () => {
    const ids = new Set(Array.from({ length: 200 }, newRunId));
    for (const id of ids) assert.ok(isRunId(id), id);
    assert.ok(ids.size > 150);
    assert.equal(isRunId('ABCD'), false);
    assert.equal(isRunId('abcde'), false);
  });
  test('namespaces', () => {
    assert.equal(hostNamespace('0a1b', 'client'), 'dysco-0a1b-client');
    assert.equal(agentNamespace('0a1b', 'client'), 'dysco-0a1b-client-ag');
    assert.equal(routerNamespace('0a1b'), 'dysco-0a1b-router');
    assert.throws(() => hostNamespace('xyz', 'client'), RangeError);
  });
  test('a namespace maps back to its run', () => {
    assert.equal(runIdOfNamespace('dysco-0a1b-client-ag'), '0a1b');
    assert.equal(runIdOfNamespace('dysco-0a1b'), '0a1b');
    assert.equal(runIdOfNamespace('dysco-0a1bc-x'), undefined);
    assert.equal(runIdOfNamespace('dyt-a'), undefined);
    assert.equal(runIdOfNamespace('other-0a1b-x'), undefined);
  });
  test('link names carry the run id, the role and the host index, within 15 characters', () => {
    assert.equal(linkName('0a1b', 'host', 0), 'dy0a1bh0');
    assert.equal(linkName('0a1b', 'router', 3), 'dy0a1br3');
    assert.equal(linkName('0a1b', 'agentHost', 1), 'dy0a1ba1');
    assert.equal(linkName('0a1b', 'agentWire', 1), 'dy0a1bw1');
    for (const role of ['host', 'router', 'agentHost', 'agentWire'] as const) {
      assert.ok(linkName('ffff', role, MAX_HOSTS - 1).length <= MAX_IFNAME_LENGTH);
    }
  });
  test('DPDK runtime dirs', () => {
    assert.equal(dpdkRuntimeDir(1234), '/var/run/dpdk/dysco-1234');
    assert.equal(pidOfDpdkRuntimeDir('dysco-1234'), 1234);
    assert.equal(pidOfDpdkRuntimeDir('rte'), undefined);
    assert.equal(pidOfDpdkRuntimeDir('dysco-bench-4321'), 4321);
    assert.equal(pidOfDpdkRuntimeDir('dysco-test-pcap-77'), 77);
    assert.equal(pidOfDpdkRuntimeDir('dysco-test-pcap'), undefined);
    assert.equal(runDirectory('0a1b', '/x'), '/x/0a1b');
  });
});

describe('a testbed plan (nothing created)', () => {
  test('chain-2 handles: names, addresses, agents, all links unique', () => {
    const tb = new Testbed('beef', builtinTopology('chain-2')!, { deviceKind: 'af_xdp', metricsPort: 9999, runRoot: '/tmp/r' });
    assert.deepEqual(
      tb.hosts.map((h) => [h.name, h.ns, h.address, h.forwarding]),
      [
        ['client', 'dysco-beef-client', '10.77.1.2', false],
        ['mb1', 'dysco-beef-mb1', '10.77.2.2', true],
        ['mb2', 'dysco-beef-mb2', '10.77.3.2', true],
        ['server', 'dysco-beef-server', '10.77.4.2', false],
      ],
    );
    const mb1 = tb.host('mb1');
    assert.equal(mb1.agent?.ns, 'dysco-beef-mb1-ag');
    assert.equal(mb1.agent?.hostDevice, 'net_af_xdp0,iface=dybeefa1');
    assert.equal(mb1.agent?.wireDevice, 'net_af_xdp1,iface=dybeefw1');
    assert.equal(mb1.agent?.metricsUrl, 'http://127.0.0.1:9999/metrics');
    assert.equal(mb1.agent?.logFile, '/tmp/r/beef/agent-mb1.log');
    assert.equal(tb.namespaces.length, 1 + 4 * 2);
    const links = tb.hosts.flatMap((h) => [h.iface, h.routerIface, h.agent!.hostIface, h.agent!.wireIface]);
    assert.equal(new Set(links).size, links.length);
    assert.ok(links.every((l) => l.startsWith('dybeef')));
    const argv = tb.agentCommand('client');
    assert.deepEqual(argv.slice(0, 4), ['ip', 'netns', 'exec', 'dysco-beef-client-ag']);
    assert.equal(argv[4], process.execPath);
    assert.match(argv[5]!, /dist\/src\/cli\/main\.js$/);
    assert.deepEqual(argv.slice(6), [
      'agent',
      '--host-device',
      'net_af_xdp0,iface=dybeefa0',
      '--wire-device',
      'net_af_xdp1,iface=dybeefw0',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '9999',
      '--log-level',
      'info',
    ]);
    assert.throws(() => tb.host('nope'), /no host "nope"/);
  });
});

describe('state files', () => {
  test('round trip, listing, staleness', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'dysco-state-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const tb = new Testbed('c0de', builtinTopology('pair')!, { runRoot: root });
    const state: TestbedState = tb.state();
    writeState(tb.runDir, state);
    assert.deepEqual(listRunDirs(root), ['c0de']);
    const back = readState(tb.runDir);
    assert.deepEqual(back, JSON.parse(JSON.stringify(state)));
    assert.equal(isStale(back), false, 'owned by this live process');
    assert.equal(isStale(undefined), true, 'no state file');
    const dead = { ...state, owner: { pid: 0x3fffffff } };
    assert.equal(isStale(dead), true);
    assert.equal(isStale({ ...dead, persistent: true }), false);
    assert.equal(readState(join(root, 'missing')), undefined);
  });
});
