// Reliable hop-by-hop delivery of reconfiguration messages between neighbouring agents, as a pure state machine:
// every call takes `now` and returns what to transmit, what was delivered, acknowledged or given up;
// nextDeadline() says when tick() must run next. The adapter (datapath-link.ts) binds it to a datapath.
//
// Each message to a peer gets the next number of that peer's sequence, within this channel's epoch (a number the
// owner picks at random, so a restarted agent is not taken for a duplicate of its former self). The receiver acks
// every copy and delivers the first, in arrival order. The sender retransmits with back-off until acked and gives
// up after the policy's attempts; the unacked messages to a peer span at most DUPLICATE_WINDOW numbers, the rest queue.
import type { ReconfigMessage } from '../reconfig/messages';
import { decodeDatagram, encodeFrame, messageProblem, type ControlFrame, type FrameAuth, type FrameTypeName } from './codec';
import { ControlCounters, type ControlCountersSnapshot, type DeliveryFailureReason } from './counters';
import { DUPLICATE_WINDOW, DuplicateWindow } from './duplicate-window';
import { retransmitDelayMs, retryPolicyProblem, retrySpanMs, type RetryPolicy } from './retry-policy';
import { serialAdd, serialDistance } from './serial';

/** Peers whose receive state is kept at once; frames from one more are refused (too_many_peers). */
export const MAX_PEERS = 1024;
/** Messages per peer waiting for room in the window; one more fails at once (queue_full). */
export const MAX_QUEUED_PER_PEER = 1024;
/** Earlier epochs of a peer remembered, so that their late copies are refused rather than delivered again. */
const RETIRED_EPOCHS_KEPT = 4;

export interface ChannelOptions {
  /** This channel's incarnation, random per agent start (32-bit). */
  epoch: number;
  /** The first sequence number towards every peer (32-bit); random in production, chosen by tests. */
  initialSeq: number;
  retry: RetryPolicy;
  /** Seals what is sent and opens what arrives (src/security/frame-auth.ts); absent: frames go unsealed. */
  auth?: FrameAuth;
  /** Datagrams taken from one peer per second, and at once; more are refused (rate_limited) before any is read. */
  rateLimit?: { perSecond: number; burst: number };
}

/** A peer's allowance of datagrams (a token bucket). */
interface Allowance {
  tokens: number;
  at: number;
}

export interface Transmission {
  peer: number;
  /** UDP destination port; undefined means the agents' control port. Acks go back to the port the data came from. */
  port: number | undefined;
  type: FrameTypeName;
  bytes: Buffer;
}

export interface Delivery {
  peer: number;
  message: ReconfigMessage;
}

export interface Acknowledgement extends Delivery {
  /** From the first transmission to its ack; absent when the message was retransmitted (Karn's rule). */
  roundTripMs?: number;
}

export interface DeliveryFailure extends Delivery {
  reason: DeliveryFailureReason;
}

export interface ChannelOutput {
  transmit: Transmission[];
  /** Messages from peers, each delivered once. */
  deliver: Delivery[];
  /** Messages of ours that the peer acknowledged. */
  acked: Acknowledgement[];
  /** Messages of ours given up: the reconfiguration they belong to must cancel. */
  failed: DeliveryFailure[];
}

export type SendResult = ({ ok: true } | { ok: false; error: string }) & ChannelOutput;

interface Outstanding {
  seq: number;
  message: ReconfigMessage;
  bytes: Buffer;
  transmissions: number;
  firstSentAt: number;
  deadline: number;
}

interface PeerSender {
  nextSeq: number;
  inFlight: Map<number, Outstanding>;
  queue: ReconfigMessage[];
}

interface PeerReceiver {
  epoch: number;
  window: DuplicateWindow;
  retiredEpochs: number[];
  lastHeard: number;
}

const emptyOutput = (): ChannelOutput => ({ transmit: [], deliver: [], acked: [], failed: [] });

/**
 * Whether the next number may go out: every unacked message must stay within the receiver's duplicate window of
 * the newest, or its retransmission would be refused as stale. Acks out of order free a slot but not the window:
 * an old message still unacked holds the span (in-flight entries are kept in the order they were sent).
 */
function hasRoom(sender: PeerSender): boolean {
  const oldest = sender.inFlight.keys().next();
  return oldest.done === true || serialDistance(oldest.value, sender.nextSeq) < DUPLICATE_WINDOW;
}

const isPeerAddress = (peer: number) => Number.isInteger(peer) && peer > 0 && peer <= 0xffffffff;

export class ControlChannel {
  private readonly senders = new Map<number, PeerSender>();
  private readonly receivers = new Map<number, PeerReceiver>();
  private readonly counters = new ControlCounters();
  private readonly epoch: number;
  private readonly initialSeq: number;
  private readonly retry: RetryPolicy;
  /** A peer's receive state outlives any retransmission of its messages (same policy on every agent). */
  private readonly receiverIdleMs: number;
  private auth: FrameAuth | undefined;
  private readonly rateLimit: { perSecond: number; burst: number } | undefined;
  private readonly allowances = new Map<number, Allowance>();

  constructor(options: ChannelOptions) {
    const problem = retryPolicyProblem(options.retry);
    if (problem) throw new RangeError(`control channel retry policy: ${problem}`);
    for (const key of ['epoch', 'initialSeq'] as const) {
      const value = options[key];
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`control channel ${key} must be a 32-bit unsigned integer`);
    }
    this.epoch = options.epoch;
    this.initialSeq = options.initialSeq;
    this.retry = { ...options.retry };
    this.auth = options.auth;
    this.rateLimit = options.rateLimit;
    if (this.rateLimit && !(this.rateLimit.perSecond > 0 && this.rateLimit.burst >= 1)) throw new RangeError('control channel rate limit: perSecond > 0 and burst >= 1');
    // With sealed frames, a copy replayed within the freshness window must still meet the peer's window here.
    this.receiverIdleMs = Math.max(2 * retrySpanMs(this.retry), this.auth ? 2000 * this.auth.maxSkewSeconds : 0);
  }

  /** Queues `message` for `peer` (a host-order IPv4 number) and transmits it if the window has room. */
  send(peer: number, message: ReconfigMessage, now: number): SendResult {
    if (!isPeerAddress(peer)) return { ok: false, error: 'peer must be a non-zero IPv4 address number', ...emptyOutput() };
    const problem = messageProblem(message);
    if (problem) return { ok: false, error: `cannot send ${String(message?.type)}: ${problem}`, ...emptyOutput() };
    const out = emptyOutput();
    const sender = this.sender(peer);
    if (hasRoom(sender)) {
      this.transmitNew(peer, sender, message, now, out);
    } else if (sender.queue.length < MAX_QUEUED_PER_PEER) {
      sender.queue.push(message);
    } else {
      this.counters.fail(message.type, 'queue_full');
      out.failed.push({ peer, message, reason: 'queue_full' });
    }
    return { ok: true, ...out };
  }

  /** A datagram from `from` (its address and UDP source port), of one or more frames. Anything but a valid, expected
   * frame is counted and ignored. */
  receive(from: { ip: number; port: number }, bytes: Buffer, now: number): ChannelOutput {
    const out = emptyOutput();
    if (!this.allowed(from.ip, now)) {
      this.counters.reject('unknown', 'rate_limited');
      return out;
    }
    for (const decoded of decodeDatagram(bytes, this.auth && { from: from.ip, auth: this.auth })) {
      if (!decoded.ok) this.counters.reject(decoded.type ?? 'unknown', decoded.reason);
      else this.receiveFrame(from, decoded.frame, now, out);
    }
    return out;
  }

  private receiveFrame(from: { ip: number; port: number }, frame: ControlFrame, now: number, out: ChannelOutput): void {
    if (frame.kind === 'ack') {
      this.settleAck(from.ip, frame.epoch, frame.seq, now, out);
      return;
    }
    const type = frame.message.type;
    const receiver = this.receiverFor(from.ip, frame.epoch, now);
    if (typeof receiver === 'string') {
      this.counters.reject(type, receiver);
      return;
    }
    receiver.lastHeard = now;
    const verdict = receiver.window.accept(frame.seq);
    if (verdict === 'stale') {
      this.counters.reject(type, 'stale_seq');
      return;
    }
    out.transmit.push({ peer: from.ip, port: from.port, type: 'ack', bytes: this.sealed(encodeFrame({ kind: 'ack', epoch: frame.epoch, seq: frame.seq }), from.ip) });
    this.counters.count('ack', 'sent');
    if (verdict === 'duplicate') {
      this.counters.count(type, 'duplicate');
    } else {
      this.counters.count(type, 'received');
      out.deliver.push({ peer: from.ip, message: frame.message });
    }
  }

  /** Retransmits what is due, gives up what has had its attempts, forgets peers long silent. */
  tick(now: number): ChannelOutput {
    const out = emptyOutput();
    for (const [peer, sender] of this.senders) {
      let freed = false;
      for (const entry of sender.inFlight.values()) {
        if (entry.deadline > now) continue;
        if (entry.transmissions >= this.retry.attempts) {
          sender.inFlight.delete(entry.seq);
          this.counters.fail(entry.message.type, 'retries_exhausted');
          out.failed.push({ peer, message: entry.message, reason: 'retries_exhausted' });
          freed = true;
          continue;
        }
        entry.transmissions += 1;
        entry.deadline = now + retransmitDelayMs(this.retry, entry.transmissions);
        this.counters.count(entry.message.type, 'retransmitted');
        out.transmit.push({ peer, port: undefined, type: entry.message.type, bytes: entry.bytes });
      }
      // A peer's sender state is kept for good: its numbering must go on, or the peer would take new messages
      // for duplicates. It is one entry per neighbour this agent ever sent to.
      if (freed) this.promote(peer, sender, now, out);
    }
    this.forgetSilentPeers(now);
    return out;
  }

  /** The earliest time tick() has something to do, or undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next = Infinity;
    for (const sender of this.senders.values()) {
      for (const entry of sender.inFlight.values()) next = Math.min(next, entry.deadline);
    }
    for (const receiver of this.receivers.values()) next = Math.min(next, receiver.lastHeard + this.receiverIdleMs);
    return next === Infinity ? undefined : next;
  }

  /** How long after its first transmission a message is sent again: no deadline comes sooner after a call. */
  get firstRetransmitMs(): number {
    return retransmitDelayMs(this.retry, 1);
  }

  /** Messages of ours not yet acknowledged (in flight or queued), over all peers. */
  pending(): number {
    let count = 0;
    for (const sender of this.senders.values()) count += sender.inFlight.size + sender.queue.length;
    return count;
  }

  counterSnapshot(): ControlCountersSnapshot {
    return this.counters.snapshot();
  }

  /** Counts a transmission the datapath refused (it is retransmitted on schedule, like a lost datagram). */
  countTransmitError(type: FrameTypeName): void {
    this.counters.count(type, 'transmit_error');
  }

  private sender(peer: number): PeerSender {
    let sender = this.senders.get(peer);
    if (!sender) {
      sender = { nextSeq: this.initialSeq, inFlight: new Map(), queue: [] };
      this.senders.set(peer, sender);
    }
    return sender;
  }

  private transmitNew(peer: number, sender: PeerSender, message: ReconfigMessage, now: number, out: ChannelOutput): void {
    const seq = sender.nextSeq;
    sender.nextSeq = serialAdd(seq, 1);
    const bytes = this.sealed(encodeFrame({ kind: 'message', epoch: this.epoch, seq, message }), peer);
    sender.inFlight.set(seq, { seq, message, bytes, transmissions: 1, firstSentAt: now, deadline: now + retransmitDelayMs(this.retry, 1) });
    this.counters.count(message.type, 'sent');
    out.transmit.push({ peer, port: undefined, type: message.type, bytes });
  }

  private promote(peer: number, sender: PeerSender, now: number, out: ChannelOutput): void {
    while (hasRoom(sender) && sender.queue.length > 0) {
      this.transmitNew(peer, sender, sender.queue.shift()!, now, out);
    }
  }

  private settleAck(peer: number, epoch: number, seq: number, now: number, out: ChannelOutput): void {
    if (epoch !== this.epoch) {
      this.counters.reject('ack', 'stale_epoch');
      return;
    }
    const sender = this.senders.get(peer);
    const entry = sender?.inFlight.get(seq);
    if (!sender || !entry) {
      this.counters.reject('ack', 'unexpected_ack');
      return;
    }
    sender.inFlight.delete(seq);
    this.counters.count('ack', 'received');
    out.acked.push({ peer, message: entry.message, ...(entry.transmissions === 1 && { roundTripMs: now - entry.firstSentAt }) });
    this.promote(peer, sender, now, out);
  }

  /** The receive state for this peer and epoch, or why the frame is refused. */
  private receiverFor(peer: number, epoch: number, now: number): PeerReceiver | 'stale_epoch' | 'too_many_peers' {
    const known = this.receivers.get(peer);
    if (known && known.epoch === epoch) return known;
    if (known) {
      if (known.retiredEpochs.includes(epoch)) return 'stale_epoch';
      // The peer restarted: a new numbering, and the old one's late copies are refused from now on.
      known.retiredEpochs = [known.epoch, ...known.retiredEpochs].slice(0, RETIRED_EPOCHS_KEPT);
      known.epoch = epoch;
      known.window = new DuplicateWindow();
      return known;
    }
    if (this.receivers.size >= MAX_PEERS) {
      this.forgetSilentPeers(now);
      if (this.receivers.size >= MAX_PEERS) return 'too_many_peers';
    }
    const receiver: PeerReceiver = { epoch, window: new DuplicateWindow(), retiredEpochs: [], lastHeard: now };
    this.receivers.set(peer, receiver);
    return receiver;
  }

  private forgetSilentPeers(now: number): void {
    for (const [peer, receiver] of this.receivers) {
      if (now - receiver.lastHeard >= this.receiverIdleMs) this.receivers.delete(peer);
    }
    // A full allowance is the same as none.
    if (this.rateLimit) {
      const fullAfterMs = (1000 * this.rateLimit.burst) / this.rateLimit.perSecond;
      for (const [peer, allowance] of this.allowances) if (now - allowance.at >= fullAfterMs) this.allowances.delete(peer);
    }
  }

  /** Whether `peer` may have one more datagram read now (a token bucket per peer). */
  private allowed(peer: number, now: number): boolean {
    if (!this.rateLimit) return true;
    const { perSecond, burst } = this.rateLimit;
    let allowance = this.allowances.get(peer);
    if (!allowance) {
      if (this.allowances.size >= 4 * MAX_PEERS) this.forgetSilentPeers(now);
      if (this.allowances.size >= 4 * MAX_PEERS) return false;
      allowance = { tokens: burst, at: now };
      this.allowances.set(peer, allowance);
    }
    allowance.tokens = Math.min(burst, allowance.tokens + ((now - allowance.at) * perSecond) / 1000);
    allowance.at = now;
    if (allowance.tokens < 1) return false;
    allowance.tokens -= 1;
    return true;
  }

  private sealed(frame: Buffer, to: number): Buffer {
    return this.auth ? this.auth.seal(frame, to) : frame;
  }

  /** A rotated key ring takes effect for what is sent from now on (retransmissions keep their seal). */
  setAuth(auth: FrameAuth | undefined): void {
    this.auth = auth;
  }
}
