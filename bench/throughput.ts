// `throughput`: iperf3 goodput client → server in network namespaces, through two pass-through
// agents and over plain veths, measured alternately in one run (the plain veth is the ceiling,
// pass-through agents the baseline later Dysco chains are held to).
import { createTestbed, measureIperf3, type Testbed } from '../src/testbed';
import { formatTable, median, report, round } from './report';

export interface ThroughputOptions {
  quick: boolean;
  deviceKind: 'af_packet' | 'af_xdp';
  streams: number;
  log: (line: string) => void;
}

interface Config {
  name: string;
  topology: string;
  testbed?: Testbed;
  samples: number[];
  retransmits: number[];
}

export async function runThroughput(options: ThroughputOptions): Promise<void> {
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 4 : 10;
  const configs: Config[] = [
    { name: 'plain', topology: 'pair-plain', samples: [], retransmits: [] },
    { name: 'passthrough', topology: 'pair', samples: [], retransmits: [] },
  ];
  try {
    for (const config of configs) {
      options.log(`setting up ${config.topology} (${options.deviceKind})`);
      config.testbed = await createTestbed(config.topology, { deviceKind: options.deviceKind });
    }
    for (let r = 0; r < rounds; r++) {
      for (const config of configs) {
        const tb = config.testbed!;
        const result = await measureIperf3(tb.host('client'), tb.host('server'), {
          seconds,
          streams: options.streams,
          omitSeconds: 1,
        });
        config.samples.push(result.gbps);
        config.retransmits.push(result.retransmits ?? 0);
        options.log(`round ${r + 1}/${rounds} ${config.name}: ${result.gbps.toFixed(3)} Gbit/s, ${result.retransmits ?? '?'} retransmits`);
      }
    }
  } finally {
    for (const config of configs) await config.testbed?.destroy();
  }

  const [plain, passthrough] = configs.map((c) => median(c.samples)) as [number, number];
  const rows = configs.map((c) => [
    c.name,
    c.topology,
    median(c.samples).toFixed(3),
    c.samples.map((s) => s.toFixed(2)).join(' '),
    median(c.retransmits),
  ]);
  const table = formatTable(['path', 'topology', 'median Gbit/s', 'samples', 'median retransmits'], rows);
  const summary = {
    bench: 'throughput',
    passthrough_gbps: round(passthrough),
    plain_gbps: round(plain),
    ratio: round(passthrough / plain),
    // No target binds pass-through against plain veths; the run passes when both paths carried traffic.
    pass: passthrough > 0 && plain > 0,
  };
  report(table, summary, {
    quick: options.quick,
    deviceKind: options.deviceKind,
    streams: options.streams,
    seconds,
    rounds,
    samples: Object.fromEntries(configs.map((c) => [c.name, { gbps: c.samples, retransmits: c.retransmits }])),
  });
}
