// Dysco session set-up and teardown through chains of real agents and UNMODIFIED Linux middleboxes: nginx, curl,
// iperf3 and kernel TCP at the ends; an IP forwarder, an iptables/conntrack firewall, an iptables MASQUERADE NAT
// and HAProxy in the middle. Byte-exact transfers, the agents' session counters, the wire (only subsession
// headers), the firewall's and NAT's own view (only session headers), 1,000 concurrent sessions, a flow no policy
// matches, and `dysco ctl sessions` on a live session.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SessionRecord } from '../../src/api/types';
import { ADDRESS_LIST_MAGIC, decodeAddressList } from '../../src/protocol/address-list';
import { createTestbed, measureIperf3, type HostHandle, type Testbed } from '../../src/testbed';
import {
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  conntrackEntries,
  download,
  installFirewall,
  installMasquerade,
  ruleCounters,
  startCapture,
  startHaproxy,
  startNginx,
  stopProcess,
  tcpPackets,
  waitForListener,
  type AccessEntry,
  type Haproxy,
  type Nginx,
} from '../support/middleboxes';
import { netnsUnavailableReason } from '../support/netns';
import { readPcap } from '../support/pcap';
import { parseMetrics } from '../support/prometheus';

const TRANSFER = join(__dirname, '..', 'fixtures', 'tcp-transfer.js');
const MANY = join(__dirname, '..', 'fixtures', 'many-connections.js');
const CLI = resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
const TRANSFER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 500;
/** Sessions linger LINGER_MS after FIN/RST; agents retire them on their timer. */
const AGENT_CONFIG = { dysco: { timeouts: { lingerMs: LINGER_MS } } };
const SUBSESSION_PORTS = { lo: 61000, hi: 65535 };
const CONCURRENT = 1000;

const chainSkip = netnsUnavailableReason(['ip', 'ethtool', 'curl', 'nginx', 'iperf3', 'ss']);
const middleboxSkip = netnsUnavailableReason(['ip', 'ethtool', 'curl', 'nginx', 'iperf3', 'ss', 'iptables', 'conntrack', 'haproxy', 'tcpdump']);

type Metrics = Map<string, number>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function value(m: Metrics, key: string): number {
  return m.get(key) ?? 0;
}
const setups = (m: Metrics, kind: string) => value(m, `dysco_session_setups_total{kind="${kind}"}`);
const teardowns = (m: Metrics, cause: string) => value(m, `dysco_session_teardowns_total{cause="${cause}"}`);
const active = (m: Metrics) => value(m, 'dysco_sessions_active');

/** Every drop counter of the agent that is not 0, as `reason=n`. */
function nonZeroDrops(m: Metrics): string[] {
  return [...m].filter(([k, v]) => k.startsWith('dysco_drops_total{') && v !== 0).map(([k, v]) => `${k.slice(26, -2)}=${v}`);
}

const PORT_DROPS = new Set(['tx_full', 'rx_missed', 'rx_no_mbuf']);
/** Drops of the session protocol (not of a full port ring). */
function protocolDrops(m: Metrics): string[] {
  return nonZeroDrops(m).filter((d) => !PORT_DROPS.has(d.split('=')[0]!));
}

async function scrapeAll(tb: Testbed, hosts: readonly string[]): Promise<Record<string, Metrics>> {
  const texts = await Promise.all(hosts.map((h) => tb.scrapeMetrics(h)));
  return Object.fromEntries(hosts.map((h, i) => [h, parseMetrics(texts[i]!)]));
}

function sessionSummary(m: Metrics): string {
  return [...m]
    .filter(([k]) => /^dysco_(sessions_active|session_setups_total|session_teardowns_total|drops_total|stale_tags|syn_retransmits)/.test(k))
    .filter(([k, v]) => v !== 0 || k === 'dysco_sessions_active')
    .map(([k, v]) => `${k.replace('dysco_', '').replace('_total', '')}=${v}`)
    .join(' ');
}

/** The agents' sessions through the CLI (`dysco ctl sessions --json --all`) on the agent's control socket. */
function ctlSessions(tb: Testbed, host: string): Promise<SessionRecord[]> {
  const pid = tb.agentPid(host);
  assert.ok(pid, `agent of ${host} is running`);
  const socket = `/run/dysco/agent-${pid}.sock`;
  return new Promise((resolveSessions, reject) => {
    execFile(process.execPath, [CLI, 'ctl', 'sessions', '--api', socket, '--json', '--all'], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dysco ctl sessions --api ${socket}: ${err.message} ${stderr}`));
      else resolveSessions((JSON.parse(stdout) as { sessions: SessionRecord[] }).sessions);
    });
  });
}

/**
 * Polls until every agent's dysco_sessions_active is 0 (bounded); the failure names each agent's counters and
 * what its control API still lists.
 */
async function assertAllRetired(tb: Testbed, hosts: readonly string[], timeoutMs = LINGER_MS + 8_000): Promise<Record<string, Metrics>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await scrapeAll(tb, hosts);
    if (hosts.every((h) => active(m[h]!) === 0)) return m;
    if (Date.now() >= deadline) {
      const left = await Promise.all(
        hosts.map(async (h) => {
          const listed = await ctlSessions(tb, h).catch((e: Error) => e.message);
          const sample = Array.isArray(listed) ? JSON.stringify(listed.slice(0, 3)) : listed;
          return `${h}: ${sessionSummary(m[h]!)}; listed ${Array.isArray(listed) ? listed.length : '?'}: ${sample}`;
        }),
      );
      assert.fail(`sessions still active ${timeoutMs} ms after the last close:\n${left.join('\n')}`);
    }
    await sleep(200);
  }
}

interface TransferResult {
  bytes: number;
  sha256: string;
}

/** tcp-transfer: `from` connects to `to`:port and sends `bytes`; both ends report byte count and sha256. */
async function transfer(tb: Testbed, from: HostHandle, to: HostHandle, port: number, seed: number): Promise<[TransferResult, TransferResult]> {
  const receiver = tb.spawn(to, [process.execPath, TRANSFER, 'receive', String(port), '120000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  receiver.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  receiver.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const received = new Promise<TransferResult>((resolveResult, reject) => {
    receiver.once('exit', (code) => {
      const result = lines.map((l) => JSON.parse(l) as Partial<TransferResult>).find((r) => r.sha256);
      if (code === 0 && result) resolveResult(result as TransferResult);
      else reject(new Error(`receiver exited ${code}: ${stderr}`));
    });
  });
  try {
    await waitForListener(tb, to.name, port);
    const sent = await tb.exec(from, [process.execPath, TRANSFER, 'send', to.address, String(port), String(TRANSFER_BYTES), String(seed), '120000'], {
      timeoutMs: 130_000,
    });
    return [JSON.parse(sent.stdout.trim()) as TransferResult, await received];
  } finally {
    await stopProcess(receiver, 'SIGKILL', 0);
  }
}

/** N connections from the many-connections fixture, held open until `close()`. */
interface OpenConnections {
  /** resolves when all are established and echoed, with the fixture's report ({established, ms}) */
  established: Promise<Record<string, unknown>>;
  /** closes them all; resolves when every socket is closed */
  close(): Promise<void>;
}

function openConnections(tb: Testbed, from: HostHandle, to: HostHandle, port: number, count: number, timeoutMs: number): OpenConnections {
  const child = tb.spawn(from, [process.execPath, MANY, 'connect', to.address, String(port), String(count), String(timeoutMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const records: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) if (l.trim()) records.push(JSON.parse(l) as Record<string, unknown>);
    waiters.splice(0).forEach((w) => w());
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const until = (key: string) =>
    new Promise<Record<string, unknown>>((resolveKey, reject) => {
      const check = () => {
        const record = records.find((r) => key in r);
        if (record) return resolveKey(record);
        waiters.push(check);
      };
      check();
      void exited.then((code) => {
        if (!records.some((r) => key in r)) reject(new Error(`many-connections exited ${code} before "${key}": ${stderr.trim()}`));
      });
    });
  const established = until('established');
  established.catch(() => undefined);
  return {
    established,
    async close() {
      child.stdin!.end('close\n');
      try {
        await until('closed');
        await Promise.race([exited, sleep(5_000)]);
      } finally {
        await stopProcess(child, 'SIGKILL', 0);
      }
    },
  };
}

/** The many-connections echo server on `host`:port. */
async function startEcho(tb: Testbed, host: HostHandle, port: number): Promise<() => Promise<void>> {
  const child = tb.spawn(host, [process.execPath, MANY, 'serve', host.address, String(port), '600000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForListener(tb, host.name, port);
  return () => stopProcess(child);
}

/** The access log entries after the first `skip`, once there are `count` of them (nginx logs as it finishes). */
async function accessEntriesAfter(nginx: Nginx, skip: number, count: number): Promise<AccessEntry[]> {
  const deadline = Date.now() + 5_000;
  let entries = nginx.accessEntries().slice(skip);
  while (entries.length < count && Date.now() < deadline) {
    await sleep(50);
    entries = nginx.accessEntries().slice(skip);
  }
  assert.equal(entries.length, count, `nginx access log: ${JSON.stringify(entries)}`);
  return entries;
}

function inSubsessionRange(port: number): boolean {
  return port >= SUBSESSION_PORTS.lo && port <= SUBSESSION_PORTS.hi;
}

// ---- 1. chains of 0, 1, 2 and 4 plain middleboxes --------------------------------------------------------------

for (const length of [0, 1, 2, 4]) {
  const topology = length === 0 ? 'pair' : `chain-${length}`;
  const middleboxes = Array.from({ length }, (_, i) => `mb${i + 1}`);
  const hosts = ['client', ...middleboxes, 'server'];

  describe(`a Dysco chain of ${length} middlebox${length === 1 ? '' : 'es'} (${topology}, IP forwarders)`, { skip: chainSkip, timeout: 300_000 }, () => {
    let tb: Testbed;
    let nginx: Nginx;
    let base: Record<string, Metrics>;
    let client: HostHandle;
    let server: HostHandle;
    /** sessions the client started, and the server started, through the chain */
    let fromClient = 0;
    let fromServer = 0;

    before(async () => {
      tb = await createTestbed(topology, {
        dysco: true,
        agentConfig: AGENT_CONFIG,
        policies: {
          // every session to the server goes through the chain; the server's sessions to the client come back
          // through it in reverse
          client: [{ name: 'to-server', match: { dstPrefix: 'server' }, chain: middleboxes }],
          server: [{ name: 'to-client', match: { dstPrefix: 'client' }, chain: [...middleboxes].reverse() }],
        },
      });
      client = tb.host('client');
      server = tb.host('server');
      nginx = await startNginx(tb, server);
      base = await scrapeAll(tb, hosts);
    });
    after(async () => {
      await nginx?.stop();
      await tb?.destroy();
    });

    it('serves every file byte-exact from nginx to curl', { timeout: 60_000 }, async () => {
      for (const file of nginx.files) {
        const got = await download(tb, 'client', `http://${server.address}${file.urlPath}`);
        fromClient++;
        assert.equal(got.bytes, file.size, file.urlPath);
        assert.equal(got.sha256, file.sha256, file.urlPath);
      }
      const log = await accessEntriesAfter(nginx, 0, nginx.files.length);
      // no NAT on the way: the server sees the client itself
      for (const e of log) assert.equal(e.remoteAddr, client.address, JSON.stringify(e));
    });

    it('moves 64 MiB each way with equal sha256 (one session started by each end)', { timeout: 150_000 }, async () => {
      const [sentUp, receivedUp] = await transfer(tb, client, server, 7000, 11);
      fromClient++;
      assert.equal(receivedUp.bytes, TRANSFER_BYTES);
      assert.equal(receivedUp.sha256, sentUp.sha256);
      const [sentDown, receivedDown] = await transfer(tb, server, client, 7001, 12);
      fromServer++;
      assert.equal(receivedDown.bytes, TRANSFER_BYTES);
      assert.equal(receivedDown.sha256, sentDown.sha256);
    });

    it('carries an iperf3 run', { timeout: 60_000 }, async () => {
      const r = await measureIperf3(client, server, { seconds: 2 });
      fromClient += 2; // the control connection and one data stream
      assert.ok(r.bytesReceived > 0 && r.gbps > 0.001, `iperf3: ${r.gbps} Gbit/s, ${r.bytesReceived} bytes`);
    });

    it('counts every session as set up on every agent, and retires them all after the linger', { timeout: 60_000 }, async (t) => {
      const total = fromClient + fromServer;
      assert.ok(fromClient >= nginx.files.length + 3, `sessions counted by the tests: ${fromClient}`);
      const now = await assertAllRetired(tb, hosts);
      const d = (h: string, f: (m: Metrics) => number) => f(now[h]!) - f(base[h]!);
      const report = hosts.map((h) => `${h}: ${sessionSummary(now[h]!)}`).join('\n');
      t.diagnostic(`sessions: ${fromClient} from the client, ${fromServer} from the server; ${report.replace(/\n/g, '; ')}`);
      // exact: a retransmitted SYN must not count as another session (set-up is idempotent)
      assert.equal(d('client', (m) => setups(m, 'initiated')), fromClient, `client initiated\n${report}`);
      assert.equal(d('server', (m) => setups(m, 'initiated')), fromServer, `server initiated\n${report}`);
      assert.equal(d('server', (m) => setups(m, 'accepted')), fromClient, `server accepted\n${report}`);
      assert.equal(d('client', (m) => setups(m, 'accepted')), fromServer, `client accepted\n${report}`);
      for (const mb of middleboxes) {
        assert.equal(d(mb, (m) => setups(m, 'accepted')), total, `${mb} accepted\n${report}`);
        assert.equal(d(mb, (m) => setups(m, 'completed')), total, `${mb} completed\n${report}`);
        // a forwarder keeps the session's five-tuple: the SYN comes back under the same tuple, not by its tag
        assert.equal(d(mb, (m) => setups(m, 'completed_by_tag')), 0, `${mb} completed_by_tag\n${report}`);
        assert.equal(d(mb, (m) => setups(m, 'initiated')), 0, `${mb} initiated\n${report}`);
      }
      for (const h of hosts) {
        assert.equal(d(h, (m) => setups(m, 'established')), total, `${h} established\n${report}`);
        const closed = d(h, (m) => teardowns(m, 'fin') + teardowns(m, 'rst'));
        assert.ok(closed >= total, `${h} teardowns by fin or rst ≥ ${total}\n${report}`);
        assert.equal(d(h, (m) => teardowns(m, 'idle')), 0, `${h}: no session retired by idle timeout\n${report}`);
        assert.deepEqual(protocolDrops(now[h]!), [], `${h}: protocol drops\n${report}`);
      }
    });

    if (length === 1) {
      it(`holds ${CONCURRENT} concurrent sessions through the chain and retires them all after close`, { timeout: 240_000 }, async (t) => {
        const stopEcho = await startEcho(tb, server, 7100);
        try {
          const before = await assertAllRetired(tb, hosts);
          const conns = openConnections(tb, client, server, 7100, CONCURRENT, 150_000);
          let closed = false;
          try {
            const report = await conns.established;
            t.diagnostic(`${CONCURRENT} connections established and echoed in ${String(report.ms)} ms`);
            const open = await scrapeAll(tb, hosts);
            for (const h of hosts) {
              assert.ok(active(open[h]!) >= CONCURRENT, `${h}: ${active(open[h]!)} active with ${CONCURRENT} open\n${sessionSummary(open[h]!)}`);
            }
            const listed = await ctlSessions(tb, 'mb1');
            assert.ok(listed.filter((s) => s.state === 'established').length >= CONCURRENT, `mb1 lists ${listed.length} sessions`);
            await conns.close();
            closed = true;
          } finally {
            if (!closed) await conns.close().catch(() => undefined);
          }
          const closedAt = Date.now();
          const after = await assertAllRetired(tb, hosts, LINGER_MS + 30_000);
          t.diagnostic(`every agent back to 0 sessions ${Date.now() - closedAt} ms after the last close`);
          const report = hosts.map((h) => `${h}: ${sessionSummary(after[h]!)}`).join('\n');
          for (const h of hosts) {
            const fin = teardowns(after[h]!, 'fin') - teardowns(before[h]!, 'fin');
            assert.ok(fin >= CONCURRENT, `${h}: teardowns{cause="fin"} grew by ${fin}\n${report}`);
            assert.deepEqual(nonZeroDrops(after[h]!), [], `${h}: drops\n${report}`);
          }
          assert.ok(setups(after.client!, 'initiated') - setups(before.client!, 'initiated') >= CONCURRENT, report);
          assert.ok(setups(after.mb1!, 'completed') - setups(before.mb1!, 'completed') >= CONCURRENT, report);
        } finally {
          await stopEcho();
        }
      });
    }
  });
}

// ---- 2.–6. a firewall, a NAT and a proxy: unmodified Linux middlebox software -------------------------------------

describe('Dysco through unmodified Linux middleboxes (chain-2: mb1 iptables firewall + HAProxy, mb2 MASQUERADE NAT)', { skip: middleboxSkip, timeout: 300_000 }, () => {
  const hosts = ['client', 'mb1', 'mb2', 'server'];
  let tb: Testbed;
  let nginx: Nginx;
  let haproxy: Haproxy;
  let stopEcho: () => Promise<void>;
  let client: HostHandle;
  let mb1: HostHandle;
  let mb2: HostHandle;
  let server: HostHandle;

  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      agentConfig: AGENT_CONFIG,
      policies: {
        client: [
          { name: 'web', match: { dstPrefix: 'server', dstPorts: 80 }, chain: ['mb1', 'mb2'] },
          { name: 'apps', match: { dstPrefix: 'server', dstPorts: '7000-7199' }, chain: ['mb1', 'mb2'] },
          { name: 'rejected', match: { dstPrefix: 'server', dstPorts: 81 }, chain: ['mb1', 'mb2'] },
          // the proxy's front: a Dysco session that ends at mb1 itself
          { name: 'proxy', match: { dstPrefix: 'mb1', dstPorts: 8080 }, chain: [] },
        ],
        // HAProxy's upstream connections are new sessions started on mb1, through the NAT
        mb1: [{ name: 'upstream', match: { dstPrefix: 'server', dstPorts: 80 }, chain: ['mb2'] }],
      },
    });
    client = tb.host('client');
    mb1 = tb.host('mb1');
    mb2 = tb.host('mb2');
    server = tb.host('server');
    await installFirewall(tb, 'mb1');
    await installMasquerade(tb, 'mb2');
    nginx = await startNginx(tb, server, { sizes: [1, 70_001, 8 * 1024 * 1024] });
    haproxy = await startHaproxy(tb, mb1, { address: mb1.address, port: 8080 }, `${server.address}:80`);
    stopEcho = await startEcho(tb, server, 7100);
  });
  after(async () => {
    await Promise.all([nginx?.stop(), haproxy?.stop(), stopEcho?.()]);
    await tb?.destroy();
  });

  it('an iptables/conntrack firewall tracks each session under its session tuple and passes it', { timeout: 60_000 }, async () => {
    const before = await ruleCounters(tb, 'mb1');
    for (const file of nginx.files) {
      const got = await download(tb, 'client', `http://${server.address}${file.urlPath}`);
      assert.equal(got.sha256, file.sha256, file.urlPath);
    }
    const conns = openConnections(tb, client, server, 7100, 3, 30_000);
    try {
      await conns.established;
      const tracked = await conntrackEntries(tb, 'mb1');
      const echo = tracked.filter((e) => e.dport === 7100 && e.state === 'ESTABLISHED');
      assert.equal(echo.length, 3, `conntrack on mb1:\n${tracked.map((e) => e.line).join('\n')}`);
      for (const e of echo) {
        // the session header (client:ephemeral → server:7100), not a subsession
        assert.equal(e.src, client.address);
        assert.equal(e.dst, server.address);
        assert.ok(e.sport < SUBSESSION_PORTS.lo, `the client's ephemeral port: ${e.line}`);
        // the NAT is downstream: the firewall's reply tuple is the plain reverse
        assert.equal(e.replySrc, server.address);
        assert.equal(e.replyDst, client.address);
      }
      for (const e of tracked) {
        assert.notEqual(e.src, mb1.address, `mb1's stack never sees a subsession: ${e.line}`);
        assert.ok(!(inSubsessionRange(e.sport) && inSubsessionRange(e.dport)), `a subsession in conntrack: ${e.line}`);
      }
    } finally {
      await conns.close();
    }
    const after = await ruleCounters(tb, 'mb1');
    const [invalid, syn, established] = [0, 1, 2].map((i) => after.rules[i]!.packets - before.rules[i]!.packets);
    const table = after.rules.map((r) => r.text).join('\n');
    assert.ok(syn! >= nginx.files.length + 3, `SYNs accepted as NEW: ${syn}\n${table}`);
    assert.ok(established! > 8 * 1024 * 1024 / 1500, `packets accepted as ESTABLISHED: ${established}\n${table}`);
    assert.equal(invalid, 0, `no packet was INVALID to conntrack\n${table}`);
    assert.equal(after.policyPackets - before.policyPackets, 0, `nothing fell to the DROP policy\n${table}`);
  });

  it('an iptables MASQUERADE NAT rewrites the session; the tag finds it, and the server sees the NAT', { timeout: 120_000 }, async () => {
    const m0 = await scrapeAll(tb, hosts);
    const logged = nginx.accessEntries().length;
    for (const file of nginx.files) {
      const got = await download(tb, 'client', `http://${server.address}${file.urlPath}`);
      assert.equal(got.sha256, file.sha256, file.urlPath);
    }
    const [sent, received] = await transfer(tb, client, server, 7000, 21);
    assert.equal(received.bytes, TRANSFER_BYTES);
    assert.equal(received.sha256, sent.sha256);
    const sessions = nginx.files.length + 1;
    const entries = await accessEntriesAfter(nginx, logged, nginx.files.length);
    for (const e of entries) assert.equal(e.remoteAddr, mb2.address, `nginx's peer is the NAT: ${JSON.stringify(e)}`);
    // a live session: the server's socket peer is the NAT's address
    const conns = openConnections(tb, client, server, 7100, 1, 30_000);
    try {
      await conns.established;
      const ss = await tb.exec(server, ['ss', '-Htn', 'state', 'established', '( sport = :7100 )']);
      const peers = ss.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!);
      assert.equal(peers.length, 1, ss.stdout);
      assert.equal(peers[0]!.split(':')[0], mb2.address, ss.stdout);
    } finally {
      await conns.close();
    }
    const m1 = await assertAllRetired(tb, hosts);
    const d = (h: string, kind: string) => setups(m1[h]!, kind) - setups(m0[h]!, kind);
    const report = hosts.map((h) => `${h}: ${sessionSummary(m1[h]!)}`).join('\n');
    assert.ok(d('mb2', 'completed_by_tag') >= sessions + 1, `mb2 completed_by_tag ≥ ${sessions + 1}\n${report}`);
    assert.equal(d('mb2', 'completed_by_tag'), d('mb2', 'completed'), `every session completed at the NAT was found by its tag\n${report}`);
    assert.equal(d('mb1', 'completed_by_tag'), 0, `the firewall kept every tuple\n${report}`);
    assert.ok(d('mb1', 'completed') >= sessions + 1, report);
    assert.ok(d('server', 'accepted') >= sessions + 1, report);
    for (const h of hosts) assert.deepEqual(protocolDrops(m1[h]!), [], `${h}\n${report}`);
  });

  it('HAProxy (TCP mode) terminates the session; its upstream connection is a new session started on its host', { timeout: 60_000 }, async () => {
    const m0 = await scrapeAll(tb, hosts);
    const logged = nginx.accessEntries().length;
    for (const file of nginx.files) {
      const got = await download(tb, 'client', `http://${mb1.address}:8080${file.urlPath}`);
      assert.equal(got.bytes, file.size, file.urlPath);
      assert.equal(got.sha256, file.sha256, file.urlPath);
    }
    const n = nginx.files.length;
    const m1 = await assertAllRetired(tb, hosts);
    const d = (h: string, kind: string) => setups(m1[h]!, kind) - setups(m0[h]!, kind);
    const report = hosts.map((h) => `${h}: ${sessionSummary(m1[h]!)}`).join('\n');
    assert.ok(d('client', 'initiated') >= n, `client → proxy sessions\n${report}`);
    assert.ok(d('mb1', 'accepted') >= n, `the proxy's agent ends the client's sessions\n${report}`);
    assert.equal(d('mb1', 'completed'), 0, `nothing passes mb1's stack as a forwarded session\n${report}`);
    assert.ok(d('mb1', 'initiated') >= n, `HAProxy's upstream connections start sessions on mb1\n${report}`);
    assert.ok(d('mb2', 'completed_by_tag') >= n, `the upstream sessions go through the NAT\n${report}`);
    assert.ok(d('server', 'accepted') >= n, report);
    const entries = await accessEntriesAfter(nginx, logged, n);
    for (const e of entries) assert.equal(e.remoteAddr, mb2.address, JSON.stringify(e));
  });

  it('a flow that no policy matches passes untouched, with the client\'s own address and port', { timeout: 60_000 }, async () => {
    const m0 = await assertAllRetired(tb, hosts);
    const iperfServer = tb.spawn(server, ['iperf3', '-s', '-1', '-J', '-B', server.address, '-p', '5201'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let serverJson = '';
    iperfServer.stdout!.on('data', (b: Buffer) => (serverJson += b.toString()));
    const serverDone = new Promise<void>((r) => iperfServer.once('exit', () => r()));
    try {
      await waitForListener(tb, server.name, 5201);
      const run = tb.exec(client, ['iperf3', '-c', server.address, '-p', '5201', '-t', '3', '-J'], { timeoutMs: 30_000 });
      run.catch(() => undefined); // awaited below
      await sleep(1_500);
      // mid-run: the server's sockets face the client's own address; no agent holds a session for them
      const ss = await tb.exec(server, ['ss', '-Htn', 'state', 'established', '( sport = :5201 )']);
      const mid = await scrapeAll(tb, hosts);
      const clientReport = JSON.parse((await run).stdout) as {
        start: { connected: { local_host: string; local_port: number; remote_port: number }[] };
        end: { sum_received: { bytes: number } };
      };
      await Promise.race([serverDone, sleep(5_000)]);
      const serverReport = JSON.parse(serverJson) as { start: { connected: { remote_host: string; remote_port: number }[] } };
      assert.ok(clientReport.end.sum_received.bytes > 0);
      const peers = ss.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!);
      assert.ok(peers.length >= 2, `control and data connections: ${ss.stdout}`);
      for (const p of peers) assert.equal(p.split(':')[0], client.address, ss.stdout);
      const local = clientReport.start.connected[0]!;
      assert.ok(peers.includes(`${client.address}:${local.local_port}`), `the data stream's port ${local.local_port} in ${peers.join(' ')}`);
      const seen = serverReport.start.connected[0]!;
      assert.equal(seen.remote_host, client.address);
      assert.equal(seen.remote_port, local.local_port);
      for (const h of hosts) assert.equal(active(mid[h]!), 0, `${h} holds no session for the unmatched flow: ${sessionSummary(mid[h]!)}`);
    } finally {
      await stopProcess(iperfServer, 'SIGKILL', 0);
    }
    const m1 = await scrapeAll(tb, hosts);
    for (const h of hosts) {
      const keys = [...m1[h]!.keys()].filter((k) => /^dysco_(session_setups_total|session_teardowns_total|sessions_active)/.test(k));
      assert.ok(keys.length >= 9, keys.join(' '));
      for (const key of keys) {
        assert.equal(value(m1[h]!, key), value(m0[h]!, key), `${h} ${key} unchanged by an unmatched flow`);
      }
    }
  });

  it('the wire toward a middlebox carries only subsession headers, the SYNs the address list', { timeout: 60_000 }, async () => {
    const agents = new Set([client.address, mb1.address, mb2.address]);
    const capture = await startCapture(tb, 'router', mb1.routerIface);
    let got;
    try {
      got = await download(tb, 'client', `http://${server.address}${nginx.files[nginx.files.length - 1]!.urlPath}`);
    } finally {
      await capture.stop();
    }
    assert.equal(got.sha256, nginx.files[nginx.files.length - 1]!.sha256);
    const packets = tcpPackets(readPcap(capture.file));
    assert.ok(packets.length > 2 * (8 * 1024 * 1024) / 1500, `captured ${packets.length} TCP packets`);
    for (const p of packets) {
      const what = `${p.srcIp}:${p.srcPort} → ${p.dstIp}:${p.dstPort} flags ${p.flags.toString(16)}`;
      assert.ok(agents.has(p.srcIp) && agents.has(p.dstIp), `agent host addresses only: ${what}`);
      assert.ok(inSubsessionRange(p.srcPort) && inSubsessionRange(p.dstPort), `subsession ports only: ${what}`);
    }
    // both hops through mb1 are on this link: client → mb1 and mb1 → mb2
    const syns = packets.filter((p) => (p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN);
    const pairs = new Set(syns.map((p) => `${p.srcIp}>${p.dstIp}`));
    assert.ok(pairs.has(`${client.address}>${mb1.address}`) && pairs.has(`${mb1.address}>${mb2.address}`), [...pairs].join(' '));
    for (const syn of syns) {
      const decoded = decodeAddressList(syn.payload);
      assert.ok(decoded.ok, `SYN ${syn.srcIp} → ${syn.dstIp}: ${decoded.ok ? '' : decoded.status}`);
      assert.deepEqual(decoded.list.session, { srcIp: client.address, dstIp: server.address, srcPort: got.localPort, dstPort: 80 });
      const expected = syn.dstIp === mb1.address ? [mb1.address, mb2.address, server.address] : [mb2.address, server.address];
      assert.deepEqual(decoded.list.hops, expected);
    }
    // SYN-ACKs and everything after carry no address list
    for (const p of packets.filter((x) => (x.flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN)) {
      assert.ok(p.payload.length < 4 || p.payload.readUInt32BE(0) !== ADDRESS_LIST_MAGIC, `an address list outside a SYN: ${p.srcIp} → ${p.dstIp}`);
    }
  });

  it('dysco ctl sessions lists a live session with both tuples, the chain and state "established"', { timeout: 60_000 }, async () => {
    const conns = openConnections(tb, client, server, 7100, 1, 30_000);
    try {
      await conns.established;
      const [atClient, atMb1, atMb2, atServer] = await Promise.all(hosts.map((h) => ctlSessions(tb, h)));
      const mine = atClient!.filter((s) => s.right?.session.dstPort === 7100);
      assert.equal(mine.length, 1, JSON.stringify(atClient));
      const s = mine[0]!;
      assert.equal(s.state, 'established');
      assert.equal(s.role, 'initiator');
      assert.deepEqual(s.chain, [mb1.address, mb2.address]);
      assert.equal(s.right!.session.srcIp, client.address);
      assert.equal(s.right!.session.dstIp, server.address);
      const sub = s.right!.subsession!;
      assert.equal(sub.srcIp, client.address);
      assert.equal(sub.dstIp, mb1.address);
      assert.ok(inSubsessionRange(sub.srcPort) && inSubsessionRange(sub.dstPort), JSON.stringify(sub));
      const session = s.right!.session;
      const same = (a: { srcPort: number; dstPort: number }) => a.srcPort === session.srcPort && a.dstPort === session.dstPort;
      // the firewall: in and out under the same session tuple, subsessions client→mb1 and mb1→mb2
      const f = atMb1!.find((x) => x.left && same(x.left.session));
      assert.ok(f, JSON.stringify(atMb1));
      assert.equal(f.state, 'established');
      assert.equal(f.role, 'middlebox');
      assert.deepEqual(f.right!.session, session);
      assert.deepEqual(f.left!.subsession, sub);
      assert.equal(f.right!.subsession!.srcIp, mb1.address);
      assert.equal(f.right!.subsession!.dstIp, mb2.address);
      // the NAT: the session leaves with the NAT's address
      const n = atMb2!.find((x) => x.left && same(x.left.session));
      assert.ok(n, JSON.stringify(atMb2));
      assert.equal(n.state, 'established');
      assert.deepEqual(n.left!.subsession, f.right!.subsession);
      assert.equal(n.right!.session.srcIp, mb2.address);
      assert.equal(n.right!.subsession!.dstIp, server.address);
      const r = atServer!.find((x) => x.left?.session.dstPort === 7100 && x.left.session.srcIp === mb2.address);
      assert.ok(r, JSON.stringify(atServer));
      assert.equal(r.role, 'responder');
      assert.equal(r.state, 'established');
      assert.deepEqual(r.left!.subsession, n.right!.subsession);
      // the handshake facts reconfiguration needs, recorded from the same SYN and SYN-ACK at every agent
      const shake = s.handshake!;
      assert.equal(shake.forward.sackPermitted, true, JSON.stringify(shake));
      assert.equal(shake.forward.timestamps, true, JSON.stringify(shake));
      assert.notEqual(shake.forward.windowScale, null, JSON.stringify(shake));
      assert.equal(shake.reverse.sackPermitted, true, JSON.stringify(shake));
      for (const other of [f, n, r]) assert.deepEqual(other.handshake, shake, `${other.role} ${JSON.stringify(other.handshake)}`);
    } finally {
      await conns.close();
    }
    await assertAllRetired(tb, hosts);
  });

  // A firewall verdict other than ACCEPT: mb1's own stack answers a session's SYN with a RST.
  let rejectCapture: string | undefined;
  let beforeReject: Record<string, Metrics> | undefined;

  it('the firewall\'s verdicts apply to Dysco sessions: a port it REJECTs is refused, the server never sees the SYN', { timeout: 60_000 }, async () => {
    await tb.exec('mb1', ['iptables', '-w', '5', '-I', 'FORWARD', '-p', 'tcp', '--dport', '81', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    beforeReject = await assertAllRetired(tb, hosts);
    const capture = await startCapture(tb, 'router', client.routerIface);
    rejectCapture = capture.file;
    try {
      const r = await tb.exec(client, ['curl', '-sS', '--max-time', '5', `http://${server.address}:81/`], { allowFailure: true });
      assert.equal(r.code, 7, `connection refused by the firewall: ${r.stderr}`);
    } finally {
      await capture.stop();
    }
    const rejected = (await ruleCounters(tb, 'mb1')).rules[0]!;
    assert.equal(rejected.target, 'REJECT');
    assert.equal(rejected.packets, 1, rejected.text);
    const m = await scrapeAll(tb, hosts);
    const report = hosts.map((h) => `${h}: ${sessionSummary(m[h]!)}`).join('\n');
    assert.equal(setups(m.client!, 'initiated') - setups(beforeReject.client!, 'initiated'), 1, report);
    assert.equal(setups(m.mb1!, 'accepted') - setups(beforeReject.mb1!, 'accepted'), 1, report);
    assert.equal(setups(m.mb1!, 'completed') - setups(beforeReject.mb1!, 'completed'), 0, `the SYN never left mb1's stack\n${report}`);
    assert.equal(setups(m.server!, 'accepted') - setups(beforeReject.server!, 'accepted'), 0, report);
  });

  it(
    'that RST reaches the client as a subsession packet and retires the session at the client and mb1',
    {
      timeout: 60_000,
    },
    async () => {
      assert.ok(rejectCapture && beforeReject, 'the REJECT test ran');
      const resets = tcpPackets(readPcap(rejectCapture)).filter((p) => p.flags & TCP_RST);
      assert.ok(resets.length >= 1, 'a RST on the client link');
      for (const p of resets) {
        assert.ok(inSubsessionRange(p.srcPort) && inSubsessionRange(p.dstPort), `RST ${p.srcIp}:${p.srcPort} → ${p.dstIp}:${p.dstPort} is a subsession packet`);
      }
      const m1 = await assertAllRetired(tb, hosts, LINGER_MS + 2_000);
      for (const h of ['client', 'mb1']) assert.ok(teardowns(m1[h]!, 'rst') > teardowns(beforeReject[h]!, 'rst'), `${h}: ${sessionSummary(m1[h]!)}`);
    },
  );
});
