// Whole TCP conversations through real session pipelines on Buffers: client agent → middlebox agent
// (a plain IP forwarder) → NATing middlebox agent → server agent. Every hop's headers are checked
// byte for byte and every checksum against an independent recompute.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicies } from '../../src/policy/compile';
import { decodeAddressList, encodeAddressList } from '../../src/protocol/address-list';
import { TAG_OPTION_KIND } from '../../src/protocol/tag-option';
import { DyscoLab, type LabHost } from '../support/dysco-lab';
import {
  buildTcpFrame,
  carriedChecksums,
  expectedChecksums,
  ipv4ToNumber,
  numberToIpv4,
  parseFrame,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

const LINUX_SYN_OPTIONS = tcpOptionArea(
  tcpOption.mss(1460),
  tcpOption.sackPermitted(),
  tcpOption.timestamps(1111, 0),
  tcpOption.nop(),
  tcpOption.wscale(7),
);

function assertChecksums(frame: Buffer, where: string): void {
  assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame), `checksums at ${where}`);
}

function options(frame: Buffer): Buffer {
  return parseFrame(frame).tcp!.options;
}

function hasTag(frame: Buffer): boolean {
  const opts = options(frame);
  for (let i = 0; i < opts.length; ) {
    const kind = opts[i]!;
    if (kind === 0) return false;
    if (kind === 1) {
      i++;
      continue;
    }
    if (kind === TAG_OPTION_KIND && opts[i + 1] === 8) return true;
    i += Math.max(2, opts[i + 1] ?? 2);
  }
  return false;
}

interface Tcp {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  options?: Buffer;
  payload?: Buffer;
}

function segment(from: LabHost, src: string, dst: string, tcp: Tcp, gatewayMac = from.gatewayMac): Buffer {
  return buildTcpFrame({ eth: { srcMac: from.mac, dstMac: gatewayMac }, ip: { src, dst, id: 7, ttl: 64 }, tcp: { window: 501, ...tcp } });
}

function lastWireFrom(lab: DyscoLab, host: string): Buffer {
  const records = lab.wire.filter((r) => r.from === host && r.frame.readUInt16BE(12) === 0x0800);
  assert.ok(records.length > 0, `${host} sent nothing`);
  return records[records.length - 1]!.frame;
}

function buildLab(): { lab: DyscoLab; client: LabHost; mb: LabHost; nat: LabHost; server: LabHost } {
  const lab = new DyscoLab();
  const client = lab.addHost('client', 1, 'endpoint');
  const mb = lab.addHost('mb', 2, 'forwarder');
  const nat = lab.addHost('nat', 3, 'nat');
  const server = lab.addHost('server', 4, 'endpoint');
  client.agent.installPolicies(
    compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32`, dstPorts: 80 }, chain: [mb.ip, nat.ip] }]),
  );
  return { lab, client, mb, nat, server };
}

describe('a session through a forwarding middlebox and a NAT', () => {
  const { lab, client, mb, nat, server } = buildLab();
  const c = client.ip;
  const s = server.ip;
  const syn = segment(client, c, s, { srcPort: 5555, dstPort: 80, seq: 1000, flags: TCP_SYN, options: LINUX_SYN_OPTIONS });

  it('client agent: resolves the gateway, then sends the subsession SYN with the address list', () => {
    lab.send(client, syn);
    const arp = lab.wire.find((r) => r.from === 'client' && r.frame.readUInt16BE(12) === 0x0806);
    assert.ok(arp, 'an ARP request for the gateway');
    assert.equal(numberToIpv4(arp.frame.readUInt32BE(38)), client.gateway);
    const out = lastWireFrom(lab, 'client');
    const p = parseFrame(out);
    assert.equal(numberToIpv4(p.ip.src), c);
    assert.equal(numberToIpv4(p.ip.dst), mb.ip);
    assert.ok(p.tcp!.srcPort >= 61000 && p.tcp!.dstPort >= 61000, 'subsession ports from the reserved range');
    assert.equal(p.tcp!.seq, 1000);
    assert.deepEqual(p.tcp!.options, LINUX_SYN_OPTIONS, 'options untouched');
    assert.deepEqual(out.subarray(0, 6), Buffer.from([2, 0, 0, 0, 1, 1]), 'to the gateway MAC learned by ARP');
    const list = decodeAddressList(p.tcp!.payload);
    assert.ok(list.ok);
    assert.deepEqual(list.list.session, { srcIp: c, dstIp: s, srcPort: 5555, dstPort: 80 });
    assert.deepEqual(list.list.hops, [mb.ip, nat.ip, s]);
    assertChecksums(out, 'client → mb');
  });

  it('middlebox agent: delivers the session SYN with the tag, no list, options otherwise intact', () => {
    const up = mb.delivered[0]!;
    const p = parseFrame(up);
    assert.equal(numberToIpv4(p.ip.src), c);
    assert.equal(numberToIpv4(p.ip.dst), s);
    assert.equal(p.tcp!.srcPort, 5555);
    assert.equal(p.tcp!.dstPort, 80);
    assert.equal(p.tcp!.payload.length, 0);
    assert.ok(hasTag(up), 'tagged for the middlebox host');
    assert.deepEqual(p.tcp!.options.subarray(0, LINUX_SYN_OPTIONS.length), LINUX_SYN_OPTIONS);
    assertChecksums(up, 'mb agent → mb host');
  });

  it('middlebox agent: recognises the forwarded SYN by its tuple and sends it on, untagged, to the NAT', () => {
    const out = lastWireFrom(lab, 'mb');
    const p = parseFrame(out);
    assert.equal(numberToIpv4(p.ip.src), mb.ip);
    assert.equal(numberToIpv4(p.ip.dst), nat.ip);
    assert.deepEqual(p.tcp!.options, LINUX_SYN_OPTIONS, 'tag removed, options as the client sent them');
    const list = decodeAddressList(p.tcp!.payload);
    assert.ok(list.ok);
    assert.deepEqual(list.list.session, { srcIp: c, dstIp: s, srcPort: 5555, dstPort: 80 });
    assert.deepEqual(list.list.hops, [nat.ip, s]);
    assertChecksums(out, 'mb → nat');
    assert.equal(mb.agent.stats().sessionsCompleted, 1);
    assert.equal(mb.agent.stats().completedByTag, 0);
  });

  it('NAT agent: finds the rewritten SYN by its tag and adopts the NAT tuple downstream', () => {
    const out = lastWireFrom(lab, 'nat');
    const p = parseFrame(out);
    assert.equal(numberToIpv4(p.ip.src), nat.ip);
    assert.equal(numberToIpv4(p.ip.dst), s);
    const list = decodeAddressList(p.tcp!.payload);
    assert.ok(list.ok);
    assert.deepEqual(list.list.session, { srcIp: nat.ip, dstIp: s, srcPort: 40000, dstPort: 80 });
    assert.deepEqual(list.list.hops, [s]);
    assert.equal(nat.agent.stats().completedByTag, 1);
    assertChecksums(out, 'nat → server');
  });

  it('server agent: delivers a clean SYN — no list, no tag, the client\'s options byte for byte', () => {
    assert.equal(server.delivered.length, 1);
    const up = server.delivered[0]!;
    const p = parseFrame(up);
    assert.equal(numberToIpv4(p.ip.src), nat.ip);
    assert.equal(p.tcp!.srcPort, 40000);
    assert.equal(numberToIpv4(p.ip.dst), s);
    assert.equal(p.tcp!.dstPort, 80);
    assert.equal(p.tcp!.payload.length, 0);
    assert.deepEqual(p.tcp!.options, LINUX_SYN_OPTIONS);
    assert.equal(p.tcp!.seq, 1000);
    assertChecksums(up, 'server agent → server');
  });

  const synAckOptions = tcpOptionArea(tcpOption.mss(1400), tcpOption.sackPermitted(), tcpOption.timestamps(2222, 1111), tcpOption.nop(), tcpOption.wscale(9));

  it('SYN-ACK travels back through every agent and the NAT to the client, recording both handshakes', () => {
    lab.send(server, segment(server, s, nat.ip, { srcPort: 80, dstPort: 40000, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK, options: synAckOptions }));
    assert.equal(client.delivered.length, 1);
    const down = client.delivered[0]!;
    const p = parseFrame(down);
    assert.equal(numberToIpv4(p.ip.src), s);
    assert.equal(numberToIpv4(p.ip.dst), c);
    assert.equal(p.tcp!.srcPort, 80);
    assert.equal(p.tcp!.dstPort, 5555);
    assert.equal(p.tcp!.seq, 5000);
    assert.equal(p.tcp!.ack, 1001);
    assert.deepEqual(p.tcp!.options, synAckOptions);
    assertChecksums(down, 'client agent → client');
    for (const host of [client, mb, nat, server]) {
      const [session] = host.agent.sessions(lab.now);
      assert.ok(session, `${host.name} has the session`);
      assert.equal(session.state, 3, `${host.name} established`);
      assert.equal(session.handshake[0].isn, 1000);
      assert.equal(session.handshake[0].windowScale, 7);
      assert.equal(session.handshake[0].sackPermitted, true);
      assert.equal(session.handshake[0].tsVal, 1111);
      assert.equal(session.handshake[1].isn, 5000);
      assert.equal(session.handshake[1].windowScale, 9);
    }
  });

  it('data both ways keeps SACK blocks and timestamps byte for byte', () => {
    const sack = tcpOptionArea(tcpOption.nop(), tcpOption.nop(), tcpOption.timestamps(3333, 2222));
    const payload = Buffer.from('GET / HTTP/1.1\r\nHost: s\r\n\r\n');
    lab.send(client, segment(client, c, s, { srcPort: 5555, dstPort: 80, seq: 1001, ack: 5001, flags: TCP_ACK | TCP_PSH, options: sack, payload }));
    const atServer = server.delivered[server.delivered.length - 1]!;
    const p = parseFrame(atServer);
    assert.deepEqual(p.tcp!.payload, payload);
    assert.deepEqual(p.tcp!.options, sack);
    assertChecksums(atServer, 'data at server');
    const sackBlock = Buffer.from([1, 1, 5, 10, 0, 0, 0x13, 0x88, 0, 0, 0x17, 0x70]);
    const reply = Buffer.alloc(1000, 0x61);
    lab.send(server, segment(server, s, nat.ip, { srcPort: 80, dstPort: 40000, seq: 5001, ack: 1001 + payload.length, flags: TCP_ACK, options: sackBlock, payload: reply }));
    const atClient = client.delivered[client.delivered.length - 1]!;
    const q = parseFrame(atClient);
    assert.deepEqual(q.tcp!.payload, reply);
    assert.deepEqual(q.tcp!.options, sackBlock);
    assert.equal(numberToIpv4(q.ip.src), s);
    assertChecksums(atClient, 'data at client');
  });

  it('frames off the common layout (IPv4 options, Ethernet padding) are translated like any other', () => {
    // The burst path recognises the common frame by fixed offsets; these take the general parse.
    const ipOptions = Buffer.from([1, 1, 1, 0]);
    const withOptions = buildTcpFrame({
      eth: { srcMac: client.mac, dstMac: client.gatewayMac },
      ip: { src: c, dst: s, id: 8, ttl: 64, options: ipOptions },
      tcp: { srcPort: 5555, dstPort: 80, seq: 1028, ack: 6001, flags: TCP_ACK, window: 501 },
    });
    lab.send(client, withOptions);
    const atServer = server.delivered[server.delivered.length - 1]!;
    const p = parseFrame(atServer);
    assert.equal(numberToIpv4(p.ip.src), nat.ip);
    assert.equal(p.tcp!.srcPort, 40000);
    assert.equal(numberToIpv4(p.ip.dst), s);
    assert.equal(p.tcp!.dstPort, 80);
    assert.deepEqual(atServer.subarray(34, 38), ipOptions, 'IPv4 options kept');
    assertChecksums(atServer, 'IPv4 options at server');

    const padding = Buffer.alloc(9, 0xee);
    const padded = Buffer.concat([segment(server, s, nat.ip, { srcPort: 80, dstPort: 40000, seq: 6001, ack: 1028, flags: TCP_ACK }), padding]);
    lab.send(server, padded);
    const atClient = client.delivered[client.delivered.length - 1]!;
    const q = parseFrame(atClient);
    assert.equal(numberToIpv4(q.ip.src), s);
    assert.equal(q.tcp!.srcPort, 80);
    assert.equal(numberToIpv4(q.ip.dst), c);
    assert.equal(q.tcp!.dstPort, 5555);
    assert.equal(atClient.length, padded.length);
    assertChecksums(atClient.subarray(0, atClient.length - padding.length), 'padded frame at client');
    assert.deepEqual(lab.dropped, []);
  });

  it('FIN both ways and the last ACK retire the session in every agent after the linger', () => {
    lab.send(client, segment(client, c, s, { srcPort: 5555, dstPort: 80, seq: 1028, ack: 6001, flags: TCP_FIN | TCP_ACK }));
    lab.send(server, segment(server, s, nat.ip, { srcPort: 80, dstPort: 40000, seq: 6001, ack: 1029, flags: TCP_FIN | TCP_ACK }));
    lab.send(client, segment(client, c, s, { srcPort: 5555, dstPort: 80, seq: 1029, ack: 6002, flags: TCP_ACK }));
    const lastAck = server.delivered[server.delivered.length - 1]!;
    assert.equal(parseFrame(lastAck).tcp!.flags, TCP_ACK, 'the last ACK still crosses during the linger');
    for (const host of [client, mb, nat, server]) {
      assert.equal(host.agent.sessions(lab.now)[0]?.state, 5, `${host.name} lingers`);
      assert.equal(host.agent.stats().teardowns.fin, 1);
    }
    lab.advance(2500);
    for (const host of [client, mb, nat, server]) {
      assert.equal(host.agent.stats().activeSessions, 0, `${host.name} freed its session`);
      assert.deepEqual(host.agent.sessions(lab.now), []);
    }
    assert.deepEqual(lab.dropped, []);
  });
});

describe('set-up corner cases', () => {
  it('a retransmitted SYN reuses the subsession and the tag', () => {
    const { lab, client, mb, server } = buildLab();
    const syn = segment(client, client.ip, server.ip, { srcPort: 6000, dstPort: 80, seq: 77, flags: TCP_SYN, options: LINUX_SYN_OPTIONS });
    lab.send(client, syn);
    const first = lastWireFrom(lab, 'client');
    const firstUp = mb.delivered[0]!;
    lab.send(client, syn);
    const second = lastWireFrom(lab, 'client');
    assert.deepEqual(second, first, 'same subsession SYN, byte for byte');
    assert.deepEqual(mb.delivered[mb.delivered.length - 1], firstUp, 'the middlebox host sees the same tagged SYN');
    assert.equal(client.agent.stats().sessionsInitiated, 1);
    assert.equal(client.agent.stats().synRetransmits, 1);
    assert.equal(mb.agent.stats().sessionsAccepted, 1);
    assert.equal(server.delivered.length, 2, 'the server sees the retransmission too');
    assert.deepEqual(server.delivered[1], server.delivered[0]);
  });

  it('a RST retires the session everywhere after the linger', () => {
    const { lab, client, mb, nat, server } = buildLab();
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6001, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 10, ack: 2, flags: TCP_RST | TCP_ACK }));
    const rst = client.delivered[client.delivered.length - 1]!;
    assert.equal(parseFrame(rst).tcp!.flags & TCP_RST, TCP_RST);
    for (const host of [client, mb, nat, server]) assert.equal(host.agent.sessions(lab.now)[0]?.state, 5, `${host.name} lingers`);
    lab.advance(2500);
    for (const host of [client, mb, nat, server]) {
      assert.equal(host.agent.stats().activeSessions, 0, host.name);
      assert.equal(host.agent.stats().teardowns.rst, 1, host.name);
    }
  });

  it('a RST from the middlebox host for a still-pending session is translated and retires it', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint');
    const mb = lab.addHost('mb', 2, 'endpoint');  // its stack answers instead of forwarding (iptables REJECT)
    const server = lab.addHost('server', 4, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32` }, chain: [mb.ip] }]));
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6004, dstPort: 81, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(mb.agent.sessions(lab.now)[0]?.state, 1, 'pending at the middlebox');
    lab.send(mb, segment(mb, server.ip, client.ip, { srcPort: 81, dstPort: 6004, seq: 0, ack: 2, flags: TCP_RST | TCP_ACK }));
    const onWire = lastWireFrom(lab, 'mb');
    assert.equal(numberToIpv4(parseFrame(onWire).ip.src), mb.ip, 'a subsession header on the wire');
    const rst = client.delivered[client.delivered.length - 1]!;
    const p = parseFrame(rst);
    assert.equal(numberToIpv4(p.ip.src), server.ip);
    assert.equal(p.tcp!.dstPort, 6004);
    assert.equal(p.tcp!.flags & TCP_RST, TCP_RST);
    assertChecksums(rst, 'RST at the client');
    // The middlebox software sends the SYN on after all: the session is over, so it goes nowhere.
    lab.send(mb, segment(mb, client.ip, server.ip, { srcPort: 6004, dstPort: 81, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(mb.agent.drops().session_closed, 1);
    assert.equal(server.delivered.length, 0);
    lab.advance(2500);
    for (const host of [client, mb]) {
      assert.equal(host.agent.stats().activeSessions, 0, host.name);
      assert.equal(host.agent.stats().teardowns.rst, 1, host.name);
      assert.equal(host.agent.stats().teardowns.idle, 0, host.name);
    }
    // The placeholder went with the session: the same tuple starts afresh.
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6004, dstPort: 81, seq: 9, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(mb.agent.stats().sessionsAccepted, 2);
    assert.equal(mb.agent.sessions(lab.now)[0]?.state, 1);
  });

  it('a SYN whose address list would exceed the link MTU is dropped and counted, never sent', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint', { mtu: 200 });
    const server = lab.addHost('server', 4, 'endpoint');
    const longChain = Array.from({ length: 31 }, (_, i) => `10.0.${100 + i}.2`);
    client.agent.installPolicies(
      compilePolicies([
        { name: 'long', match: { dstPorts: 81 }, chain: longChain },
        { name: 'short', match: { dstPorts: 80 }, chain: [] },
      ]),
    );
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6005, dstPort: 81, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(client.agent.drops().syn_too_large, 1);
    assert.equal(server.delivered.length, 0);
    assert.equal(client.agent.stats().activeSessions, 0, 'no session kept for a SYN that cannot leave');
    // 20 IP + 40 TCP + 20 list header + 4 per hop must fit in 200 bytes: the one-hop list does.
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6006, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(server.delivered.length, 1);
    assert.ok(lab.wire.every((r) => r.frame.length - 14 <= 200), 'nothing on the wire exceeds the MTU');
  });

  it('a middlebox that answers the SYN itself (a SYN proxy) still sends it on with a proper subsession', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint');
    const mb = lab.addHost('mb', 2, 'endpoint');
    const server = lab.addHost('server', 4, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32` }, chain: [mb.ip] }]));
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6010, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    lab.send(mb, segment(mb, server.ip, client.ip, { srcPort: 80, dstPort: 6010, seq: 700, ack: 2, flags: TCP_SYN | TCP_ACK }));
    assert.equal(parseFrame(client.delivered[client.delivered.length - 1]!).tcp!.flags, TCP_SYN | TCP_ACK);
    lab.send(mb, segment(mb, client.ip, server.ip, { srcPort: 6010, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    const out = lastWireFrom(lab, 'mb');
    const p = parseFrame(out);
    assert.equal(numberToIpv4(p.ip.src), mb.ip, 'a subsession header, not zeros');
    assert.equal(numberToIpv4(p.ip.dst), server.ip);
    assertChecksums(out, 'mb → server');
    assert.equal(server.delivered.length, 1);
    assert.deepEqual(mb.agent.drops(), Object.fromEntries(Object.keys(mb.agent.drops()).map((k) => [k, 0])));
  });

  it('a RST its endpoint ignores (out of window) does not end the session', () => {
    const { lab, client, nat, server } = buildLab();
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6011, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 0x12345678, flags: TCP_RST }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 10, ack: 2, flags: TCP_ACK, payload: Buffer.from('still here') }));
    lab.advance(2500);
    for (const host of lab.hosts) {
      assert.equal(host.agent.stats().activeSessions, 1, `${host.name} kept the session`);
      assert.equal(host.agent.stats().teardowns.rst, 0, host.name);
      assert.equal(host.agent.sessions(lab.now)[0]?.state, 3, `${host.name} established again`);
    }
    assert.equal(server.agent.stats().rstsIgnored, 1);
    assert.deepEqual(parseFrame(client.delivered[client.delivered.length - 1]!).tcp!.payload, Buffer.from('still here'));
  });

  it('a new SYN on the tuple of a session that is lingering starts a new session', () => {
    const { lab, client, nat, server } = buildLab();
    const open = (seq: number) =>
      lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6012, dstPort: 80, seq, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    open(1);
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK }));
    lab.send(server, segment(server, server.ip, nat.ip, { srcPort: 80, dstPort: 40000, seq: 10, ack: 2, flags: TCP_RST | TCP_ACK }));
    open(5000);
    assert.equal(client.agent.stats().sessionsInitiated, 2);
    const p = parseFrame(lastWireFrom(lab, 'client'));
    assert.ok(decodeAddressList(p.tcp!.payload).ok, 'the new SYN carries an address list');
    assert.equal(p.tcp!.seq, 5000);
  });

  it('a TCP Fast Open SYN that a policy chains goes out with the list instead of its data', () => {
    const { lab, client, server } = buildLab();
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6013, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') }));
    const p = parseFrame(lastWireFrom(lab, 'client'));
    assert.ok(decodeAddressList(p.tcp!.payload).ok);
    assert.equal(client.agent.stats().sessionsInitiated, 1);
    assert.equal(client.agent.drops().syn_too_large, 0);
    assert.equal(parseFrame(server.delivered[0]!).tcp!.payload.length, 0, 'the server gets a plain SYN');
  });

  it('two copies of a list SYN in one burst make one session and two deliveries', () => {
    const { lab, client, mb, server } = buildLab();
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6014, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    const syn = lastWireFrom(lab, 'client');
    const routed = Buffer.from(syn);
    Buffer.from([2, 0, 0, 0, 2, 2]).copy(routed, 0);
    const fresh = new DyscoLab().addHost('mb', 2, 'endpoint');
    const results = fresh.agent.fromWire([routed, Buffer.from(routed)], lab.now);
    assert.deepEqual(results.map((r) => r.verdict), ['host', 'host']);
    assert.deepEqual(results[0]!.frame, results[1]!.frame);
    assert.equal(fresh.agent.stats().sessionsAccepted, 1);
    assert.equal(fresh.agent.stats().activeSessions, 1);
    assert.equal(mb.agent.stats().sessionsAccepted, 1);
  });

  it('resource limits and dead next hops are drops with their own reasons', () => {
    // A /8 makes every agent on-link: ARP for 10.0.2.2 itself, which nobody answers here.
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint', { prefixLength: 8, maxSetups: 64, portLo: 61000, portHi: 61003 });
    const server = lab.addHost('server', 4, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'via', match: {}, chain: ['10.0.2.2'] }]));
    const syn = (port: number) => segment(client, client.ip, server.ip, { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS });
    for (let port = 7100; port < 7110; port++) lab.send(client, syn(port));
    // 61000-61003 holds 2 ports of one parity: 4 port pairs toward 10.0.2.2.
    assert.equal(client.agent.stats().sessionsInitiated, 4);
    assert.equal(client.agent.drops().ports_exhausted, 6);
    lab.advance(1500);  // no ARP answer: the held SYNs come back as unresolved
    assert.equal(client.agent.drops().neighbour_unresolved, 4);

    const queued = new DyscoLab();
    const busy = queued.addHost('client', 1, 'endpoint', { prefixLength: 8 });
    busy.agent.installPolicies(compilePolicies([{ name: 'via', match: {}, chain: ['10.0.2.2'] }]));
    for (let port = 7200; port < 7212; port++) {
      queued.send(busy, segment(busy, busy.ip, server.ip, { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    }
    assert.equal(busy.agent.drops().neighbour_queue_full, 4, 'eight wait for one next hop, the rest are counted');

    const small = new DyscoLab();
    const tight = small.addHost('client', 1, 'endpoint', { prefixLength: 8, maxSetups: 1 });
    tight.agent.installPolicies(compilePolicies([{ name: 'via', match: {}, chain: ['10.0.2.2'] }]));
    for (const port of [7300, 7301]) {
      small.send(tight, segment(tight, tight.ip, server.ip, { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    }
    // Every set-up slot taken: the oldest half-open session gives its slot up (docs/security.md, floods).
    assert.equal(tight.agent.drops().setup_pool_full ?? 0, 0);
    assert.equal(tight.agent.stats().setupsReclaimed, 1);
    assert.equal(tight.agent.stats().teardowns.reclaimed, 1);
    assert.deepEqual(tight.agent.sessions().map((x) => x.rightSession?.srcPort), [7301], 'the newer SYN holds the slot');
  });

  it('a full table of next-hop MACs refuses a session with a reason, and ended sessions give their MACs back', () => {
    // Sessions keep their next hops' MACs in a table of 4095 (native/core/mac_table.h). A responder takes the
    // left MAC from each list SYN: 4096 neighbours behind distinct MACs fill it.
    const lab = new DyscoLab();
    const server = lab.addHost('server', 4, 'endpoint', { maxSessions: 8192, maxSetups: 8192 });
    const listSyn = (n: number) => {
      const session = { srcIp: '10.0.1.2', dstIp: server.ip, srcPort: 1024 + (n % 60000), dstPort: 80 + Math.floor(n / 60000) };
      const mac = `02:01:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}:01`;
      return buildTcpFrame({
        eth: { srcMac: mac, dstMac: server.mac },
        ip: { src: '10.0.2.2', dst: server.ip, id: 7 },
        tcp: { srcPort: 61000 + 2 * (n % 2000), dstPort: 61000 + 2 * Math.floor(n / 2000), seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS, payload: encodeAddressList({ session, hops: [server.ip] }) },
      });
    };
    for (let n = 0; n < 4095; n++) assert.equal(server.agent.fromWire([listSyn(n)], lab.now)[0]!.verdict, 'host', `SYN ${n}`);
    assert.equal(server.agent.fromWire([listSyn(4095)], lab.now)[0]!.verdict, 'drop');
    assert.equal(server.agent.drops().mac_table_full, 1);
    assert.equal(server.agent.stats().activeSessions, 4095, 'the refused SYN keeps no session');
    lab.advance(11_000);  // the half-open sessions expire and release their MACs
    assert.equal(server.agent.stats().activeSessions, 0);
    assert.equal(server.agent.fromWire([listSyn(4096)], lab.now)[0]!.verdict, 'host', 'a new MAC finds room again');
    assert.equal(server.agent.drops().mac_table_full, 1);
  });

  it('idle sessions expire by state', () => {
    const { lab, client, mb, server } = buildLab();
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6002, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    assert.equal(client.agent.stats().activeSessions + mb.agent.stats().activeSessions >= 0, true);
    lab.advance(5000);
    assert.equal(client.agent.stats().activeSessions, 1, 'a setting-up session survives 5 s');
    lab.advance(6000);
    for (const host of lab.hosts) {
      assert.equal(host.agent.stats().activeSessions, 0, `${host.name} expired the half-open session`);
      assert.equal(host.agent.stats().teardowns.idle, host.agent.stats().sessionsInitiated + host.agent.stats().sessionsAccepted);
    }
  });

  it('a flow no policy matches passes every agent untouched', () => {
    const { lab, client, server } = buildLab();
    const syn = segment(client, client.ip, server.ip, { srcPort: 6003, dstPort: 443, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS });
    lab.send(client, syn);
    const out = lastWireFrom(lab, 'client');
    assert.deepEqual(out, syn);
    assert.equal(server.delivered.length, 1);
    const up = server.delivered[0]!;
    assert.deepEqual(up.subarray(14), syn.subarray(14), 'IP and TCP bytes unchanged');
    for (const host of lab.hosts) assert.equal(host.agent.stats().activeSessions, 0);
  });

  it('a segment to a subsession port that no session here has is dropped, not handed to the host to reset', () => {
    const { lab, client, server } = buildLab();
    // An ACK the far end of a torn-down subsession still sends: the agent's own address, a port of its range.
    const stale = segment(client, client.ip, server.ip, { srcPort: 61010, dstPort: 61011, seq: 5, ack: 9, flags: TCP_ACK });
    lab.send(client, stale);
    assert.equal(server.delivered.length, 0);
    assert.equal(server.agent.drops().stale_subsession, 1);
    // below the range, an unchained flow still reaches the host
    lab.send(client, segment(client, client.ip, server.ip, { srcPort: 61010, dstPort: 60999, seq: 5, ack: 9, flags: TCP_ACK }));
    assert.equal(server.delivered.length, 1);
    assert.equal(server.agent.drops().stale_subsession, 1);
  });

  it('a table full of established sessions drops new SYNs with a reason; a half-open one gives way instead', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint', { maxSessions: 2 });
    const server = lab.addHost('server', 4, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'all', match: {}, chain: [] }]));
    const syn = (port: number) => lab.send(client, segment(client, client.ip, server.ip, { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
    syn(7001);
    syn(7002);
    lab.send(server, segment(server, server.ip, client.ip, { srcPort: 80, dstPort: 7001, seq: 50, ack: 2, flags: TCP_SYN | TCP_ACK }));
    assert.equal(parseFrame(client.delivered[0]!).tcp!.dstPort, 7001, '7001 established');
    // The table is full: 7002 (half-open) gives way to 7003; then with 7001 and 7003 established, 7004 finds no room.
    syn(7003);
    assert.deepEqual([client.agent.stats().sessionsInitiated, client.agent.stats().setupsReclaimed, client.agent.drops().table_full ?? 0], [3, 1, 0]);
    lab.send(server, segment(server, server.ip, client.ip, { srcPort: 80, dstPort: 7003, seq: 70, ack: 2, flags: TCP_SYN | TCP_ACK }));
    syn(7004);
    assert.equal(client.agent.drops().table_full, 1);
    assert.equal(client.agent.stats().sessionsInitiated, 3);
    lab.send(server, segment(server, server.ip, client.ip, { srcPort: 80, dstPort: 7001, seq: 51, ack: 2, flags: TCP_ACK | TCP_PSH, payload: Buffer.from('still') }));
    assert.equal(parseFrame(client.delivered[client.delivered.length - 1]!).tcp!.dstPort, 7001, 'the established session still works');
  });
});

describe('malformed address lists are dropped and counted', () => {
  const cases: [string, (list: Buffer) => Buffer, string][] = [
    ['truncated', (l) => l.subarray(0, 13), 'list_truncated'],
    ['bad magic', (l) => Buffer.concat([Buffer.from('DYSX'), l.subarray(4)]), 'list_bad_magic'],
    ['bad version', (l) => { const b = Buffer.from(l); b[4] = 9; return b; }, 'list_bad_version'],
    ['bad count', (l) => { const b = Buffer.from(l); b[6] = 5; return b; }, 'list_truncated'],
    ['zero hops', (l) => { const b = Buffer.from(l.subarray(0, 20)); b[6] = 0; return b; }, 'list_zero_hops'],
    ['more hops than fit', (l) => { const b = Buffer.concat([l.subarray(0, 20), Buffer.alloc(33 * 4, 1)]); b[6] = 33; return b; }, 'list_too_many_hops'],
    ['not for this host', (l) => { const b = Buffer.from(l); b.writeUInt32BE(ipv4ToNumber('10.9.9.9'), 20); return b; }, 'list_not_for_me'],
  ];
  for (const [name, mangle, reason] of cases) {
    it(name, () => {
      const { lab, client, mb, server } = buildLab();
      lab.send(client, segment(client, client.ip, server.ip, { srcPort: 6100, dstPort: 80, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS }));
      const good = lastWireFrom(lab, 'client');
      const p = parseFrame(good);
      const bad = buildTcpFrame({
        eth: { srcMac: mb.gatewayMac, dstMac: mb.mac },
        ip: { src: client.ip, dst: mb.ip, id: 7 },
        tcp: { srcPort: p.tcp!.srcPort + 2, dstPort: p.tcp!.dstPort, seq: 1, flags: TCP_SYN, options: LINUX_SYN_OPTIONS, payload: mangle(p.tcp!.payload) },
      });
      const before = mb.delivered.length;
      const [result] = mb.agent.fromWire([bad], lab.now);
      assert.equal(result!.verdict, 'drop');
      assert.equal(mb.agent.drops()[reason], 1, reason);
      assert.equal(mb.delivered.length, before);
      assert.equal(mb.agent.stats().activeSessions, 1, 'only the good session');
    });
  }
});
