// The StateAdapter of the kernel's connection tracking (an iptables or nftables firewall, a NAT): entries exported
// and imported over ctnetlink in batches by the agent's addon (native/conntrack), in the network namespace of the
// middlebox's stack. What an import created is read back there and compared with what was exported.
import { constants } from 'node:os';
import { CONNTRACK_NOT_VERIFIED, native, type NativeBinding } from '../native/binding';
import { callNative } from '../native/errors';
import type { Tuple } from '../reconfig/messages';
import type { ExportOutcome, ImportOutcome, StateAdapter, StateBlob, StateFailure } from './state-adapter';
import { checkTuple, validTuple } from './tuples';

export type ConntrackBinding = Pick<NativeBinding, 'conntrackExport' | 'conntrackImport' | 'conntrackDelete'>;

export interface ConntrackAdapterOptions {
  /** the middlebox stack's network namespace, as a path (/var/run/netns/NAME, /proc/PID/ns/net); default the agent's own */
  netnsPath?: string;
  binding?: ConntrackBinding;
}

function failureOf(errno: number): StateFailure {
  if (errno === constants.errno.ENOENT) return 'not_found';
  if (errno === constants.errno.EEXIST) return 'exists';
  if (errno === constants.errno.EINVAL) return 'malformed';
  return 'failed';
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
    const sent: number[] = [];
    blobs.forEach((blob, index) => {
      if (!blob || !Buffer.isBuffer(blob.bytes) || !validTuple(blob.tuple)) {
        outcomes[index] = { tuple: blob?.tuple, ok: false, reason: 'malformed' };
      } else {
        sent.push(index);
      }
    });
    if (sent.length === 0) return outcomes;
    // One conversation: the addon checks that each entry is the named session's, creates them, and reads them back.
    const errnos = callNative(() =>
      this.binding.conntrackImport(
        this.netnsPath,
        sent.map((i) => blobs[i]!.bytes),
        sent.map((i) => blobs[i]!.tuple),
      ),
    );
    sent.forEach((index, k) => {
      const errno = errnos[k]!;
      const tuple = blobs[index]!.tuple;
      outcomes[index] = errno === 0 ? { tuple, ok: true } : { tuple, ok: false, reason: errno === CONNTRACK_NOT_VERIFIED ? 'not_verified' : failureOf(errno) };
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
