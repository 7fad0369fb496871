// Agents with a real ReconfigService, a real DatapathLink and ControlChannel between them, on in-process stand-ins
// for the datapath (unit tier only): each FakeDatapath carries control datagrams to the other agents' fake
// datapaths, dumps the sessions the test gives it, and plays the anchors' lcores for the new path as the datapath
// contract has them (the right anchor's lcore answers only a SYN it was told to expect, else a RST refuses it; each
// lcore switches to two paths by itself; both post old_path_drained once both switched, with the new path folded
// into their dumps). Timers and the clock are manual.
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { NewPathSpec, NewSubsession, ReconfigDatapath, ReconfigEventMap } from '../../src/agent/reconfig-datapath';
import { ReconfigService } from '../../src/agent/reconfig-service';
import { DatapathLink, type LinkTimers } from '../../src/control/datapath-link';
import type { RetryPolicy } from '../../src/control/retry-policy';
import { registerReconfigMetrics } from '../../src/metrics/reconfig-collector';
import type { NativeSessionPage } from '../../src/native/binding';
import type { DatapathEventMap } from '../../src/datapath/datapath';
import type { ControlPacketEvent, TransmitSpec } from '../../src/native/events';
import type { NativeHandshake, NativeSessionSummary, NativeTuple, SessionQuery } from '../../src/native/session-types';
import { DatapathError } from '../../src/native/errors';
import type { StateAdapter } from '../../src/state/state-adapter';

export const CONTROL_PORT = 7777;
export const RETRY: RetryPolicy = { initialMs: 10, factor: 2, maxMs: 40, attempts: 3 };

export class ManualClock implements LinkTimers {
  time = 1000;
  private nextHandle = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();
  readonly now = (): number => this.time;

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.pending.set(handle, { at: this.time + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get active(): number {
    return this.pending.size;
  }

  /** Moves the clock forward, running what falls due in order (each callback's own I/O settles in between). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((x, y) => x[1].at - y[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
      await settle();
    }
    this.time = end;
  }
}

/** Lets every queued setImmediate / promise chain of the agents run. */
export async function settle(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

const ZERO_HANDSHAKE: NativeHandshake = { isn: 0, windowScale: null, sackPermitted: false, timestamps: false, tsVal: 0 };

/** A dumped session (state established unless told). Roles: 0 initiator, 1 middlebox, 2 responder. */
export function summary(fields: Partial<NativeSessionSummary> & { id: number; role: number }): NativeSessionSummary {
  return { state: 3, packets: 0, bytes: 0, idleMs: 0, ruleId: -1, handshake: [ZERO_HANDSHAKE, ZERO_HANDSHAKE], ...fields };
}

/** FindSession as the lcore serves it over a dump: by id, or by a tuple the host sends (either direction). */
export function findInDump(dump: readonly NativeSessionSummary[], query: SessionQuery): NativeSessionSummary | null {
  const same = (a: NativeTuple | undefined, b: NativeTuple) =>
    a !== undefined && a.srcIp === b.srcIp && a.dstIp === b.dstIp && a.srcPort === b.srcPort && a.dstPort === b.dstPort;
  const reverse = (t: NativeTuple): NativeTuple => ({ srcIp: t.dstIp, dstIp: t.srcIp, srcPort: t.dstPort, dstPort: t.srcPort });
  const found =
    'sessionId' in query
      ? dump.find((s) => s.id === query.sessionId)
      : dump.find((s) => [query, reverse(query)].some((t) => same(s.rightSession, t) || same(s.leftSession && reverse(s.leftSession), t)));
  return found ? structuredClone(found) : null;
}

export class FakeNet {
  readonly agents = new Map<number, FakeAgent>();
  readonly clock = new ManualClock();
  /** Addresses whose control datagrams are lost both ways. */
  readonly down = new Set<number>();
  /** Left anchors whose new path's SYNs vanish (a middlebox on it down). */
  readonly silent = new Set<number>();
  /** What the right anchors' lcores were told to expect: `${address}/${nonce}` → session id. */
  readonly expected = new Map<string, number>();
  private nextPort = 30000;

  agent(address: number, dump: NativeSessionSummary[], state?: StateAdapter): FakeAgent {
    const agent = new FakeAgent(this, address, dump, state);
    this.agents.set(address, agent);
    return agent;
  }

  port(): number {
    return this.nextPort++;
  }
}

export class FakeDatapath implements ReconfigDatapath {
  readonly events = new EventEmitter<DatapathEventMap>();
  readonly requests: { name: string; args: unknown[] }[] = [];
  sessionCalls = 0;
  findCalls = 0;
  /** Make openNewPath reject (the lcore refused the request). */
  refuseOpen = false;
  /** Take ExpectNewPath but forget it, so that the SYN meets a RST. */
  ignoreExpect = false;
  /** Keep the old path from draining until release() (the anchors stay in TwoPaths). */
  holdDrain = false;
  /** Answer abandonNewPath with NEW_PATH_IN_USE, as an lcore that switched just before the request came. */
  abandonInUse = false;
  /** Answer abandonNewPath with NEW_PATH_ANSWERED, as an lcore that had the SYN-ACK and sent the handshake's ACK. */
  abandonAnswered = false;
  private held: (() => void)[] = [];
  private readonly handshakes = new Set<number>();

  constructor(
    private readonly net: FakeNet,
    readonly address: number,
    public dump: NativeSessionSummary[],
  ) {}

  private post<K extends keyof ReconfigEventMap>(type: K, ...args: ReconfigEventMap[K]): void {
    setImmediate(() => (this.events.emit as (t: string, ...a: unknown[]) => boolean)(type, ...args));
  }

  emitLater<K extends keyof ReconfigEventMap>(type: K, ...args: ReconfigEventMap[K]): void {
    this.post(type, ...args);
  }

  async findSession(query: SessionQuery): Promise<NativeSessionSummary | null> {
    this.findCalls += 1;
    return findInDump(this.dump, query);
  }

  async sessions(cursor: number, limit: number): Promise<NativeSessionPage> {
    this.sessionCalls += 1;
    const page = this.dump.slice(cursor, cursor + limit);
    return { sessions: structuredClone(page), nextCursor: cursor + limit < this.dump.length ? cursor + limit : null };
  }

  transmit(spec: TransmitSpec): { sent: boolean } {
    const peer = this.net.agents.get(spec.dstIp);
    if (!peer || this.net.down.has(spec.dstIp) || this.net.down.has(this.address)) return { sent: true };
    const event: ControlPacketEvent = { type: 'control_packet', srcIp: this.address, dstIp: spec.dstIp, srcPort: spec.srcPort, dstPort: spec.dstPort, payload: Buffer.from(spec.payload) };
    setImmediate(() => peer.datapath.events.emit('control_packet', event));
    return { sent: true };
  }

  async expectNewPath(spec: NewPathSpec): Promise<void> {
    this.requests.push({ name: 'expectNewPath', args: [structuredClone(spec)] });
    if (!this.ignoreExpect) this.net.expected.set(`${this.address}/${spec.nonce}`, spec.sessionId);
  }

  async openNewPath(spec: NewPathSpec): Promise<void> {
    this.requests.push({ name: 'openNewPath', args: [structuredClone(spec)] });
    if (this.refuseOpen) throw new DatapathError('INVALID_ARGUMENT', 'refused by the test');
    if (this.handshakes.has(spec.nonce) || this.net.silent.has(this.address)) return;
    const rightAddress = spec.hops[spec.hops.length - 1]!;
    const right = this.net.agents.get(rightAddress);
    const rightSession = this.net.expected.get(`${rightAddress}/${spec.nonce}`);
    if (!right || rightSession === undefined) return this.post('new_path_refused', { type: 'new_path_refused', sessionId: spec.sessionId, side: 'right' });
    this.handshakes.add(spec.nonce);
    const mine: NewSubsession = { neighbourIp: spec.hops[0]!, localPort: this.net.port(), neighbourPort: this.net.port() };
    const theirs: NewSubsession = { neighbourIp: spec.hops.length > 1 ? spec.hops[spec.hops.length - 2]! : this.address, localPort: this.net.port(), neighbourPort: this.net.port() };
    const clock = this.net.clock;
    right.datapath.post('new_path_answered', { type: 'new_path_answered', sessionId: rightSession, subsession: theirs });
    setImmediate(() => {
      clock.time += 1; // the SYN-ACK's round trip
      this.post('two_paths_entered', { type: 'two_paths_entered', sessionId: spec.sessionId, subsession: mine });
      right.datapath.post('two_paths_entered', { type: 'two_paths_entered', sessionId: rightSession, subsession: theirs });
      const drain = () => {
        clock.time += 2; // the old path drains
        this.fold(spec.sessionId, 'right', mine);
        right.datapath.fold(rightSession, 'left', theirs);
        this.post('old_path_drained', { type: 'old_path_drained', sessionId: spec.sessionId, side: 'right' });
        right.datapath.post('old_path_drained', { type: 'old_path_drained', sessionId: rightSession, side: 'left' });
      };
      if (this.holdDrain) this.held.push(drain);
      else setImmediate(drain);
    });
  }

  release(): void {
    for (const drain of this.held.splice(0)) drain();
  }

  async abandonNewPath(sessionId: number, nonce: number): Promise<void> {
    this.requests.push({ name: 'abandonNewPath', args: [sessionId, nonce] });
    if (this.abandonInUse) throw new DatapathError('NEW_PATH_IN_USE', 'the lcore switched first');
    if (this.abandonAnswered) throw new DatapathError('NEW_PATH_ANSWERED', 'the handshake was answered');
    this.net.expected.delete(`${this.address}/${nonce}`);
  }

  async retireSession(sessionId: number): Promise<void> {
    this.requests.push({ name: 'retireSession', args: [sessionId] });
    this.dump = this.dump.filter((s) => s.id !== sessionId);
    this.post('session_ended', { type: 'session_ended', sessionId, role: 'middlebox', cause: 'reconfigured' } as never);
  }

  named(name: string): unknown[][] {
    return this.requests.filter((r) => r.name === name).map((r) => r.args);
  }

  /** The lcore's one-path state after the fold, as the next dump shows it. */
  private fold(sessionId: number, side: 'left' | 'right', sub: NewSubsession): void {
    const s = this.dump.find((d) => d.id === sessionId);
    if (!s) return;
    if (side === 'right') s.rightSubsession = { srcIp: this.address, dstIp: sub.neighbourIp, srcPort: sub.localPort, dstPort: sub.neighbourPort };
    else s.leftSubsession = { srcIp: sub.neighbourIp, dstIp: this.address, srcPort: sub.neighbourPort, dstPort: sub.localPort };
  }
}

export class FakeAgent {
  readonly datapath: FakeDatapath;
  readonly link: DatapathLink;
  readonly service: ReconfigService;
  readonly registry = new Registry();

  constructor(
    readonly net: FakeNet,
    readonly address: number,
    dump: NativeSessionSummary[],
    state?: StateAdapter,
  ) {
    this.datapath = new FakeDatapath(net, address, dump);
    let random = address;
    this.link = DatapathLink.create(this.datapath as never, { controlPort: CONTROL_PORT, retry: RETRY, now: net.clock.now, timers: net.clock, randomUint32: () => (random = (random * 1103515245 + 12345) >>> 0) });
    const metrics = registerReconfigMetrics(this.registry, () => this.service.twoPathSessions());
    this.service = new ReconfigService({ self: address, datapath: this.datapath, link: this.link, retry: RETRY, now: net.clock.now, timers: net.clock, firstNonce: 100, metrics, ...(state && { state }) });
  }

  async start(): Promise<void> {
    this.link.start();
    await this.service.start();
  }

  stop(): void {
    this.service.stop();
    this.link.stop();
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const m = (await this.registry.getMetricsAsJSON()).find((x) => x.name === name) as unknown as { values: { labels: Record<string, string>; value: number; metricName?: string }[] } | undefined;
    const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
    return v?.value;
  }
}

export const tuple = (srcIp: number, srcPort: number, dstIp: number, dstPort: number): NativeTuple => ({ srcIp, dstIp, srcPort, dstPort });
