// `dysco testbed`: network-namespace topologies with agents, for tests, demos and experiments.
import type { Argv, CommandModule } from 'yargs';
import { runDown, runStatus, runUp } from './handler';
import { downOptions, statusOptions, upOptions, type DownArgs, type StatusArgs, type UpArgs } from './options';

const upCommand: CommandModule<object, UpArgs> = {
  command: 'up <topology>',
  describe: 'create a persistent testbed (pair, pair-plain, chain-<N>, or a topology file)',
  builder: (yargs) => upOptions(yargs) as never,
  handler: (args) => runUp(args),
};

const downCommand: CommandModule<object, DownArgs> = {
  command: 'down [run]',
  describe: 'remove one testbed run, or every dysco- testbed',
  builder: (yargs) => downOptions(yargs) as never,
  handler: (args) => runDown(args),
};

const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'list testbed runs, their namespaces and agents',
  builder: (yargs) => statusOptions(yargs) as never,
  handler: (args) => runStatus(args),
};

export const testbedCommand: CommandModule = {
  command: 'testbed <command>',
  describe: 'network-namespace testbeds: up, down, status',
  builder: (yargs: Argv) =>
    yargs
      .command(upCommand)
      .command(downCommand)
      .command(statusCommand)
      .demandCommand(1, 'name a testbed command: up, down or status'),
  handler: () => undefined,
};
