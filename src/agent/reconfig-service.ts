// Live reconfiguration on a running agent: one ReconfigCoordinator fed by the control channel (DatapathLink), the
// datapath's reconfiguration events and Node timers, whose outputs become control messages, datapath requests and
// timers. A SessionRegistry names the sessions both ways. Every input runs through one serial queue, so the
// coordinator sees them one at a time and in arrival order, even when one waits for the datapath to name a session.
//
// Timers: the control channel retransmits each message hop by hop until acked and gives up after its retry span.
// The left anchor's own requestLock and cancelLock waits start at that span (leftAnchorTiming), so they never
// race the channel; when the channel gives up on this agent's own hop, the link's `failed` event cancels the run
// at once (coordinator.deliveryFailed); a hop further on is covered by the left anchor's waits running out.
import type { MigrationSessionResult, Reconfigurer, ReconfigureSessionResult } from '../api/types';
import type { DatapathLink, LinkTimers } from '../control/datapath-link';
import { retrySpanMs, type RetryPolicy } from '../control/retry-policy';
import type { Logger } from '../log/logger';
import { formatIpv4 } from '../net/ipv4';
import type { ReconfigMetrics, RefusalReason } from '../metrics/reconfig-collector';
import { ReconfigCoordinator, type CoordinatorResult, type ReconfigOutput, type TimerRef } from '../reconfig/coordinator';
import type { DatapathCommand, DatapathInput } from '../reconfig/datapath-io';
import { DEFAULT_LEFT_ANCHOR_TIMING, type LeftAnchorTiming } from '../reconfig/left-anchor';
import type { MigrateResult, ReconfigId, ReconfigMessage, Tuple } from '../reconfig/messages';
import { tupleKey } from '../reconfig/tuples';
import type { StateAdapter } from '../state/state-adapter';
import type { NewPathEvent, NewSubsession, PathSideEvent, ReconfigDatapath, ReconfigEventMap, ReconfigEventType } from './reconfig-datapath';
import { SessionRegistry, type RegisteredSession, type RegistryChange } from './session-registry';
import { StateMover } from './state-mover';

export type ReconfigLink = Pick<DatapathLink, 'events' | 'send'>;

export interface TupleFilter {
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
}

export interface ReconfigureRequest {
  /** One session by its tuple, or every matching session; exactly one of the two. */
  session?: Tuple;
  filter?: TupleFilter;
  rightAnchor: number;
  /** The new middleboxes between the anchors, left to right; empty removes the ones there are. */
  via: number[];
  /** Move the state of each session from its one old middlebox to the one in `via` before the new path. */
  transferState?: boolean;
  /** How long to wait for the runs to end; runs still going then are reported unfinished (and go on). */
  timeoutMs: number;
}

export interface MigrateRequestOptions {
  /** The middlebox that takes the sessions over. */
  to: number;
  /** Sessions through this agent (a middlebox) matching every field given; all of them when empty. */
  filter?: TupleFilter;
  transferState: boolean;
  /** How long to wait for every session; sessions not started by then stay where they are (unfinished, not_started). */
  timeoutMs: number;
  /** Sessions moving at once, the next launched as one ends; all at once when undefined. */
  concurrency?: number;
  /** How many sessions will move, before any does. */
  onStart?: (sessions: number) => void;
  /** Each session's result as it comes. */
  onResult?: (result: MigrationResult) => void;
}

export interface MigrationResult {
  session: Tuple;
  outcome: 'completed' | 'failed' | 'unfinished';
  reason?: string;
  /** The left anchor's own duration of the run, as its migrateResult reported it: start to the old path's end. */
  durationMs?: number;
  /** From the start to the left anchor's switch: its first new data on the new path. */
  switchedMs?: number;
  /** From this agent's migrateRequest to the migrateResult. */
  roundTripMs: number;
}

export interface ReconfigureResult {
  session: Tuple;
  sessionId?: number;
  id?: ReconfigId;
  outcome: 'completed' | 'failed' | 'unfinished';
  reason?: string;
  durationMs: number;
  /** From the start: the new path's first SYN requested, and this anchor's switch to two paths. */
  newPathSynMs?: number;
  switchedMs?: number;
}

export interface ReconfigServiceOptions {
  /** This agent's host address (host order). */
  self: number;
  datapath: ReconfigDatapath;
  link: ReconfigLink;
  /** dysco.controlRetry: the left anchor's waits are derived from its span. */
  retry: RetryPolicy;
  /** Milliseconds, monotonic. */
  now: () => number;
  firstNonce: number;
  timers?: LinkTimers;
  metrics?: ReconfigMetrics;
  log?: Logger;
  /** This host's middlebox state: a session a reconfiguration takes off this box has it deleted on retirement. */
  state?: StateAdapter;
}

/** The left anchor's waits on top of a channel that retries each hop for retrySpanMs(retry). */
export function leftAnchorTiming(retry: RetryPolicy): LeftAnchorTiming {
  const span = retrySpanMs(retry);
  // The state's way: a moveState hop, then the old host's chunks to the new one, each retried for the span.
  return { ...DEFAULT_LEFT_ANCHOR_TIMING, requestTimeoutMs: span, maxRequestTries: 3, cancelTimeoutMs: span, maxCancelTries: 3, stateTimeoutMs: 2 * span + 1000 };
}

export function matchesFilter(session: Tuple, filter: TupleFilter): boolean {
  return (
    (filter.srcIp === undefined || filter.srcIp >>> 0 === session.srcIp) &&
    (filter.dstIp === undefined || filter.dstIp >>> 0 === session.dstIp) &&
    (filter.srcPort === undefined || filter.srcPort === session.srcPort) &&
    (filter.dstPort === undefined || filter.dstPort === session.dstPort)
  );
}

const NODE_TIMERS: LinkTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const idKey = (id: ReconfigId) => `${id.leftAnchor >>> 0}/${id.nonce >>> 0}`;

interface Waiter {
  session: Tuple;
  sessionId: number;
  id: ReconfigId;
  startedAt: number;
  resolve: (result: ReconfigureResult) => void;
}

/** When one of this agent's runs as left anchor passed each step (monotonic ms). */
interface RunSteps {
  startedAt: number;
  /** the ackLock came */
  lockedAt?: number;
  /** the new middlebox said the state is in place (it moves while the lock travels) */
  stateAt?: number;
  /** the new path's first SYN requested */
  synAt?: number;
  switchedAt?: number;
}

/** The steps of a run as durations, for its log line: from the start to the lock and to the state in place (the two
 * overlap), from the new path's SYN to the switch, and the drain. */
function stepDurations(steps: RunSteps, endedAt: number): Record<string, number> {
  const out: Record<string, number> = {};
  const ms = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? undefined : Math.round((to - from) * 1000) / 1000);
  const put = (name: string, value: number | undefined) => value !== undefined && (out[name] = value);
  put('lockMs', ms(steps.startedAt, steps.lockedAt));
  put('stateMs', ms(steps.startedAt, steps.stateAt));
  put('setupMs', ms(steps.synAt, steps.switchedAt));
  put('drainMs', ms(steps.switchedAt, endedAt));
  return out;
}

interface MigrationWaiter {
  session: Tuple;
  /** The left neighbour asked to run the migration: the one agent whose migrateResult counts. */
  asked?: number;
  sentAt: number;
  resolve: (result: MigrationResult) => void;
}

export class ReconfigService {
  readonly coordinator: ReconfigCoordinator;
  readonly registry: SessionRegistry;
  readonly mover: StateMover;
  private readonly migrations = new Map<string, MigrationWaiter>();
  private readonly timers: LinkTimers;
  private readonly armed = new Set<unknown>();
  private readonly waiters = new Map<string, Waiter>();
  /** This agent's runs as left anchor, by id, until they finish. */
  private readonly runs = new Map<string, RunSteps>();
  private inputs: Promise<void> = Promise.resolve();
  private readonly retiredState: Tuple[] = [];
  private running = false;
  private readonly listeners: { [K in ReconfigEventType]: (...args: ReconfigEventMap[K]) => void };
  private readonly onMessage = ({ peer, message }: { peer: number; message: ReconfigMessage }) => {
    const lookup = this.namesUnknownSession(message) ? this.registry.lookAhead(message.session) : undefined;
    this.enqueue(() => this.receive(message, peer, lookup));
  };
  private readonly onFailed = (f: { message: ReconfigMessage }) =>
    this.enqueue(() => {
      if (f.message.type === 'migrateRequest') return this.migrated(f.message.session, { outcome: 'failed', reason: 'unreachable' });
      if (f.message.type === 'stateChunk') return this.mover.chunkUndelivered(f.message);
      return this.apply(this.coordinator.deliveryFailed(f.message), 'delivery failed');
    });

  constructor(private readonly options: ReconfigServiceOptions) {
    this.coordinator = new ReconfigCoordinator({ self: options.self, firstNonce: options.firstNonce, timing: leftAnchorTiming(options.retry) });
    this.registry = new SessionRegistry(options.datapath, (change) => this.onRegistryChange(change));
    this.timers = options.timers ?? NODE_TIMERS;
    this.mover = new StateMover({
      adapter: options.state,
      send: (to, message) => this.sendMessage(to, message),
      now: options.now,
      ...(options.metrics && { metrics: options.metrics }),
      ...(options.log && { log: options.log }),
    });
    this.listeners = {
      new_path_answered: (e) => this.enqueueEvent(e, (entry) => this.onNewPath(e, entry)),
      two_paths_entered: (e) => this.enqueueEvent(e, (entry) => this.onNewPath(e, entry)),
      old_path_drained: (e) => this.enqueueEvent(e, (entry) => this.onPathSide(e, entry)),
      new_path_refused: (e) => this.enqueueEvent(e, (entry) => this.onPathSide(e, entry)),
      session_established: (e) => void this.registry.findById(e.sessionId).catch((error: Error) => this.options.log?.warn({ err: error.message }, 'session lookup failed')),
      session_ended: (e) => this.enqueue(() => void this.registry.forget(e.sessionId)),
    };
  }

  /** Anchors running two paths now (dysco_two_path_sessions). */
  twoPathSessions(): number {
    return this.coordinator.twoPathAnchors();
  }

  /** Listens to the link and the datapath and takes in the sessions there are. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.options.link.events.on('message', this.onMessage);
    this.options.link.events.on('failed', this.onFailed);
    for (const type of Object.keys(this.listeners) as ReconfigEventType[]) this.options.datapath.events.on(type, this.listeners[type] as never);
    await this.registry.refresh();
  }

  /** Detaches, drops every timer and answers every waiting request as unfinished. Idempotent. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.options.link.events.off('message', this.onMessage);
    this.options.link.events.off('failed', this.onFailed);
    for (const type of Object.keys(this.listeners) as ReconfigEventType[]) this.options.datapath.events.off(type, this.listeners[type] as never);
    for (const handle of this.armed) this.timers.clearTimeout(handle);
    this.armed.clear();
    for (const [key, waiter] of this.waiters) {
      this.waiters.delete(key);
      waiter.resolve(this.result(waiter, { outcome: 'unfinished', reason: 'agent_stopping' }));
    }
    this.runs.clear();
    for (const waiter of this.migrations.values()) this.migrated(waiter.session, { outcome: 'unfinished', reason: 'agent_stopping' });
    this.mover.stop();
  }

  /**
   * At a middlebox: hands every matching session through this agent over to `to`. Each session's left neighbour
   * runs the replacement (with state transfer when asked) and answers with a migrateResult; answers when every
   * session has one, or the time is up (unfinished, the runs go on).
   */
  async migrate(request: MigrateRequestOptions): Promise<MigrationResult[]> {
    if (!this.running) throw new Error('reconfiguration is not running');
    await this.registry.refresh();
    const targets = this.registry.all().filter((e) => e.view.left !== undefined && e.view.right !== undefined && matchesFilter(e.view.session, request.filter ?? {}));
    request.onStart?.(targets.length);
    const deadline = this.options.now() + request.timeoutMs;
    const results: MigrationResult[] = new Array(targets.length);
    let next = 0;
    // A window of sessions in flight, the next one launched as one ends: the rest stay on their old path
    // untouched until their turn, and each session's time is its own, not the queue's of a burst.
    await new Promise<void>((allDone) => {
      let ended = 0;
      const launch = () => {
        if (next >= targets.length) return;
        const index = next++;
        void this.migrateOne(targets[index]!.view.session, request, deadline).then((result) => {
          results[index] = result;
          request.onResult?.(result);
          if (++ended === targets.length) allDone();
          else launch();
        });
      };
      if (targets.length === 0) allDone();
      for (let i = 0; i < (request.concurrency ?? targets.length) && i < targets.length; i++) launch();
    });
    return results;
  }

  /** One session's migration: its left anchor asked to run it, its result awaited until `deadline`. */
  private migrateOne(session: Tuple, request: MigrateRequestOptions, deadline: number): Promise<MigrationResult> {
    return new Promise<MigrationResult>((resolve) => {
      const key = tupleKey(session);
      const sentAt = this.options.now();
      if (this.migrations.has(key)) return resolve({ session, outcome: 'failed', reason: 'busy', roundTripMs: 0 });
      if (sentAt >= deadline) return resolve({ session, outcome: 'unfinished', reason: 'not_started', roundTripMs: 0 });
      let handle: unknown;
      const done = (result: MigrationResult) => {
        this.timers.clearTimeout(handle);
        resolve(result);
      };
      handle = this.timers.setTimeout(() => this.migrated(session, { outcome: 'unfinished' }), deadline - sentAt);
      this.migrations.set(key, { session, sentAt, resolve: done });
      void this.run(() => {
        const started = this.coordinator.requestMigration(session, request.to, request.transferState);
        if (started.status === 'rejected') return this.migrated(session, { outcome: 'failed', reason: started.reason });
        // The answer comes from the neighbour asked to run it, and from no one else.
        const asked = started.outputs.find((o) => o.kind === 'send');
        const waiter = this.migrations.get(key);
        if (waiter && asked?.kind === 'send') waiter.asked = asked.to >>> 0;
        this.apply(started, 'migrate');
      });
    });
  }

  /** Ends the migration of `session` this agent asked for, if it waits. */
  private migrated(session: Tuple, end: Omit<MigrationResult, 'session' | 'roundTripMs'>): void {
    const key = tupleKey(session);
    const waiter = this.migrations.get(key);
    if (!waiter) return;
    this.migrations.delete(key);
    waiter.resolve({ session: waiter.session, ...end, roundTripMs: this.options.now() - waiter.sentAt });
  }

  private onMigrateResult(message: MigrateResult, from: number): void {
    const waiter = this.migrations.get(tupleKey(message.session));
    if (waiter?.asked !== undefined && waiter.asked !== from >>> 0) return this.refuse(message, from, 'not_left_anchor');
    const durationMs = message.durationUs / 1000;
    if (message.outcome === 'completed') this.migrated(message.session, { outcome: 'completed', durationMs, switchedMs: message.switchedUs / 1000 });
    else this.migrated(message.session, { outcome: 'failed', reason: message.outcome, ...(message.id.nonce !== 0 && { durationMs }) });
  }

  /** Runs one reconfiguration per matching session, as their left anchor; answers when all have ended or timed out. */
  async reconfigure(request: ReconfigureRequest): Promise<ReconfigureResult[]> {
    if (!this.running) throw new Error('reconfiguration is not running');
    // One session is asked of the datapath alone; a filter needs every session there is.
    if (!request.session) await this.registry.refresh();
    const targets: { session: Tuple; entry: RegisteredSession | undefined }[] = request.session
      ? [{ session: request.session, entry: await this.registry.find(request.session) }]
      : this.registry
          .all()
          .filter((e) => e.view.right !== undefined && matchesFilter(e.view.session, request.filter ?? {}))
          .map((entry) => ({ session: entry.view.session, entry }));
    const runs = targets.map(({ session, entry }) => this.runOne(session, entry, request));
    return Promise.all(runs);
  }

  private async runOne(session: Tuple, entry: RegisteredSession | undefined, request: ReconfigureRequest): Promise<ReconfigureResult> {
    const startedAt = this.options.now();
    if (!entry) return { session, outcome: 'failed', reason: 'unknown_session', durationMs: 0 };
    let waiter: Promise<ReconfigureResult> | undefined;
    let rejected: ReconfigureResult | undefined;
    let started: ReconfigId | undefined;
    await this.run(() => {
      if (!this.running) {
        rejected = { session, sessionId: entry.sessionId, outcome: 'unfinished', reason: 'agent_stopping', durationMs: 0 };
        return;
      }
      const result = this.coordinator.start({ session: entry.view.session, rightAnchor: request.rightAnchor, newHops: request.via, transferState: request.transferState === true });
      if (result.status === 'rejected' || !result.id) {
        const reason = result.status === 'rejected' ? result.reason : 'invalid';
        this.options.metrics?.finished('left', 'rejected', reason);
        rejected = { session, sessionId: entry.sessionId, outcome: 'failed', reason, durationMs: 0 };
        return;
      }
      const id = result.id;
      started = id;
      this.runs.set(idKey(id), { startedAt });
      waiter = new Promise<ReconfigureResult>((resolve) => {
        this.waiters.set(idKey(id), { session, sessionId: entry.sessionId, id, startedAt, resolve });
      });
      this.apply(result, 'start');
    });
    if (rejected || !waiter) return rejected!;
    let handle: unknown;
    const timeout = new Promise<ReconfigureResult>((resolve) => {
      handle = this.timers.setTimeout(() => resolve({ session, sessionId: entry.sessionId, ...(started && { id: started }), outcome: 'unfinished', durationMs: this.options.now() - startedAt }), request.timeoutMs);
    });
    const result = await Promise.race([waiter, timeout]);
    this.timers.clearTimeout(handle);
    return result;
  }

  private run(task: () => void | Promise<void>): Promise<void> {
    const next = this.inputs.then(task);
    this.inputs = next.catch((error: Error) => this.options.log?.error({ err: error.message }, 'reconfiguration input failed'));
    return next;
  }

  private enqueue(task: () => void | Promise<void>): void {
    void this.run(task).catch(() => undefined);
  }

  /** A message about a session the coordinator has not met: its first at this agent, whose lookup may start now. */
  private namesUnknownSession(message: ReconfigMessage): message is ReconfigMessage & { session: Tuple } {
    if (message?.type === 'stateChunk' || message?.type === 'dropState' || message?.type === 'migrateResult') return false;
    return message?.session !== undefined && !this.coordinator.knows(message.session);
  }

  /** An event for the queue, with the lookup of its session started at once when the registry lacks it. */
  private enqueueEvent(event: { sessionId: number }, handle: (entry: RegisteredSession) => void | Promise<void>): void {
    const cached = this.registry.session(event.sessionId);
    const lookup = cached ? undefined : this.registry.lookAheadById(event.sessionId);
    this.enqueue(async () => {
      const entry = this.registry.session(event.sessionId) ?? (lookup ? await lookup() : await this.registry.findById(event.sessionId));
      if (!entry) this.options.log?.warn({ sessionId: event.sessionId }, 'reconfiguration event for a session the datapath does not list');
      else await handle(entry);
    });
  }

  private async receive(message: ReconfigMessage, from: number, lookup?: () => Promise<unknown>): Promise<void> {
    // State and results addressed to this agent concern no session of its own (yet, or any more).
    switch (message?.type) {
      case 'stateChunk':
        return this.mover.receiveChunk(message, from);
      case 'dropState':
      case 'expectState':
        // Only the left anchor of the run a message names may announce its state or call it off.
        if (from >>> 0 !== message.id.leftAnchor >>> 0) return this.refuse(message, from, 'not_left_anchor');
        return message.type === 'dropState' ? this.mover.drop(message) : this.mover.expect(message);
      case 'migrateResult':
        return this.onMigrateResult(message, from);
      default:
        break;
    }
    if (message?.type === 'ackLock') this.step(message.id, 'lockedAt');
    if (message?.type === 'stateResult' && message.result === 'ok') this.step(message.id, 'stateAt');
    if (message?.session && !this.coordinator.knows(message.session)) await (lookup ?? this.registry.lookAhead(message.session))();
    const result = this.coordinator.receive(message, from);
    if (result.status === 'rejected' && result.reason === 'not_on_path') return this.refuse(message, from, 'not_on_path');
    this.apply(result, message?.type);
  }

  /** A message refused for its sender: logged and counted, nothing else. */
  private refuse(message: ReconfigMessage, from: number, reason: RefusalReason): void {
    this.options.metrics?.refused(message.type, reason);
    this.options.log?.warn({ type: message.type, from: formatIpv4(from), session: message.session, reason }, 'reconfiguration message refused for its sender');
  }

  private onNewPath(event: NewPathEvent, entry: RegisteredSession): void {
    const newSubsession = this.subsessionOf(event.subsession);
    const input: DatapathInput =
      event.type === 'new_path_answered'
        ? { event: 'newPathSyn', session: entry.view.session, newSubsession }
        : { event: 'twoPathsEntered', session: entry.view.session, newSubsession };
    if (event.type === 'two_paths_entered') {
      const left = this.coordinator.inspect(entry.view.session)?.leftAnchor;
      const run = left && (left.state === 'SettingUp' || left.state === 'Abandoning' || left.state === 'Committed') ? this.runs.get(idKey(left.id)) : undefined;
      if (run && run.switchedAt === undefined) run.switchedAt = this.options.now();
    }
    this.apply(this.coordinator.datapath(input), event.type);
  }

  private onPathSide(event: PathSideEvent, entry: RegisteredSession): void {
    const session = entry.view.session;
    // The side that doubled: the right side at the left anchor, the left side at the right anchor.
    const input: DatapathInput =
      event.type === 'old_path_drained'
        ? { event: 'oldPathDrained', session, role: event.side === 'right' ? 'left' : 'right' }
        : { event: 'newPathFailed', session };
    this.apply(this.coordinator.datapath(input), event.type);
  }

  private subsessionOf(s: NewSubsession): Tuple {
    return { srcIp: this.options.self >>> 0, dstIp: s.neighbourIp >>> 0, srcPort: s.localPort, dstPort: s.neighbourPort };
  }

  private onRegistryChange(change: RegistryChange): void {
    for (const gone of change.removed) {
      const session = gone.view.session;
      if (this.registry.lookup(session)) continue; // the same tuple under a new id
      this.coordinator.removeSession(session);
      for (const [key, waiter] of this.waiters) {
        if (tupleKey(waiter.session) !== tupleKey(session)) continue;
        this.waiters.delete(key);
        this.options.metrics?.finished('left', 'failed', 'session_ended', (this.options.now() - waiter.startedAt) / 1000);
        waiter.resolve(this.result(waiter, { outcome: 'failed', reason: 'session_ended' }));
        this.runs.delete(key);
      }
    }
    for (const entry of [...change.added, ...change.changed]) {
      const seen = this.coordinator.inspect(entry.view.session);
      // A run going on keeps its view: the subsessions it folds are its own to change.
      const busy = seen && ((seen.leftAnchor && seen.leftAnchor.state !== 'Done') || (seen.rightAnchor && !['Done', 'Canceled'].includes(seen.rightAnchor.state)) || (seen.lock && seen.lock.flag !== 'free'));
      if (!busy) this.coordinator.addSession(entry.view);
    }
  }

  private apply(result: CoordinatorResult, input: string | undefined): void {
    if (result.status === 'rejected') this.options.log?.debug({ input, reason: result.reason }, 'reconfiguration input rejected');
    for (const output of result.outputs) this.output(output);
  }

  private output(output: ReconfigOutput): void {
    // After stop(), inputs already queued still step the machines but reach neither the wire nor the datapath.
    if (!this.running) return;
    switch (output.kind) {
      case 'send':
        return this.sendMessage(output.to, output.message);
      case 'started':
        if (!this.runs.has(idKey(output.id))) this.runs.set(idKey(output.id), { startedAt: this.options.now() });
        return;
      case 'exportState': {
        const tuple = this.registry.lookup(output.session)?.leftSession;
        if (!tuple) return this.sendMessage(output.id.leftAnchor, { type: 'stateResult', id: output.id, session: output.session, result: 'not_found' });
        return this.mover.exportState({ id: output.id, session: output.session, tuple, to: output.to });
      }
      case 'timer':
        return this.arm(output.timer, output.afterMs);
      case 'datapath':
        return this.command(output.command);
      case 'finished': {
        const key = idKey(output.id);
        const reason = output.outcome.result === 'completed' ? 'none' : output.outcome.reason;
        if (output.role === 'right') {
          this.options.metrics?.finished('right', output.outcome.result, reason);
          return;
        }
        const run = this.runs.get(key);
        const endedAt = this.options.now();
        const startedAt = run?.startedAt;
        const switchedAt = run?.switchedAt;
        const seconds = startedAt === undefined ? undefined : (endedAt - startedAt) / 1000;
        this.options.metrics?.finished('left', output.outcome.result, reason, seconds);
        if (output.requestedBy !== undefined) {
          const micros = (ms: number) => Math.min(0xffffffff, Math.max(0, Math.round(ms * 1000)));
          const durationUs = micros((seconds ?? 0) * 1000);
          const switchedUs = switchedAt === undefined || startedAt === undefined ? 0 : micros(switchedAt - startedAt);
          const outcome = output.outcome.result === 'completed' ? 'completed' : output.outcome.reason;
          this.sendMessage(output.requestedBy, { type: 'migrateResult', id: output.id, session: output.requesterSession ?? output.session, outcome, durationUs, switchedUs });
        }
        this.options.log?.info({ session: output.session, nonce: output.id.nonce, outcome: output.outcome, ...(run && { steps: stepDurations(run, endedAt) }) }, 'reconfiguration finished');
        const waiter = this.waiters.get(key);
        if (waiter) {
          this.waiters.delete(key);
          waiter.resolve(this.result(waiter, output.outcome.result === 'completed' ? { outcome: 'completed' } : { outcome: 'failed', reason }));
        }
        this.runs.delete(key);
        return;
      }
    }
  }

  /**
   * The state of sessions that left this middlebox, deleted together at the end of the turn: one adapter call for
   * a bulk migration's burst of retirements (each is a netlink conversation), not one each in the midst of it.
   */
  private deleteRetiredState(tuple: Tuple): void {
    const state = this.options.state;
    if (!state) return;
    this.retiredState.push(tuple);
    if (this.retiredState.length > 1) return;
    setImmediate(() => {
      const tuples = this.retiredState.splice(0);
      state.deleteState(tuples).then(
        () => this.options.metrics?.stateDeleted(true, tuples.length),
        (error: Error) => {
          this.options.metrics?.stateDeleted(false, tuples.length);
          this.options.log?.warn({ sessions: tuples.length, adapter: state.kind, err: error.message }, 'middlebox state of retired sessions not deleted');
        },
      );
    });
  }

  private sendMessage(to: number, message: ReconfigMessage): void {
    if (!this.running) return;
    const sent = this.options.link.send(to, message);
    if (!sent.ok) this.options.log?.warn({ to, type: message.type, error: sent.error }, 'control message not sent');
  }

  private result(waiter: Waiter, end: Pick<ReconfigureResult, 'outcome' | 'reason'>): ReconfigureResult {
    const run = this.runs.get(idKey(waiter.id));
    return {
      session: waiter.session,
      sessionId: waiter.sessionId,
      id: waiter.id,
      ...end,
      durationMs: this.options.now() - waiter.startedAt,
      ...(run?.synAt !== undefined && { newPathSynMs: run.synAt - waiter.startedAt }),
      ...(run?.switchedAt !== undefined && { switchedMs: run.switchedAt - waiter.startedAt }),
    };
  }

  /** Marks the first time a run of this agent's reached `step`. */
  private step(id: ReconfigId, step: 'lockedAt' | 'stateAt' | 'synAt'): void {
    const run = id.leftAnchor >>> 0 === this.options.self >>> 0 ? this.runs.get(idKey(id)) : undefined;
    if (run && run[step] === undefined) run[step] = this.options.now();
  }

  private arm(timer: TimerRef, afterMs: number): void {
    const handle = this.timers.setTimeout(() => {
      this.armed.delete(handle);
      this.enqueue(() => this.apply(this.coordinator.timeout(timer), 'timeout'));
    }, afterMs);
    this.armed.add(handle);
  }

  private command(command: DatapathCommand): void {
    const entry = this.registry.lookup(command.session);
    const log = this.options.log;
    if (!entry) {
      log?.error({ command: command.command, session: command.session }, 'datapath request for a session the registry does not know');
      if (command.command === 'openNewPath') this.enqueue(() => this.apply(this.coordinator.datapath({ event: 'newPathFailed', session: command.session }), 'openNewPath failed'));
      if (command.command === 'abandonNewPath' && command.confirm) this.enqueue(() => this.apply(this.coordinator.datapath({ event: 'newPathAbandoned', session: command.session }), 'abandon of a session gone'));
      return;
    }
    const { datapath } = this.options;
    const failed = (error: Error & { code?: string }) => log?.warn({ command: command.command, sessionId: entry.sessionId, code: error.code, err: error.message }, 'datapath reconfiguration request failed');
    switch (command.command) {
      case 'openNewPath': {
        const spec = { sessionId: entry.sessionId, hostTuple: entry.rightSession!, side: 'right' as const, nonce: command.id.nonce, delta: command.delta, hops: command.hops };
        this.step(command.id, 'synAt');
        // A refused request is a new path that cannot be: cancel as for a refused handshake.
        datapath.openNewPath(spec).catch((error: Error) => {
          failed(error);
          this.enqueue(() => this.apply(this.coordinator.datapath({ event: 'newPathFailed', session: command.session }), 'openNewPath failed'));
        });
        return;
      }
      case 'expectNewPath':
        // Unexpected, its SYN is refused: the left anchor hears new_path_refused and cancels.
        datapath.expectNewPath({ sessionId: entry.sessionId, hostTuple: entry.leftSession!, side: 'left', nonce: command.id.nonce, delta: command.delta, hops: [] }).catch(failed);
        return;
      case 'abandonNewPath': {
        const pending = datapath.abandonNewPath(entry.sessionId, command.id.nonce);
        if (!command.confirm) {
          // Right anchor: NEW_PATH_IN_USE means its lcore switched first, and the old path drains as usual.
          pending.catch(failed);
          return;
        }
        // Left anchor: the old path's locks are undone only once the lcore says it never switched.
        const answer = (event: 'newPathAbandoned' | 'newPathInUse' | 'newPathAnswered') => this.enqueue(() => this.apply(this.coordinator.datapath({ event, session: command.session }), event));
        pending.then(
          () => answer('newPathAbandoned'),
          (error: Error & { code?: string }) => {
            if (error.code === 'NEW_PATH_IN_USE') return answer('newPathInUse');
            if (error.code === 'NEW_PATH_ANSWERED') return answer('newPathAnswered');
            failed(error);
            answer('newPathAbandoned');
          },
        );
        return;
      }
      case 'retireSession': {
        // The state goes with the session: a later path back through this box starts from a clean slate.
        const tuple = entry.leftSession;
        datapath
          .retireSession(entry.sessionId)
          .then(() => {
            if (tuple) this.deleteRetiredState(tuple);
          })
          .catch(failed);
        return;
      }
    }
  }
}

const ms3 = (ms: number) => Math.round(ms * 1000) / 1000;
const dottedTuple = (t: Tuple) => ({ srcIp: formatIpv4(t.srcIp), dstIp: formatIpv4(t.dstIp), srcPort: t.srcPort, dstPort: t.dstPort });

/** The control API's view of a service: dotted addresses, the nonce for the id, milliseconds to the microsecond. */
export function reconfigurerOf(service: Pick<ReconfigService, 'reconfigure' | 'migrate'>, self: number): Reconfigurer {
  return {
    self: formatIpv4(self),
    reconfigure: async (command) =>
      (await service.reconfigure(command)).map(
        (r): ReconfigureSessionResult => ({
          session: dottedTuple(r.session),
          ...(r.sessionId !== undefined && { sessionId: r.sessionId }),
          ...(r.id && { nonce: r.id.nonce }),
          outcome: r.outcome,
          ...(r.reason !== undefined && { reason: r.reason }),
          durationMs: ms3(r.durationMs),
          ...(r.newPathSynMs !== undefined && { newPathSynMs: ms3(r.newPathSynMs) }),
          ...(r.switchedMs !== undefined && { switchedMs: ms3(r.switchedMs) }),
        }),
      ),
    migrate: async (command, events) => {
      const dotted = (r: MigrationResult): MigrationSessionResult => ({
        session: dottedTuple(r.session),
        outcome: r.outcome,
        ...(r.reason !== undefined && { reason: r.reason }),
        ...(r.durationMs !== undefined && { durationMs: ms3(r.durationMs) }),
        ...(r.switchedMs !== undefined && { switchedMs: ms3(r.switchedMs) }),
        roundTripMs: ms3(r.roundTripMs),
      });
      const results = await service.migrate({
        to: command.to,
        ...(command.filter && { filter: command.filter }),
        transferState: command.transferState,
        timeoutMs: command.timeoutMs,
        ...(command.concurrency !== undefined && { concurrency: command.concurrency }),
        onStart: (sessions) => events.start(sessions),
        onResult: (r) => events.result(dotted(r)),
      });
      return results.map(dotted);
    },
  };
}
