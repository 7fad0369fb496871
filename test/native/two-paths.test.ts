// Live reconfiguration in the datapath, on Buffers through real session pipelines: the new path's
// handshake made by the anchors' agents, the switch at the cutoffs, both paths at once, the fold, and
// the byte streams checked end to end in both directions (docs/reconfiguration.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicies } from '../../src/policy/compile';
import type { NewPathSpec } from '../../src/native/events';
import { decodeAddressList } from '../../src/protocol/address-list';
import { DyscoLab, type LabHost } from '../support/dysco-lab';
import {
  buildTcpFrame,
  ipv4ToNumber,
  numberToIpv4,
  parseFrame,
  TCP_ACK,
  TCP_SYN,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';
import { TcpPeer } from '../support/tcp-peer';

const CLIENT_ISN = 1000;
const SERVER_ISN = 5_000_000;

function handshakeOptions(tsVal: number, tsEcr: number, scale: number): Buffer {
  return tcpOptionArea(tcpOption.mss(1460), tcpOption.sackPermitted(), tcpOption.timestamps(tsVal, tsEcr), tcpOption.nop(), tcpOption.wscale(scale));
}

interface Chain {
  lab: DyscoLab;
  client: LabHost;
  server: LabHost;
  boxes: Record<string, LabHost>;
  c: TcpPeer;
  s: TcpPeer;
}

/** client → chain → server, a session set up and carrying a little data both ways. */
function establish(chain: string[], options: { serverScale?: number } = {}): Chain {
  const lab = new DyscoLab();
  const client = lab.addHost('client', 1, 'endpoint');
  const boxes: Record<string, LabHost> = {
    mb1: lab.addHost('mb1', 2, 'forwarder'),
    mb2: lab.addHost('mb2', 3, 'forwarder'),
  };
  const server = lab.addHost('server', 4, 'endpoint');
  client.agent.installPolicies(
    compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32`, dstPorts: 80 }, chain: chain.map((n) => boxes[n]!.ip) }]),
  );
  const frame = (from: LabHost, src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, opts?: Buffer) =>
    buildTcpFrame({ eth: { srcMac: from.mac, dstMac: from.gatewayMac }, ip: { src, dst, id: 1, ttl: 64 }, tcp: { srcPort: sport, dstPort: dport, seq, ack, flags, window: 64240, options: opts } });
  lab.send(client, frame(client, client.ip, server.ip, 5555, 80, CLIENT_ISN, 0, TCP_SYN, handshakeOptions(1111, 0, 7)));
  assert.equal(server.delivered.length, 1, 'the SYN reached the server');
  lab.send(server, frame(server, server.ip, client.ip, 80, 5555, SERVER_ISN, CLIENT_ISN + 1, TCP_SYN | TCP_ACK, handshakeOptions(2222, 1111, options.serverScale ?? 7)));
  assert.equal(client.delivered.length, 1, 'the SYN-ACK reached the client');
  const c = new TcpPeer({ lab, host: client, localIp: client.ip, localPort: 5555, remoteIp: server.ip, remotePort: 80, isn: CLIENT_ISN, peerIsn: SERVER_ISN, stream: 1, peerStream: 2 });
  const s = new TcpPeer({ lab, host: server, localIp: server.ip, localPort: 80, remoteIp: client.ip, remotePort: 5555, isn: SERVER_ISN, peerIsn: CLIENT_ISN, stream: 2, peerStream: 1 });
  client.delivered.length = 0;
  server.delivered.length = 0;
  c.pureAck();
  s.take();
  exchange({ lab, client, server, boxes, c, s }, 300);
  return { lab, client, server, boxes, c, s };
}

/** `bytes` each way, in turn, each end acknowledging what it got. */
function exchange(chain: Chain, bytes: number, rounds = 1): void {
  for (let i = 0; i < rounds; i++) {
    chain.c.send(bytes);
    chain.s.take();
    chain.s.send(bytes);
    chain.c.take();
  }
}

function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, what);
  return items[0]!;
}

function rightAnchorSpec(host: LabHost, nonce: number): NewPathSpec {
  const session = only(host.agent.sessions(), `${host.name}: one session`);
  return { sessionId: session.id, hostTuple: session.leftSession!, side: 'left', nonce, delta: { forward: 0, reverse: 0 }, hops: [] };
}

function leftAnchorSpec(host: LabHost, nonce: number, hops: LabHost[]): NewPathSpec {
  const session = only(host.agent.sessions(), `${host.name}: one session`);
  return { sessionId: session.id, hostTuple: session.rightSession!, side: 'right', nonce, delta: { forward: 0, reverse: 0 }, hops: hops.map((h) => ipv4ToNumber(h.ip)) };
}

function eventTypes(host: LabHost): string[] {
  return host.agent.takeEvents().map((e) => e.type);
}

/** Data segments an agent put on the wire toward `to` (by destination address). */
function dataToward(chain: Chain, from: LabHost, to: LabHost): number {
  return chain.lab.wire.filter((r) => {
    if (r.from !== from.name || r.frame.readUInt16BE(12) !== 0x0800) return false;
    const p = parseFrame(r.frame);
    return p.ip.dst === ipv4ToNumber(to.ip) && p.tcp !== undefined && p.tcp.payload.length > 0;
  }).length;
}

/** Runs one reconfiguration of the chain's session to pass through `via`, traffic flowing both ways. */
function reconfigure(chain: Chain, via: LabHost[], nonce: number): void {
  const { lab, client, server } = chain;
  eventTypes(client);
  eventTypes(server);
  server.agent.expectNewPath(rightAnchorSpec(server, nonce), lab.now);
  exchange(chain, 200);
  client.agent.openNewPath(leftAnchorSpec(client, nonce, [...via, server]), lab.now);
  lab.flush();
  assert.deepEqual(eventTypes(server), ['new_path_answered'], 'the right anchor answered the SYN itself');
  exchange(chain, 500, 3);
  assert.deepEqual(eventTypes(client), ['two_paths_entered', 'old_path_drained']);
  assert.deepEqual(eventTypes(server), ['two_paths_entered', 'old_path_drained']);
}

function closeAndDrain(chain: Chain, middleboxes: LabHost[]): void {
  const { lab, client, server, c, s } = chain;
  c.fin();
  s.take();
  s.fin();
  c.take();
  c.pureAck();
  s.take();
  assert.ok(c.finReceived && s.finReceived, 'both FINs arrived');
  lab.advance(5000);
  for (const host of [client, server, ...middleboxes]) {
    assert.deepEqual(host.agent.sessions(lab.now), [], `${host.name} has no session left`);
  }
  assert.equal(c.rstReceived || s.rstReceived, false, 'no RST');
}

describe('two paths: inserting a middlebox into a direct session', () => {
  const chain = establish([]);
  const { lab, client, server, boxes, c, s } = chain;
  const mb1 = boxes.mb1!;

  it('the left anchor opens the new path with a SYN carrying the new path list and the nonce', () => {
    server.agent.expectNewPath(rightAnchorSpec(server, 41), lab.now);
    exchange(chain, 200);
    eventTypes(client);
    eventTypes(server);
    const before = lab.wire.length;
    client.agent.openNewPath(leftAnchorSpec(client, 41, [mb1, server]), lab.now);
    lab.flush();
    const syn = lab.wire.slice(before).find((r) => r.from === 'client' && r.frame.readUInt16BE(12) === 0x0800);
    assert.ok(syn, 'a SYN left the client agent');
    const p = parseFrame(syn.frame);
    assert.equal(p.tcp!.flags, TCP_SYN);
    assert.equal(numberToIpv4(p.ip.dst), mb1.ip);
    assert.notEqual(p.tcp!.seq, CLIENT_ISN, 'a fresh initial sequence number');
    const list = decodeAddressList(p.tcp!.payload);
    assert.ok(list.ok, 'the SYN carries an address list');
    assert.deepEqual(list.list.hops, [mb1.ip, server.ip]);
    assert.deepEqual(eventTypes(server), ['new_path_answered']);
    assert.equal(mb1.agent.sessions().length, 1, 'the new middlebox set the session up like any other');
    assert.equal(mb1.delivered.length, 2, 'its host saw an ordinary SYN and SYN-ACK');
  });

  it('both anchors switch at their cutoffs; every byte arrives once, in order, both ways', () => {
    const directBefore = dataToward(chain, client, server);
    exchange(chain, 700, 4);
    assert.deepEqual(eventTypes(client), ['two_paths_entered', 'old_path_drained']);
    assert.deepEqual(eventTypes(server), ['two_paths_entered', 'old_path_drained']);
    assert.equal(dataToward(chain, client, server), directBefore, 'no new data on the old path after the switch');
    assert.ok(dataToward(chain, client, mb1) >= 4, 'the data goes through the new middlebox');
    assert.equal(c.duplicates + s.duplicates, 0);
    assert.equal(c.received, 300 + 200 + 2800);
    assert.equal(s.received, 300 + 200 + 2800);
  });

  it('after the fold the session runs on the new path with its deltas, in both directions', () => {
    const through = mb1.delivered.length;
    exchange(chain, 1000, 3);
    assert.ok(mb1.delivered.length >= through + 6, 'the middlebox host forwards it all');
    assert.equal(s.received, 3300 + 3000);
    assert.equal(c.received, 3300 + 3000);
    const stats = client.agent.stats();
    assert.equal(stats.pathsFolded, 1);
    assert.equal(server.agent.stats().pathsFolded, 1);
  });

  it('the session closes cleanly through the new path and every agent forgets it', () => {
    closeAndDrain(chain, [mb1]);
  });
});

describe('two paths: replacing one middlebox by another, then removing it', () => {
  const chain = establish(['mb1']);
  const { client, server, boxes, c, s } = chain;
  const mb1 = boxes.mb1!, mb2 = boxes.mb2!;

  it('replaces mb1 by mb2 with traffic both ways', () => {
    reconfigure(chain, [mb2], 7);
    const at = dataToward(chain, mb1, server);
    exchange(chain, 400, 2);
    assert.equal(dataToward(chain, mb1, server), at, 'mb1 carries nothing after the fold');
    assert.equal(c.duplicates + s.duplicates, 0);
    mb1.agent.retireSession(only(mb1.agent.sessions(), 'mb1 still holds the old session').id, chain.lab.now);
    assert.deepEqual(mb1.agent.sessions(), []);
    assert.equal(mb1.agent.stats().sessionsRetired, 1);
  });

  it('removes mb2: the session goes direct, with the deltas of both reconfigurations composed', () => {
    reconfigure(chain, [], 8);
    const at = dataToward(chain, mb2, server);
    exchange(chain, 400, 2);
    assert.equal(dataToward(chain, mb2, server), at);
    assert.ok(dataToward(chain, client, server) > 0, 'direct again');
    mb2.agent.retireSession(only(mb2.agent.sessions(), 'mb2 still holds the old session').id, chain.lab.now);
    closeAndDrain(chain, [mb1, mb2]);
  });
});
