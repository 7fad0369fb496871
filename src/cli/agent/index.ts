import type { CommandModule } from 'yargs';
import { runAgent } from './handler';
import { agentOptions, type AgentArgs } from './options';

export const agentCommand: CommandModule<object, AgentArgs> = {
  command: 'agent',
  describe: 'run the Dysco agent: a DPDK datapath between the host stack and the network',
  builder: (yargs) => agentOptions(yargs) as never,
  handler: (args) => runAgent(args),
};
