#!/usr/bin/env node
// The benchmark program: `node dist/bench/main.js <name> [options]`, which `dysco bench` runs as a child process
// (src/ never imports bench/). Prints each benchmark's table and last JSON line; exit 1 on a user mistake.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BENCHMARKS } from './index';

class BenchUsageError extends Error {}

export function buildBenchCli(argv: string[]) {
  const names = Object.keys(BENCHMARKS);
  return yargs(argv)
    .scriptName('dysco bench')
    .command(
      '$0 <name>',
      `run a benchmark (${names.join(', ')}); prints a table and a last JSON line`,
      (y) =>
        y
          .positional('name', { type: 'string', demandOption: true, describe: 'benchmark name' })
          .option('quick', { type: 'boolean', default: false, describe: 'a short run (under a minute) with the same figures' })
          .option('device-kind', {
            type: 'array',
            choices: ['af_packet', 'af_xdp'] as const,
            default: ['af_packet', 'af_xdp'] as const,
            describe: "PMD backing the agents' veth ports; throughput measures every kind given side by side, the others use the first",
          })
          .option('streams', { type: 'number', default: 4, describe: 'parallel TCP streams' })
          .option('rate-mbit', { type: 'number', describe: 'reconfig: each stream\u2019s rate each way (default 10); migration-goodput: each firewall link\u2019s rate (default 100)' })
          .option('state-transfer', { type: 'boolean', default: true, describe: 'migration-goodput: move the sessions\u2019 state (--no-state-transfer: show the new firewall blocking them)' })
          .option('connections', { type: 'number', describe: 'migration-goodput: connections per bundle (default 100, quick 10)' })
          .option('wire', { type: 'boolean', default: false, describe: 'reconfig: capture the client\u2019s link (tcpdump) and time each step on the wire; migration-goodput: capture the router\u2019s links and split each control crossing into network and agent time' }),
      async (args) => {
        const bench = BENCHMARKS[args.name];
        if (!bench) throw new BenchUsageError(`unknown benchmark "${args.name}"; known: ${names.join(', ')}`);
        if (!Number.isInteger(args.streams) || args.streams < 1 || args.streams > 128) {
          throw new BenchUsageError('--streams must be an integer from 1 to 128');
        }
        if (args.connections !== undefined && (!Number.isInteger(args.connections) || args.connections < 1 || args.connections > 128)) {
          throw new BenchUsageError('--connections must be an integer from 1 to 128 (iperf3 -P)');
        }
        if (args.rateMbit !== undefined && !(args.rateMbit > 0 && args.rateMbit <= 10_000)) {
          throw new BenchUsageError('--rate-mbit must be a number above 0 and at most 10000');
        }
        await bench.run({
          quick: args.quick,
          deviceKind: args.deviceKind[0] ?? 'af_packet',
          deviceKinds: [...new Set(args.deviceKind)],
          streams: args.streams,
          ...(args.rateMbit !== undefined && { rateMbit: args.rateMbit }),
          wire: args.wire,
          stateTransfer: args.stateTransfer,
          ...(args.connections !== undefined && { connections: args.connections }),
          log: (line) => process.stderr.write(`${line}\n`),
        });
      },
    )
    .strict()
    .help();
}

async function main(): Promise<void> {
  try {
    await buildBenchCli(hideBin(process.argv))
      .fail((message, error, cli) => {
        if (error) throw error;
        cli.showHelp('error');
        throw new BenchUsageError(message);
      })
      .parseAsync();
  } catch (error) {
    const usage = error instanceof BenchUsageError;
    process.stderr.write(`dysco bench: ${usage ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
