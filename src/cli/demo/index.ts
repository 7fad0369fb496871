import type { CommandModule } from 'yargs';
import { runDemo } from './handler';

interface DemoArgs {
  seconds: number;
  deviceKind: 'af_packet' | 'af_xdp';
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'client → middlebox → server, each behind a Dysco agent, in network namespaces: iperf3 through the chain, then tear down',
  builder: (yargs) =>
    yargs
      .option('seconds', { type: 'number', default: 5, describe: 'iperf3 duration' })
      .option('device-kind', { choices: ['af_packet', 'af_xdp'] as const, default: 'af_packet' as const }) as never,
  handler: (args) => runDemo(args),
};
