// The benchmark registry behind `dysco bench <name>`.
import { runThroughput } from './throughput';

export interface BenchOptions {
  quick: boolean;
  deviceKind: 'af_packet' | 'af_xdp';
  streams: number;
  log: (line: string) => void;
}

export const BENCHMARKS: Record<string, { describe: string; run: (options: BenchOptions) => Promise<void> }> = {
  throughput: {
    describe: 'iperf3 goodput through two pass-through agents vs plain veths',
    run: (options) => runThroughput(options),
  },
};
