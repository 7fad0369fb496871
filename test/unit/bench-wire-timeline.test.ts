// bench/wire-timeline.ts on synthetic captures: one reconfiguration's control frames and new-path segments, as the
// left anchor's link carries them, read back through a pcap file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { wireStepFigures, wireTimelines } from '../../bench/wire-timeline';
import { encodeFrame } from '../../src/control/codec';
import type { ReconfigMessage } from '../../src/reconfig/messages';
import { parsePcap, readPcapFile } from '../../src/testbed/capture';
import { buildTcpFrame, buildUdpFrame, ipv4ToNumber, TCP_ACK, TCP_SYN, tcpOptionArea } from '../support/packet-builder';
import { writePcap } from '../support/pcap';

const LEFT = ipv4ToNumber('10.77.1.2');
const RIGHT = ipv4ToNumber('10.77.4.2');
const SESSION = { srcIp: LEFT, dstIp: RIGHT, srcPort: 40000, dstPort: 7400 };
const SUBSESSION = { srcIp: LEFT, dstIp: RIGHT, srcPort: 40000, dstPort: 7400 };
const DELTA = { forward: 0, reverse: 0 };

function control(message: ReconfigMessage, outgoing: boolean): Buffer {
  const payload = encodeFrame({ kind: 'message', epoch: 1, seq: 1, message });
  const [src, dst] = outgoing ? [LEFT, RIGHT] : [RIGHT, LEFT];
  return buildUdpFrame({ ip: { src, dst }, udp: { srcPort: 7777, dstPort: 7777, payload } });
}

function pathOption(flags: number, nonce: number): Buffer {
  const option = Buffer.alloc(14);
  option[0] = 253;
  option[1] = 14;
  option.writeUInt16BE(0x4450, 2);
  option[4] = flags;
  option.writeUInt32BE(nonce, 6);
  return tcpOptionArea(option);
}

function segment(outgoing: boolean, flags: number, options?: Buffer): Buffer {
  const [src, dst, srcPort, dstPort] = outgoing ? [LEFT, RIGHT, 50000, 50001] : [RIGHT, LEFT, 50001, 50000];
  return buildTcpFrame({ ip: { src, dst }, tcp: { srcPort, dstPort, flags, ...(options && { options }) } });
}

/** One insert, the frames at the ms offsets given (the capture's clock starts at 1000 s). */
function insertCapture(nonce: number, startMs: number): { atMs: number; frame: Buffer }[] {
  const id = { leftAnchor: LEFT, nonce };
  const at = (ms: number, frame: Buffer) => ({ atMs: 1_000_000 + startMs + ms, frame });
  return [
    at(0, control({ type: 'requestLock', id, session: SESSION, subsession: SUBSESSION, rightAnchor: RIGHT, delta: DELTA }, true)),
    at(0.5, control({ type: 'requestLock', id, session: SESSION, subsession: SUBSESSION, rightAnchor: RIGHT, delta: DELTA }, true)), // a retransmission
    at(2, control({ type: 'ackLock', id, session: SESSION, subsession: SUBSESSION, rightAnchor: RIGHT, delta: DELTA }, false)),
    at(3, segment(true, TCP_SYN)),
    at(3.3, segment(false, TCP_SYN | TCP_ACK)),
    at(3.4, segment(true, TCP_ACK, pathOption(0, nonce))),
    at(3.8, segment(false, TCP_ACK, pathOption(0, nonce))),
    at(4.0, segment(true, TCP_ACK, pathOption(8, nonce))),
    at(4.5, segment(false, TCP_ACK, pathOption(8 | 1, nonce))),
    at(5.5, segment(true, TCP_ACK, pathOption(8 | 1 | 4, nonce))),
    at(6, control({ type: 'teardown', id, session: SESSION, subsession: SUBSESSION }, true)),
  ];
}

describe('wire timeline', () => {
  test('times every step of an insert from the first requestLock, each at its first sighting', () => {
    const timelines = wireTimelines(insertCapture(9, 0), LEFT);
    assert.equal(timelines.length, 1);
    assert.equal(timelines[0]!.nonce, 9);
    const at = timelines[0]!.at;
    assert.deepEqual(
      Object.fromEntries(Object.entries(at).map(([k, v]) => [k, Math.round(v! * 1000) / 1000])),
      { ackLock: 2, syn: 3, synAck: 3.3, farHeard: 3.8, ownSwitched: 4, farSwitched: 4.5, ownFolded: 5.5, teardown: 6 },
    );
  });

  test('a step waits for the latest of what it needs; path options are told apart by nonce', () => {
    const frames = [...insertCapture(1, 0), ...insertCapture(2, 100)];
    const figures = wireStepFigures(wireTimelines(frames, LEFT));
    const byStep = Object.fromEntries(figures.map((f) => [f.step, f]));
    assert.equal(byStep.ackLock!.after, 'requestLock');
    assert.equal(byStep.ownFolded!.after, 'ownSwitched + farSwitched');
    assert.equal(byStep.ownFolded!.count, 2);
    assert.equal(byStep.ownFolded!.p50_ms, 1, 'folded 1 ms after the later of the two switches');
    assert.equal(byStep.syn!.p50_ms, 1);
    assert.equal(byStep.teardown!.since_lock_p50_ms, 6);
  });

  test('frames of other hosts and non-Dysco datagrams are ignored; a pcap file round-trips with its timestamps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dysco-wire-'));
    try {
      const stray = buildUdpFrame({ ip: { src: RIGHT, dst: LEFT }, udp: { srcPort: 53, dstPort: 53, payload: Buffer.from('not dysco') } });
      const file = join(dir, 'link.pcap');
      writePcap(file, [stray, ...insertCapture(5, 0).map((f) => f.frame)]);
      const frames = readPcapFile(file);
      assert.equal(frames.length, 12);
      assert.ok(frames.every((f, i) => i === 0 || f.atMs >= frames[i - 1]!.atMs), 'timestamps in order');
      assert.equal(wireTimelines(frames, LEFT).length, 1);
      assert.equal(wireTimelines(frames, RIGHT).length, 0, 'the other host started none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => parsePcap(Buffer.alloc(10)), /too short/);
    assert.throws(() => parsePcap(Buffer.alloc(24)), /unsupported pcap magic/);
  });
});
