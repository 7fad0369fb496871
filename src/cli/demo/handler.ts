import { createTestbed, measureIperf3 } from '../../testbed';
import { UserError } from '../shared/user-error';

export async function runDemo(args: { seconds: number; deviceKind: 'af_packet' | 'af_xdp' }): Promise<void> {
  if (!Number.isFinite(args.seconds) || args.seconds < 1 || args.seconds > 600) throw new UserError('--seconds must be from 1 to 600');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('dysco demo: building client and server, each behind an agent (DPDK on veths, in network namespaces)');
  const tb = await createTestbed('pair', { deviceKind: args.deviceKind });
  try {
    const client = tb.host('client');
    const server = tb.host('server');
    say(`  client ${client.address} (${client.ns}), agent ${client.agent!.ns}`);
    say(`  server ${server.address} (${server.ns}), agent ${server.agent!.ns}`);
    say(`iperf3 client → server for ${args.seconds} s ...`);
    const result = await measureIperf3(client, server, { seconds: args.seconds, streams: 1 });
    say(`goodput: ${result.gbps.toFixed(3)} Gbit/s (${(result.bytesReceived / 2 ** 20).toFixed(0)} MiB received, ${result.retransmits ?? '?'} retransmits)`);
    const metrics = await tb.scrapeMetrics('client');
    const rx = /dysco_port_rx_packets_total\{port="host"\} (\d+)/.exec(metrics)?.[1];
    say(`client agent forwarded ${rx ?? '?'} packets from its host; metrics at ${client.agent!.metricsUrl} (inside ${client.agent!.ns})`);
  } finally {
    await tb.destroy();
    say('torn down: no namespace, veth or agent left');
  }
}
