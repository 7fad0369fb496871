// Two agents' control channels over real session pipelines on Buffers: DatapathLink hands the pipeline its
// datagrams (Transmit, next hop, ARP), the peer's pipeline takes them off the wire as control_packet events,
// and the link's channel delivers, acks, retransmits what the test loses and counts what is malformed.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ControlChannel } from '../../src/control/channel';
import { decodeFrame } from '../../src/control/codec';
import { DatapathLink, type ControlPort, type LinkTimers } from '../../src/control/datapath-link';
import type { Datapath } from '../../src/datapath/datapath';
import type { ControlPacketEvent, TransmitSpec } from '../../src/native/events';
import type { ReconfigMessage } from '../../src/reconfig/messages';
import { DyscoLab, type LabHost } from '../support/dysco-lab';
import { buildUdpFrame, ipv4ToNumber, parseFrame } from '../support/packet-builder';

const CONTROL_PORT = 7070;
const RETRY = { initialMs: 20, factor: 2, maxMs: 100, attempts: 4 };

// The link binds to the real Datapath class as it is (compile-time check).
const datapathIsAControlPort: (datapath: Datapath) => ControlPort = (datapath) => datapath;
void datapathIsAControlPort;

/** The Buffer pipeline seen as a ControlPort: transmit at the lab's clock; its events, when the test reads them. */
class PipelinePort implements ControlPort {
  readonly events = new EventEmitter<{ control_packet: [ControlPacketEvent] }>();

  constructor(
    private readonly host: LabHost,
    private readonly lab: DyscoLab,
  ) {}

  transmit(spec: TransmitSpec): { sent: boolean } {
    return this.host.agent.transmit(spec, this.lab.now);
  }

  /** Hands every control_packet event the pipeline posted to the link listening. */
  dispatch(): number {
    const events = this.host.agent.takeEvents().filter((e): e is ControlPacketEvent => e.type === 'control_packet');
    for (const e of events) this.events.emit('control_packet', e);
    return events.length;
  }
}

/** Timers on the lab's clock: run() fires what is due. */
class LabTimers implements LinkTimers {
  private pending: { at: number; callback: () => void; live: boolean }[] = [];

  constructor(private readonly lab: DyscoLab) {}

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.lab.now + ms, callback, live: true };
    this.pending.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    (handle as { live: boolean }).live = false;
  }

  next(): number | undefined {
    const live = this.pending.filter((t) => t.live).map((t) => t.at);
    return live.length ? Math.min(...live) : undefined;
  }

  run(): void {
    const due = this.pending.filter((t) => t.live && t.at <= this.lab.now);
    this.pending = this.pending.filter((t) => t.live && t.at > this.lab.now);
    for (const t of due) t.callback();
  }
}

interface Agent {
  host: LabHost;
  port: PipelinePort;
  channel: ControlChannel;
  link: DatapathLink;
  timers: LabTimers;
  got: { message: ReconfigMessage[]; acked: ReconfigMessage[]; failed: string[] };
}

function setUp() {
  const lab = new DyscoLab();
  const make = (name: string, index: number, epoch: number): Agent => {
    const host = lab.addHost(name, index, 'endpoint', { controlPort: CONTROL_PORT });
    const port = new PipelinePort(host, lab);
    const channel = new ControlChannel({ epoch, initialSeq: 1000 * index, retry: RETRY });
    const timers = new LabTimers(lab);
    const link = new DatapathLink(port, channel, { controlPort: CONTROL_PORT, now: () => lab.now, timers, coalesce: 'none' });
    const got: Agent['got'] = { message: [], acked: [], failed: [] };
    link.events.on('message', (d) => got.message.push(d.message));
    link.events.on('acked', (d) => got.acked.push(d.message));
    link.events.on('failed', (f) => got.failed.push(`${f.message.type}:${f.reason}`));
    link.start();
    // Any frame from the host stack teaches the agent its host's MAC.
    lab.send(host, buildUdpFrame({ eth: { srcMac: host.mac, dstMac: host.gatewayMac }, ip: { src: host.ip, dst: '10.0.9.9' }, udp: { srcPort: 1, dstPort: 2 } }));
    return { host, port, channel, link, timers, got };
  };
  const a = make('a', 1, 0xa);
  const b = make('b', 2, 0xb);
  const agents = [a, b];

  /**
   * Moves every datagram the agents sent since the last call to the peer's pipeline, unless `lose` says so, and
   * hands the peers' control_packet events to their links; repeats while anything moves.
   */
  const exchange = (lose: (frame: Buffer, from: Agent) => boolean = () => false) => {
    for (let round = 0; round < 16; round++) {
      let moved = 0;
      for (const from of agents) {
        for (const frame of from.host.agent.takeSent()) {
          const parsed = parseFrame(frame);
          const to = agents.find((x) => ipv4ToNumber(x.host.ip) === parsed.ip.dst);
          assert.ok(to, 'control datagrams go to the peer');
          if (lose(frame, from)) continue;
          const routed = Buffer.from(frame);
          Buffer.from(to.host.mac.split(':').map((x) => parseInt(x, 16))).copy(routed, 0);
          Buffer.from(to.host.gatewayMac.split(':').map((x) => parseInt(x, 16))).copy(routed, 6);
          const [result] = to.host.agent.fromWire([routed], lab.now);
          assert.equal(result!.verdict, 'consumed', 'the peer pipeline takes it off the wire');
          moved++;
        }
      }
      for (const agent of agents) moved += agent.port.dispatch();
      if (moved === 0) return;
    }
  };

  /** Advances the clock to the next timer of either agent and fires it. */
  const nextTimer = (): boolean => {
    const at = agents.map((x) => x.timers.next()).filter((t): t is number => t !== undefined);
    if (at.length === 0) return false;
    lab.now = Math.max(lab.now, Math.min(...at));
    for (const agent of agents) agent.timers.run();
    return true;
  };

  // The first datagram to the peer waits for ARP of the gateway; the lab answers it and routes the datagram.
  // It is no frame of ours: the peer's channel counts it as rejected.
  a.host.agent.transmit({ dstIp: ipv4ToNumber(b.host.ip), dstPort: CONTROL_PORT, srcPort: CONTROL_PORT, payload: Buffer.from('warm-up') }, lab.now);
  b.host.agent.transmit({ dstIp: ipv4ToNumber(a.host.ip), dstPort: CONTROL_PORT, srcPort: CONTROL_PORT, payload: Buffer.from('warm-up') }, lab.now);
  lab.advance(0);
  exchange();
  return { lab, a, b, exchange, nextTimer };
}

function requestLock(a: Agent, b: Agent, nonce: number): ReconfigMessage {
  const ip = (x: Agent) => ipv4ToNumber(x.host.ip);
  return {
    type: 'requestLock',
    id: { leftAnchor: ip(a), nonce },
    session: { srcIp: ip(a), dstIp: 0x0a000902, srcPort: 40000, dstPort: 80 },
    subsession: { srcIp: ip(a), dstIp: ip(b), srcPort: 61000, dstPort: 61001 },
    rightAnchor: ip(b),
    delta: { forward: 0, reverse: 0xffffff00 },
  };
}

describe('the control channel between two agents through the real pipelines', () => {
  it('a message goes out from the control port to the peer, is delivered once there, and its ack settles it', () => {
    const { a, b, exchange } = setUp();
    assert.equal(b.channel.counterSnapshot().rejected.unknown.bad_magic, 1, 'the warm-up datagram was counted, not delivered');
    assert.equal(b.got.message.length, 0);

    const message = requestLock(a, b, 1);
    assert.ok(a.link.send(ipv4ToNumber(b.host.ip), message).ok);
    const seen: { from: string; frame: Buffer }[] = [];
    exchange((frame, from) => {
      seen.push({ from: from.host.name, frame });
      return false;
    });
    assert.deepEqual(seen.map((x) => x.from), ['a', 'b'], 'the message at once (the next hop is resolved), then its ack');
    const [out, back] = seen.map((x) => parseFrame(x.frame));
    assert.equal(out!.ip.src, ipv4ToNumber(a.host.ip));
    assert.equal(out!.ip.dst, ipv4ToNumber(b.host.ip));
    assert.deepEqual([out!.udp!.srcPort, out!.udp!.dstPort, back!.udp!.srcPort, back!.udp!.dstPort], [CONTROL_PORT, CONTROL_PORT, CONTROL_PORT, CONTROL_PORT]);
    assert.deepEqual(decodeFrame(out!.udp!.payload), { ok: true, frame: { kind: 'message', epoch: 0xa, seq: 1000, message } });
    assert.deepEqual(decodeFrame(back!.udp!.payload), { ok: true, frame: { kind: 'ack', epoch: 0xa, seq: 1000 } });
    assert.deepEqual(b.got.message, [message]);
    assert.deepEqual(a.got.acked, [message]);
    assert.equal(a.channel.pending(), 0);
    assert.equal(a.timers.next(), undefined, 'nothing waits at a');
    assert.equal(b.host.agent.stats().controlPackets, 2, 'the warm-up and the message');
  });

  it('a datagram lost between the pipelines is retransmitted on the timer and delivered once', () => {
    const { lab, a, b, exchange, nextTimer } = setUp();
    const message = requestLock(a, b, 2);
    a.link.send(ipv4ToNumber(b.host.ip), message);
    let lost = 0;
    exchange(() => lost++ === 0);
    assert.equal(lost, 1);
    assert.deepEqual(b.got.message, []);
    const start = lab.now;
    assert.ok(nextTimer());
    assert.equal(lab.now - start, RETRY.initialMs);
    exchange();
    assert.deepEqual(b.got.message, [message]);
    assert.deepEqual(a.got.acked, [message]);
    assert.equal(a.channel.counterSnapshot().frames.requestLock.retransmitted, 1);
  });

  it('a lost ack: the peer acks the retransmission again and delivers it once', () => {
    const { a, b, exchange, nextTimer } = setUp();
    const message = requestLock(a, b, 3);
    a.link.send(ipv4ToNumber(b.host.ip), message);
    exchange((_frame, from) => from === b);
    assert.equal(b.got.message.length, 1);
    nextTimer();
    exchange();
    assert.equal(b.got.message.length, 1);
    assert.equal(b.channel.counterSnapshot().frames.requestLock.duplicate, 1);
    assert.deepEqual(a.got.acked, [message]);
  });

  it('when every copy is lost the link reports the failure after the last wait', () => {
    const { lab, a, b, exchange, nextTimer } = setUp();
    a.link.send(ipv4ToNumber(b.host.ip), requestLock(a, b, 4));
    const start = lab.now;
    let copies = 0;
    exchange(() => ++copies > 0);
    while (a.got.failed.length === 0 && nextTimer()) exchange(() => ++copies > 0);
    assert.deepEqual(a.got.failed, ['requestLock:retries_exhausted']);
    assert.equal(copies, RETRY.attempts);
    assert.equal(lab.now - start, 20 + 40 + 80 + 100);
    assert.equal(b.got.message.length, 0);
  });

  it('a malformed datagram from the wire to the control port is counted as rejected and the link carries on', () => {
    const { lab, a, b, exchange } = setUp();
    const garbage = Buffer.from('4459534301ff0000000000000000000000', 'hex'); // our magic, an unknown type
    const frame = buildUdpFrame({
      eth: { srcMac: b.host.gatewayMac, dstMac: b.host.mac },
      ip: { src: a.host.ip, dst: b.host.ip },
      udp: { srcPort: CONTROL_PORT, dstPort: CONTROL_PORT, payload: garbage },
    });
    assert.equal(b.host.agent.fromWire([frame], lab.now)[0]!.verdict, 'consumed');
    exchange();
    assert.equal(b.channel.counterSnapshot().rejected.unknown.unknown_type, 1);
    assert.equal(b.got.message.length, 0);
    const message = requestLock(a, b, 5);
    a.link.send(ipv4ToNumber(b.host.ip), message);
    exchange();
    assert.deepEqual(b.got.message, [message]);
  });

  it('a transmit the pipeline refuses is counted and retried like a loss', () => {
    const lab = new DyscoLab();
    const host = lab.addHost('mute', 1, 'endpoint', { controlPort: CONTROL_PORT });
    const port = new PipelinePort(host, lab);
    const channel = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const timers = new LabTimers(lab);
    const link = new DatapathLink(port, channel, { controlPort: CONTROL_PORT, now: () => lab.now, timers, coalesce: 'none' });
    link.start();
    const peer = ipv4ToNumber('10.0.2.2');
    link.send(peer, { type: 'rightRequest', session: { srcIp: peer, dstIp: peer, srcPort: 1, dstPort: 2 }, subsession: { srcIp: peer, dstIp: peer, srcPort: 3, dstPort: 4 }, rightAnchor: peer });
    assert.equal(channel.counterSnapshot().frames.rightRequest.transmit_error, 1, 'HOST_MAC_UNKNOWN: the host has not spoken yet');
    lab.now = timers.next()!;
    timers.run();
    assert.equal(channel.counterSnapshot().frames.rightRequest.transmit_error, 2);
    assert.equal(channel.counterSnapshot().frames.rightRequest.retransmitted, 1);
    link.stop();
    assert.equal(timers.next(), undefined, 'stop drops the timer');
  });

  it('create() draws the epoch and the first number from the random source and counts through the link', () => {
    const lab = new DyscoLab();
    const host = lab.addHost('fresh', 1, 'endpoint', { controlPort: CONTROL_PORT });
    lab.send(host, buildUdpFrame({ eth: { srcMac: host.mac, dstMac: host.gatewayMac }, ip: { src: host.ip, dst: '10.0.9.9' }, udp: { srcPort: 1, dstPort: 2 } }));
    const draws = [0xdeadbeef, 0xfffffffe];
    const link = DatapathLink.create(new PipelinePort(host, lab), {
      controlPort: CONTROL_PORT,
      now: () => lab.now,
      timers: new LabTimers(lab),
      coalesce: 'none',
      retry: RETRY,
      randomUint32: () => draws.shift()!,
    });
    link.start();
    const peer = ipv4ToNumber('10.0.2.2');
    link.send(peer, { type: 'rightRequest', session: { srcIp: peer, dstIp: peer, srcPort: 1, dstPort: 2 }, subsession: { srcIp: peer, dstIp: peer, srcPort: 3, dstPort: 4 }, rightAnchor: peer });
    lab.advance(0); // ARP for the gateway, then the datagram
    const sent = lab.wire.filter((r) => r.from === 'fresh' && r.frame.readUInt16BE(12) === 0x0800).map((r) => decodeFrame(parseFrame(r.frame).udp!.payload));
    const frames = sent.filter((r) => r.ok).map((r) => r.ok && [r.frame.epoch, r.frame.seq]);
    assert.deepEqual(frames, [[0xdeadbeef, 0xfffffffe]]);
    assert.equal(link.counterSnapshot().frames.rightRequest.sent, 1);
    assert.equal(link.pending(), 1);
    link.stop();
  });

  it('refuses to start without a control port', () => {
    const lab = new DyscoLab();
    const host = lab.addHost('x', 1, 'endpoint');
    assert.throws(
      () => new DatapathLink(new PipelinePort(host, lab), new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY }), { controlPort: 0, now: () => 0 }),
      /dysco\.controlPort/,
    );
  });
});
