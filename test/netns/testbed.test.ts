/** The testbed against the real kernel: pair-plain up, ping, a short iperf3, destroy, nothing left behind. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import {
  createTestbed,
  destroyRun,
  listDyscoNamespaces,
  listRuns,
  measureIperf3,
  readState,
  run,
  sweep,
  type Testbed,
} from '../../src/testbed';
import { hasCommand, skipUnlessNetns } from '../support/netns';

const TOOLS = ['ip', 'ethtool', 'sysctl', 'iperf3', 'ss'];

/** Every link in every namespace (and the root one) whose name carries the run id. */
async function linksOfRun(runId: string): Promise<string[]> {
  const prefix = `dy${runId}`;
  const found: string[] = [];
  const scopes: (string | undefined)[] = [undefined, ...listDyscoNamespaces()];
  for (const ns of scopes) {
    const args = ns ? ['-n', ns, '-o', 'link', 'show'] : ['-o', 'link', 'show'];
    const r = await run('ip', args, { allowFailure: true });
    for (const line of r.stdout.split('\n')) {
      const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
      if (name?.startsWith(prefix)) found.push(`${ns ?? '(root)'}/${name}`);
    }
  }
  return found;
}

function runLeftovers(runId: string): string[] {
  return listDyscoNamespaces().filter((ns) => ns.startsWith(`dysco-${runId}`));
}

test('pair-plain: ping, iperf3, destroy leaves nothing', { timeout: 90_000 }, async (t) => {
  if (skipUnlessNetns(t, TOOLS)) return;
  let tb: Testbed | undefined;
  t.after(async () => {
    await tb?.destroy();
  });
  tb = await createTestbed('pair-plain');
  const runId = tb.runId;
  const client = tb.host('client');
  const server = tb.host('server');
  assert.equal(client.ns, `dysco-${runId}-client`);
  assert.equal(tb.routerNs, `dysco-${runId}-router`);
  assert.equal(client.agent, undefined);
  assert.deepEqual(runLeftovers(runId).sort(), [client.ns, tb.routerNs, server.ns].sort());
  assert.ok(existsSync(tb.runDir));
  const state = readState(tb.runDir);
  assert.equal(state?.owner.pid, process.pid);
  assert.equal(state?.persistent, false);
  assert.ok(listRuns().some((r) => r.runId === runId && !r.stale));

  // nothing in the root namespace
  const rootLinks = await linksOfRun(runId);
  assert.ok(rootLinks.every((l) => !l.startsWith('(root)/')), `links in the root namespace: ${rootLinks}`);

  // the wiring: address, default route via the router, forwarding on the router, no IPv6
  const addr = await tb.exec('client', ['ip', '-4', '-o', 'addr', 'show', 'dev', client.iface]);
  assert.match(addr.stdout, new RegExp(`inet ${client.cidr.replace(/\./g, '\\.')}`));
  const route = await tb.exec(client, ['ip', 'route', 'show', 'default']);
  assert.match(route.stdout, new RegExp(`via ${client.gateway.replace(/\./g, '\\.')}`));
  const fwd = await tb.exec('router', ['sysctl', '-n', 'net.ipv4.ip_forward']);
  assert.equal(fwd.stdout.trim(), '1');
  const v6 = await tb.exec('server', ['ip', '-6', '-o', 'addr', 'show', 'dev', server.iface]);
  assert.equal(v6.stdout.trim(), '', 'IPv6 is off in our namespaces');

  if (hasCommand('ping')) {
    const ping = await tb.exec('client', ['ping', '-c', '3', '-i', '0.2', '-W', '2', server.address], {
      timeoutMs: 15_000,
    });
    assert.match(ping.stdout, / 0% packet loss/);
  } else {
    t.diagnostic('ping is not installed: reachability is checked by iperf3 only');
  }

  const result = await measureIperf3(client, server, { seconds: 2, streams: 1 });
  assert.ok(result.gbps > 0.01, `goodput ${result.gbps} Gbit/s`);
  assert.ok(result.bytesReceived > 0);
  t.diagnostic(`pair-plain iperf3: ${result.gbps.toFixed(2)} Gbit/s`);

  const runDir = tb.runDir;
  const report = await tb.destroy();
  assert.equal(report.namespaces.length, 3);
  assert.deepEqual(runLeftovers(runId), []);
  assert.deepEqual(await linksOfRun(runId), []);
  assert.equal(existsSync(runDir), false);
  assert.ok(!listRuns().some((r) => r.runId === runId));
});

/** A child process that builds a non-persistent pair-plain testbed and idles. */
async function startChildTestbed(t: TestContext, exitWhenUp = false): Promise<{ proc: ChildProcess; runId: string }> {
  const script = `
    const { createTestbed } = require(${JSON.stringify(require.resolve('../../src/testbed'))});
    createTestbed('pair-plain').then((tb) => { process.stdout.write(tb.runId + '\\n');
      if (${exitWhenUp}) process.stdout.write('', () => process.exit(0)); else setInterval(() => {}, 1000); },
      (e) => { console.error(e); process.exit(1); });`;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const runId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child testbed not up in 30 s')), 30_000);
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^([0-9a-f]{4})\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      const m = /^([0-9a-f]{4})\n/m.exec(out);
      if (m && exitWhenUp) resolve(m[1]!);
      else reject(new Error(`child exited ${code}`));
    });
  });
  return { proc, runId };
}

test('an owner stopped by SIGTERM or exiting without destroy cleans up through the hooks', { timeout: 60_000 }, async (t) => {
  if (skipUnlessNetns(t, TOOLS)) return;
  const child = await startChildTestbed(t);
  assert.equal(runLeftovers(child.runId).length, 3);
  const t0 = Date.now();
  child.proc.kill('SIGTERM');
  const [, signal] = (await new Promise((r) => child.proc.once('exit', (...a) => r(a)))) as [number | null, string | null];
  assert.equal(signal, 'SIGTERM', 'dies by the signal, as without the hook');
  assert.ok(Date.now() - t0 < 10_000);
  assert.deepEqual(runLeftovers(child.runId), []);
  assert.deepEqual(await linksOfRun(child.runId), []);

  const exiting = await startChildTestbed(t, true);
  if (exiting.proc.exitCode === null) await new Promise((r) => exiting.proc.once('exit', r));
  assert.equal(exiting.proc.exitCode, 0);
  assert.deepEqual(runLeftovers(exiting.runId), []);
});

test('a run whose owner died is swept by prefix; down removes a persistent run', { timeout: 90_000 }, async (t) => {
  if (skipUnlessNetns(t, TOOLS)) return;
  // A child process builds a non-persistent testbed and is SIGKILLed: no hook runs.
  const child = await startChildTestbed(t);
  const runId = child.runId;
  assert.equal(runLeftovers(runId).length, 3);
  // alive owner: not swept
  await sweep();
  assert.equal(runLeftovers(runId).length, 3);
  child.proc.kill('SIGKILL');
  await new Promise((r) => child.proc.once('exit', r));
  const report = await sweep();
  assert.ok(report.runs.some((r) => r.runId === runId));
  assert.deepEqual(runLeftovers(runId), []);
  assert.deepEqual(await linksOfRun(runId), []);

  // persistent: survives sweep, removed by destroyRun (dysco testbed down <run>)
  const tb = await createTestbed('pair-plain', { persistent: true });
  t.after(async () => {
    await tb.destroy();
  });
  assert.equal(readState(tb.runDir)?.persistent, true);
  await sweep();
  assert.equal(runLeftovers(tb.runId).length, 3);
  await destroyRun(tb.runId);
  assert.deepEqual(runLeftovers(tb.runId), []);
  assert.equal(existsSync(tb.runDir), false);
  assert.ok(!readdirSync('/run/netns').some((n) => n.startsWith(`dysco-${tb.runId}`)));
});

test('pair with real agents: agent wiring, ready, metrics, stop; a failing agent leaves nothing', { timeout: 90_000 }, async (t) => {
  if (skipUnlessNetns(t, [...TOOLS, 'curl'])) return;
  const tb = await createTestbed('pair', { readyTimeoutMs: 30_000 });
  t.after(async () => {
    await tb.destroy();
  });
  const client = tb.host('client');
  const ag = client.agent!;
  assert.equal(ag.ns, `dysco-${tb.runId}-client-ag`);
  assert.equal(ag.hostDevice, `net_af_packet0,iface=${ag.hostIface}`);
  assert.equal(ag.wireDevice, `net_af_packet1,iface=${ag.wireIface}`);
  assert.equal(runLeftovers(tb.runId).length, 5);

  // agent-side ends: no IPv4 address, promiscuous, up, IPv6 off, offloads off (and on their peers)
  for (const dev of [ag.hostIface, ag.wireIface]) {
    const a = await tb.exec(client, ['ip', '-o', 'addr', 'show', 'dev', dev], { agentNs: true });
    assert.doesNotMatch(a.stdout, /inet/, `${dev} has no address`);
    const l = await tb.exec(client, ['ip', '-o', 'link', 'show', 'dev', dev], { agentNs: true });
    assert.match(l.stdout, /PROMISC/);
    assert.match(l.stdout, /[<,]UP[,>]/);
    const v6 = await tb.exec(client, ['sysctl', '-n', `net.ipv6.conf.${dev}.disable_ipv6`], { agentNs: true });
    assert.equal(v6.stdout.trim(), '1');
  }
  const features = [
    [ag.ns, ag.hostIface],
    [ag.ns, ag.wireIface],
    [client.ns, client.iface],
    [tb.routerNs, client.routerIface],
  ] as const;
  for (const [ns, dev] of features) {
    const k = await run('ip', ['netns', 'exec', ns, 'ethtool', '-k', dev]);
    for (const f of ['tx-checksumming', 'rx-checksumming', 'tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload']) {
      assert.match(k.stdout, new RegExp(`^${f}: off`, 'm'), `${ns}/${dev} ${f}`);
    }
  }

  const pid = tb.agentPid('client');
  assert.ok(pid !== undefined);
  assert.equal(readState(tb.runDir)?.hosts.find((h) => h.name === 'client')?.agent?.pid, pid);
  assert.match(await tb.scrapeMetrics('client'), /dysco_build_info/);
  const exit = await tb.stopAgent('client', 'SIGTERM');
  assert.equal(exit.code, 0);
  assert.equal(exit.timedOut, false);
  assert.ok(exit.elapsedMs < 5_000);
  assert.equal(tb.agentPid('client'), undefined);
  assert.match(tb.agentLogTail('client'), /"event":"stopped"/);
  const runId = tb.runId;
  await tb.destroy();
  assert.deepEqual(runLeftovers(runId), []);

  // an agent that dies before ready: createTestbed rejects with the log tail, and tears everything down
  const before = new Set(listDyscoNamespaces());
  await assert.rejects(
    createTestbed('pair', { readyTimeoutMs: 30_000, agentArgs: ['--eal-memory-mb', '1'] }),
    (err: Error) => /exited with code 1 before it was ready/.test(err.message) && /eal\.memoryMb/.test(err.message),
  );
  assert.deepEqual(listDyscoNamespaces().filter((n) => !before.has(n)), []);
});
