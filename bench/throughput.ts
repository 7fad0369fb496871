// `throughput`: iperf3 goodput client → mb1 → server in network namespaces, three ways in one run
// and for each port kind asked for (af_packet, af_xdp), measured round-robin so drift hits all alike:
//   dysco        every host behind a Dysco agent; the client's policy chains the session through mb1
//   passthrough  every host behind a pass-through agent; the router steers the flow through mb1 by IP
//   plain        no agents at all; the same IP steering through mb1
// The bar: dysco ≥ 0.95 × passthrough (BENCHMARKS.md).
import { createTestbed, measureIperf3, routeThroughChain, type Testbed, type TopologyInput } from '../src/testbed';
import type { DeviceKind } from '../src/testbed/state';
import { formatTable, median, report, round } from './report';

export interface ThroughputOptions {
  quick: boolean;
  /** every kind given is measured in the same run, side by side */
  deviceKinds: readonly DeviceKind[];
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

type PathName = 'dysco' | 'passthrough' | 'plain';

interface Config {
  path: PathName;
  /** absent for the path without agents */
  deviceKind?: DeviceKind;
  describe: string;
  create: () => Promise<Testbed>;
  testbed?: Testbed;
  samples: number[];
  retransmits: number[];
}

function label(config: Config): string {
  return config.deviceKind ? `${config.path} ${config.deviceKind}` : config.path;
}

async function routedChain(topology: string | TopologyInput, deviceKind: DeviceKind): Promise<Testbed> {
  const tb = await createTestbed(topology, { deviceKind });
  await routeThroughChain(tb, 'client', 'server', ['mb1']);
  return tb;
}

export async function runThroughput(options: ThroughputOptions): Promise<void> {
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 4 : 10;
  if (options.deviceKinds.length === 0) throw new Error('throughput needs at least one device kind');
  const configs: Config[] = [];
  for (const deviceKind of options.deviceKinds) {
    configs.push(
      {
        path: 'dysco',
        deviceKind,
        describe: 'Dysco agents, session chained through mb1 by policy',
        create: () =>
          createTestbed('chain-1', {
            deviceKind,
            dysco: true,
            policies: { client: [{ name: 'through-mb1', match: { dstPrefix: 'server' }, chain: ['mb1'] }] },
          }),
        samples: [],
        retransmits: [],
      },
      {
        path: 'passthrough',
        deviceKind,
        describe: 'pass-through agents, routed through mb1 by IP',
        create: () => routedChain('chain-1', deviceKind),
        samples: [],
        retransmits: [],
      },
    );
  }
  configs.push({
    path: 'plain',
    describe: 'no agents, routed through mb1 by IP',
    create: () => routedChain(CHAIN_1_PLAIN, options.deviceKinds[0]!),
    samples: [],
    retransmits: [],
  });
  try {
    for (const config of configs) {
      options.log(`setting up ${label(config)}: ${config.describe}`);
      config.testbed = await config.create();
    }
    for (let r = 0; r < rounds; r++) {
      for (const config of configs) {
        const tb = config.testbed!;
        const result = await measureIperf3(tb.host('client'), tb.host('server'), { seconds, streams: options.streams, omitSeconds: 1 });
        config.samples.push(result.gbps);
        config.retransmits.push(result.retransmits ?? 0);
        options.log(`round ${r + 1}/${rounds} ${label(config)}: ${result.gbps.toFixed(3)} Gbit/s, ${result.retransmits ?? '?'} retransmits`);
      }
    }
  } finally {
    for (const config of configs) await config.testbed?.destroy();
  }

  const gbpsOf = (path: PathName, kind?: DeviceKind) => median(configs.find((c) => c.path === path && c.deviceKind === kind)!.samples);
  const rows = configs.map((c) => [label(c), c.describe, median(c.samples).toFixed(3), c.samples.map((s) => s.toFixed(2)).join(' '), median(c.retransmits)]);
  const table = formatTable(['path', 'what', 'median Gbit/s', 'samples', 'median retransmits'], rows);
  const plain = gbpsOf('plain');
  // The first kind keeps the JSON keys of a one-kind run; every kind also gets keys of its own.
  const first = options.deviceKinds[0]!;
  const ratio = gbpsOf('dysco', first) / gbpsOf('passthrough', first);
  const perKind: Record<string, number> = {};
  const ratios: string[] = [];
  for (const kind of options.deviceKinds) {
    const dysco = gbpsOf('dysco', kind);
    const passthrough = gbpsOf('passthrough', kind);
    perKind[`${kind}_dysco_gbps`] = round(dysco);
    perKind[`${kind}_passthrough_gbps`] = round(passthrough);
    perKind[`${kind}_ratio`] = round(dysco / passthrough);
    ratios.push(`${kind}: dysco / passthrough = ${(dysco / passthrough).toFixed(3)}`);
  }
  report(
    `${table}\n${ratios.join('\n')} (target ≥ ${TARGET_RATIO})`,
    {
      bench: 'throughput',
      device_kind: first,
      dysco_gbps: round(gbpsOf('dysco', first)),
      passthrough_gbps: round(gbpsOf('passthrough', first)),
      plain_gbps: round(plain),
      ratio: round(ratio),
      passthrough_over_plain: round(gbpsOf('passthrough', first) / plain),
      ...perKind,
      pass: options.deviceKinds.every((kind) => gbpsOf('dysco', kind) / gbpsOf('passthrough', kind) >= TARGET_RATIO),
    },
    {
      quick: options.quick,
      deviceKinds: options.deviceKinds,
      streams: options.streams,
      seconds,
      rounds,
      samples: Object.fromEntries(configs.map((c) => [label(c), { gbps: c.samples, retransmits: c.retransmits }])),
    },
  );
}
