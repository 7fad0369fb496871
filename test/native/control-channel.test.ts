// The control channel through the Buffer harness, which serves requests with the same
// SessionPipeline::Serve and takes events from the same PipelineIo path as the lcore: policies and
// session dumps as requests, datagrams to the control port as events, datagrams handed down by the
// control plane sent through ARP, session events, and every event that finds no room counted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema } from '../../src/agent/config';
import { compilePolicies } from '../../src/policy/compile';
import { CONTROL_PACKET_SLOTS, type ControlPacketEvent } from '../../src/native/events';
import { coreTestAddon } from '../support/core-addon';
import { DyscoLab } from '../support/dysco-lab';
import {
  buildTcpFrame,
  buildUdpFrame,
  carriedChecksums,
  expectedChecksums,
  ipv4ToNumber,
  numberToIpv4,
  parseFrame,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

const { pipeline } = coreTestAddon;

const CONTROL_PORT = 7070;
const HOST_IP = '10.0.1.2';
const HOST_MAC = '02:00:00:00:01:02';
const PEER_IP = '10.0.2.2';

function agent(options: { eventQueue?: number; sessionEvents?: boolean; controlPort?: number } = {}) {
  return new pipeline.Pipeline({
    ...pipelineOptions(dyscoConfigSchema.parse({ address: `${HOST_IP}/24`, gateway: '10.0.1.1', controlPort: CONTROL_PORT })),
    ...options,
  });
}

function datagramToHost(payload: Buffer, dstPort = CONTROL_PORT, dst = HOST_IP): Buffer {
  return buildUdpFrame({
    eth: { srcMac: '02:00:00:00:01:01', dstMac: HOST_MAC },
    ip: { src: PEER_IP, dst },
    udp: { srcPort: 7071, dstPort, payload },
  });
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('requests through Serve in the Buffer harness', () => {
  it('installs policies and dumps the session they start, with both handshakes', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint');
    const server = lab.addHost('server', 2, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'web', match: { dstPorts: 80 }, chain: [] }]));
    const before = client.agent.counters().requestsServed;
    const options = tcpOptionArea(tcpOption.mss(1460), tcpOption.sackPermitted(), tcpOption.timestamps(77, 0), tcpOption.nop(), tcpOption.wscale(6));
    lab.send(
      client,
      buildTcpFrame({
        eth: { srcMac: client.mac, dstMac: client.gatewayMac },
        ip: { src: client.ip, dst: server.ip },
        tcp: { srcPort: 4000, dstPort: 80, seq: 123456, flags: TCP_SYN, options },
      }),
    );
    assert.equal(server.delivered.length, 1, 'the SYN reached the server stack');
    const [session] = client.agent.sessions(lab.now);
    assert.ok(session, 'the client agent dumps its session');
    assert.equal(session.ruleId, 0);
    assert.equal(session.handshake[0].isn, 123456);
    assert.equal(session.handshake[0].windowScale, 6);
    assert.equal(session.handshake[0].sackPermitted, true);
    assert.equal(session.handshake[0].timestamps, true);
    assert.equal(session.handshake[0].tsVal, 77);
    assert.equal(session.handshake[1].windowScale, null, 'no SYN-ACK yet');
    assert.ok(client.agent.counters().requestsServed > before, 'the dump went through Serve');
    assert.equal(client.agent.takeEvents().length, 0, 'completions never reach the event stream');
  });

  it('a malformed policy set is a BAD_POLICIES error, a non-Buffer a TypeError', () => {
    const a = agent();
    assert.equal(errorCode(() => a.installPolicies(Buffer.from('not a policy set'))), 'BAD_POLICIES');
    assert.throws(() => a.installPolicies('nope' as unknown as Buffer), TypeError);
  });

  it('dumps many sessions across pages', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint');
    const server = lab.addHost('server', 2, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'all', match: {}, chain: [] }]));
    for (let port = 1000; port < 1600; port++) {
      lab.send(client, buildTcpFrame({ eth: { srcMac: client.mac, dstMac: client.gatewayMac }, ip: { src: client.ip, dst: server.ip }, tcp: { srcPort: port, dstPort: 80, seq: port, flags: TCP_SYN } }));
    }
    const sessions = client.agent.sessions(lab.now);
    assert.equal(sessions.length, 600, 'more than one 256-session page');
    assert.equal(new Set(sessions.map((s) => s.id)).size, 600);
    assert.deepEqual(new Set(sessions.map((s) => s.handshake[0].isn)).size, 600);
  });
});

describe('control packets from the wire', () => {
  it('a datagram to the control port becomes a control_packet event and does not reach the host stack', () => {
    const a = agent();
    const payload = Buffer.from('hello from a peer agent');
    const [result] = a.fromWire([datagramToHost(payload)], 10);
    assert.equal(result!.verdict, 'consumed');
    const events = a.takeEvents();
    assert.equal(events.length, 1);
    const event = events[0] as ControlPacketEvent;
    assert.equal(event.type, 'control_packet');
    assert.equal(numberToIpv4(event.srcIp), PEER_IP);
    assert.equal(numberToIpv4(event.dstIp), HOST_IP);
    assert.equal(event.srcPort, 7071);
    assert.equal(event.dstPort, CONTROL_PORT);
    assert.deepEqual(event.payload, payload);
    assert.equal(a.stats().controlPackets, 1);
    assert.equal(a.stats().controlSlotsInUse, 0, 'the slot is released once read');
  });

  it('other datagrams pass to the host: another port, another address, no control port configured', () => {
    assert.equal(agent().fromWire([datagramToHost(Buffer.from('x'), 53)], 1)[0]!.verdict, 'host');
    assert.equal(agent().fromWire([datagramToHost(Buffer.from('x'), CONTROL_PORT, '10.0.1.3')], 1)[0]!.verdict, 'host');
    assert.equal(agent({ controlPort: 0 }).fromWire([datagramToHost(Buffer.from('x'))], 1)[0]!.verdict, 'host');
  });

  it('a datagram longer than a control message is dropped and counted', () => {
    const a = agent();
    const [result] = a.fromWire([datagramToHost(Buffer.alloc(1473, 1))], 1);
    assert.equal(result!.verdict, 'drop');
    assert.equal(a.drops().control_too_large, 1);
    assert.equal(a.takeEvents().length, 0);
    assert.equal(a.fromWire([datagramToHost(Buffer.alloc(1472, 1))], 1)[0]!.verdict, 'consumed', '1472 bytes fit');
  });

  it('an event that finds the queue full is counted, and its slot comes back', () => {
    const a = agent({ eventQueue: 2 });
    const results = a.fromWire([0, 1, 2].map((i) => datagramToHost(Buffer.from([i]))), 1);
    assert.deepEqual(results.map((r) => r.verdict), ['consumed', 'consumed', 'consumed']);
    assert.equal(a.counters().eventsDropped, 1);
    assert.equal(a.counters().eventsPosted, 2);
    assert.equal(a.stats().controlSlotsInUse, 2, 'only the two queued events hold slots');
    const events = a.takeEvents() as ControlPacketEvent[];
    assert.deepEqual(events.map((e) => e.payload[0]), [0, 1]);
    assert.equal(a.stats().controlSlotsInUse, 0);
    assert.equal(a.stats().controlPackets, 2, 'only delivered datagrams count as received');
  });

  it('when every slot waits for the control plane, the next datagram is dropped under control_pool_full', () => {
    const a = agent();
    for (let i = 0; i < CONTROL_PACKET_SLOTS; i += 32) a.fromWire(Array.from({ length: 32 }, () => datagramToHost(Buffer.from('m'))), 1);
    const [last] = a.fromWire([datagramToHost(Buffer.from('one too many'))], 1);
    assert.equal(last!.verdict, 'drop');
    assert.equal(a.drops().control_pool_full, 1);
    assert.equal(a.takeEvents().length, CONTROL_PACKET_SLOTS);
    assert.equal(a.fromWire([datagramToHost(Buffer.from('room again'))], 1)[0]!.verdict, 'consumed');
  });
});

describe('datagrams the control plane hands the lcore', () => {
  it('go out from the host address to the next hop MAC after ARP, and arrive as a control_packet at the peer', () => {
    const lab = new DyscoLab();
    const a = lab.addHost('a', 1, 'endpoint', { controlPort: CONTROL_PORT });
    const b = lab.addHost('b', 2, 'endpoint', { controlPort: CONTROL_PORT });
    const payload = Buffer.from('{"hello":"peer"}');
    const spec = { dstIp: ipv4ToNumber(b.ip), dstPort: CONTROL_PORT, srcPort: CONTROL_PORT, payload };
    assert.equal(errorCode(() => a.agent.transmit(spec, lab.now)), 'HOST_MAC_UNKNOWN', 'no source MAC before the host spoke');

    // Any frame from the host stack teaches the agent its host's MAC.
    lab.send(a, buildUdpFrame({ eth: { srcMac: a.mac, dstMac: a.gatewayMac }, ip: { src: a.ip, dst: '10.0.9.9' }, udp: { srcPort: 1, dstPort: 2 } }));
    const sentBefore = lab.wire.length;
    const first = a.agent.transmit(spec, lab.now);
    assert.deepEqual(first, { sent: false }, 'waits for ARP');
    lab.advance(0);
    const out = lab.wire.slice(sentBefore).filter((r) => r.from === 'a');
    assert.equal(out[0]!.frame.readUInt16BE(12), 0x0806, 'an ARP request for the gateway first');
    assert.equal(numberToIpv4(out[0]!.frame.readUInt32BE(38)), a.gateway);
    const datagram = out.find((r) => r.frame.readUInt16BE(12) === 0x0800)!.frame;
    const parsed = parseFrame(datagram);
    assert.deepEqual(datagram.subarray(0, 6), Buffer.from([2, 0, 0, 0, 1, 1]), 'to the gateway MAC');
    assert.deepEqual(datagram.subarray(6, 12), Buffer.from([2, 0, 0, 0, 1, 2]), 'from the host MAC');
    assert.equal(numberToIpv4(parsed.ip.src), a.ip);
    assert.equal(numberToIpv4(parsed.ip.dst), b.ip);
    assert.equal(parsed.ip.ttl, 64);
    assert.equal(parsed.udp!.srcPort, CONTROL_PORT);
    assert.equal(parsed.udp!.dstPort, CONTROL_PORT);
    assert.deepEqual(parsed.udp!.payload, payload);
    assert.deepEqual(carriedChecksums(datagram), expectedChecksums(datagram));

    const [received] = b.agent.takeEvents() as ControlPacketEvent[];
    assert.equal(received?.type, 'control_packet');
    assert.equal(numberToIpv4(received.srcIp), a.ip);
    assert.deepEqual(received.payload, payload);

    assert.deepEqual(a.agent.transmit(spec, lab.now), { sent: true }, 'the next hop is known now');
    assert.equal(a.agent.stats().controlSent, 2);
  });

  it('refuses what cannot be one datagram on the link', () => {
    const a = agent();
    a.fromHost([datagramToHost(Buffer.from('x'))], 1);  // any frame from the host: its MAC
    const big = { dstIp: ipv4ToNumber(PEER_IP), dstPort: 9, srcPort: 9, payload: Buffer.alloc(1473) };
    assert.equal(errorCode(() => a.transmit(big, 1)), 'INVALID_ARGUMENT');
    const small = new pipeline.Pipeline(pipelineOptions(dyscoConfigSchema.parse({ address: `${HOST_IP}/24`, mtu: 576 })));
    small.fromHost([datagramToHost(Buffer.from('x'))], 1);
    assert.equal(errorCode(() => small.transmit({ ...big, payload: Buffer.alloc(549) }, 1)), 'INVALID_ARGUMENT', 'over the MTU');
    assert.equal(errorCode(() => a.transmit({ ...big, dstPort: 0, payload: Buffer.alloc(1) }, 1)), 'INVALID_ARGUMENT');
    assert.throws(() => a.transmit({ dstIp: -1, dstPort: 1, srcPort: 1, payload: Buffer.alloc(1) }, 1), TypeError);
  });
});

describe('session events', () => {
  it('established at both ends, then ended by a RST once its linger is over', () => {
    const lab = new DyscoLab();
    const client = lab.addHost('client', 1, 'endpoint', { sessionEvents: true });
    const server = lab.addHost('server', 2, 'endpoint', { sessionEvents: true });
    const quiet = lab.addHost('quiet', 3, 'endpoint');
    client.agent.installPolicies(compilePolicies([{ name: 'web', match: { dstPorts: 80 }, chain: [] }]));
    const tcp = (from: typeof client, to: typeof client, srcPort: number, dstPort: number, seq: number, flags: number, ack = 0) =>
      buildTcpFrame({ eth: { srcMac: from.mac, dstMac: from.gatewayMac }, ip: { src: from.ip, dst: to.ip }, tcp: { srcPort, dstPort, seq, ack, flags } });
    lab.send(client, tcp(client, server, 4000, 80, 100, TCP_SYN));
    assert.equal(server.delivered.length, 1);
    lab.send(server, tcp(server, client, 80, 4000, 900, TCP_SYN | TCP_ACK, 101));
    assert.deepEqual(client.agent.takeEvents(), [{ type: 'session_established', sessionId: client.agent.sessions(lab.now)[0]!.id, role: 'initiator' }]);
    assert.deepEqual(server.agent.takeEvents().map((e) => e.type === 'session_established' && e.role), ['responder']);

    lab.send(client, tcp(client, server, 4000, 80, 101, TCP_RST | TCP_ACK, 901));
    assert.equal(client.agent.takeEvents().length, 0, 'a RST can be taken back until the linger ends');
    lab.advance(2500);
    assert.deepEqual(client.agent.takeEvents().map((e) => e.type === 'session_ended' && [e.role, e.cause]), [['initiator', 'rst']]);
    assert.equal(quiet.agent.takeEvents().length, 0, 'off unless asked for');
  });
});
