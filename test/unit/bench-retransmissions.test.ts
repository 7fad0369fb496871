// bench/retransmissions.ts on synthetic captures: a segment sent again on an old and on a new path, and the
// receiver's D-SACK that shows the new-path copy was spurious.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyRetransmissions } from '../../bench/retransmissions';
import { buildTcpFrame, ipv4ToNumber, TCP_ACK, TCP_SYN, tcpOptionArea } from '../support/packet-builder';

const CLIENT = ipv4ToNumber('10.77.1.2');
const PEER = ipv4ToNumber('10.77.2.2');

const data = (port: number, seq: number, length: number) =>
  buildTcpFrame({ ip: { src: CLIENT, dst: PEER }, tcp: { srcPort: port, dstPort: port, seq, ack: 1, flags: TCP_ACK, payload: Buffer.alloc(length) } });
const syn = (port: number, seq: number) =>
  buildTcpFrame({ ip: { src: CLIENT, dst: PEER }, tcp: { srcPort: port, dstPort: port, seq, flags: TCP_SYN, payload: Buffer.alloc(32) } });
function ackWithSack(port: number, ack: number, left: number, right: number): Buffer {
  const sack = Buffer.alloc(10);
  sack[0] = 5;
  sack[1] = 10;
  sack.writeUInt32BE(left, 2);
  sack.writeUInt32BE(right, 6);
  return buildTcpFrame({ ip: { src: PEER, dst: CLIENT }, tcp: { srcPort: port, dstPort: port, seq: 1, ack, flags: TCP_ACK, options: tcpOptionArea(Buffer.from([1, 1]), sack) } });
}

describe('retransmissions on the client\'s link (bench/retransmissions.ts)', () => {
  test('by path, the first sighting of a subsession against the move; spurious by D-SACK', () => {
    const frames = [
      { atMs: 10, frame: data(4000, 1000, 100) }, // an old path
      { atMs: 20, frame: data(4000, 1100, 100) },
      { atMs: 150, frame: syn(5000, 7) }, // a new path after the move at 100: its SYN's payload is no data
      { atMs: 151, frame: data(5000, 8, 100) },
      { atMs: 160, frame: data(4000, 1000, 100) }, // sent again on the old path
      { atMs: 170, frame: data(5000, 8, 100) }, // and on the new one
      { atMs: 180, frame: ackWithSack(5000, 108, 8, 108) }, // the receiver had it: a D-SACK
      { atMs: 181, frame: ackWithSack(4000, 1300, 1400, 1500) }, // an ordinary SACK above the ACK is no D-SACK
    ];
    assert.deepEqual(classifyRetransmissions(frames, CLIENT, 100), { oldPath: 1, newPath: 1, spurious: 1 });
  });

  test('nothing sent again: zeros', () => {
    assert.deepEqual(classifyRetransmissions([{ atMs: 1, frame: data(4000, 1, 10) }, { atMs: 2, frame: data(4000, 11, 10) }], CLIENT, 0), { oldPath: 0, newPath: 0, spurious: 0 });
  });
});
