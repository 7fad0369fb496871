import type { CommandModule } from 'yargs';
import { runChainDemo, runMigrationDemo } from './handler';

interface DemoArgs {
  kind: 'migration' | 'chain';
  seconds: number;
  deviceKind: 'af_packet' | 'af_xdp';
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo [kind]',
  describe: 'in network namespaces, then torn down: "migration" (default) moves live sessions between two iptables firewalls with their state (the paper\'s Figure 11, short); "chain" runs iperf3 through client → middlebox → server',
  builder: (yargs) =>
    yargs
      .positional('kind', { choices: ['migration', 'chain'] as const, default: 'migration' as const })
      .option('seconds', { type: 'number', default: 5, describe: 'chain: iperf3 duration' })
      .option('device-kind', { choices: ['af_packet', 'af_xdp'] as const, default: 'af_packet' as const, describe: 'chain: the agents\' port kind' }) as never,
  handler: (args) => (args.kind === 'chain' ? runChainDemo(args) : runMigrationDemo()),
};
