// bench/control-trace.ts on a synthetic capture of the router's links: a requestLock from the client reaches the
// middlebox, which acks it and forwards it to the server; the gaps are the network's, the ack's and the handling's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { controlTrace, threadTimes } from '../../bench/control-trace';
import { encodeFrame, type ControlFrame } from '../../src/control/codec';
import type { ReconfigMessage } from '../../src/reconfig/messages';
import { buildUdpFrame, ipv4ToNumber } from '../support/packet-builder';

const CLIENT = ipv4ToNumber('10.77.1.2');
const MB = ipv4ToNumber('10.77.2.2');
const SERVER = ipv4ToNumber('10.77.3.2');
const PORT = 7777;
const T = { srcIp: CLIENT, dstIp: SERVER, srcPort: 40000, dstPort: 7400 };
const lock = (srcPort: number): ReconfigMessage => ({
  type: 'requestLock',
  id: { leftAnchor: CLIENT, nonce: 9 },
  session: T,
  subsession: { ...T, srcPort },
  rightAnchor: SERVER,
  delta: { forward: 0, reverse: 0 },
});

function datagram(src: number, dst: number, ipId: number, frame: ControlFrame): Buffer {
  return buildUdpFrame({ ip: { src, dst, id: ipId }, udp: { srcPort: PORT, dstPort: PORT, payload: encodeFrame(frame) } });
}

describe('control trace (bench/control-trace.ts)', () => {
  test('transit through the router, an agent\'s ack, and its handling of a run\'s message', () => {
    const toMb = datagram(CLIENT, MB, 1, { kind: 'message', epoch: 5, seq: 100, message: lock(40000) });
    const ack = datagram(MB, CLIENT, 2, { kind: 'ack', epoch: 5, seq: 100 });
    const onward = datagram(MB, SERVER, 3, { kind: 'message', epoch: 6, seq: 7, message: lock(41000) });
    const figures = controlTrace(
      [
        // The client's link: its datagram arrives (in), the ack leaves towards it (out).
        { host: 'client', address: CLIENT, frames: [{ atMs: 1000, frame: toMb }, { atMs: 1004.5, frame: ack }] },
        // The middlebox's link: the datagram leaves towards it, then its ack and its forward arrive.
        { host: 'mb', address: MB, frames: [{ atMs: 1001, frame: toMb }, { atMs: 1004, frame: ack }, { atMs: 1006, frame: onward }] },
        { host: 'server', address: SERVER, frames: [{ atMs: 1006.25, frame: onward }] },
      ],
      PORT,
    );
    const by = new Map(figures.map((f) => [f.what, f]));
    assert.equal(by.get('transit client→mb')?.p50_ms, 1);
    assert.equal(by.get('transit mb→client')?.p50_ms, 0.5);
    assert.equal(by.get('transit mb→server')?.p50_ms, 0.25);
    assert.equal(by.get('ack mb')?.p50_ms, 3);
    assert.deepEqual(by.get('mb: requestLock → requestLock'), { what: 'mb: requestLock → requestLock', count: 1, p50_ms: 5, p99_ms: 5, max_ms: 5 });
    assert.equal(by.get('ack server'), undefined, 'the server never acked');
  });

  test('other UDP and other frames are left out', () => {
    const dns = buildUdpFrame({ ip: { src: CLIENT, dst: MB }, udp: { srcPort: 5353, dstPort: 53, payload: Buffer.from('x') } });
    assert.deepEqual(controlTrace([{ host: 'client', address: CLIENT, frames: [{ atMs: 1, frame: dns }, { atMs: 2, frame: Buffer.alloc(10) }] }], PORT), []);
  });

  test('thread times of this process: its main thread ran, a pid that is gone has none', () => {
    const times = threadTimes(process.pid);
    assert.ok((times.get('main')?.runMs ?? 0) > 0);
    assert.equal(threadTimes(0x7ffffff0).size, 0);
  });
});
