// The typed surface of the addon's `neighbours` object (native/addon/neighbour_bindings.cc): ARP parse and
// build (native/core/arp.h) and the next-hop NeighbourTable (native/core/neighbour_table.h), on Node values
// without EAL. Arguments are trusted by the native side beyond kind checks; callers validate them first.
//
// IPv4 addresses are unsigned 32-bit host-order numbers (as in core.parsePacket); MACs are 6-byte Buffers;
// times are integer nanoseconds from any monotonic origin (the table never reads a clock); handles are
// non-negative integers that the table only stores and hands back.

/** Lists in the order of the C++ enums; a test checks they agree with the native name tables. */
export const RESOLVE_RESULT_NAMES = [
  /** MAC valid: send. */
  'reachable',
  /** MAC valid: send; a re-request for the stale entry is already outstanding. */
  'stale',
  /** MAC valid: send, and send one ARP request now (the entry went stale). */
  'stale_need_request',
  /** No MAC: send an ARP request now, then enqueue the packet. */
  'need_request',
  /** No MAC: a request is outstanding; enqueue the packet. */
  'pending',
  /** Resolution failed within the hold time: drop (neighbour_unresolved). */
  'failed',
  /** No entry free or evictable: drop. */
  'table_full',
] as const;
export type ResolveResultName = (typeof RESOLVE_RESULT_NAMES)[number];

export const ENQUEUE_RESULT_NAMES = ['queued', 'entry_full', 'total_full', 'not_resolving'] as const;
export type EnqueueResultName = (typeof ENQUEUE_RESULT_NAMES)[number];

export const LEARN_RESULT_NAMES = ['untracked', 'resolved', 'refreshed', 'changed', 'invalid_mac'] as const;
export type LearnResultName = (typeof LEARN_RESULT_NAMES)[number];

export const NEIGHBOUR_STATE_NAMES = ['free', 'incomplete', 'reachable', 'stale', 'failed'] as const;
export type NeighbourStateName = (typeof NEIGHBOUR_STATE_NAMES)[number];

export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export interface ArpMessage {
  /** ARP_OP_REQUEST or ARP_OP_REPLY. */
  op: number;
  ethDst: Buffer;
  ethSrc: Buffer;
  senderMac: Buffer;
  senderIp: number;
  targetMac: Buffer;
  targetIp: number;
  /** senderIp === targetIp. */
  gratuitous: boolean;
}

/** Every field optional; the defaults are the C++ NeighbourConfig's. */
export interface NeighbourTableOptions {
  /** Entries (default 256, at most 2^20). */
  capacity?: number;
  /** Handles waiting on one next hop (default 8). */
  maxQueuedPerEntry?: number;
  /** Handles waiting in the whole table (default 1024). */
  maxQueuedTotal?: number;
  /** ARP requests per resolution attempt, the first included (default 3). */
  maxRequests?: number;
  /** At most one request per entry per interval (default 200 ms). */
  retryIntervalNs?: number;
  /** Reachable → stale (default 30 s). */
  reachableLifetimeNs?: number;
  /** Longest a handle waits in the queue (default 1 s). */
  queueTimeoutNs?: number;
  /** A failed entry refuses new attempts this long (default 1 s). */
  failedHoldNs?: number;
}

export interface ResolveOutcome {
  status: ResolveResultName;
  /** Present exactly for 'reachable', 'stale' and 'stale_need_request'. */
  mac?: Buffer;
}

export interface LearnOutcome {
  status: LearnResultName;
  /** Handles that were waiting on this next hop and can be sent now, oldest first. */
  sendable: number[];
}

export interface NeighbourEntryInfo {
  /** The stored state, not advanced to any time. */
  state: NeighbourStateName;
  mac: Buffer;
  requestsSent: number;
  queued: number;
}

export interface NeighbourTableStats {
  size: number;
  queued: number;
  capacity: number;
  evictions: number;
  failures: number;
}

/** Every handle enqueue accepts comes back exactly once: from learn (send) or from expire/clear (unresolved). */
export interface NativeNeighbourTable {
  resolve(ip: number, now: number): ResolveOutcome;
  enqueue(ip: number, handle: number, now: number): EnqueueResultName;
  /** An ARP request or reply from ip with sender MAC was seen; never creates an entry. */
  learn(ip: number, mac: Buffer, now: number): LearnOutcome;
  /** Handles whose resolution failed or that waited too long. */
  expire(now: number): number[];
  /** Empties the table; returns every queued handle. */
  clear(): number[];
  lookup(ip: number): NeighbourEntryInfo | undefined;
  stats(): NeighbourTableStats;
}

export interface NeighbourBinding {
  readonly resolveResultNames: readonly string[];
  readonly enqueueResultNames: readonly string[];
  readonly learnResultNames: readonly string[];
  readonly stateNames: readonly string[];

  /** null unless the frame is untagged Ethernet/IPv4 ARP, request or reply, of at least 42 bytes. */
  parseArp(frame: Buffer): ArpMessage | null;
  /** A broadcast who-has request, zero-padded to 60 bytes. */
  buildArpRequest(senderMac: Buffer, senderIp: number, targetIp: number): Buffer;
  /** Throws an Error with code INVALID_ARGUMENT when the options are out of range. */
  NeighbourTable: new (options?: NeighbourTableOptions) => NativeNeighbourTable;
}
