import { createTestbed, measureIperf3 } from '../../testbed';
import { runBenchProgram } from '../bench';
import { UserError } from '../shared/user-error';

function setups(metrics: string, kind: string): number {
  return Number(new RegExp(`^dysco_session_setups_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
}

/**
 * The main demo, the paper's Figure 11 in short: three bundles of connections through the iptables firewall mb1,
 * one handed over to mb2 with its conntrack state halfway (the migration-goodput benchmark's quick run).
 */
export async function runMigrationDemo(say: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<void> {
  say('dysco demo: three bundles of TCP connections from the client to the server through the iptables firewall mb1;');
  say('halfway, mb1 hands bundle 1 over to the firewall mb2, conntrack state and all. mb2 admits no connection itself:');
  say('only the moved state lets bundle 1 through. The links into mb1 and mb2 are limited alike, so bundle 1 gains.');
  const code = await runBenchProgram(['migration-goodput', '--quick']);
  say(code === 0 ? 'torn down: no namespace, veth or agent left' : `the experiment failed (exit ${code}); torn down`);
  if (code !== 0) process.exitCode = code;
}

/** client → mb1 → server with iperf3: the session set-up through one middlebox. */
export async function runChainDemo(args: { seconds: number; deviceKind: 'af_packet' | 'af_xdp' }): Promise<void> {
  if (!Number.isFinite(args.seconds) || args.seconds < 1 || args.seconds > 600) throw new UserError('--seconds must be from 1 to 600');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('dysco demo: client → mb1 → server, every host behind a Dysco agent (DPDK on veths, in network namespaces)');
  const tb = await createTestbed('chain-1', {
    deviceKind: args.deviceKind,
    dysco: true,
    policies: { client: [{ name: 'through-mb1', match: { dstPrefix: 'server' }, chain: ['mb1'] }] },
  });
  try {
    const client = tb.host('client');
    const mb = tb.host('mb1');
    const server = tb.host('server');
    say(`  client ${client.address}, middlebox ${mb.address} (an IP forwarder), server ${server.address}`);
    say(`  the client's policy chains its sessions to ${server.address} through ${mb.address}; no route does`);
    say(`iperf3 client → server for ${args.seconds} s ...`);
    const result = await measureIperf3(client, server, { seconds: args.seconds, streams: 1 });
    say(`goodput: ${result.gbps.toFixed(3)} Gbit/s (${(result.bytesReceived / 2 ** 20).toFixed(0)} MiB received, ${result.retransmits ?? '?'} retransmits)`);
    const [c, m, s] = await Promise.all([tb.scrapeMetrics('client'), tb.scrapeMetrics('mb1'), tb.scrapeMetrics('server')]);
    say(`sessions: client initiated ${setups(c, 'initiated')}, mb1 accepted ${setups(m, 'accepted')} and sent on ${setups(m, 'completed')}, server accepted ${setups(s, 'accepted')}`);
  } finally {
    await tb.destroy();
    say('torn down: no namespace, veth or agent left');
  }
}
