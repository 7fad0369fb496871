// The StateAdapter of the kernel's connection tracking (an iptables or nftables firewall, a NAT): entries exported
// and imported over ctnetlink in batches by the agent's addon (native/conntrack), in the network namespace of the
// middlebox's stack. What an import created is read back and compared with what was exported.
import { constants } from 'node:os';
import { native, type NativeBinding, type NativeConntrackSummary } from '../native/binding';
import { callNative } from '../native/errors';
import type { Tuple } from '../reconfig/messages';
import type { ExportOutcome, ImportOutcome, StateAdapter, StateBlob, StateFailure } from './state-adapter';

export type ConntrackBinding = Pick<NativeBinding, 'conntrackExport' | 'conntrackImport' | 'conntrackDelete' | 'conntrackSummarize'>;

export interface ConntrackAdapterOptions {
  /** the middlebox stack's network namespace, as a path (/var/run/netns/NAME, /proc/PID/ns/net); default the agent's own */
  netnsPath?: string;
  binding?: ConntrackBinding;
}

// Status bits an entry keeps through an import; the kernel sets the others itself (IPS_CONFIRMED, the NAT bits).
const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const IPS_FIXED_TIMEOUT = 1 << 10;
const KEPT_STATUS = IPS_SEEN_REPLY | IPS_ASSURED | IPS_FIXED_TIMEOUT;

const sameTuple = (a: Tuple, b: Tuple) => a.srcIp === b.srcIp && a.dstIp === b.dstIp && a.srcPort === b.srcPort && a.dstPort === b.dstPort;

function checkTuple(t: Tuple, what: string): void {
  const u32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  const port = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff;
  if (!t || !u32(t.srcIp) || !u32(t.dstIp) || !port(t.srcPort) || !port(t.dstPort)) {
    throw new TypeError(`${what}: a tuple needs srcIp and dstIp (uint32) and srcPort and dstPort (1..65535)`);
  }
}

function failureOf(errno: number): StateFailure {
  if (errno === constants.errno.ENOENT) return 'not_found';
  if (errno === constants.errno.EEXIST) return 'exists';
  if (errno === constants.errno.EINVAL) return 'malformed';
  return 'failed';
}

/** What must read back as it was exported: the connection's state, not its age. */
function sameState(exported: NativeConntrackSummary, found: NativeConntrackSummary): boolean {
  return (
    sameTuple(exported.original, found.original) &&
    sameTuple(exported.reply, found.reply) &&
    exported.tcpState === found.tcpState &&
    exported.mark === found.mark &&
    (exported.status & KEPT_STATUS) === (found.status & KEPT_STATUS) &&
    found.timeoutSeconds <= exported.timeoutSeconds &&
    found.timeoutSeconds > 0
  );
}

export class ConntrackAdapter implements StateAdapter {
  readonly kind = 'conntrack';
  private readonly netnsPath: string;
  private readonly binding: ConntrackBinding;

  constructor(options: ConntrackAdapterOptions = {}) {
    if (options.netnsPath !== undefined && (typeof options.netnsPath !== 'string' || !options.netnsPath.startsWith('/'))) {
      throw new TypeError('conntrack: netnsPath must be an absolute path to a network namespace');
    }
    this.netnsPath = options.netnsPath ?? '';
    this.binding = options.binding ?? native();
  }

  async exportState(tuples: readonly Tuple[]): Promise<ExportOutcome[]> {
    tuples.forEach((t) => checkTuple(t, 'conntrack export'));
    const entries = callNative(() => this.binding.conntrackExport(this.netnsPath, [...tuples]));
    return tuples.map((tuple, i): ExportOutcome => {
      const entry = entries[i]!;
      if (entry.error !== 0 || !entry.message) return { tuple, ok: false, reason: failureOf(entry.error) };
      return { tuple, ok: true, blob: { tuple, bytes: entry.message } };
    });
  }

  async importState(blobs: readonly StateBlob[]): Promise<ImportOutcome[]> {
    const outcomes: ImportOutcome[] = new Array(blobs.length);
    const accepted: { index: number; summary: NativeConntrackSummary }[] = [];
    blobs.forEach((blob, index) => {
      const valid = blob && Buffer.isBuffer(blob.bytes);
      const summary = valid ? callNative(() => this.binding.conntrackSummarize(blob.bytes)) : null;
      // The bytes must be the state of the session they are sent for, and of no other.
      if (!summary || !blob.tuple || !sameTuple(summary.original, blob.tuple)) {
        outcomes[index] = { tuple: blob?.tuple, ok: false, reason: 'malformed' };
        return;
      }
      accepted.push({ index, summary });
    });
    if (accepted.length === 0) return outcomes;
    const errnos = callNative(() => this.binding.conntrackImport(this.netnsPath, accepted.map((a) => blobs[a.index]!.bytes)));
    const created = accepted.filter((a, k) => {
      const errno = errnos[k]!;
      if (errno !== 0) outcomes[a.index] = { tuple: blobs[a.index]!.tuple, ok: false, reason: failureOf(errno) };
      return errno === 0;
    });
    if (created.length === 0) return outcomes;
    const readBack = callNative(() => this.binding.conntrackExport(this.netnsPath, created.map((c) => c.summary.original)));
    created.forEach((c, k) => {
      const found = readBack[k]!;
      const tuple = blobs[c.index]!.tuple;
      outcomes[c.index] = found.error === 0 && found.summary && sameState(c.summary, found.summary) ? { tuple, ok: true } : { tuple, ok: false, reason: 'not_verified' };
    });
    return outcomes;
  }

  async deleteState(tuples: readonly Tuple[]): Promise<void> {
    tuples.forEach((t) => checkTuple(t, 'conntrack delete'));
    const errnos = callNative(() => this.binding.conntrackDelete(this.netnsPath, [...tuples]));
    const failed = errnos.filter((e) => e !== 0 && e !== constants.errno.ENOENT);
    if (failed.length > 0) throw new Error(`conntrack delete: ${failed.length} of ${tuples.length} entries could not be deleted`);
  }
}
