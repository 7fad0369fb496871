// Binds a ControlChannel to a datapath: control_packet events in, Datapath.transmit() out, one timer for the
// channel's next deadline. The frames for one peer in one turn of the event loop go out together, as few datagrams
// as fit (a bulk migration's hundreds of messages and acks were a datagram, a request to the lcore and an event each). What the channel delivers, sees acknowledged or gives up comes out as events.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { CONTROL_PAYLOAD_MAX, type ControlPacketEvent, type TransmitSpec } from '../native/events';
import type { ReconfigMessage } from '../reconfig/messages';
import { ControlChannel, type Acknowledgement, type ChannelOutput, type Delivery, type DeliveryFailure, type SendResult } from './channel';
import type { FrameAuth } from './codec';
import type { ControlCountersSnapshot } from './counters';
import type { RetryPolicy } from './retry-policy';

/** What the link needs of a datapath; `Datapath` has it (its typed `events` and `transmit`). */
export interface ControlPort {
  readonly events: {
    on(type: 'control_packet', listener: (event: ControlPacketEvent) => void): unknown;
    off(type: 'control_packet', listener: (event: ControlPacketEvent) => void): unknown;
  };
  transmit(spec: TransmitSpec): Promise<{ sent: boolean }> | { sent: boolean };
}

export interface LinkTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const NODE_TIMERS: LinkTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LinkOptions {
  /** The agents' control port (dysco.controlPort): destination of messages, source of everything sent. */
  controlPort: number;
  /** Milliseconds, monotonic. */
  now: () => number;
  timers?: LinkTimers;
  /**
   * Where the frames for one peer wait to share a datagram: until the current turn of the event loop ends
   * (setImmediate, the default), or not at all (every frame its own datagram, sent at once).
   */
  coalesce?: 'turn' | 'none';
}

export interface CreateLinkOptions extends LinkOptions {
  /** dysco.controlRetry */
  retry: RetryPolicy;
  /** Sealed frames (security section); absent: unsealed. */
  auth?: FrameAuth;
  /** dysco.controlRateLimit */
  rateLimit?: { perSecond: number; burst: number };
  /** A random 32-bit unsigned integer per call (the epoch and the first sequence number); crypto by default. */
  randomUint32?: () => number;
}

export interface LinkEventMap {
  message: [Delivery];
  acked: [Acknowledgement];
  failed: [DeliveryFailure];
}

export class DatapathLink {
  readonly events = new EventEmitter<LinkEventMap>();
  private timer: unknown;
  private timerAt: number | undefined;
  /** By peer * 65536 + port. */
  private readonly outgoing = new Map<number, { peer: number; port: number; open: { frames: ChannelOutput['transmit']; bytes: number }[] }>();
  private turnScheduled = false;
  private attached = false;
  private readonly timers: LinkTimers;
  private readonly onPacket = (event: ControlPacketEvent) => this.apply(this.channel.receive({ ip: event.srcIp, port: event.srcPort }, event.payload, this.options.now()));

  constructor(
    private readonly port: ControlPort,
    private readonly channel: ControlChannel,
    private readonly options: LinkOptions,
  ) {
    if (!Number.isInteger(options.controlPort) || options.controlPort < 1 || options.controlPort > 65535) {
      throw new RangeError('the control channel needs a control port in 1..65535 (dysco.controlPort)');
    }
    this.timers = options.timers ?? NODE_TIMERS;
  }

  /** A link with a fresh channel: random epoch and first sequence number, the configured retry policy. */
  static create(port: ControlPort, options: CreateLinkOptions): DatapathLink {
    const random = options.randomUint32 ?? (() => randomInt(0, 2 ** 32 - 1));
    const channel = new ControlChannel({
      epoch: random(),
      initialSeq: random(),
      retry: options.retry,
      ...(options.auth && { auth: options.auth }),
      ...(options.rateLimit && { rateLimit: options.rateLimit }),
    });
    return new DatapathLink(port, channel, options);
  }

  /** The channel's counters (a ControlCounterSource for src/metrics/control-collector.ts). */
  counterSnapshot(): ControlCountersSnapshot {
    return this.channel.counterSnapshot();
  }

  /** Messages of ours not yet acknowledged. */
  pending(): number {
    return this.channel.pending();
  }

  start(): void {
    if (this.attached) return;
    this.attached = true;
    this.port.events.on('control_packet', this.onPacket);
    this.schedule();
  }

  /** Detaches from the datapath and drops the timer; unacked messages stay in the channel. */
  stop(): void {
    if (!this.attached) return;
    this.attached = false;
    this.port.events.off('control_packet', this.onPacket);
    this.cancelTimer();
    this.outgoing.clear();
  }

  send(peer: number, message: ReconfigMessage): SendResult {
    const result = this.channel.send(peer, message, this.options.now());
    this.apply(result);
    return result;
  }

  private apply(out: ChannelOutput): void {
    for (const t of out.transmit) this.queueFrame(t);
    if (this.options.coalesce === 'none') {
      this.flush();
    } else if (!this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(() => {
        this.turnScheduled = false;
        this.flush();
      });
    }
    for (const d of out.deliver) this.events.emit('message', d);
    for (const d of out.acked) this.events.emit('acked', d);
    for (const f of out.failed) this.events.emit('failed', f);
    // A timer due no later than any deadline this call can have added stays: it fires in time and sets the next
    // one. Asking the channel for its next deadline walks every message in flight, and a burst's hundreds of
    // calls each did.
    const tooLate = this.timerAt === undefined || this.timerAt > this.options.now() + this.channel.firstRetransmitMs;
    // …and once nothing of ours waits for an ack, the timer goes (or moves to the receivers' idle deadline).
    if (tooLate || (out.acked.length > 0 && this.channel.pending() === 0)) this.schedule();
  }

  private queueFrame(t: ChannelOutput['transmit'][number]): void {
    const port = t.port ?? this.options.controlPort;
    const key = t.peer * 65536 + port;
    let datagrams = this.outgoing.get(key);
    if (!datagrams) {
      datagrams = { peer: t.peer, port, open: [] };
      this.outgoing.set(key, datagrams);
    }
    const last = datagrams.open[datagrams.open.length - 1];
    if (last && last.bytes + t.bytes.length <= CONTROL_PAYLOAD_MAX) {
      last.frames.push(t);
      last.bytes += t.bytes.length;
      return;
    }
    // A full datagram goes at once: the frames of a long turn (a bulk migration's) need not wait for its end.
    if (last) this.transmitDatagram(datagrams.peer, datagrams.port, datagrams.open.pop()!);
    datagrams.open.push({ frames: [t], bytes: t.bytes.length });
  }

  /** Sends what waits, one datagram per peer and port as far as CONTROL_PAYLOAD_MAX allows. */
  private flush(): void {
    const outgoing = [...this.outgoing.values()];
    this.outgoing.clear();
    for (const { peer, port, open } of outgoing) for (const datagram of open) this.transmitDatagram(peer, port, datagram);
  }

  private transmitDatagram(peer: number, port: number, datagram: { frames: ChannelOutput['transmit']; bytes: number }): void {
    const payload = datagram.frames.length === 1 ? datagram.frames[0]!.bytes : Buffer.concat(datagram.frames.map((f) => f.bytes));
    const spec: TransmitSpec = { dstIp: peer, dstPort: port, srcPort: this.options.controlPort, payload };
    // A refused transmission is a lost datagram: the channel retransmits its frames on schedule.
    const refused = () => datagram.frames.forEach((f) => this.channel.countTransmitError(f.type));
    try {
      const pending = this.port.transmit(spec);
      if (pending instanceof Promise) pending.catch(refused);
    } catch {
      refused();
    }
  }

  private schedule(): void {
    if (!this.attached) return;
    const next = this.channel.nextDeadline();
    if (next === this.timerAt) return;
    this.cancelTimer();
    if (next === undefined) return;
    this.timerAt = next;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.apply(this.channel.tick(this.options.now()));
    }, Math.max(0, next - this.options.now()));
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }
}
