// Live reconfiguration in the datapath, on Buffers through real session pipelines: the new path's
// handshake made by the anchors' agents, the switch at the cutoffs, both paths at once, the fold, and
// the byte streams checked end to end in both directions (docs/reconfiguration.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicies } from '../../src/policy/compile';
import type { NewPathSpec } from '../../src/native/events';
import { decodeAddressList } from '../../src/protocol/address-list';
import { SESSION_STATES } from '../../src/native/generated/codes';
import { DyscoLab, type LabHost } from '../support/dysco-lab';
import {
  buildTcpFrame,
  carriedChecksums,
  expectedChecksums,
  ipv4ToNumber,
  numberToIpv4,
  parseFrame,
  TCP_ACK,
  TCP_SYN,
  tcpOption,
  tcpOptionArea,
  transportChecksum,
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
function establish(
  chain: string[],
  options: { serverScale?: number; rewriteMb1?: (frame: Buffer) => Buffer } = {},
): Chain {
  const lab = new DyscoLab();
  const client = lab.addHost('client', 1, 'endpoint');
  const boxes: Record<string, LabHost> = {
    mb1: lab.addHost('mb1', 2, 'forwarder'),
    mb2: lab.addHost('mb2', 3, 'forwarder'),
  };
  if (options.rewriteMb1) boxes.mb1!.rewriteForwarded = options.rewriteMb1;
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
  assert.deepEqual(eventTypes(server), ['new_path_answered', 'two_paths_entered'], 'the right anchor answered the SYN itself');
  exchange(chain, 500, 3);
  assert.deepEqual(eventTypes(client), ['two_paths_entered', 'old_path_drained']);
  assert.deepEqual(eventTypes(server), ['old_path_drained']);
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
    assert.deepEqual(eventTypes(server), ['new_path_answered', 'two_paths_entered'], 'the server switched on the handshake\'s ACK');
    assert.equal(mb1.agent.sessions().length, 1, 'the new middlebox set the session up like any other');
    // An ordinary SYN, SYN-ACK and ACK, then the server's announcement (its cutoff) and the client's answer.
    assert.equal(mb1.delivered.length, 5, 'its host saw a handshake and pure ACKs');
  });

  it('both anchors switch at their cutoffs; every byte arrives once, in order, both ways', () => {
    const directBefore = dataToward(chain, client, server);
    exchange(chain, 700, 4);
    assert.deepEqual(eventTypes(client), ['two_paths_entered', 'old_path_drained']);
    assert.deepEqual(eventTypes(server), ['old_path_drained']);
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

  it('findSession names the session at every agent by the tuple control messages carry, either way round, and by id', () => {
    const session = { srcIp: ipv4ToNumber(client.ip), dstIp: ipv4ToNumber(server.ip), srcPort: 5555, dstPort: 80 };
    const reversed = { srcIp: session.dstIp, dstIp: session.srcIp, srcPort: 80, dstPort: 5555 };
    for (const [host, role, named] of [[client, 0, 'rightSession'], [mb1, 1, 'leftSession'], [server, 2, 'leftSession']] as const) {
      const [listed] = host.agent.sessions(lab.now);
      for (const query of [session, reversed, { sessionId: listed!.id }]) {
        const found = host.agent.findSession(query, lab.now);
        assert.equal(found?.id, listed!.id, `${host.name} by ${JSON.stringify(query)}`);
        assert.equal(found.role, role);
        assert.deepEqual(found[named], session);
      }
      assert.equal(host.agent.findSession({ ...session, srcPort: 5556 }, lab.now), null, 'another tuple names nothing');
      assert.equal(host.agent.findSession({ sessionId: listed!.id + 1 }, lab.now), null, 'a free slot names nothing');
      assert.throws(() => host.agent.findSession({ srcIp: 1 } as never, lab.now), /session query/);
    }
  });

  it('the session closes cleanly through the new path and every agent forgets it', () => {
    closeAndDrain(chain, [mb1]);
  });
});

describe('two paths: a clock that reads a tick behind', () => {
  it('an expectation stamped a millisecond after the expiry clock is not taken for one two seconds old', () => {
    const chain = establish([]);
    const { lab, client, server, boxes } = chain;
    // The lcore once served a request with a later millisecond than the expiry scan of the same iteration.
    server.agent.expectNewPath(rightAnchorSpec(server, 61), lab.now + 1);
    server.agent.expire(lab.now, 1 << 20);
    assert.equal(server.agent.stats().newPathsAbandoned, 0, 'still expecting');
    client.agent.openNewPath(leftAnchorSpec(client, 61, [boxes.mb1!, server]), lab.now + 1);
    lab.flush();
    assert.deepEqual(eventTypes(server).slice(0, 1), ['new_path_answered'], 'the SYN was answered');
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

/**
 * The new path opened and its handshake done; the client switches on its next segment. 200 bytes of the
 * client's are still unacknowledged then (the server's host has not read them), so the old path cannot
 * be drained at the switch.
 */
function openPath(chain: Chain, via: LabHost[], nonce: number): void {
  const { lab, client, server } = chain;
  server.agent.expectNewPath(rightAnchorSpec(server, nonce), lab.now);
  exchange(chain, 200);
  chain.c.send(200);
  client.agent.openNewPath(leftAnchorSpec(client, nonce, [...via, server]), lab.now);
  lab.flush();
}

function sentSince(chain: Chain, mark: number, from: LabHost, to: LabHost): Array<{ seq: number; length: number; flags: number; ack: number }> {
  return chain.lab.wire.slice(mark).flatMap((r) => {
    if (r.from !== from.name || r.frame.readUInt16BE(12) !== 0x0800) return [];
    const p = parseFrame(r.frame);
    if (p.ip.dst !== ipv4ToNumber(to.ip) || !p.tcp) return [];
    return [{ seq: p.tcp.seq, length: p.tcp.payload.length, flags: p.tcp.flags, ack: p.tcp.ack }];
  });
}

describe('two paths: segments at and below the cutoff', () => {
  const chain = establish([]);
  const { lab, client, server, boxes, c, s } = chain;
  const mb1 = boxes.mb1!;
  let cutoff = 0;

  it('the first segment after the handshake moves the client stream; the server maps it from the ACK on', () => {
    openPath(chain, [mb1], 3);
    cutoff = c.sndNxt;
    const mark = lab.wire.length;
    c.send(300);
    assert.equal(sentSince(chain, mark, client, server).filter((x) => x.length > 0).length, 0, 'nothing new on the old path');
    const got = s.take().filter((x) => x.payload.length > 0);
    assert.deepEqual(got.map((x) => [x.seq, x.payload.length]), [[(cutoff - 200) >>> 0, 200], [cutoff, 300]]);
    assert.equal(client.agent.stats().pathsFolded, 0, 'not drained: the server has not acknowledged the old path\'s bytes');
  });

  it('a retransmission below the cutoff goes on the old path', () => {
    const mark = lab.wire.length;
    c.send(100, { seq: (cutoff - 100) >>> 0 });
    const direct = sentSince(chain, mark, client, server).filter((x) => x.length > 0);
    assert.equal(direct.length, 1);
    assert.equal(direct[0]!.length, 100);
    s.take();
    assert.equal(s.duplicates, 100, 'delivered as the duplicate it is');
  });

  it('a retransmission straddling the cutoff leaves as two segments, one on each path', () => {
    const mark = lab.wire.length;
    c.send(150, { seq: (cutoff - 50) >>> 0 });
    const direct = sentSince(chain, mark, client, server).filter((x) => x.length > 0);
    const viaBox = sentSince(chain, mark, client, mb1).filter((x) => x.length > 0);
    assert.deepEqual(direct.map((x) => [x.seq, x.length]), [[(cutoff - 50) >>> 0, 50]]);
    assert.equal(viaBox.length, 1);
    assert.equal(viaBox[0]!.length, 100);
    const got = s.take().filter((x) => x.payload.length > 0);
    assert.deepEqual(got.map((x) => [x.seq, x.payload.length]), [[(cutoff - 50) >>> 0, 50], [cutoff, 100]]);
  });

  it('SACK blocks: each path carries only the blocks of data that came on it', () => {
    // An acknowledgement below the client's cutoff goes on the old path, which cannot carry a block above
    // what it delivered. (The server's host acknowledges less than it has, so the old path is not drained.)
    const low: [number, number] = [(cutoff - 50) >>> 0, cutoff];
    const high: [number, number] = [(cutoff + 100) >>> 0, (cutoff + 200) >>> 0];
    const ackBefore = s.rcvNxt;
    s.rcvNxt = (cutoff - 100) >>> 0;
    s.pureAck([low, high]);
    s.rcvNxt = ackBefore;
    const [onOld] = c.take();
    assert.ok(onOld, 'delivered');
    assert.deepEqual(onOld.sack, [low]);
    assert.equal(client.agent.stats().pathsFolded, 0);
    // Acknowledging new-path data: the new path, its blocks translated there and back.
    const block: [number, number] = [(cutoff + 350) >>> 0, (cutoff + 400) >>> 0];
    c.send(200);
    c.send(100);
    s.pureAck([block]);
    const [onNew] = c.take();
    assert.equal(onNew!.ack, s.rcvNxt);
    assert.deepEqual(onNew!.sack, [block]);
  });

  it('the reconfiguration completes, and the session closes with nothing lost', () => {
    s.take();
    exchange(chain, 500, 3);
    assert.equal(client.agent.stats().pathsFolded, 1);
    assert.equal(server.agent.stats().pathsFolded, 1);
    closeAndDrain(chain, [mb1]);
  });
});

describe('two paths: the new path has another window scale', () => {
  // mb1's stack rewrites the server's window scale on the old path (as a scrubbing box would), so the
  // client believes the server scales by 5; the new path, direct, negotiates the server's real 9.
  const chain = establish(['mb1'], { serverScale: 9, rewriteMb1: scaleOfSynAckTo(5) });
  const { client, server, c, s } = chain;

  it('windows that arrive on the new path are rescaled to what the client believes, before and after the fold', () => {
    openPath(chain, [], 5);
    c.send(100);
    s.take();
    s.send(100);
    const [segment] = c.take().filter((x) => x.payload.length > 0);
    assert.equal(segment!.window, 501 * 16, 'a 501 window scaled by 2^9 is 8016 at a scale of 2^5');
    exchange(chain, 300, 2);
    assert.equal(client.agent.stats().pathsFolded, 1);
    s.send(100);
    const after = c.take().filter((x) => x.payload.length > 0);
    assert.equal(after[0]!.window, 501 * 16);
  });

  it('the two hosts had believed different scales from the start', () => {
    assert.equal(only(client.agent.sessions(), 'client session').handshake[1].windowScale, 5);
    assert.equal(only(server.agent.sessions(), 'server session').handshake[1].windowScale, 9);
  });
});

/** A forwarder's stack that rewrites the window scale of the SYN-ACKs it forwards (a scrubbing box). */
function scaleOfSynAckTo(scale: number): (frame: Buffer) => Buffer {
  return (frame) => {
    const p = parseFrame(frame);
    if (!p.tcp || (p.tcp.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) return frame;
    const options = frame.subarray(p.l4Offset + 20, p.l4Offset + p.tcp.headerLength);
    for (let i = 0; i < options.length; ) {
      if (options[i] === 0) break;
      if (options[i] === 1) {
        i++;
        continue;
      }
      if (options[i] === 3) options[i + 2] = scale;
      i += options[i + 1]!;
    }
    const segment = frame.subarray(p.l4Offset, p.l3Offset + p.ip.totalLength);
    segment.writeUInt16BE(0, 16);
    segment.writeUInt16BE(transportChecksum(p.ip.src, p.ip.dst, 6, segment), 16);
    return frame;
  };
}

describe('two paths: FIN and RST while both paths run', () => {
  it('FINs on the new path before the fold end the session cleanly everywhere', () => {
    const chain = establish([]);
    const mb1 = chain.boxes.mb1!;
    openPath(chain, [mb1], 9);
    chain.c.send(100);
    chain.s.take();
    closeAndDrain(chain, [mb1]);
  });

  it('a RST goes on both paths, so every middlebox on either lets the connection go', () => {
    const chain = establish(['mb2']);
    const { lab, client, server, boxes, c, s } = chain;
    openPath(chain, [boxes.mb1!], 10);
    c.send(100);
    s.take();
    const mark = lab.wire.length;
    c.rst();
    const rsts = lab.wire.slice(mark).filter((r) => r.from === 'client' && r.frame.readUInt16BE(12) === 0x0800 && (parseFrame(r.frame).tcp!.flags & 0x04) !== 0);
    assert.deepEqual(rsts.map((r) => numberToIpv4(parseFrame(r.frame).ip.dst)).sort(), [boxes.mb1!.ip, boxes.mb2!.ip].sort());
    s.take();
    assert.ok(s.rstReceived);
    lab.advance(5000);
    for (const host of [client, server, boxes.mb1!, boxes.mb2!]) assert.deepEqual(host.agent.sessions(lab.now), [], host.name);
  });
});

describe('two paths: losses during the switch', () => {
  it('a lost handshake ACK: the server drops what it cannot map, the client announces again, nothing is lost', () => {
    const chain = establish([]);
    const { lab, client, server, boxes, c, s } = chain;
    const mb1 = boxes.mb1!;
    openPath(chain, [mb1], 11);
    // Every announcement of the client's is lost until the clock moves on.
    let lost = 0;
    lab.loses = (from, frame) => {
      if (from.name !== 'client') return false;
      const p = parseFrame(frame);
      if (!p.tcp || p.tcp.payload.length !== 0 || !p.tcp.options.includes(253)) return false;
      lost++;
      return true;
    };
    const cutoff = c.sndNxt;
    c.send(100);
    assert.ok(lost >= 1);
    assert.equal(s.take().filter((x) => x.payload.length > 0 && x.seq === cutoff).length, 0, 'the server could not map the segment yet');
    assert.equal(server.agent.drops().new_path_unmapped, 1);
    lab.loses = undefined;
    lab.advance(25);
    c.send(100, { seq: cutoff });  // the client's TCP retransmits
    s.take();
    assert.equal(s.rcvNxt, (cutoff + 100) >>> 0);
    exchange(chain, 300, 3);
    assert.equal(client.agent.stats().pathsFolded, 1);
    assert.equal(c.duplicates + s.duplicates, 0);
    closeAndDrain(chain, [mb1]);
  });

  it('a lost SYN: both anchors abandon the half-made path and the session carries on unchanged', () => {
    const chain = establish([]);
    const { lab, client, server, boxes, c, s } = chain;
    lab.loses = (from, frame) => from.name === 'client' && frame.readUInt16BE(12) === 0x0800 && parseFrame(frame).tcp?.flags === TCP_SYN;
    openPath(chain, [boxes.mb1!], 12);
    lab.loses = undefined;
    const clientSession = only(client.agent.sessions(), 'client').id;
    const serverSession = only(server.agent.sessions(), 'server').id;
    client.agent.abandonNewPath(clientSession, 12, lab.now);
    server.agent.abandonNewPath(serverSession, 12, lab.now);
    assert.throws(() => client.agent.abandonNewPath(clientSession, 12, lab.now), /SESSION_NOT_FOUND|no live session/);
    const mark = lab.wire.length;
    exchange(chain, 400, 2);
    assert.ok(sentSince(chain, mark, client, server).some((x) => x.length > 0), 'still direct');
    assert.equal(client.agent.stats().newPathsAbandoned, 1);
    closeAndDrain(chain, []);
    void c;
    void s;
  });

  it('a new path given up after its SYN crossed mb1: a RST goes along it, and the next one through mb1 starts afresh there', () => {
    const chain = establish([]);
    const { lab, client, server, boxes } = chain;
    const mb1 = boxes.mb1!;
    // The server was never told to expect it: mb1 sets its session up, and the server drops the SYN.
    exchange(chain, 200);
    client.agent.openNewPath(leftAnchorSpec(client, 21, [mb1, server]), lab.now);
    lab.flush();
    assert.equal(server.agent.drops().new_path_unexpected, 1);
    assert.equal(mb1.agent.sessions().length, 1, 'mb1 holds a half-made session');
    client.agent.abandonNewPath(only(client.agent.sessions(), 'client').id, 21, lab.now);
    lab.flush();
    assert.equal(client.agent.stats().newPathsReset, 1, 'a RST went along the given-up path');
    openPath(chain, [mb1], 22);
    assert.equal(mb1.agent.drops().key_conflict ?? 0, 0, 'the new SYN was not taken for a conflict');
    assert.equal(mb1.agent.sessions().length, 1, 'the half-made session made way for the new one');
    assert.equal(mb1.agent.stats().staleAttemptsRetired, 1);
    assert.ok(eventTypes(server).includes('new_path_answered'));
    exchange(chain, 300, 4);
    assert.equal(client.agent.stats().pathsFolded, 1);
    assert.ok(dataToward(chain, client, mb1) > 0, 'the data goes through mb1');
    assert.equal(chain.c.duplicates + chain.s.duplicates, 0);
    closeAndDrain(chain, [mb1]);
  });

  it('a new path whose handshake the left anchor answered is not given up (the far anchor may switch on that ACK): it goes on', () => {
    const chain = establish([]);
    const { lab, client, server, boxes, c, s } = chain;
    server.agent.expectNewPath(rightAnchorSpec(server, 23), lab.now);
    // Only the client's host sends, and before the request: neither anchor has its cutoff, so neither switches.
    c.send(200);
    s.take();
    client.agent.openNewPath(leftAnchorSpec(client, 23, [boxes.mb1!, server]), lab.now);
    lab.flush();
    assert.ok(eventTypes(server).includes('new_path_answered'));
    assert.equal(server.agent.stats().twoPathsEntered + client.agent.stats().twoPathsEntered, 0, 'nobody switched');
    const clientSession = only(client.agent.sessions(), 'client').id;
    assert.throws(() => client.agent.abandonNewPath(clientSession, 23, lab.now), /NEW_PATH_ANSWERED|handshake was answered/);
    // Not even the set-up timeout ends it now: the path waits for the switch.
    lab.advance(11_000);
    exchange(chain, 300, 4);
    assert.equal(client.agent.stats().newPathsAbandoned, 0);
    assert.equal(client.agent.stats().pathsFolded, 1, 'the session moved to the new path');
    assert.ok(dataToward(chain, client, boxes.mb1!) > 0, 'the data goes through mb1');
    assert.equal(c.duplicates + s.duplicates, 0);
    closeAndDrain(chain, [boxes.mb1!]);
  });

  it('a RST on the new path during its handshake: refused, and the session stays on its old path', () => {
    const chain = establish([]);
    const { lab, client, server, boxes } = chain;
    const mb1 = boxes.mb1!;
    let syn: Buffer | undefined;
    lab.loses = (from, frame) => {
      if (from.name !== 'client' || frame.readUInt16BE(12) !== 0x0800 || parseFrame(frame).tcp?.flags !== TCP_SYN) return false;
      syn = frame;
      return true;
    };
    openPath(chain, [mb1], 13);
    lab.loses = undefined;
    assert.ok(syn);
    const p = parseFrame(syn);
    const rst = buildTcpFrame({
      eth: { srcMac: client.gatewayMac, dstMac: client.mac },
      ip: { src: mb1.ip, dst: client.ip, id: 9, ttl: 63 },
      tcp: { srcPort: p.tcp!.dstPort, dstPort: p.tcp!.srcPort, seq: 0, ack: (p.tcp!.seq + 1) >>> 0, flags: 0x14 },
    });
    eventTypes(client);
    const [result] = client.agent.fromWire([rst], lab.now);
    assert.equal(result!.verdict, 'consumed');
    assert.deepEqual(client.agent.takeEvents().map((e) => e.type === 'new_path_refused' && e.side), ['right']);
    server.agent.abandonNewPath(only(server.agent.sessions(), 'server').id, 13, lab.now);
    exchange(chain, 400);
    closeAndDrain(chain, []);
  });
});

describe('two paths: a new path through a middlebox that holds the session established', () => {
  it('a middlebox on the old path drops the SYN under its reason and keeps the session; nothing reaches its host', () => {
    const chain = establish(['mb1']);
    const { lab, client, server, boxes } = chain;
    const mb1 = boxes.mb1!;
    eventTypes(client);
    const delivered = mb1.delivered.length;
    openPath(chain, [mb1], 17);
    assert.equal(mb1.agent.drops().new_path_through_old_path, 1);
    const syns = mb1.delivered.slice(delivered).filter((f) => ((parseFrame(f).tcp?.flags ?? 0) & TCP_SYN) !== 0);
    assert.equal(syns.length, 0, 'the SYN never reached the middlebox host');
    assert.deepEqual(eventTypes(client), [], 'no refusal: the left anchor waits out the set-up time');
    assert.equal(SESSION_STATES[only(mb1.agent.sessions(), 'mb1 keeps the one session it carries').state], 'established');
    client.agent.abandonNewPath(only(client.agent.sessions(), 'client').id, 17, lab.now);
    server.agent.abandonNewPath(only(server.agent.sessions(), 'server').id, 17, lab.now);
    exchange(chain, 400, 2);
    assert.equal(chain.c.duplicates + chain.s.duplicates, 0);
    closeAndDrain(chain, [mb1]);
  });

  it('an old path still being torn down: the SYN is dropped until the teardown comes, and its repeat then passes', () => {
    const chain = establish(['mb1']);
    const { lab, client, server, boxes } = chain;
    const mb1 = boxes.mb1!;
    reconfigure(chain, [], 18); // mb1 out; its agent still holds the old session, its teardown not there yet
    server.agent.expectNewPath(rightAnchorSpec(server, 19), lab.now);
    exchange(chain, 200);
    const spec = leftAnchorSpec(client, 19, [mb1, server]);
    client.agent.openNewPath(spec, lab.now);
    lab.flush();
    assert.equal(mb1.agent.drops().new_path_through_old_path, 1);
    mb1.agent.retireSession(only(mb1.agent.sessions(), 'mb1: the old path').id, lab.now);
    eventTypes(client);
    eventTypes(server);
    client.agent.openNewPath(spec, lab.now); // the SYN's repeat
    lab.flush();
    assert.deepEqual(eventTypes(server), ['new_path_answered', 'two_paths_entered'], 'the repeat passed mb1');
    exchange(chain, 500, 3);
    assert.deepEqual(eventTypes(client), ['two_paths_entered', 'old_path_drained']);
    assert.ok(dataToward(chain, mb1, server) > 0, 'mb1 carries the session again');
    assert.equal(chain.c.duplicates + chain.s.duplicates, 0);
  });
});

describe('two paths: a second reconfiguration, old-path data in flight both ways', () => {
  it('an old path that is itself a folded path (with deltas) still delivers what was in flight on it', () => {
    const chain = establish(['mb1']);
    const { lab, client, server, boxes, c, s } = chain;
    reconfigure(chain, [boxes.mb2!], 21);
    boxes.mb1!.agent.retireSession(only(boxes.mb1!.agent.sessions(), 'mb1').id, lab.now);
    exchange(chain, 300, 2);
    // Both hosts have bytes in flight on the old path (through mb2, with its deltas) when the switch comes.
    server.agent.expectNewPath(rightAnchorSpec(server, 22), lab.now);
    exchange(chain, 200);
    let inFlight = 0;
    lab.loses = (from, frame) => {
      // The server's next two segments on the old path are lost once; its TCP sends them again later.
      const p = parseFrame(frame);
      if (from.name !== 'server' || !p.tcp || p.tcp.payload.length === 0 || inFlight >= 2) return false;
      inFlight++;
      return true;
    };
    s.send(300);
    s.send(300);
    lab.loses = undefined;
    c.send(200);
    client.agent.openNewPath(leftAnchorSpec(client, 22, [server]), lab.now);
    lab.flush();
    s.take();
    c.send(500);
    s.take();
    s.send(400);
    const got = c.take();
    assert.ok(got.length > 0);
    // The server's TCP retransmits the lost bytes: below its cutoff, on the old path.
    s.send(600, { seq: (s.sndNxt - 400 - 600) >>> 0 });
    c.take();
    assert.equal(c.rcvNxt, s.sndNxt, 'the client has the server stream up to where it is, hole filled from the old path');
    exchange(chain, 300, 3);
    assert.equal(client.agent.stats().pathsFolded, 2);
    assert.equal(server.agent.stats().pathsFolded, 2);
    assert.equal(c.duplicates + s.duplicates, 0);
    boxes.mb2!.agent.retireSession(only(boxes.mb2!.agent.sessions(), 'mb2').id, lab.now);
    closeAndDrain(chain, [boxes.mb1!, boxes.mb2!]);
  });
});

describe('two paths: an idle session', () => {
  it('an anchor whose host has sent nothing asks it with an out-of-window segment, and switches on its answer', () => {
    const chain = establish([]);
    const { lab, client, server, boxes, c, s } = chain;
    const mb1 = boxes.mb1!;
    server.agent.expectNewPath(rightAnchorSpec(server, 31), lab.now);
    client.agent.openNewPath(leftAnchorSpec(client, 31, [mb1, server]), lab.now);
    lab.flush();
    // Neither host has sent since the requests: both anchors are ready to switch and probe their hosts.
    const probes = [client, server].map((h) => h.agent.takeSentToHost());
    for (const [i, host] of [client, server].entries()) {
      assert.equal(probes[i]!.length, 1, `${host.name} probed its host`);
      const p = parseFrame(probes[i]![0]!);
      assert.equal(p.tcp!.flags, TCP_ACK);
      assert.equal(p.tcp!.payload.length, 1, 'one byte: Linux answers such a segment every time (without data, once per 500 ms)');
      // The byte lies a quarter of the sequence space behind what the host has received: never inside its window.
      const behind = ((host === client ? c : s).rcvNxt - p.tcp!.seq) >>> 0;
      assert.ok(behind >= 0x40000000 && behind < 0x80000000, `${behind} behind`);
      assert.deepEqual(carriedChecksums(probes[i]![0]!), expectedChecksums(probes[i]![0]!));
    }
    const toClient = parseFrame(probes[0]![0]!);
    assert.equal(numberToIpv4(toClient.ip.src), server.ip, 'it looks like the far end');
    assert.equal(toClient.tcp!.dstPort, 5555);
    // The hosts answer the way a TCP answers an out-of-window segment: an ACK with where they are.
    c.pureAck();
    s.pureAck();
    s.take();
    c.take();
    assert.equal(client.agent.stats().twoPathsEntered, 1);
    assert.equal(server.agent.stats().twoPathsEntered, 1);
    exchange(chain, 300, 3);
    assert.equal(client.agent.stats().pathsFolded, 1);
    assert.equal(c.duplicates + s.duplicates, 0);
    closeAndDrain(chain, [mb1]);
  });
});

describe('two paths: a host probe answered with a D-SACK', () => {
  it('the anchor switches on the answer and keeps it: its D-SACK names a byte the far host never sent there', () => {
    const chain = establish([]);
    const { lab, client, server, boxes, c, s } = chain;
    const mb1 = boxes.mb1!;
    server.agent.expectNewPath(rightAnchorSpec(server, 41), lab.now);
    client.agent.openNewPath(leftAnchorSpec(client, 41, [mb1, server]), lab.now);
    lab.flush();
    const [toClient, toServer] = [client, server].map((h) => parseFrame(h.agent.takeSentToHost()[0]!));
    const wireBefore = lab.wire.length;
    // What Linux answers to an out-of-window segment with data: a duplicate ACK whose first SACK block is the
    // D-SACK of that byte.
    c.pureAck([[toClient!.tcp!.seq, toClient!.tcp!.seq + 1]]);
    s.pureAck([[toServer!.tcp!.seq, toServer!.tcp!.seq + 1]]);
    assert.equal(client.agent.stats().twoPathsEntered, 1);
    assert.equal(server.agent.stats().twoPathsEntered, 1);
    const sackBlocksOut = lab.wire.slice(wireBefore).filter((w) => {
      const t = parseFrame(w.frame).tcp;
      return t !== undefined && t.options.includes(Buffer.from([5, 10]));
    });
    assert.deepEqual(sackBlocksOut, [], 'no answer left its anchor');
    assert.equal(client.agent.drops().new_path_unmapped ?? 0, 0);
    s.take();
    c.take();
    exchange(chain, 300, 3);
    assert.equal(client.agent.stats().pathsFolded, 1);
    assert.equal(c.duplicates + s.duplicates, 0);
    closeAndDrain(chain, [mb1]);
  });
});

describe('two paths: bad requests are refused with a clear status, and change nothing', () => {
  it('specs, sessions, phases and the pool', () => {
    const chain = establish([]);
    const { lab, client, server, boxes } = chain;
    const good = leftAnchorSpec(client, 51, [boxes.mb1!, server]);
    assert.throws(() => client.agent.openNewPath({ ...good, side: 'middle' } as never, lab.now), TypeError);
    assert.throws(() => client.agent.openNewPath({ ...good, hops: [-1] }, lab.now), TypeError);
    assert.throws(() => client.agent.openNewPath({ ...good, hops: new Array(33).fill(1) }, lab.now), TypeError);
    assert.throws(() => client.agent.openNewPath({ ...good, hops: [] }, lab.now), /INVALID_ARGUMENT|invalid argument/);
    assert.throws(() => client.agent.openNewPath({ ...good, side: 'left' }, lab.now), /INVALID_ARGUMENT|invalid argument/);
    assert.throws(() => client.agent.openNewPath({ ...good, sessionId: 999 }, lab.now), /no live session/);
    assert.throws(() => client.agent.openNewPath({ ...good, hostTuple: { ...good.hostTuple, srcPort: 1 } }, lab.now), /no live session/);
    assert.throws(() => client.agent.retireSession(999, lab.now), /no live session/);
    // A SYN with a nonce this right anchor does not expect is dropped and counted.
    client.agent.openNewPath(good, lab.now);
    lab.flush();
    assert.equal(server.agent.drops().new_path_unexpected, 1);
    assert.throws(() => client.agent.openNewPath({ ...good, nonce: 52 }, lab.now), /second path/);
    client.agent.abandonNewPath(good.sessionId, 51, lab.now);
    // Once switched, a new path can no longer be abandoned. (Through mb2: mb1 still holds the half-made
    // path's session for this tuple until its set-up times out.)
    openPath(chain, [boxes.mb2!], 53);
    chain.c.send(100);
    assert.throws(() => client.agent.abandonNewPath(good.sessionId, 53, lab.now), /can no longer be abandoned/);
    assert.equal(only(client.agent.sessions(), 'client').reconfig?.phase, 'two_paths');
  });

  it('a full reconfiguration pool refuses the next one', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint', { maxReconfigurations: 1 });
    const server = lab.addHost('server', 4, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32`, dstPorts: 80 }, chain: [] }]));
    for (const port of [5555, 5556]) {
      const syn = buildTcpFrame({ eth: { srcMac: client.mac, dstMac: client.gatewayMac }, ip: { src: client.ip, dst: server.ip }, tcp: { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN } });
      lab.send(client, syn);
      const synAck = buildTcpFrame({ eth: { srcMac: server.mac, dstMac: server.gatewayMac }, ip: { src: server.ip, dst: client.ip }, tcp: { srcPort: 80, dstPort: port, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK } });
      lab.send(server, synAck);
    }
    const [a, b] = client.agent.sessions();
    const spec = (s: typeof a, nonce: number): NewPathSpec => ({ sessionId: s!.id, hostTuple: s!.rightSession!, side: 'right', nonce, delta: { forward: 0, reverse: 0 }, hops: [ipv4ToNumber(server.ip)] });
    client.agent.openNewPath(spec(a, 61), lab.now);
    assert.throws(() => client.agent.openNewPath(spec(b, 62), lab.now), /reconfiguration slot/);
  });
});
