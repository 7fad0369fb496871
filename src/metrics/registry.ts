// The agent's dedicated prom-client registry: build info, process metrics and datapath counters.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { DatapathCollector, type CounterSource } from './datapath-collector';
import { registerSessionMetrics, type SessionStatsSource } from './session-collector';
import { VERSION } from '../version';

export interface AgentMetrics {
  registry: Registry;
  /** Call before registry.metrics(): copies the native counters once. */
  refresh(): void;
}

export function createAgentMetrics(source: () => (CounterSource & SessionStatsSource) | undefined): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dysco_' });
  new Gauge({
    name: 'dysco_build_info',
    help: 'Build information; the value is always 1.',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: VERSION, node: process.version }, 1);
  const collector = new DatapathCollector(registry, source);
  registerSessionMetrics(registry, source);
  return {
    registry,
    refresh: () => collector.refresh(),
  };
}
