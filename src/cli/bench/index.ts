import type { CommandModule } from 'yargs';
import { BENCHMARKS } from '../../../bench';
import { UserError } from '../shared/user-error';

interface BenchArgs {
  name: string;
  quick: boolean;
  deviceKind: ('af_packet' | 'af_xdp')[];
  streams: number;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench <name>',
  describe: `run a benchmark (${Object.keys(BENCHMARKS).join(', ')}); prints a table and a last JSON line`,
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'benchmark name' })
      .option('quick', { type: 'boolean', default: false, describe: 'a short run (under a minute) with the same figures' })
      .option('device-kind', {
        type: 'array',
        choices: ['af_packet', 'af_xdp'] as const,
        default: ['af_packet', 'af_xdp'] as const,
        describe: 'PMD backing the agents\' veth ports; throughput measures every kind given side by side, the others use the first',
      })
      .option('streams', { type: 'number', default: 4, describe: 'parallel TCP streams' }) as never,
  handler: async (args) => {
    const bench = BENCHMARKS[args.name];
    if (!bench) throw new UserError(`unknown benchmark "${args.name}"; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    if (!Number.isInteger(args.streams) || args.streams < 1 || args.streams > 128) throw new UserError('--streams must be an integer from 1 to 128');
    await bench.run({
      quick: args.quick,
      deviceKind: args.deviceKind[0] ?? 'af_packet',
      deviceKinds: [...new Set(args.deviceKind)],
      streams: args.streams,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  },
};
