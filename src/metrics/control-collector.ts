// The control channel's counters (src/control/counters.ts) as Prometheus series, read at scrape time. Labels are
// the frame type, the outcome and the rejection or failure reason: bounded lists, never a peer's address.
import { Counter, Histogram, type Registry } from 'prom-client';
import {
  COUNTED_TYPES,
  DELIVERY_FAILURE_REASONS,
  FRAME_OUTCOMES,
  REJECT_REASONS,
  type ControlCountersSnapshot,
} from '../control/counters';

export interface ControlCounterSource {
  counterSnapshot(): ControlCountersSnapshot;
}

/** 0.1 ms to 1 s: a crossing between two agents takes a fraction of a millisecond on an idle box. */
export const CONTROL_ROUND_TRIP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface ControlMetrics {
  /** A message acknowledged after one transmission: the seconds from sending it to its ack. */
  roundTrip(seconds: number): void;
}

export function registerControlMetrics(registry: Registry, source: () => ControlCounterSource | undefined): ControlMetrics {
  const roundTrip = new Histogram({
    name: 'dysco_control_round_trip_seconds',
    help: 'From sending a control message to its ack, for messages acked after one transmission: two crossings between agents, each through both lcores and the receiving agent\'s event loop.',
    buckets: CONTROL_ROUND_TRIP_BUCKETS,
    registers: [registry],
  });
  new Counter({
    name: 'dysco_control_messages_total',
    help: 'Frames of the channel between agents by type and outcome: sent (first transmissions, acks included), retransmitted, received (delivered once; acks that settled a message), duplicate (acked again, not delivered), delivery_failed (given up), transmit_error (refused by the datapath, retransmitted on schedule).',
    labelNames: ['type', 'outcome'],
    registers: [registry],
    collect() {
      const s = source()?.counterSnapshot();
      this.reset();
      for (const type of COUNTED_TYPES) {
        if (type === 'unknown') continue; // nothing but rejections has an unknown type
        for (const outcome of FRAME_OUTCOMES) this.inc({ type, outcome }, s ? s.frames[type][outcome] : 0);
      }
    },
  });
  new Counter({
    name: 'dysco_control_rejected_total',
    help: 'Datagrams to the control port counted and ignored: malformed (a decoding reason), stale or unexpected. type is unknown when the header did not get as far as a known type.',
    labelNames: ['type', 'reason'],
    registers: [registry],
    collect() {
      const s = source()?.counterSnapshot();
      this.reset();
      for (const type of COUNTED_TYPES) {
        for (const reason of REJECT_REASONS) this.inc({ type, reason }, s ? s.rejected[type][reason] : 0);
      }
    },
  });
  new Counter({
    name: 'dysco_control_delivery_failures_total',
    help: 'Messages to a neighbouring agent given up: retries_exhausted (no ack after every attempt) or queue_full.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const s = source()?.counterSnapshot();
      this.reset();
      for (const reason of DELIVERY_FAILURE_REASONS) this.inc({ reason }, s ? s.deliveryFailures[reason] : 0);
    },
  });
  return { roundTrip: (seconds) => roundTrip.observe(seconds) };
}
