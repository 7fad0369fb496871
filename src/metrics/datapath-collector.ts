// Prometheus metrics backed by the native counters. The counters are copied once per scrape
// (refresh) and every metric's collect() reads that one snapshot.
import { Gauge, type Registry } from 'prom-client';
import { labelledSnapshotCounter, snapshotCounter, snapshotGauge } from './snapshot-metrics';
import type { DatapathCounters } from '../datapath/datapath';
import { DROP_REASONS, type DropReason } from '../native/generated/codes';

export interface CounterSource {
  counters(): DatapathCounters;
  readonly running: boolean;
}

const PORTS = ['host', 'wire'] as const;

export class DatapathCollector {
  private snapshot: DatapathCounters | undefined;

  constructor(
    registry: Registry,
    private readonly source: () => CounterSource | undefined,
  ) {
    const read = () => this.snapshot;
    const portCounter = (name: string, help: string, field: keyof DatapathCounters['ports']['host']) =>
      labelledSnapshotCounter(registry, name, help, 'port', PORTS, read, (s, port) => s.ports[port as (typeof PORTS)[number]][field]);
    const scalarCounter = (name: string, help: string, pick: (s: DatapathCounters) => number) =>
      snapshotCounter(registry, name, help, read, pick);
    const gauge = (name: string, help: string, pick: (s: DatapathCounters) => number) =>
      snapshotGauge(registry, name, help, read, pick);

    portCounter('dysco_port_rx_packets_total', 'Packets received on a datapath port.', 'rxPackets');
    portCounter('dysco_port_rx_bytes_total', 'Bytes received on a datapath port.', 'rxBytes');
    portCounter('dysco_port_tx_packets_total', 'Packets transmitted on a datapath port.', 'txPackets');
    portCounter('dysco_port_tx_bytes_total', 'Bytes transmitted on a datapath port.', 'txBytes');
    labelledSnapshotCounter(registry, 'dysco_port_passed_not_dysco_total',
      'Frames received on a port and passed on unchanged that were no whole IPv4 TCP segment (fragments, truncated headers, UDP, ICMP, ARP).',
      'port', PORTS, read, (s, port) => s.passedNotDysco[port as (typeof PORTS)[number]]);
    labelledSnapshotCounter(registry, 'dysco_port_tx_fragmented_total',
      'Frames longer than the port MTU that left the port as IPv4 fragments.',
      'port', PORTS, read, (s, port) => s.txFragmented[port as (typeof PORTS)[number]]);
    labelledSnapshotCounter(registry, 'dysco_drops_total', 'Packets dropped by the datapath, by reason.', 'reason', DROP_REASONS, read, (s, reason) => s.drops[reason as DropReason]);
    scalarCounter('dysco_datapath_busy_seconds_total', 'Lcore time in loop iterations that did work.', (s) => s.busySeconds);
    scalarCounter('dysco_datapath_idle_seconds_total', 'Lcore time in loop iterations that found nothing, sleeps included.', (s) => s.idleSeconds);
    scalarCounter('dysco_datapath_loop_iterations_total', 'Iterations of the poll-mode loop.', (s) => s.loopIterations);
    scalarCounter('dysco_datapath_idle_sleeps_total', 'Sleeps taken by the adaptive idle back-off.', (s) => s.idleSleeps);
    scalarCounter('dysco_datapath_requests_total', 'Control-plane requests served by the lcore.', (s) => s.requestsServed);
    scalarCounter('dysco_datapath_events_total', 'Events posted by the lcore to the control plane.', (s) => s.eventsPosted);
    scalarCounter('dysco_datapath_events_dropped_total', 'Events the lcore could not queue: the event ring was full (control packets and session events leave half of it to request completions).', (s) => s.eventsDropped);
    scalarCounter('dysco_datapath_events_unheard_total', 'Events that reached the control plane with no listener for them, read and discarded.', (s) => s.eventsUnheard);
    gauge('dysco_mempool_mbufs', 'Mbufs in the datapath pool.', (s) => s.mempoolSize);
    gauge('dysco_mempool_free_mbufs', 'Mbufs currently free in the datapath pool.', (s) => s.mempoolAvailable);
    new Gauge({
      name: 'dysco_datapath_up',
      help: '1 while the datapath loop runs.',
      registers: [registry],
      collect() {
        this.set(source()?.running ? 1 : 0);
      },
    });
  }

  /** Copies the native counters once for the scrape about to run. */
  refresh(): void {
    this.snapshot = this.source()?.counters();
  }
}
