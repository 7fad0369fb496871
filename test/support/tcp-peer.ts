// One end of a TCP connection in a DyscoLab, modelled just far enough to check what its agent
// delivers: it sends a deterministic byte stream, acknowledges what it received in order, and checks
// every segment it is given: checksums, the bytes against the other end's stream, no acknowledgement of
// data it never sent. Segments past a hole wait for it, as in a receiver's out-of-order queue.
import assert from 'node:assert/strict';
import type { DyscoLab, LabHost } from './dysco-lab';
import {
  buildTcpFrame,
  carriedChecksums,
  expectedChecksums,
  ipv4ToNumber,
  parseFrame,
  TCP_ACK,
  TCP_FIN,
  TCP_OPT_SACK,
  TCP_OPT_TIMESTAMPS,
  TCP_PSH,
  TCP_RST,
  tcpOption,
  tcpOptionArea,
} from './packet-builder';

/** Byte `offset` of stream `stream`. */
export function streamByte(stream: number, offset: number): number {
  return (offset * 7 + stream * 13 + (offset >>> 8)) & 0xff;
}

export function streamBytes(stream: number, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = streamByte(stream, offset + i);
  return out;
}

export interface PeerSpec {
  lab: DyscoLab;
  host: LabHost;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** This end's ISN and the other end's (the handshake is done by the test). */
  isn: number;
  peerIsn: number;
  stream: number;
  peerStream: number;
  /** The window this end advertises, as it sits in the header. */
  window?: number;
}

export interface ReceivedSegment {
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
  window: number;
  tsVal?: number;
  tsEcr?: number;
  sack: Array<[number, number]>;
}

const u32 = (n: number) => n >>> 0;
const before = (a: number, b: number) => ((a - b) | 0) < 0;

function readOptions(options: Buffer): { tsVal?: number; tsEcr?: number; sack: Array<[number, number]> } {
  const out: { tsVal?: number; tsEcr?: number; sack: Array<[number, number]> } = { sack: [] };
  for (let i = 0; i < options.length; ) {
    const kind = options[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const length = options[i + 1]!;
    if (kind === TCP_OPT_TIMESTAMPS) {
      out.tsVal = options.readUInt32BE(i + 2);
      out.tsEcr = options.readUInt32BE(i + 6);
    } else if (kind === TCP_OPT_SACK) {
      for (let at = i + 2; at + 8 <= i + length; at += 8) out.sack.push([options.readUInt32BE(at), options.readUInt32BE(at + 4)]);
    }
    i += Math.max(2, length);
  }
  return out;
}

export class TcpPeer {
  sndNxt: number;
  sndUna: number;
  rcvNxt: number;
  /** Bytes of the other end's stream received in order. */
  received = 0;
  duplicates = 0;
  finReceived = false;
  rstReceived = false;
  readonly segments: ReceivedSegment[] = [];
  /** Segments above a hole: start → end. */
  private readonly outOfOrder = new Map<number, number>();
  private read = 0;
  private clock = 100_000;

  constructor(readonly spec: PeerSpec) {
    this.sndNxt = u32(spec.isn + 1);
    this.sndUna = this.sndNxt;
    this.rcvNxt = u32(spec.peerIsn + 1);
  }

  /** Sends `length` more bytes of this end's stream (or bytes from `seq`, a retransmission). */
  send(length: number, options: { seq?: number; flags?: number; sack?: Array<[number, number]> } = {}): void {
    const seq = options.seq ?? this.sndNxt;
    const offset = u32(seq - this.spec.isn - 1);
    this.emit(seq, (options.flags ?? 0) | TCP_ACK | (length > 0 ? TCP_PSH : 0), streamBytes(this.spec.stream, offset, length), options.sack);
    const end = u32(seq + length);
    if (before(this.sndNxt, end)) this.sndNxt = end;
  }

  pureAck(sack?: Array<[number, number]>): void {
    this.emit(this.sndNxt, TCP_ACK, Buffer.alloc(0), sack);
  }

  fin(): void {
    this.emit(this.sndNxt, TCP_ACK | TCP_FIN, Buffer.alloc(0));
    this.sndNxt = u32(this.sndNxt + 1);
  }

  rst(): void {
    this.emit(this.sndNxt, TCP_RST | TCP_ACK, Buffer.alloc(0));
  }

  private emit(seq: number, flags: number, payload: Buffer, sack?: Array<[number, number]>): void {
    const { lab, host } = this.spec;
    this.clock += 1;
    const parts = [tcpOption.nop(), tcpOption.nop(), tcpOption.timestamps(this.clock, 0)];
    if (sack && sack.length > 0) {
      const option = Buffer.alloc(2 + 8 * sack.length);
      option[0] = TCP_OPT_SACK;
      option[1] = option.length;
      sack.forEach(([l, r], i) => {
        option.writeUInt32BE(u32(l), 2 + 8 * i);
        option.writeUInt32BE(u32(r), 6 + 8 * i);
      });
      parts.push(tcpOption.nop(), tcpOption.nop(), option);
    }
    const frame = buildTcpFrame({
      eth: { srcMac: host.mac, dstMac: host.gatewayMac },
      ip: { src: this.spec.localIp, dst: this.spec.remoteIp, id: 1, ttl: 64 },
      tcp: {
        srcPort: this.spec.localPort,
        dstPort: this.spec.remotePort,
        seq: u32(seq),
        ack: this.rcvNxt,
        flags,
        window: this.spec.window ?? 501,
        options: tcpOptionArea(...parts),
        payload,
      },
    });
    lab.send(host, frame);
  }

  private ownSegment(src: number, dst: number, srcPort: number, dstPort: number): boolean {
    const { localIp, localPort, remoteIp, remotePort } = this.spec;
    return src === ipv4ToNumber(remoteIp) && dst === ipv4ToNumber(localIp) && srcPort === remotePort && dstPort === localPort;
  }

  /** Checks every segment of this connection the agent delivered to this host since the last call; returns them. */
  take(): ReceivedSegment[] {
    const { host } = this.spec;
    const out: ReceivedSegment[] = [];
    for (; this.read < host.delivered.length; this.read++) {
      const frame = host.delivered[this.read]!;
      assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame), `checksums of a segment delivered to ${host.name}`);
      const p = parseFrame(frame);
      const tcp = p.tcp!;
      // A host's stack takes only its own connection's segments (a RST on a subsession tuple is not one of them).
      if (!this.ownSegment(p.ip.src, p.ip.dst, tcp.srcPort, tcp.dstPort)) continue;
      const segment: ReceivedSegment = { seq: tcp.seq, ack: tcp.ack, flags: tcp.flags, payload: tcp.payload, window: tcp.window, ...readOptions(tcp.options) };
      out.push(segment);
      this.segments.push(segment);
      if (tcp.flags & TCP_RST) {
        this.rstReceived = true;
        continue;
      }
      if (tcp.flags & TCP_ACK) {
        assert.ok(!before(this.sndNxt, tcp.ack), `${host.name} got an ACK (${tcp.ack}) for data it never sent (next ${this.sndNxt})`);
        if (before(this.sndUna, tcp.ack)) this.sndUna = tcp.ack;
      }
      const length = tcp.payload.length;
      if (length > 0) {
        const offset = u32(tcp.seq - this.spec.peerIsn - 1);
        assert.deepEqual(tcp.payload, streamBytes(this.spec.peerStream, offset, length), `${host.name}: the bytes at stream offset ${offset}`);
        const end = u32(tcp.seq + length);
        if (!before(this.rcvNxt, end)) {
          this.duplicates += length;
        } else if (before(this.rcvNxt, tcp.seq)) {
          // After a loss: kept, as a receiver's out-of-order queue keeps it, until the hole is filled.
          this.outOfOrder.set(tcp.seq, end);
        } else {
          this.received += u32(end - this.rcvNxt);
          this.rcvNxt = end;
          for (let moved = true; moved; ) {
            moved = false;
            for (const [start, stop] of this.outOfOrder) {
              if (before(this.rcvNxt, start)) continue;
              this.outOfOrder.delete(start);
              if (before(this.rcvNxt, stop)) {
                this.received += u32(stop - this.rcvNxt);
                this.rcvNxt = stop;
              }
              moved = true;
            }
          }
        }
      }
      if (tcp.flags & TCP_FIN && u32(tcp.seq + length) === this.rcvNxt) {
        this.rcvNxt = u32(this.rcvNxt + 1);
        this.finReceived = true;
      }
    }
    return out;
  }
}
