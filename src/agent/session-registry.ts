// The agent's sessions as the reconfiguration machines name them: the datapath's session id, the session tuple
// that control messages carry (the dump's leftSession at a middlebox or responder, rightSession at the initiator),
// and the subsessions to each neighbour as this agent sends them. Built from Datapath.sessions() dumps, refreshed on
// demand with concurrent refreshes folded into one more dump, and one session at a time by findSession (O(1) on
// the lcore) when a control message or an event names a session not known yet.
import type { NativeSessionPage } from '../native/binding';
import { SESSION_ROLES, SESSION_STATES, type SessionRoleName } from '../native/generated/codes';
import type { NativeSessionSummary, NativeTuple, SessionQuery } from '../native/session-types';
import type { SessionView } from '../reconfig/coordinator';
import type { Tuple } from '../reconfig/messages';
import { reverseTuple, sameTuple, tupleKey } from '../reconfig/tuples';

export interface RegisteredSession {
  sessionId: number;
  role: SessionRoleName;
  view: SessionView;
  /** Forward direction of each side, as a NewPathSpec's hostTuple wants it. */
  leftSession?: NativeTuple;
  rightSession?: NativeTuple;
}

export interface SessionDumpSource {
  sessions(cursor: number, limit: number): Promise<NativeSessionPage>;
  findSession(query: SessionQuery): Promise<NativeSessionSummary | null>;
}

export interface RegistryChange {
  /** Sessions new to the registry, or whose subsessions differ from the last dump. */
  added: RegisteredSession[];
  changed: RegisteredSession[];
  removed: RegisteredSession[];
}

const copy = (t: NativeTuple): Tuple => ({ srcIp: t.srcIp >>> 0, dstIp: t.dstIp >>> 0, srcPort: t.srcPort, dstPort: t.dstPort });

/**
 * The registry entry of one dumped session, or undefined for one reconfiguration cannot name: not established
 * (yet, or any more), or lacking the tuples its role must have.
 */
export function registeredSession(s: NativeSessionSummary): RegisteredSession | undefined {
  if (SESSION_STATES[s.state] !== 'established') return undefined;
  const role = SESSION_ROLES[s.role];
  if (role === undefined) return undefined;
  // leftSubsession is dumped as it arrives from the left neighbour: this agent sends the reverse.
  const left = s.leftSubsession && reverseTuple(copy(s.leftSubsession));
  const right = s.rightSubsession && copy(s.rightSubsession);
  const named = role === 'initiator' ? s.rightSession : s.leftSession;
  if (!named) return undefined;
  if ((role !== 'initiator' && !left) || (role !== 'responder' && !right)) return undefined;
  // A middlebox that rewrote the session (a NAT) knows it by two names: its right neighbour uses the rewritten one.
  const rightName = role === 'middlebox' && s.rightSession && !sameTuple(copy(s.rightSession), copy(named)) ? copy(s.rightSession) : undefined;
  const view: SessionView = {
    session: copy(named),
    ...(role !== 'initiator' && { left: left! }),
    ...(role !== 'responder' && { right: right! }),
    ...(rightName && { rightSession: rightName }),
  };
  return {
    sessionId: s.id,
    role,
    view,
    ...(s.leftSession && { leftSession: s.leftSession }),
    ...(s.rightSession && { rightSession: s.rightSession }),
  };
}

const sameOptional = (a: Tuple | undefined, b: Tuple | undefined) => (a === undefined ? b === undefined : b !== undefined && sameTuple(a, b));
const sameView = (a: SessionView, b: SessionView) =>
  sameTuple(a.session, b.session) && sameOptional(a.left, b.left) && sameOptional(a.right, b.right) && sameOptional(a.rightSession, b.rightSession);

export class SessionRegistry {
  private readonly byId = new Map<number, RegisteredSession>();
  private readonly byTuple = new Map<string, RegisteredSession>();
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly source: SessionDumpSource,
    private readonly onChange: (change: RegistryChange) => void,
    private readonly pageLimit = 1000,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  lookup(session: Tuple): RegisteredSession | undefined {
    return this.byTuple.get(tupleKey(session));
  }

  session(sessionId: number): RegisteredSession | undefined {
    return this.byId.get(sessionId);
  }

  all(): RegisteredSession[] {
    return [...this.byId.values()];
  }

  /** A fresh dump. While one runs, callers share the one that follows it (it sees what happened meanwhile). */
  refresh(): Promise<void> {
    if (!this.running) {
      this.running = this.dump().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.refresh();
      });
    return this.queued;
  }

  /** The session a control message names, asked of the datapath alone; undefined when it has none by that name. */
  find(session: Tuple): Promise<RegisteredSession | undefined> {
    return this.lookAhead(session)();
  }

  /** The session an event names, asked of the datapath alone. */
  findById(sessionId: number): Promise<RegisteredSession | undefined> {
    return this.lookAheadById(sessionId)();
  }

  /**
   * find(), asked of the datapath now and registered when the returned function is called: inputs that wait in
   * one queue can have their lookups in flight together (one lcore round trip for a burst, not one each), and
   * still change the registry in the queue's order.
   */
  lookAhead(session: Tuple): () => Promise<RegisteredSession | undefined> {
    const found = this.ask({ ...session });
    return async () => this.take(await found, (entry) => sameTuple(entry.view.session, session));
  }

  lookAheadById(sessionId: number): () => Promise<RegisteredSession | undefined> {
    const found = this.ask({ sessionId });
    return async () => this.take(await found, () => true);
  }

  private ask(query: SessionQuery): Promise<NativeSessionSummary | null> {
    const found = this.source.findSession(query);
    found.catch(() => undefined); // the error reaches whoever registers the answer
    return found;
  }

  /** A session the datapath ended (session_ended): gone at once, without waiting for a dump. */
  forget(sessionId: number): RegisteredSession | undefined {
    const entry = this.byId.get(sessionId);
    if (!entry) return undefined;
    this.remove(entry);
    this.onChange({ added: [], changed: [], removed: [entry] });
    return entry;
  }

  /** Replaces the registry's content with `entries` and reports the difference. */
  apply(entries: RegisteredSession[]): RegistryChange {
    const change: RegistryChange = { added: [], changed: [], removed: [] };
    const seen = new Set<number>();
    for (const entry of entries) {
      seen.add(entry.sessionId);
      this.put(entry, change);
    }
    for (const entry of [...this.byId.values()]) {
      if (seen.has(entry.sessionId)) continue;
      this.remove(entry);
      change.removed.push(entry);
    }
    if (change.added.length || change.changed.length || change.removed.length) this.onChange(change);
    return change;
  }

  /** Registers what findSession found, if it is a session reconfiguration can name and the one wanted. */
  private take(found: NativeSessionSummary | null, wanted: (entry: RegisteredSession) => boolean): RegisteredSession | undefined {
    const entry = found ? registeredSession(found) : undefined;
    if (!entry || !wanted(entry)) return undefined;
    const change: RegistryChange = { added: [], changed: [], removed: [] };
    this.put(entry, change);
    if (change.added.length || change.changed.length || change.removed.length) this.onChange(change);
    return this.byId.get(entry.sessionId);
  }

  private put(entry: RegisteredSession, change: RegistryChange): void {
    const before = this.byId.get(entry.sessionId);
    if (before && sameView(before.view, entry.view)) return;
    if (before) this.remove(before);
    this.byId.set(entry.sessionId, entry);
    this.byTuple.set(tupleKey(entry.view.session), entry);
    (before && sameTuple(before.view.session, entry.view.session) ? change.changed : change.added).push(entry);
    if (before && !sameTuple(before.view.session, entry.view.session)) change.removed.push(before);
  }

  private async dump(): Promise<void> {
    const entries: RegisteredSession[] = [];
    let cursor: number | null = 0;
    // A cursor that does not advance ends the walk rather than looping.
    for (let pages = 0; cursor !== null && pages < 1_000_000; pages += 1) {
      const page: NativeSessionPage = await this.source.sessions(cursor, this.pageLimit);
      for (const s of page.sessions) {
        const entry = registeredSession(s);
        if (entry) entries.push(entry);
      }
      if (page.nextCursor !== null && page.nextCursor <= cursor) break;
      cursor = page.nextCursor;
    }
    this.apply(entries);
  }

  private remove(entry: RegisteredSession): void {
    this.byId.delete(entry.sessionId);
    const key = tupleKey(entry.view.session);
    if (this.byTuple.get(key) === entry) this.byTuple.delete(key);
  }
}
