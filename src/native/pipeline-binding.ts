// The typed surface of the addon's `pipeline` object: the session pipeline on Buffers, without EAL.
// Its requests go through the same SessionPipeline::Serve and event path as the lcore's.
import type { DatapathEvent, NewPathSpec, TransmitSpec } from './events';
import type { NativeListAuth, NativePipelineStats, NativeSessionSummary, PipelineOptions, SessionQuery } from './session-types';

export { SESSION_ROLES, SESSION_STATES } from './generated/codes';
export type { NativeListAuth, NativeTuple, PipelineOptions } from './session-types';

export type PipelineVerdict = 'wire' | 'host' | 'drop' | 'held' | 'consumed';

export interface PipelineResult {
  verdict: PipelineVerdict;
  /** The frame as it leaves (for wire and host verdicts). */
  frame?: Buffer;
}

/** A session summary plus what the Buffer harness shows beyond the control API. */
export interface PipelineSession extends NativeSessionSummary {
  tag: number;
}

/** Session counters, the same shape the Datapath reports. */
export type PipelineStats = NativePipelineStats;

export interface NativePipeline {
  fromHost(frames: Buffer[], nowMs: number): PipelineResult[];
  fromWire(frames: Buffer[], nowMs: number): PipelineResult[];
  expire(nowMs: number, budget: number): void;
  installPolicies(compiled: Buffer): void;
  /** Swaps in address-list authentication (null: off); throws TypeError on a bad shape. */
  installListAuth(settings: NativeListAuth | null): void;
  /** The wall clock signed lists are timed by (Unix seconds); 0: the real one. */
  setUnixSeconds(seconds: number): void;
  sessions(nowMs?: number): PipelineSession[];
  /** FindSession as the lcore serves it: by id, or by a tuple the host sends in either direction. */
  findSession(query: SessionQuery, nowMs: number): NativeSessionSummary | null;
  stats(): PipelineStats;
  drops(): Record<string, number>;
  /** Frames the pipeline sent by itself since the last call (ARP requests, packets released after ARP). */
  takeSent(): Buffer[];
  /** Frames the pipeline sent toward the host by itself since the last call (a reconfiguration's host probes). */
  takeSentToHost(): Buffer[];
  /** Serves a Transmit request; sent is false while the next hop's ARP is outstanding. Throws on a status error. */
  transmit(spec: TransmitSpec, nowMs: number): { sent: boolean };
  /** Reconfiguration requests, served as the lcore serves them; each throws on a status error. */
  openNewPath(spec: NewPathSpec, nowMs: number): void;
  expectNewPath(spec: NewPathSpec, nowMs: number): void;
  abandonNewPath(sessionId: number, nonce: number, nowMs: number): void;
  retireSession(sessionId: number, nowMs: number): void;
  /** Events posted since the last call, oldest first. */
  takeEvents(): DatapathEvent[];
  counters(): { requestsServed: number; eventsPosted: number; eventsDropped: number; eventsQueued: number };
}

export interface PipelineBinding {
  Pipeline: new (options: PipelineOptions) => NativePipeline;
}
