// Where an agent's control-API Unix socket lives by default: /run/dysco/agent-<pid>.sock. The agent, `dysco ctl`
// and the testbed's cleanup all name it from here.
import { join } from 'node:path';

export const DEFAULT_API_DIR = '/run/dysco';
const SOCKET_NAME = /^agent-([1-9][0-9]*)\.sock$/;

/** The default socket of the agent with this pid. */
export function defaultApiSocket(pid: number = process.pid, dir = DEFAULT_API_DIR): string {
  return join(dir, `agent-${pid}.sock`);
}

/** The agent pid a default socket's file name carries, or undefined for any other name. */
export function pidOfApiSocket(name: string): number | undefined {
  const match = SOCKET_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}
