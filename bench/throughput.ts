// `throughput`: iperf3 goodput client → mb1 → server in network namespaces, three ways in one run,
// measured round-robin so drift hits all alike:
//   dysco        every host behind a Dysco agent; the client's policy chains the session through mb1
//   passthrough  every host behind a pass-through agent; the router steers the flow through mb1 by IP
//   plain        no agents at all; the same IP steering through mb1
// The bar: dysco ≥ 0.95 × passthrough (BENCHMARKS.md).
import { createTestbed, measureIperf3, routeThroughChain, type Testbed, type TopologyInput } from '../src/testbed';
import { formatTable, median, report, round } from './report';

export interface ThroughputOptions {
  quick: boolean;
  deviceKind: 'af_packet' | 'af_xdp';
  streams: number;
  log: (line: string) => void;
}

const TARGET_RATIO = 0.95;

const CHAIN_1_PLAIN: TopologyInput = {
  name: 'chain-1-plain',
  hosts: [
    { name: 'client', agent: false },
    { name: 'mb1', agent: false, forwarding: true },
    { name: 'server', agent: false },
  ],
};

interface Config {
  name: 'dysco' | 'passthrough' | 'plain';
  describe: string;
  create: (options: ThroughputOptions) => Promise<Testbed>;
  testbed?: Testbed;
  samples: number[];
  retransmits: number[];
}

async function routedChain(topology: string | TopologyInput, options: ThroughputOptions): Promise<Testbed> {
  const tb = await createTestbed(topology, { deviceKind: options.deviceKind });
  await routeThroughChain(tb, 'client', 'server', ['mb1']);
  return tb;
}

export async function runThroughput(options: ThroughputOptions): Promise<void> {
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 4 : 10;
  const configs: Config[] = [
    {
      name: 'dysco',
      describe: 'Dysco agents, session chained through mb1 by policy',
      create: (o) =>
        createTestbed('chain-1', {
          deviceKind: o.deviceKind,
          dysco: true,
          policies: { client: [{ name: 'through-mb1', match: { dstPrefix: 'server' }, chain: ['mb1'] }] },
        }),
      samples: [],
      retransmits: [],
    },
    { name: 'passthrough', describe: 'pass-through agents, routed through mb1 by IP', create: (o) => routedChain('chain-1', o), samples: [], retransmits: [] },
    { name: 'plain', describe: 'no agents, routed through mb1 by IP', create: (o) => routedChain(CHAIN_1_PLAIN, o), samples: [], retransmits: [] },
  ];
  try {
    for (const config of configs) {
      options.log(`setting up ${config.name}: ${config.describe}`);
      config.testbed = await config.create(options);
    }
    for (let r = 0; r < rounds; r++) {
      for (const config of configs) {
        const tb = config.testbed!;
        const result = await measureIperf3(tb.host('client'), tb.host('server'), { seconds, streams: options.streams, omitSeconds: 1 });
        config.samples.push(result.gbps);
        config.retransmits.push(result.retransmits ?? 0);
        options.log(`round ${r + 1}/${rounds} ${config.name}: ${result.gbps.toFixed(3)} Gbit/s, ${result.retransmits ?? '?'} retransmits`);
      }
    }
  } finally {
    for (const config of configs) await config.testbed?.destroy();
  }

  const gbps = Object.fromEntries(configs.map((c) => [c.name, median(c.samples)])) as Record<Config['name'], number>;
  const rows = configs.map((c) => [c.name, c.describe, median(c.samples).toFixed(3), c.samples.map((s) => s.toFixed(2)).join(' '), median(c.retransmits)]);
  const table = formatTable(['path', 'what', 'median Gbit/s', 'samples', 'median retransmits'], rows);
  const ratio = gbps.dysco / gbps.passthrough;
  report(
    `${table}\ndysco / passthrough = ${ratio.toFixed(3)} (target ≥ ${TARGET_RATIO})`,
    {
      bench: 'throughput',
      dysco_gbps: round(gbps.dysco),
      passthrough_gbps: round(gbps.passthrough),
      plain_gbps: round(gbps.plain),
      ratio: round(ratio),
      passthrough_over_plain: round(gbps.passthrough / gbps.plain),
      pass: ratio >= TARGET_RATIO,
    },
    {
      quick: options.quick,
      deviceKind: options.deviceKind,
      streams: options.streams,
      seconds,
      rounds,
      samples: Object.fromEntries(configs.map((c) => [c.name, { gbps: c.samples, retransmits: c.retransmits }])),
    },
  );
}
