// The typed surface of the addon's `flowTable` object (native/addon/table_bindings.cc): the datapath's
// session lookup table (native/core/flow_table.h) on its own, for the native test tier. Arguments are
// trusted by the native side; callers validate them first.

/** A five-tuple; addresses and ports as unsigned host-order numbers. protocol 0 is never a valid key. */
export interface FlowKey {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  protocol: number;
}

/** The C++ FlowInsertStatus, by name. */
export const FLOW_INSERT_STATUS_NAMES = ['inserted', 'exists', 'full', 'invalid_key'] as const;
export type FlowInsertStatus = (typeof FLOW_INSERT_STATUS_NAMES)[number];

/** The most keys one lookupBulk call takes (FlowTable::kMaxBulk). */
export const FLOW_TABLE_MAX_BULK = 64;

export interface FlowBulkResult {
  /** Bit i set when keys[i] was found. */
  hitMask: bigint;
  /** values[i] is the value of keys[i], or undefined for a miss. */
  values: (number | undefined)[];
}

export interface FlowTableHandle {
  /** 'exists' leaves the stored value unchanged; 'full' once size() === capacity(). */
  insert(key: FlowKey, value: number): FlowInsertStatus;
  lookup(key: FlowKey): number | undefined;
  /** Replaces the value of a present key; false when absent. */
  update(key: FlowKey, value: number): boolean;
  erase(key: FlowKey): boolean;
  size(): number;
  /** The maxEntries the table was created with. */
  capacity(): number;
  /** Bytes of the slot array. */
  memoryBytes(): number;
  /** At most FLOW_TABLE_MAX_BULK keys (RangeError beyond). */
  lookupBulk(keys: FlowKey[]): FlowBulkResult;
}

export interface FlowTableBinding {
  /** Throws RangeError when maxEntries is 0, above 2^30, or the allocation fails. */
  create(maxEntries: number): FlowTableHandle;
}
