// Loads the agent's addon (dysco_native) once and describes its surface: EAL lifecycle, the Datapath class, the
// error-code and drop-reason lists. The bindings that reach into the core for tests are another addon
// (dysco_core_test), loaded from test/ only; their typed surfaces are the other *-binding.ts files here.
import bindings from 'bindings';
import type { DatapathEvent, NewPathSpec, TransmitSpec } from './events';
import type { NativeListAuth, NativePipelineStats, NativeSessionSummary, NativeTuple, PipelineOptions, SessionQuery } from './session-types';

export type { NativeHandshake, NativePipelineStats, NativeSessionSummary, NativeTuple, PipelineOptions } from './session-types';

/** Every field is required: defaults and limits live in the agent config schema (src/agent/config.ts). */
export interface NativeDatapathOptions {
  hostDevice: string;
  wireDevice: string;
  mbufs: number;
  /** 0 adaptive, 1 busy. */
  pollMode: number;
  idleSleepMaxUs: number;
  txDrainUs: number;
  rxDescriptors: number;
  txDescriptors: number;
  ringSize: number;
  /** Present: run the Dysco session pipeline; absent: pass-through. */
  dysco?: PipelineOptions;
}

export interface NativePortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export interface NativeCounters {
  ports: { host: NativePortCounters; wire: NativePortCounters };
  /** by receiving port: frames passed on unchanged that were no whole IPv4 TCP segment */
  passedNotDysco: { host: number; wire: number };
  /** by sending port: frames longer than the MTU that left as IPv4 fragments */
  txFragmented: { host: number; wire: number };
  drops: Record<string, number>;
  busySeconds: number;
  idleSeconds: number;
  loopIterations: number;
  idleSleeps: number;
  requestsServed: number;
  eventsPosted: number;
  eventsDropped: number;
  mempoolSize: number;
  mempoolAvailable: number;
}

export interface NativePortInfo {
  portId: number;
  name: string;
  driver: string;
  mtu: number;
}

export interface NativeDatapathInfo {
  open: boolean;
  running?: boolean;
  lcore?: number;
  tscHz?: number;
  host?: NativePortInfo;
  wire?: NativePortInfo;
}

export interface NativeRequestResult {
  id: number;
  results: [number, number, number, number];
}

export interface NativeSessionPage {
  sessions: NativeSessionSummary[];
  nextCursor: number | null;
}

export interface NativeDatapath {
  open(): void;
  start(): void;
  stop(): void;
  close(): void;
  request(type: number, args: number[]): Promise<NativeRequestResult>;
  counters(): NativeCounters;
  info(): NativeDatapathInfo;
  installPolicies(compiled: Buffer): Promise<void>;
  installListAuth(settings: NativeListAuth | null): Promise<void>;
  sessions(cursor: number, limit: number): Promise<NativeSessionPage>;
  /** One session without a dump; null when there is none. */
  findSession(query: SessionQuery): Promise<NativeSessionSummary | null>;
  pipelineStats(): NativePipelineStats | null;
  transmit(spec: TransmitSpec): Promise<{ sent: boolean }>;
  openNewPath(spec: NewPathSpec): Promise<void>;
  expectNewPath(spec: NewPathSpec): Promise<void>;
  abandonNewPath(sessionId: number, nonce: number): Promise<void>;
  retireSession(sessionId: number): Promise<void>;
  /** Receives every event but completions (on the JS thread, in order); undefined removes it. */
  setEventListener(listener: ((event: DatapathEvent) => void) | undefined): void;
}

export type EalState = 'uninitialised' | 'running' | 'cleaned-up';

export interface NativeBinding {
  /** Returns the EAL runtime directory. */
  ealInit(args: string[]): string;
  ealCleanup(): void;
  ealState(): EalState;
  errorCodes: Record<string, number>;
  dropReasons: string[];
  /** The .def lists as compiled into the addon (test/unit/error-codes.test.ts checks them against generated/codes.ts). */
  requestTypes: Record<string, number>;
  requestServedBy: Record<string, string>;
  eventTypes: Record<string, number>;
  eventLabels: Record<string, string>;
  sessionStates: string[];
  sessionRoles: string[];
  teardownCauses: string[];
  pipelineCounters: string[];
  Datapath: new (options: NativeDatapathOptions) => NativeDatapath;
  /** Entries of TCP connections (original direction) in the namespace at netnsPath ('' = the agent's own). */
  conntrackExport(netnsPath: string, tuples: NativeTuple[]): NativeConntrackExport[];
  /**
   * Creates entries from exported messages, each for the session of the same index, and reads them back: per message
   * 0 (created and reads back as sent), CONNTRACK_NOT_VERIFIED, or an errno (17 EEXIST, 22 EINVAL: not an entry of
   * that session).
   */
  conntrackImport(netnsPath: string, messages: Buffer[], sessions: NativeTuple[]): number[];
  /** Deletes entries by original tuple: an errno per tuple (0 deleted, 2 ENOENT none). */
  conntrackDelete(netnsPath: string, tuples: NativeTuple[]): number[];
  /** What an exported message holds; null unless it is one ctnetlink entry of an IPv4 TCP connection. */
  conntrackSummarize(message: Buffer): NativeConntrackSummary | null;
}

export interface NativeConntrackSummary {
  original: NativeTuple;
  reply: NativeTuple;
  /** the kernel's enum tcp_conntrack: 3 is ESTABLISHED */
  tcpState: number;
  timeoutSeconds: number;
  mark: number;
  /** IPS_* status bits */
  status: number;
}

export type NativeConntrackExport = { error: 0; message: Buffer } | { error: number; message?: undefined };

/** conntrackImport's answer for an entry that was created but does not read back as it was exported. */
export const CONNTRACK_NOT_VERIFIED = -2;

let cached: NativeBinding | undefined;

export function native(): NativeBinding {
  cached ??= bindings('dysco_native') as NativeBinding;
  return cached;
}
