// The benchmark registry behind `dysco bench <name>`.
import { runControlSeal } from './control-seal';
import { runMigrationGoodput } from './migration-goodput';
import { runSetupLatency } from './setup-latency';
import { runPipeline } from './pipeline';
import { runReconfigBench } from './reconfig';
import { runStateTransfer } from './state-transfer';
import { runThroughput } from './throughput';

export interface BenchOptions {
  quick: boolean;
  /** the port kind of benchmarks that use one */
  deviceKind: 'af_packet' | 'af_xdp';
  /** every port kind asked for, for benchmarks that compare them (throughput) */
  deviceKinds: readonly ('af_packet' | 'af_xdp')[];
  streams: number;
  /** reconfig: each stream's rate each way */
  rateMbit?: number;
  /** reconfig: time each step on the client's link as well */
  wire?: boolean;
  /** migration-goodput: move the migrated sessions' state (false: show the firewall blocking them) */
  stateTransfer?: boolean;
  /** migration-goodput: connections per bundle */
  connections?: number;
  log: (line: string) => void;
}

export const BENCHMARKS: Record<string, { describe: string; run: (options: BenchOptions) => Promise<void> }> = {
  throughput: {
    describe: 'iperf3 goodput client → mb1 → server: a Dysco chain vs pass-through agents vs plain veths',
    run: (options) => runThroughput(options),
  },
  'setup-latency': {
    describe: 'connect() latency through chains of 0-4 middleboxes: Dysco vs the same chain routed by IP',
    run: (options) => runSetupLatency(options),
  },
  pipeline: {
    describe: 'SessionPipeline on synthetic packets: cycles and instructions per packet, setups/s, bytes/session',
    run: (options) => runPipeline(options),
  },
  reconfig: {
    describe: 'reconfigurations of live sessions carrying verified traffic both ways: time, failures, bytes lost, retransmissions',
    run: (options) => runReconfigBench(options),
  },
  'migration-goodput': {
    describe: 'the paper\'s Figure 11: three bundles through a firewall, one moved to a second firewall with its conntrack state; goodput per second',
    run: (options) =>
      runMigrationGoodput({
        quick: options.quick,
        stateTransfer: options.stateTransfer !== false,
        wire: options.wire === true,
        log: options.log,
        ...(options.connections !== undefined && { connections: options.connections }),
        ...(options.rateMbit !== undefined && { rateMbit: options.rateMbit }),
      }),
  },
  'control-seal': {
    describe: 'sealed control frames (HMAC-SHA-256) against unsealed ones: microseconds a frame, encode to decode',
    run: (options) => runControlSeal(options),
  },
  'state-transfer': {
    describe: 'conntrack state of 1 to 10K real sessions moved between two namespaces over ctnetlink, against a conntrack process per entry',
    run: (options) => runStateTransfer(options),
  },
};
