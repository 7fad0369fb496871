// The verified stream's peers over real loopback TCP in this process: intact both ways at full speed and paced, a
// proxy that flips one byte is caught, a reset is reported as one; the CLI's arguments; the retransmission parsers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { ConnectionRetransmissions, parseSnmpRetransSegs, parseSsRetransmissions, parseSsTable, parseTcpExtCounter } from '../../src/testbed/tcp-counters';
import { bytesLostOneWay } from '../../src/testbed/verified-stream-run';
import { runStreamPeer, type StreamPeerOptions, type StreamPeerReport } from '../../src/testbed/verified-stream';
import { parseStreamArgs } from '../../src/testbed/verified-stream-main';
import { startCorruptingProxy } from '../fixtures/corrupting-proxy';

const servers: Server[] = [];
/** A server that discards what it reads and ends its side when the client ends; prints its port. */
const SINK = `const s = require('node:net').createServer({ allowHalfOpen: true }, (c) => { c.resume(); c.on('end', () => c.end()); });
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port)));`;
after(() => {
  for (const s of servers) s.close();
});

/** A server running the server side on each connection, and a client that connects to `port` (default: it). */
async function runPair(
  client: Omit<StreamPeerOptions, 'role'>,
  server: Omit<StreamPeerOptions, 'role'> = { limit: { untilPeerEnds: true } },
  opts: { via?: (serverPort: number) => Promise<number>; onServerSocket?: (socket: Socket) => void } = {},
): Promise<{ client: StreamPeerReport; server: StreamPeerReport }> {
  let serverReport!: Promise<StreamPeerReport>;
  const listening = createServer({ allowHalfOpen: true }, (socket) => {
    opts.onServerSocket?.(socket);
    serverReport = runStreamPeer(socket, { ...server, role: 'server' });
  });
  servers.push(listening);
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', () => resolve()));
  const serverPort = (listening.address() as AddressInfo).port;
  const port = opts.via ? await opts.via(serverPort) : serverPort;
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const clientReport = await runStreamPeer(socket, { ...client, role: 'client' });
  return { client: clientReport, server: await serverReport };
}

describe('runStreamPeer over loopback', () => {
  test('a byte-count stream is intact both ways and closes cleanly', { timeout: 30_000 }, async () => {
    const { client, server } = await runPair({ seed: 1, limit: { bytes: 3_000_000 }, sampleIntervalMs: 100 }, { limit: { bytes: 1_234_567 } });
    assert.deepEqual(client.failures, []);
    assert.deepEqual(server.failures, []);
    assert.equal(client.sent.bytes, 3_000_000);
    assert.equal(server.received?.bytesReceived, 3_000_000);
    assert.equal(client.received?.bytesReceived, 1_234_567);
    assert.equal(server.seed, 1, 'the server learned the seed from the hello');
    assert.equal(client.ok && server.ok, true);
    const sampled = client.samples.reduce((sum, s) => sum + s.sentBytes, 0);
    assert.equal(sampled, 3_000_000, 'the samples add up to what was sent');
  });

  test('a timed, paced stream sends about its rate; the server mirrors the client’s length', { timeout: 30_000 }, async () => {
    const { client, server } = await runPair({ seed: 2, limit: { durationMs: 600 }, rateMbitPerSecond: 40, sampleIntervalMs: 200 });
    assert.equal(client.ok, true, client.failures.join('; '));
    assert.equal(server.ok, true, server.failures.join('; '));
    const expected = (40e6 / 8) * 0.6;
    assert.ok(client.sent.bytes > expected * 0.7 && client.sent.bytes < expected * 1.3, `${client.sent.bytes} bytes vs ${expected}`);
    assert.ok(server.sent.bytes > 0, 'the server sent until the client ended');
    assert.ok(client.samples.length >= 3);
  });

  test('one flipped byte on the way is found at its offset, and the stream still closes', { timeout: 30_000 }, async () => {
    const flipAt = 8 + 100_000; // past the 8-byte hello
    let proxyFlips = () => 0;
    const { client, server } = await runPair({ seed: 3, limit: { bytes: 500_000 } }, { limit: { bytes: 10_000 } }, {
      via: async (serverPort) => {
        const proxy = await startCorruptingProxy({ address: '127.0.0.1', port: 0 }, { address: '127.0.0.1', port: serverPort }, flipAt);
        servers.push(proxy.server);
        proxyFlips = proxy.flipped;
        return proxy.port;
      },
    });
    assert.equal(proxyFlips(), 1);
    assert.equal(client.ok, true, 'the server-to-client direction is untouched');
    assert.equal(server.ok, false);
    assert.equal(server.received?.firstMismatchOffset, 100_000);
    assert.equal(server.received?.mismatchedBytes, 1);
    assert.match(server.failures.join('\n'), /1 received bytes differ from the pattern, the first at offset 100000/);
    assert.equal(server.reset, false);
  });

  test('a reset is reported, with the stream not ended', { timeout: 30_000 }, async () => {
    const { client } = await runPair({ seed: 4, limit: { durationMs: 5_000 }, settleTimeoutMs: 5_000 }, { limit: { untilPeerEnds: true } }, {
      onServerSocket: (socket) => setTimeout(() => socket.resetAndDestroy(), 200),
    });
    assert.equal(client.ok, false);
    assert.equal(client.reset, true, JSON.stringify(client.failures));
    assert.equal(client.earlyEof, true);
    assert.match(client.failures.join('\n'), /ECONNRESET/);
  });

  test('a sender whose peer keeps up still lets the event loop run (its socket is read, its timers fire)', { timeout: 30_000 }, async () => {
    // The sink is another process, so that it drains the socket as fast as the kernel fills it, and every write of
    // ours is taken at once.
    const sink = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => sink.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString()))));
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const report = await runStreamPeer(socket, { role: 'client', seed: 9, limit: { durationMs: 500 } });
      clearInterval(ticker);
      assert.ok(report.sent.bytes > 1_000_000, `sent ${report.sent.bytes}`);
      assert.ok(ticks >= 10, `a 10 ms timer fired ${ticks} times in a 500 ms stream`);
    } finally {
      sink.kill();
    }
  });

  test('refuses options it cannot honour', async () => {
    const socket = new (await import('node:net')).Socket();
    await assert.rejects(runStreamPeer(socket, { role: 'client', limit: { bytes: 1 } }), /needs a seed/);
    await assert.rejects(runStreamPeer(socket, { role: 'client', seed: 1, limit: { untilPeerEnds: true } }), /cannot wait/);
    await assert.rejects(runStreamPeer(socket, { role: 'server', limit: {} }), /needs a duration/);
    await assert.rejects(runStreamPeer(socket, { role: 'client', seed: 1, limit: { bytes: 1 }, rateMbitPerSecond: 0 }), /rate/);
  });
});

describe('verified-stream CLI arguments', () => {
  test('connect and serve', () => {
    const c = parseStreamArgs(['connect', '--address', '10.0.0.2', '--port', '5000', '--seed', '9', '--duration-ms', '1500', '--rate-mbit', '2.5']);
    assert.equal(c.command, 'connect');
    assert.deepEqual(c.limit, { durationMs: 1500, bytes: undefined });
    assert.equal(c.rateMbitPerSecond, 2.5);
    const s = parseStreamArgs(['serve', '--port', '5000', '--connections', '3']);
    assert.deepEqual(s.limit, { untilPeerEnds: true });
    assert.equal(s.connections, 3);
  });

  test('mistakes are named', () => {
    const cases: [string[], RegExp][] = [
      [[], /serve" or "connect/],
      [['connect', '--port', '1', '--seed', '1', '--bytes', '1'], /--address/],
      [['connect', '--address', 'a', '--port', '1', '--bytes', '1'], /--seed/],
      [['connect', '--address', 'a', '--port', '1', '--seed', '1'], /--duration-ms or --bytes/],
      [['connect', '--address', 'a', '--port', '70000', '--seed', '1', '--bytes', '1'], /--port must be an integer from 1 to 65535/],
      [['serve', '--port', '1', '--bytes', '1', '--duration-ms', '1'], /not both/],
      [['serve', '--port', '1', '--seed', '1'], /no --seed/],
      [['serve', '--port', '1', '--rate-mbit', '0'], /positive/],
      [['serve', '--port', '1', '--bogus'], /bogus/],
    ];
    for (const [argv, message] of cases) assert.throws(() => parseStreamArgs(argv), message, argv.join(' '));
  });
});

describe('retransmission counters', () => {
  test('ss -tin: the total of retrans:<now>/<total>, 0 when absent, unknown without tcp_info', () => {
    const info = 'ESTAB 0 0 10.0.0.2:41000 10.0.1.2:5000\n\t cubic wscale:7,7 rto:204 rtt:0.5/0.2 retrans:0/17 dsack_dups:1\n';
    assert.equal(parseSsRetransmissions(info), 17);
    assert.equal(parseSsRetransmissions(info.replace(' retrans:0/17', '')), 0);
    assert.equal(parseSsRetransmissions('TIME-WAIT 0 0 10.0.0.2:41000 10.0.1.2:5000\n'), undefined);
    assert.equal(parseSsRetransmissions(''), undefined);
  });

  test('ss -tin of a namespace: one entry per connection with tcp_info, by both ends', () => {
    const text = [
      'ESTAB 0 0 10.0.0.2:41000 10.0.1.2:5000',
      '\t cubic rto:204 retrans:0/3',
      'TIME-WAIT 0 0 10.0.0.2:41001 10.0.1.2:5000',
      'ESTAB 0 0 10.0.0.2:41002 10.0.1.2:5000',
      '\t cubic rto:204 rtt:0.5/0.2',
      'ESTAB 0 0 [fd00::2]:41003 [fd00::1]:5000',
      '\t cubic rto:208 retrans:1/9',
      '',
    ].join('\n');
    assert.deepEqual(
      [...parseSsTable(text)],
      [
        ['10.0.0.2:41000 10.0.1.2:5000', 3],
        ['10.0.0.2:41002 10.0.1.2:5000', 0],
        ['fd00::2:41003 fd00::1:5000', 9],
      ],
    );
    assert.equal(parseSsRetransmissions(text), undefined, 'more than one connection is no single figure');
  });

  test('one ss snapshot serves every connection of a process while it is fresh', async () => {
    let clock = 0;
    let reads = 0;
    const table = new Map([['10.0.0.2:41000 10.0.1.2:5000', 4]]);
    const counters = new ConnectionRetransmissions(500, () => clock, async () => {
      reads++;
      return table;
    });
    const local = { address: '10.0.0.2', port: 41000 };
    const remote = { address: '::ffff:10.0.1.2', port: 5000 };
    const values = await Promise.all(Array.from({ length: 100 }, () => counters.of(local, remote)));
    assert.deepEqual([reads, new Set(values).size, values[0]], [1, 1, 4]);
    clock = 400;
    assert.equal(await counters.of({ address: '10.0.0.2', port: 41001 }, remote), undefined);
    assert.equal(reads, 1);
    clock = 1000;
    await counters.of(local, remote);
    assert.equal(reads, 2, 'a stale snapshot is taken again');
  });

  test('/proc/net/snmp: Tcp RetransSegs', () => {
    const snmp = [
      'Ip: Forwarding DefaultTTL',
      'Ip: 1 64',
      'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
      'Tcp: 1 200 120000 -1 5 3 0 0 2 1000 900 42 0 1 0',
    ].join('\n');
    assert.equal(parseSnmpRetransSegs(snmp), 42);
    assert.throws(() => parseSnmpRetransSegs('Ip: a\nIp: 1\n'), /no Tcp/);
    assert.throws(() => parseSnmpRetransSegs('Tcp: A B\nTcp: 1 2\n'), /RetransSegs/);
  });

  test('a TcpExt counter of /proc/net/netstat by name; none when the kernel lacks it', () => {
    const netstat = 'TcpExt: SyncookiesSent TCPLossProbes TCPDSACKRecv\nTcpExt: 0 7 3\nIpExt: InNoRoutes\nIpExt: 0\n';
    assert.equal(parseTcpExtCounter(netstat, 'TCPLossProbes'), 7);
    assert.equal(parseTcpExtCounter(netstat, 'TCPDSACKRecv'), 3);
    assert.equal(parseTcpExtCounter(netstat, 'TCPNoSuch'), undefined);
    assert.equal(parseTcpExtCounter('Ip: 1\n', 'TCPLossProbes'), undefined);
  });
});

test('bytesLostOneWay: everything past the first mismatch, or the shortfall, or all of it unseen', () => {
  const intact = { bytesReceived: 1000, bytesDeclared: 1000, firstMismatchOffset: undefined, mismatchedBytes: 0, missingBytes: 0, extraBytes: 0, intact: true };
  assert.equal(bytesLostOneWay(1000, intact), 0);
  assert.equal(bytesLostOneWay(1000, { ...intact, firstMismatchOffset: 400, mismatchedBytes: 1, intact: false }), 600);
  assert.equal(bytesLostOneWay(1000, { ...intact, bytesReceived: 700, missingBytes: 300, intact: false }), 300);
  assert.equal(bytesLostOneWay(1000, undefined), 1000);
});
