// The typed surface of the addon's `pipeline` object: the session pipeline on Buffers, without EAL.
import type { NativePipelineStats, NativeSessionSummary, PipelineOptions } from './session-types';

export { SESSION_ROLES, SESSION_STATES, type NativeTuple, type PipelineOptions } from './session-types';

export type PipelineVerdict = 'wire' | 'host' | 'drop' | 'held';

export interface PipelineResult {
  verdict: PipelineVerdict;
  /** The frame as it leaves (for wire and host verdicts). */
  frame?: Buffer;
}

export interface PipelineHandshake {
  isn: number;
  windowScale: number | null;
  sackPermitted: boolean;
  timestamps: boolean;
  tsVal: number;
}

/** A session summary plus what the Buffer harness shows beyond the control API. */
export interface PipelineSession extends NativeSessionSummary {
  handshake: [PipelineHandshake, PipelineHandshake];
  tag: number;
}

/** Session counters, the same shape the Datapath reports. */
export type PipelineStats = NativePipelineStats;

export interface NativePipeline {
  fromHost(frames: Buffer[], nowMs: number): PipelineResult[];
  fromWire(frames: Buffer[], nowMs: number): PipelineResult[];
  expire(nowMs: number, budget: number): void;
  installPolicies(compiled: Buffer): void;
  sessions(nowMs?: number): PipelineSession[];
  stats(): PipelineStats;
  drops(): Record<string, number>;
  /** Frames the pipeline sent by itself since the last call (ARP requests, packets released after ARP). */
  takeSent(): Buffer[];
}

export interface PipelineBinding {
  Pipeline: new (options: PipelineOptions) => NativePipeline;
}
