// One reconfiguration as the `reconfig` benchmark times it: monotonic milliseconds from the left anchor's lock
// request; the later marks are there only when the reconfiguration got that far.

export type ReconfigKind = 'insert' | 'remove' | 'replace';

export interface ReconfigTiming {
  session: number;
  kind: ReconfigKind;
  outcome: { result: 'completed' } | { result: 'failed'; reason: string };
  lockRequestedAtMs: number;
  /** the first SYN of the new path's handshake */
  newPathSynAtMs?: number;
  /** the new path's first data segment */
  newPathFirstDataAtMs?: number;
  /** the old path torn down in every agent on it */
  oldPathGoneAtMs?: number;
}
