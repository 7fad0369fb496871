// What live reconfiguration needs of a datapath: the requests of requests.def (OpenNewPath, ExpectNewPath,
// AbandonNewPath, RetireSession), the events of events.def (new_path_answered, two_paths_entered,
// old_path_drained, new_path_refused) and the session dumps and session events that name the sessions.
// `Datapath` (src/datapath/datapath.ts) has them; this narrower surface is what the reconfiguration service needs,
// so that its tests can drive it with in-process datapaths.
import type { EventEmitter } from 'node:events';
import type { DatapathEventMap } from '../datapath/datapath';
import type { NativeSessionPage } from '../native/binding';
import type { NativeSessionSummary, SessionQuery } from '../native/session-types';
import type {
  AnchorSideName,
  NewPathAnsweredEvent,
  NewPathRefusedEvent,
  NewPathSpec,
  NewSubsession,
  OldPathDrainedEvent,
  SessionEndedEvent,
  SessionEstablishedEvent,
  TwoPathsEnteredEvent,
} from '../native/events';

export type NewPathSide = AnchorSideName;
export type NewPathEvent = NewPathAnsweredEvent | TwoPathsEnteredEvent;
export type PathSideEvent = OldPathDrainedEvent | NewPathRefusedEvent;
export type { NewPathSpec, NewSubsession };

export interface ReconfigEventMap {
  new_path_answered: [NewPathAnsweredEvent];
  two_paths_entered: [TwoPathsEnteredEvent];
  old_path_drained: [OldPathDrainedEvent];
  new_path_refused: [NewPathRefusedEvent];
  session_established: [SessionEstablishedEvent];
  session_ended: [SessionEndedEvent];
}

export type ReconfigEventType = keyof ReconfigEventMap;

export interface ReconfigDatapath {
  /** A Datapath's typed emitter; only the events of ReconfigEventMap are listened to. */
  readonly events: Pick<EventEmitter<DatapathEventMap>, 'on' | 'off'>;
  sessions(cursor: number, limit: number): Promise<NativeSessionPage>;
  findSession(query: SessionQuery): Promise<NativeSessionSummary | null>;
  openNewPath(spec: NewPathSpec): Promise<void>;
  expectNewPath(spec: NewPathSpec): Promise<void>;
  abandonNewPath(sessionId: number, nonce: number): Promise<void>;
  retireSession(sessionId: number): Promise<void>;
}
