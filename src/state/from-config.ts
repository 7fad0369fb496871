// The state adapter an agent's config names (src/agent/config.ts, `state`).
import { CommandAdapter } from './command-adapter';
import { ConntrackAdapter } from './conntrack-adapter';
import type { StateAdapter } from './state-adapter';

export type StateConfig =
  | { adapter: 'conntrack'; netns?: string }
  | { adapter: 'commands'; export: string[]; import: string[]; delete?: string[]; timeoutMs: number };

export function stateAdapterFrom(config: StateConfig): StateAdapter {
  if (config.adapter === 'conntrack') return new ConntrackAdapter(config.netns === undefined ? {} : { netnsPath: config.netns });
  return new CommandAdapter({
    exportCommand: config.export,
    importCommand: config.import,
    ...(config.delete && { deleteCommand: config.delete }),
    timeoutMs: config.timeoutMs,
  });
}
