import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRunDown, formatStatus, formatSweepDown } from '../../src/cli/testbed/handler';
import { staleApiSockets } from '../../src/testbed/cleanup';
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
    assert.deepEqual(parseUpArgs({ topology: 'chain-1', dysco: true, signedLists: true }).options, { persistent: true, dysco: true, signedLists: true });
    assert.throws(() => parseUpArgs({ topology: 'chain-1', signedLists: true }), /--signed-lists needs --dysco/);
    assert.throws(() => parseUpArgs({ topology: 'pair', readyTimeoutMs: -1 }), /--ready-timeout-ms/);
    assert.deepEqual(parseUpArgs({ topology: 'chain-2', dysco: true, controlPort: 0 }).options, { persistent: true, dysco: true, controlPort: 0 });
    assert.throws(() => parseUpArgs({ topology: 'pair', controlPort: 70000 }), /--control-port/);
    assert.deepEqual(parseUpArgs({ topology: 'chain-2', dysco: true, agentImage: 'localhost/dysco:0.1.0' }).options, { persistent: true, dysco: true, agentImage: 'localhost/dysco:0.1.0' });
    const pinned = `registry.example:5000/net/dysco@sha256:${'a'.repeat(64)}`;
    assert.equal(parseUpArgs({ topology: 'pair', agentImage: pinned }).options.agentImage, pinned);
    for (const bad of ['', 'Dysco', 'dysco:', 'dysco latest', '-v /:/host']) assert.throws(() => parseUpArgs({ topology: 'pair', agentImage: bad }), /--agent-image: not an image reference/, bad);
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

describe('dysco testbed down reports', () => {
  test('one run: counts, then each DPDK runtime dir and control-API socket by path', () => {
    const text = formatRunDown({
      runId: 'ab12',
      namespaces: ['dysco-ab12-router', 'dysco-ab12-h-client'],
      killedPids: [41],
      dpdkDirs: ['/var/run/dpdk/dysco-41'],
      apiSockets: ['/run/dysco/agent-41.sock'],
      runDir: '/run/dysco/testbeds/ab12',
    });
    assert.equal(
      text,
      'removed testbed ab12: 2 namespaces, 1 process, 1 DPDK runtime dir, 1 control-API socket\n' +
        '  removed DPDK runtime dir /var/run/dpdk/dysco-41\n' +
        '  removed control-API socket /run/dysco/agent-41.sock\n',
    );
    assert.equal(
      formatRunDown({ runId: 'cd34', namespaces: [], killedPids: [], dpdkDirs: [], apiSockets: [] }),
      'removed testbed cd34: 0 namespaces, 0 processes, 0 DPDK runtime dirs, 0 control-API sockets\n',
    );
  });

  test('a sweep counts the DPDK dirs and sockets its runs removed, not only the stray ones', () => {
    const run = (runId: string, pid: number) => ({
      runId,
      namespaces: [`dysco-${runId}-router`],
      killedPids: [],
      dpdkDirs: [`/var/run/dpdk/dysco-${pid}`],
      apiSockets: [`/run/dysco/agent-${pid}.sock`],
    });
    const text = formatSweepDown({
      runs: [run('aa11', 7), run('bb22', 8)],
      strayNamespaces: ['dysco-stray'],
      dpdkDirs: ['/var/run/dpdk/dysco-9'],
      apiSockets: [],
      containers: [],
    });
    assert.match(text, /^removed 2 testbed run\(s\): 3 namespaces, 3 DPDK runtime dirs, 2 control-API sockets\n/);
    for (const path of ['/var/run/dpdk/dysco-7', '/var/run/dpdk/dysco-8', '/var/run/dpdk/dysco-9', '/run/dysco/agent-7.sock', '/run/dysco/agent-8.sock']) {
      assert.ok(text.includes(` ${path}\n`), path);
    }
  });
});

describe('staleApiSockets', () => {
  test('finds agent-<pid>.sock sockets of dead processes only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dysco-sockets-'));
    const servers: ReturnType<typeof createServer>[] = [];
    try {
      const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
      const listen = async (name: string) => {
        const server = createServer();
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(join(dir, name), resolve));
      };
      await listen(`agent-${deadPid}.sock`);
      await listen(`agent-${process.pid}.sock`);
      await listen('other-1.sock');
      writeFileSync(join(dir, `agent-${deadPid + 1_000_000}.sock`), 'not a socket');
      assert.deepEqual(staleApiSockets(dir), [join(dir, `agent-${deadPid}.sock`)]);
      assert.deepEqual(staleApiSockets(join(dir, 'absent')), []);
    } finally {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
