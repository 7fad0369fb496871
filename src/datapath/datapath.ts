// The typed datapath: EAL, two ports, the lcore loop, requests, events and counters.
import { EventEmitter } from 'node:events';
import {
  native,
  type NativeCounters,
  type NativeDatapath,
  type NativeDatapathOptions,
  type NativeDatapathInfo,
  type NativePipelineStats,
  type NativeSessionPage,
} from '../native/binding';
import type { NativeListAuth, NativeSessionSummary, PipelineOptions, SessionQuery } from '../native/session-types';
import { callNative, callNativeAsync } from '../native/errors';
import type {
  ControlPacketEvent,
  DatapathEvent,
  DatapathEventType,
  SessionEndedEvent,
  SessionEstablishedEvent,
  NewPathAnsweredEvent,
  NewPathRefusedEvent,
  NewPathSpec,
  OldPathDrainedEvent,
  TransmitSpec,
  TwoPathsEnteredEvent,
} from '../native/events';
import { DROP_REASONS, REQUEST_TYPES, type DropReason } from '../native/generated/codes';
import { ensureEal, isPciAddress, type EalOptions } from './eal';

export type PollMode = 'adaptive' | 'busy';

export interface DatapathOptions {
  /** Device string of the port toward the host's own stack. */
  hostDevice: string;
  /** Device string of the port toward the network. */
  wireDevice: string;
  pollMode: PollMode;
  /** Longest sleep of the adaptive idle back-off. */
  idleSleepMaxUs: number;
  txDrainUs: number;
  mbufs: number;
  rxDescriptors: number;
  txDescriptors: number;
  /** Entries of the request and event rings (a power of two). */
  ringSize: number;
  eal: EalOptions;
  /** Present: the Dysco session pipeline runs; absent: every frame bridges unchanged. */
  dysco?: PipelineOptions;
}

export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export interface DatapathCounters {
  ports: { host: PortCounters; wire: PortCounters };
  /** By receiving port: frames passed on unchanged that were not a whole IPv4 TCP segment (fragments,
   * truncated headers, UDP, ICMP, ARP). */
  passedNotDysco: { host: number; wire: number };
  /** By sending port: frames longer than the port's MTU that left as IPv4 fragments. */
  txFragmented: { host: number; wire: number };
  drops: Record<DropReason, number>;
  busySeconds: number;
  idleSeconds: number;
  loopIterations: number;
  idleSleeps: number;
  requestsServed: number;
  eventsPosted: number;
  eventsDropped: number;
  /** Events that reached the JS thread with no listener for them (read, then discarded). */
  eventsUnheard: number;
  mempoolSize: number;
  mempoolAvailable: number;
}

/** Listeners by event type, plus `event` for every event. */
export interface DatapathEventMap {
  control_packet: [ControlPacketEvent];
  session_established: [SessionEstablishedEvent];
  session_ended: [SessionEndedEvent];
  new_path_answered: [NewPathAnsweredEvent];
  two_paths_entered: [TwoPathsEnteredEvent];
  old_path_drained: [OldPathDrainedEvent];
  new_path_refused: [NewPathRefusedEvent];
  event: [DatapathEvent];
}
// Fails to compile when an event type has no listener list here.
const EVERY_EVENT_LISTENABLE: DatapathEventType extends keyof DatapathEventMap ? true : never = true;
void EVERY_EVENT_LISTENABLE;

const POLL_MODE_CODES: Record<PollMode, number> = { adaptive: 0, busy: 1 };

/** Accepted device strings: a DPDK vdev with its arguments, or a PCI address. */
export function validateDevice(device: string): string | undefined {
  if (isPciAddress(device)) return undefined;
  const name = device.split(',')[0] ?? '';
  if (!/^net_[a-z_]+[0-9]+$/.test(name)) {
    return `"${device}" is neither a PCI address nor a vdev such as net_af_packet0,iface=X`;
  }
  return undefined;
}

/** af_packet's default RX ring (512 frames) overflows under one TCP stream on a veth and the kernel drops
 * silently (the 22.11 PMD reports no imissed); 4096 frames measured 0 retransmits where 512 saw thousands. */
export const AF_PACKET_DEFAULT_FRAMES = 4096;

/** Fills in device arguments whose PMD defaults lose packets; arguments the user gave win. */
export function withDeviceDefaults(device: string): string {
  const [name = '', ...args] = device.split(',');
  if (name.startsWith('net_af_packet') && !args.some((arg) => arg.startsWith('framecnt='))) {
    return `${device},framecnt=${AF_PACKET_DEFAULT_FRAMES}`;
  }
  return device;
}

/** The addon's form of the options: poll mode as its code, device arguments that PMD defaults need. */
export function nativeDatapathOptions(options: DatapathOptions): NativeDatapathOptions {
  return {
    hostDevice: withDeviceDefaults(options.hostDevice),
    wireDevice: withDeviceDefaults(options.wireDevice),
    mbufs: options.mbufs,
    pollMode: POLL_MODE_CODES[options.pollMode],
    idleSleepMaxUs: options.idleSleepMaxUs,
    txDrainUs: options.txDrainUs,
    rxDescriptors: options.rxDescriptors,
    txDescriptors: options.txDescriptors,
    ringSize: options.ringSize,
    ...(options.dysco ? { dysco: options.dysco } : {}),
  };
}

export class Datapath {
  private stopped = true;
  private unheardEvents = 0;
  /** The lcore's events in the order it posted them (control packets, session events), on the JS thread. */
  readonly events = new EventEmitter<DatapathEventMap>();

  private constructor(
    private readonly handle: NativeDatapath,
    readonly runtimeDir: string,
  ) {
    handle.setEventListener((event) => this.deliver(event));
  }

  private deliver(event: DatapathEvent): void {
    try {
      // The union's `type` picks the listener list; the map above types each one.
      const byType = (this.events as unknown as EventEmitter).emit(event.type, event);
      const any = this.events.emit('event', event);
      if (!byType && !any) this.unheardEvents += 1;
    } catch (error) {
      // As an EventEmitter listener's error would: uncaught, but not inside the native event batch.
      process.nextTick(() => {
        throw error;
      });
    }
  }

  /** Initialises the EAL if needed (once per process) and opens both ports; the loop is not running yet. */
  static open(options: DatapathOptions): Datapath {
    const runtimeDir = ensureEal(options.eal, [options.hostDevice, options.wireDevice]);
    const binding = native();
    const handle = callNative(() => new binding.Datapath(nativeDatapathOptions(options)));
    callNative(() => handle.open());
    return new Datapath(handle, runtimeDir);
  }

  start(): void {
    callNative(() => this.handle.start());
    this.stopped = false;
  }

  /** Joins the lcore; buffered packets are flushed first. */
  stop(): void {
    this.handle.stop();
    this.stopped = true;
  }

  /** Stops and closes both ports. The EAL stays up until cleanupEal() or process exit. */
  close(): void {
    this.handle.close();
    this.handle.setEventListener(undefined);
    this.stopped = true;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** A round trip through the request and event rings. */
  async ping(): Promise<{ loopIterations: number }> {
    const reply = await callNativeAsync(() => this.handle.request(REQUEST_TYPES.Ping, []));
    return { loopIterations: reply.results[0] };
  }

  async setPollMode(mode: PollMode, idleSleepMaxUs: number): Promise<void> {
    await callNativeAsync(() => this.handle.request(REQUEST_TYPES.SetPollMode, [POLL_MODE_CODES[mode], idleSleepMaxUs]));
  }

  counters(): DatapathCounters {
    const raw: NativeCounters = this.handle.counters();
    const drops = Object.fromEntries(DROP_REASONS.map((reason) => [reason, raw.drops[reason] ?? 0])) as Record<
      DropReason,
      number
    >;
    return { ...raw, drops, eventsUnheard: this.unheardEvents };
  }

  info(): NativeDatapathInfo {
    return this.handle.info();
  }

  /** Swaps a compiled policy set (src/policy/compile.ts) into the running pipeline. */
  async installPolicies(compiled: Buffer): Promise<void> {
    await callNativeAsync(() => this.handle.installPolicies(compiled));
  }

  /** Swaps address-list authentication (src/security/list-auth.ts; null: off) into the running pipeline. */
  async installListAuth(settings: NativeListAuth | null): Promise<void> {
    await callNativeAsync(() => this.handle.installListAuth(settings));
  }

  /** A page of sessions copied by the lcore; pass nextCursor back for the next page. */
  sessions(cursor: number, limit: number): Promise<NativeSessionPage> {
    return callNativeAsync(() => this.handle.sessions(cursor, limit));
  }

  /** One session by id, or by a tuple its host sends in either direction; null when there is none. O(1) on the lcore. */
  findSession(query: SessionQuery): Promise<NativeSessionSummary | null> {
    return callNativeAsync(() => this.handle.findSession(query));
  }

  /**
   * Hands the lcore a UDP datagram to send from this host's address on the wire port, through the
   * pipeline's next-hop choice and ARP. `sent` is false while ARP for the next hop is outstanding (the
   * datagram goes when it resolves, or is dropped and counted under neighbour_unresolved).
   */
  transmit(spec: TransmitSpec): Promise<{ sent: boolean }> {
    return callNativeAsync(() => this.handle.transmit(spec));
  }

  /** Left anchor: the lcore sends the new path's SYN (again, for a repeat with the same nonce). */
  openNewPath(spec: NewPathSpec): Promise<void> {
    return callNativeAsync(() => this.handle.openNewPath(spec));
  }

  /** Right anchor: the lcore answers the new path's SYN with this nonce when it comes. */
  expectNewPath(spec: NewPathSpec): Promise<void> {
    return callNativeAsync(() => this.handle.expectNewPath(spec));
  }

  /** Forgets a new path that carries nothing yet; rejects with NEW_PATH_IN_USE after the switch. */
  abandonNewPath(sessionId: number, nonce: number): Promise<void> {
    return callNativeAsync(() => this.handle.abandonNewPath(sessionId, nonce));
  }

  /** A middlebox of an old path retires the session now (teardown cause `reconfigured`). */
  retireSession(sessionId: number): Promise<void> {
    return callNativeAsync(() => this.handle.retireSession(sessionId));
  }

  /** Session counters, or null in pass-through mode. */
  pipelineStats(): NativePipelineStats | null {
    return this.handle.pipelineStats();
  }
}
