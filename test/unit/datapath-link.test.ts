// DatapathLink's datagrams: what the channel has for one peer in one turn of the event loop goes out together,
// in as few datagrams as CONTROL_PAYLOAD_MAX allows; the peer's channel takes every frame of them.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { ControlChannel } from '../../src/control/channel';
import { DatapathLink, type ControlPort } from '../../src/control/datapath-link';
import { CONTROL_PAYLOAD_MAX, type TransmitSpec } from '../../src/native/events';
import type { ReconfigMessage } from '../../src/reconfig/messages';

const A = 0x0a000001;
const B = 0x0a000002;
const RETRY = { initialMs: 20, factor: 2, maxMs: 100, attempts: 5 };
const teardown = (nonce: number): ReconfigMessage => ({ type: 'teardown', id: { leftAnchor: A, nonce }, session: { srcIp: A, dstIp: B, srcPort: 1, dstPort: 2 }, subsession: { srcIp: A, dstIp: B, srcPort: 3, dstPort: 4 } });

class RecordingPort implements ControlPort {
  readonly events = new EventEmitter();
  readonly sent: TransmitSpec[] = [];
  transmit(spec: TransmitSpec) {
    this.sent.push(spec);
    return { sent: true };
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('DatapathLink datagrams', () => {
  test('messages sent in one turn share datagrams of at most CONTROL_PAYLOAD_MAX bytes, in order; a full one leaves at once', async () => {
    const port = new RecordingPort();
    const link = new DatapathLink(port, new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY }), { controlPort: 7777, now: () => 0 });
    link.start();
    for (let n = 0; n < 60; n++) link.send(B, teardown(n));
    const frameBytes = 16 + 32;
    const perDatagram = Math.floor(CONTROL_PAYLOAD_MAX / frameBytes);
    assert.equal(port.sent.length, 1, 'a full datagram goes at once, the rest when the turn ends');
    await turn();
    assert.deepEqual(port.sent.map((s) => s.payload.length), [perDatagram * frameBytes, (60 - perDatagram) * frameBytes]);
    const receiver = new ControlChannel({ epoch: 2, initialSeq: 0, retry: RETRY });
    const delivered = port.sent.flatMap((s) => receiver.receive({ ip: A, port: 7777 }, s.payload, 0).deliver);
    assert.deepEqual(delivered.map((d) => (d.message.type === 'teardown' ? d.message.id.nonce : -1)), Array.from({ length: 60 }, (_, n) => n));
    link.stop();
  });

  test('coalesce none: every frame its own datagram at once', () => {
    const port = new RecordingPort();
    const link = new DatapathLink(port, new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY }), { controlPort: 7777, now: () => 0, coalesce: 'none' });
    link.start();
    link.send(B, teardown(1));
    link.send(B, teardown(2));
    assert.equal(port.sent.length, 2);
    link.stop();
  });
});
