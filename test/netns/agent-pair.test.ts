// Two hosts, each behind a real pass-through agent (DPDK af_packet ports), real kernel TCP between
// them: ping, 64 MiB each way with equal sha256, counters that match what was sent, clean SIGTERM,
// and nothing left behind — also after an agent dies by SIGKILL (its DPDK runtime dir and control-API socket).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultApiSocket } from '../../src/api/client';
import { formatRunDown } from '../../src/cli/testbed/handler';
import { createTestbed, destroyRun, dpdkRuntimeDir, listDyscoNamespaces, sweep, type HostHandle, type Testbed } from '../../src/testbed';
import { netnsUnavailableReason } from '../support/netns';
import { metric, parseMetrics } from '../support/prometheus';

const TRANSFER = join(__dirname, '..', 'fixtures', 'tcp-transfer.js');
const BYTES = 64 * 1024 * 1024;
const skip = netnsUnavailableReason(['ip', 'ethtool', 'curl', 'ping']);

interface TransferResult {
  bytes: number;
  sha256: string;
}

async function transfer(tb: Testbed, from: HostHandle, to: HostHandle, seed: number): Promise<[TransferResult, TransferResult]> {
  const receiver = tb.spawn(to, [process.execPath, TRANSFER, 'receive', '7000', '180000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  receiver.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const received = new Promise<TransferResult>((resolve, reject) => {
    receiver.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    receiver.once('exit', (code) => {
      const result = lines.map((l) => JSON.parse(l) as Partial<TransferResult>).find((r) => r.sha256);
      if (code === 0 && result) resolve(result as TransferResult);
      else reject(new Error(`receiver exited ${code}: ${stderr}`));
    });
  });
  const listening = Date.now() + 10_000;
  while (!lines.some((l) => l.includes('listening')) && Date.now() < listening) await new Promise((r) => setTimeout(r, 20));
  const sent = await tb.exec(from, [process.execPath, TRANSFER, 'send', to.address, '7000', String(BYTES), String(seed)], {
    timeoutMs: 180_000,
  });
  return [JSON.parse(sent.stdout.trim()) as TransferResult, await received];
}

describe('two hosts behind pass-through agents', { skip, timeout: 600_000 }, () => {
  let tb: Testbed;

  before(async () => {
    tb = await createTestbed('pair');
  });
  after(async () => {
    await tb?.destroy();
  });

  it('carries ping, with agent counters matching the echoes exactly (± ARP)', async () => {
    const client = tb.host('client');
    const server = tb.host('server');
    await tb.exec(client, ['ping', '-c', '2', '-W', '2', server.address]); // warm ARP caches
    const before = await Promise.all([tb.scrapeMetrics('client'), tb.scrapeMetrics('server')]).then((t) => t.map(parseMetrics));
    const count = 25;
    const ping = await tb.exec(client, ['ping', '-c', String(count), '-i', '0.02', '-W', '2', server.address]);
    assert.match(ping.stdout, new RegExp(`${count} packets transmitted, ${count} received`));
    const after = await Promise.all([tb.scrapeMetrics('client'), tb.scrapeMetrics('server')]).then((t) => t.map(parseMetrics));
    for (const i of [0, 1]) {
      for (const key of [
        'dysco_port_rx_packets_total{port="host"}',
        'dysco_port_tx_packets_total{port="wire"}',
        'dysco_port_rx_packets_total{port="wire"}',
        'dysco_port_tx_packets_total{port="host"}',
      ]) {
        const delta = metric(after[i]!, key) - metric(before[i]!, key);
        assert.ok(delta >= count && delta <= count + 2, `${['client', 'server'][i]} ${key}: ${delta} for ${count} echoes`);
      }
    }
  });

  it('moves 64 MiB each way with equal sha256', async () => {
    const client = tb.host('client');
    const server = tb.host('server');
    const [sentUp, receivedUp] = await transfer(tb, client, server, 1);
    assert.equal(receivedUp.bytes, BYTES);
    assert.equal(receivedUp.sha256, sentUp.sha256);
    const [sentDown, receivedDown] = await transfer(tb, server, client, 2);
    assert.equal(receivedDown.bytes, BYTES);
    assert.equal(receivedDown.sha256, sentDown.sha256);
  });

  it('exports counters that account for the transfers on both ports, with drops by reason', async () => {
    for (const name of ['client', 'server']) {
      const m = parseMetrics(await tb.scrapeMetrics(name));
      // Pass-through: what came in on one port went out on the other, or is a counted drop.
      const drops = metric(m, 'dysco_drops_total{reason="tx_full"}');
      const hostIn = metric(m, 'dysco_port_rx_packets_total{port="host"}');
      const wireIn = metric(m, 'dysco_port_rx_packets_total{port="wire"}');
      const out = metric(m, 'dysco_port_tx_packets_total{port="host"}') + metric(m, 'dysco_port_tx_packets_total{port="wire"}');
      assert.ok(Math.abs(hostIn + wireIn - out - drops) <= 64, `${name}: in ${hostIn + wireIn}, out ${out}, dropped ${drops}`);
      // Both 64 MiB streams crossed each agent: payload plus headers, and retransmissions at most 25 %.
      for (const port of ['host', 'wire']) {
        const bytes = metric(m, `dysco_port_rx_bytes_total{port="${port}"}`);
        assert.ok(bytes >= BYTES, `${name} ${port} received ${bytes} bytes`);
      }
      const total = metric(m, 'dysco_port_rx_bytes_total{port="host"}') + metric(m, 'dysco_port_rx_bytes_total{port="wire"}');
      assert.ok(total <= 2 * BYTES * 1.25, `${name}: ${total} bytes for 2 × 64 MiB`);
      assert.equal(metric(m, 'dysco_datapath_up'), 1);
      assert.equal(metric(m, 'dysco_build_info{version="0.1.0",node="' + process.version + '"}'), 1);
    }
  });

  it('stops on SIGTERM with exit 0 within 5 s and removes its DPDK runtime files', async () => {
    const pid = tb.agentPid('server')!;
    const runtimeDir = `/var/run/dpdk/dysco-${pid}`;
    assert.ok(existsSync(runtimeDir), `${runtimeDir} exists while running`);
    const exit = await tb.stopAgent('server', 'SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(exit.timedOut, false);
    assert.ok(exit.elapsedMs < 5_000, `took ${exit.elapsedMs} ms`);
    assert.equal(existsSync(runtimeDir), false);
  });

  it('leaves its runtime files after SIGKILL for the next run to sweep', async () => {
    const pid = tb.agentPid('client')!;
    const runtimeDir = `/var/run/dpdk/dysco-${pid}`;
    const exit = await tb.stopAgent('client', 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(existsSync(runtimeDir), 'SIGKILL leaves the runtime directory');
    const runId = tb.runId;
    await tb.destroy();
    await sweep(); // what the next run does first
    assert.equal(existsSync(runtimeDir), false);
    assert.deepEqual(listDyscoNamespaces().filter((n) => n.includes(runId)), []);
    assert.equal(existsSync(`/proc/${pid}`), false, 'the killed agent is gone');
    const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((args) => args.includes(`iface=dy${runId}`));
    assert.deepEqual(leftovers, [], 'no process of this run is left');
  });
});

describe('Dysco agents killed by SIGKILL', { skip, timeout: 300_000 }, () => {
  let tb: Testbed | undefined;
  after(async () => {
    await tb?.destroy();
  });

  it('leave their control-API sockets; the next sweep and `down` remove them and report exactly what they removed', async () => {
    // persistent, as `dysco testbed up` makes it: only `down` tears it down, from its state file
    tb = await createTestbed('pair', { dysco: true, persistent: true });
    const pids = { client: tb.agentPid('client')!, server: tb.agentPid('server')! };
    for (const pid of Object.values(pids)) assert.ok(existsSync(defaultApiSocket(pid)), `agent ${pid} listens on its socket`);

    assert.equal((await tb.stopAgent('client', 'SIGKILL')).signal, 'SIGKILL');
    assert.ok(existsSync(defaultApiSocket(pids.client)), 'SIGKILL leaves the socket');
    assert.ok(existsSync(dpdkRuntimeDir(pids.client)), 'SIGKILL leaves the DPDK runtime dir');

    const swept = await sweep(); // what the next testbed does first; this run is persistent, so it stays
    assert.ok(swept.apiSockets.includes(defaultApiSocket(pids.client)), `swept sockets: ${swept.apiSockets.join(', ')}`);
    assert.ok(swept.dpdkDirs.includes(dpdkRuntimeDir(pids.client)));
    assert.equal(existsSync(defaultApiSocket(pids.client)), false);
    assert.equal(swept.runs.some((r) => r.runId === tb!.runId), false, 'the persistent run is left alone');

    await tb.stopAgent('server', 'SIGKILL');
    const report = await destroyRun(tb.runId); // `dysco testbed down <run>`
    assert.deepEqual(report.apiSockets, [defaultApiSocket(pids.server)]);
    assert.deepEqual(report.dpdkDirs, [dpdkRuntimeDir(pids.server)], 'only dirs that were there, the swept one not again');
    assert.equal(existsSync(defaultApiSocket(pids.server)), false);
    assert.equal(existsSync(dpdkRuntimeDir(pids.server)), false);
    assert.match(formatRunDown(report), new RegExp(`1 DPDK runtime dir, 1 control-API socket\\n[^]*${defaultApiSocket(pids.server)}`));
    assert.deepEqual(listDyscoNamespaces().filter((n) => n.includes(tb!.runId)), []);
  });
});
