/** Network-namespace testbeds: topologies, names, live testbeds with agents, cleanup and sweeps, iperf3, netem, verified streams. */
export * from './names';
export * from './topology';
export * from './state';
export {
  DEFAULT_AGENT_STOP_TIMEOUT_MS,
  destroyRun,
  isStale,
  listDyscoNamespaces,
  listNamespaces,
  listRuns,
  namespacePids,
  namespacesOfRun,
  staleApiSockets,
  staleDpdkDirs,
  sweep,
  sweepAll,
  type RunStatus,
  type SweepOptions,
  type SweepReport,
  type TeardownReport,
} from './cleanup';
export {
  CommandError,
  inNamespace,
  isAlive,
  run,
  runInNamespace,
  spawnInNamespace,
  type RunOptions,
  type RunResult,
} from './exec';
export * from './testbed';
export * from './iperf';
export * from './ip-chain';
export * from './netem';
export * from './verified-stream-run';
export { parseSnmpRetransSegs, parseSsRetransmissions } from './tcp-counters';
export * from './random-loss';
export * from './reordering';
export * from './diagnosis';
export * from './exposition';
export * from './capture';
