// What live reconfiguration needs of a datapath: the requests of requests.def (OpenNewPath, ExpectNewPath,
// AbandonNewPath, RetireSession), the events of events.def (new_path_answered, two_paths_entered,
// old_path_drained, new_path_refused) and the session dumps and session events that name the sessions.
// `Datapath` (src/datapath/datapath.ts) gets exactly these names; until it does, the agent checks for them at run
// time (isReconfigDatapath) and runs without reconfiguration when they are missing.
import type { NativeSessionPage } from '../native/binding';
import type { SessionEndedEvent, SessionEstablishedEvent } from '../native/events';
import type { NativeTuple } from '../native/session-types';
import type { SeqDelta } from '../reconfig/messages';

export type NewPathSide = 'right' | 'left';

/** native/core/reconfig_requests.h NewPathSpec, in host order. */
export interface NewPathSpec {
  /** The datapath's session id (from Datapath.sessions() dumps). */
  sessionId: number;
  /** The session on the doubling side, forward direction (the dump's leftSession / rightSession). */
  hostTuple: NativeTuple;
  /** 'right': this agent is the left anchor (its right side doubles); 'left': the right anchor. */
  side: NewPathSide;
  /** ReconfigId.nonce (u32). */
  nonce: number;
  delta: SeqDelta;
  /** OpenNewPath: the new middleboxes, then the right anchor (host-order IPv4); ExpectNewPath: []. */
  hops: number[];
}

/** A new subsession as the lcore reports it: toward `neighbourIp`, from this host's `localPort`. */
export interface NewSubsession {
  neighbourIp: number;
  localPort: number;
  neighbourPort: number;
}

export interface NewPathEvent {
  type: 'new_path_answered' | 'two_paths_entered';
  sessionId: number;
  subsession: NewSubsession;
}

export interface PathSideEvent {
  type: 'old_path_drained' | 'new_path_refused';
  sessionId: number;
  side: NewPathSide;
}

export interface ReconfigEventMap {
  new_path_answered: [NewPathEvent];
  two_paths_entered: [NewPathEvent];
  old_path_drained: [PathSideEvent];
  new_path_refused: [PathSideEvent];
  session_established: [SessionEstablishedEvent];
  session_ended: [SessionEndedEvent];
}

export type ReconfigEventType = keyof ReconfigEventMap;

export interface ReconfigDatapath {
  readonly events: {
    on<K extends ReconfigEventType>(type: K, listener: (...args: ReconfigEventMap[K]) => void): unknown;
    off<K extends ReconfigEventType>(type: K, listener: (...args: ReconfigEventMap[K]) => void): unknown;
  };
  sessions(cursor: number, limit: number): Promise<NativeSessionPage>;
  openNewPath(spec: NewPathSpec): Promise<void>;
  expectNewPath(spec: NewPathSpec): Promise<void>;
  abandonNewPath(sessionId: number, nonce: number): Promise<void>;
  retireSession(sessionId: number): Promise<void>;
}

const REQUESTS = ['openNewPath', 'expectNewPath', 'abandonNewPath', 'retireSession', 'sessions'] as const;

/** Whether `datapath` has the reconfiguration requests (the events come with them). */
export function isReconfigDatapath(datapath: object): datapath is ReconfigDatapath {
  const d = datapath as Record<string, unknown>;
  return REQUESTS.every((name) => typeof d[name] === 'function') && typeof (d.events as { on?: unknown } | undefined)?.on === 'function';
}
