/**
 * A live testbed: namespaces, veths, a router, and one agent per agent host, built from a Topology and torn down
 * without leftovers. Everything is named `dysco-<run>-*` (namespaces) or `dy<run>*` (links). This is the facade over
 * the testbed's jobs: network.ts builds the network, agents.ts runs the agent processes, agent-config.ts says how
 * each agent is started, cleanup.ts tears down and sweeps.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  agentArgv,
  agentCommandArgs,
  DEFAULT_AGENT_ENTRY,
  DEFAULT_AGENT_LOG_LEVEL,
  DEFAULT_DEVICE_KIND,
  DEFAULT_METRICS_PORT,
  deviceString,
  writeDyscoAgentConfig,
  type TestbedPolicy,
} from './agent-config';
import { AgentProcesses, DEFAULT_READY_TIMEOUT_MS, LOG_TAIL_LINES, tailFile } from './agents';
import { listNamespaces, teardownRun, teardownRunSync, sweep, type RunResources, type TeardownReport } from './cleanup';
import { DEFAULT_API_DIR } from '../api/socket-path';
import { agentContainerName, containerAgentArgv } from './containers';
import { inNamespace, processStartTime, runInNamespace, signalQuiet, type RunResult } from './exec';
import type { AgentExit, AgentHandle, ExecOptions, HostHandle, Target } from './handles';
import { registerLive, unregisterLive, type LiveTestbed } from './hooks';
import {
  ROUTER_ROLE,
  agentNamespace,
  hostNamespace,
  linkName,
  newRunId,
  routerNamespace,
  runDirectory,
  RUN_ROOT,
} from './names';
import { buildNetwork } from './network';
import { writeState, type DeviceKind, type HostState, type TestbedState, STATE_VERSION } from './state';
import { addressPlan, resolveTopology, type Topology, type TopologyInput } from './topology';

// The facade keeps every name callers imported from here before the split.
export {
  DEFAULT_AGENT_ENTRY,
  DEFAULT_AGENT_LOG_LEVEL,
  DEFAULT_DEVICE_KIND,
  DEFAULT_METRICS_PORT,
  type TestbedPolicy,
} from './agent-config';
export { DEFAULT_READY_TIMEOUT_MS, tailFile } from './agents';
export type { AgentExit, AgentHandle, ExecOptions, HostHandle, Target } from './handles';
export { OFFLOAD_FEATURES } from './network';

export interface TestbedOptions {
  /** start an agent in every agent host's agent namespace; default true. Without, the agent namespaces are wired
   * but nothing bridges them until an agent is started (`startAgent`) */
  startAgents?: boolean;
  /** how the agent's ports are backed; default af_packet */
  deviceKind?: DeviceKind;
  /** outlive this process (`dysco testbed up`); sweeps and exit hooks leave it alone; default false */
  persistent?: boolean;
  /** default 30 s */
  readyTimeoutMs?: number;
  /** grace between SIGTERM and SIGKILL for agents on destroy; default 5 s */
  agentStopTimeoutMs?: number;
  /** default 9464 (each agent in its own namespace, so all share it) */
  metricsPort?: number;
  /** default info */
  logLevel?: string;
  /** path of the compiled CLI entry; default dist/src/cli/main.js */
  agentEntry?: string;
  /** appended to every agent's command line */
  agentArgs?: readonly string[];
  /** agent environment; default process.env */
  agentEnv?: NodeJS.ProcessEnv;
  /** turn offloads off on links without an agent too (fair baselines); default true */
  offloadsOffOnPlainLinks?: boolean;
  /** run directory root; default /run/dysco/testbeds */
  runRoot?: string;
  /** sweep stale runs before creating; default true */
  sweep?: boolean;
  /** run the agents in Dysco mode (each with its host's address and gateway); default false (pass-through) */
  dysco?: boolean;
  /**
   * Dysco policies per host name. A chain entry may name a host of the topology instead of giving its address;
   * a match prefix may name a host too (its /32).
   */
  policies?: Readonly<Record<string, readonly TestbedPolicy[]>>;
  /** extra agent config (merged into each Dysco agent's config file), e.g. dysco.timeouts */
  agentConfig?: Readonly<Record<string, unknown>>;
  /** Dysco mode: the agents' control port (the channel reconfiguration needs); default 7777, 0 for none.
   * A dysco.controlPort in agentConfig wins. */
  controlPort?: number;
  /** Dysco mode: the agents of forwarding hosts (the middleboxes) keep their host stack's connection tracking
   * as its session state (config `state`: conntrack in the host's namespace). */
  middleboxState?: 'conntrack';
  /** run every agent from this container image under podman (docker/Dockerfile, `npm run image`) in place of a Node
   * process; each container joins its host's agent namespace */
  agentImage?: string;
  /** Dysco mode: every agent signs and verifies address lists with one key the testbed makes for the run
   * (`keyFile`, mode 0600; rewrite it and send the agents SIGHUP to rotate). */
  signedLists?: boolean;
  /** Dysco mode: every agent watches this etcd store for the fleet's policies (config `policyEtcd`), each with
   * its own cache file in the run directory. */
  policyEtcd?: { endpoints: readonly string[]; prefix?: string; reconnectMaxMs?: number };
}

export const DEFAULT_TESTBED_CONTROL_PORT = 7777;

export class Testbed implements LiveTestbed {
  readonly runId: string;
  readonly topology: Topology;
  readonly runDir: string;
  readonly routerNs: string;
  readonly hosts: readonly HostHandle[];
  /** every namespace of the run: router, hosts, agents */
  readonly namespaces: readonly string[];
  readonly deviceKind: DeviceKind;
  private _persistent: boolean;
  private readonly opts: TestbedOptions;
  private readonly agents = new AgentProcesses(() => this.saveState());
  private readonly spawned = new Set<ChildProcess>();
  private readonly createdAt = new Date().toISOString();
  private readonly ownerStartTime = processStartTime(process.pid);
  private destroyed: Promise<TeardownReport> | undefined;

  /** Use `createTestbed`. */
  constructor(runId: string, topology: Topology, opts: TestbedOptions) {
    this.runId = runId;
    this.topology = topology;
    this.opts = opts;
    this._persistent = false; // until fully up, so an interrupted `up` cleans after itself
    this.deviceKind = opts.deviceKind ?? DEFAULT_DEVICE_KIND;
    this.runDir = runDirectory(runId, opts.runRoot ?? RUN_ROOT);
    this.routerNs = routerNamespace(runId);
    const port = opts.metricsPort ?? DEFAULT_METRICS_PORT;
    this.hosts = addressPlan(topology).map((a) => {
      const spec = topology.hosts[a.index]!;
      const agent: AgentHandle | undefined = spec.agent
        ? {
            ns: agentNamespace(runId, spec.name),
            hostIface: linkName(runId, 'agentHost', a.index),
            wireIface: linkName(runId, 'agentWire', a.index),
            hostDevice: deviceString(this.deviceKind, 0, linkName(runId, 'agentHost', a.index)),
            wireDevice: deviceString(this.deviceKind, 1, linkName(runId, 'agentWire', a.index)),
            metricsPort: port,
            metricsUrl: `http://127.0.0.1:${port}/metrics`,
            logFile: resolve(this.runDir, `agent-${spec.name}.log`),
          }
        : undefined;
      return {
        name: spec.name,
        index: a.index,
        ns: hostNamespace(runId, spec.name),
        address: a.address,
        prefixLength: a.prefixLength,
        cidr: `${a.address}/${a.prefixLength}`,
        gateway: a.gateway,
        iface: linkName(runId, 'host', a.index),
        routerIface: linkName(runId, 'router', a.index),
        forwarding: spec.forwarding ?? false,
        agent,
      };
    });
    this.namespaces = [this.routerNs, ...this.hosts.flatMap((h) => (h.agent ? [h.ns, h.agent.ns] : [h.ns]))];
  }

  get persistent(): boolean {
    return this._persistent;
  }

  /** A host by name. */
  host(name: string): HostHandle {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`testbed ${this.runId}: no host "${name}" (hosts: ${this.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** The state file's content as of now. */
  state(): TestbedState {
    return {
      version: STATE_VERSION,
      runId: this.runId,
      topology: this.topology,
      createdAt: this.createdAt,
      owner: { pid: process.pid, startTime: this.ownerStartTime },
      persistent: this._persistent,
      deviceKind: this.deviceKind,
      routerNs: this.routerNs,
      namespaces: [...this.namespaces],
      agentPidsEver: [...this.agents.pidsEver],
      ...(this.opts.agentImage !== undefined && { agentImage: this.opts.agentImage, agentContainers: this.agentContainers() }),
      hosts: this.hosts.map((h): HostState => {
        const running = this.agents.live(h.name);
        return {
          name: h.name,
          index: h.index,
          ns: h.ns,
          address: h.address,
          gateway: h.gateway,
          prefixLength: h.prefixLength,
          iface: h.iface,
          routerIface: h.routerIface,
          forwarding: h.forwarding,
          agent: h.agent && {
            ns: h.agent.ns,
            hostIface: h.agent.hostIface,
            wireIface: h.agent.wireIface,
            metricsPort: h.agent.metricsPort,
            logFile: h.agent.logFile,
            pid: running?.pid,
            pidStartTime: running?.startTime,
          },
        };
      }),
    };
  }

  private saveState(): void {
    if (this.destroyed === undefined) writeState(this.runDir, this.state());
  }

  private nsOf(target: Target, agentNs = false): string {
    if (target === ROUTER_ROLE) {
      if (agentNs) throw new Error('the router has no agent namespace');
      return this.routerNs;
    }
    const h = typeof target === 'string' ? this.host(target) : target;
    if (!agentNs) return h.ns;
    if (!h.agent) throw new Error(`host ${h.name} has no agent`);
    return h.agent.ns;
  }

  /** Run a command in a host's namespace (or `router`'s); rejects on non-zero exit unless `allowFailure`. */
  exec(target: Target, cmd: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    return runInNamespace(this.nsOf(target, opts.agentNs), cmd, opts);
  }

  /** Spawn a command in a host's namespace; killed on destroy if still running. */
  spawn(target: Target, cmd: readonly string[], opts: SpawnOptions & { agentNs?: boolean } = {}): ChildProcess {
    const { agentNs, ...spawnOpts } = opts;
    const [file, ...args] = inNamespace(this.nsOf(target, agentNs), cmd);
    const child = spawn(file!, args, spawnOpts);
    this.spawned.add(child);
    child.once('exit', () => this.spawned.delete(child));
    return child;
  }

  /** The host's agent handle; throws if the host has none. */
  agentOf(host: Target): AgentHandle {
    const h = typeof host === 'string' ? this.host(host) : host;
    if (!h.agent) throw new Error(`host ${h.name} has no agent`);
    return h.agent;
  }

  /** Pid of the host's running agent, if any. */
  agentPid(host: Target): number | undefined {
    return this.agents.live(this.agentHostName(host))?.pid;
  }

  private agentHostName(host: Target): string {
    return typeof host === 'string' ? this.host(host).name : host.name;
  }

  /** The last `lines` lines of the host's agent log. */
  agentLogTail(host: Target, lines = LOG_TAIL_LINES): string {
    return tailFile(this.agentOf(host).logFile, lines);
  }

  /** The full argv the agent of `host` is started with. */
  agentCommand(host: Target): string[] {
    const ag = this.agentOf(host);
    const launch = {
      entry: this.opts.agentEntry ?? DEFAULT_AGENT_ENTRY,
      logLevel: this.opts.logLevel ?? DEFAULT_AGENT_LOG_LEVEL,
      extraArgs: this.opts.agentArgs ?? [],
    };
    const image = this.opts.agentImage;
    if (image === undefined) return inNamespace(ag.ns, agentArgv(ag, launch, this.dyscoArgs(host)));
    return containerAgentArgv({
      name: agentContainerName(this.runId, this.agentHostName(host)),
      image,
      agentNs: ag.ns,
      sharedDirs: [this.runDir, DEFAULT_API_DIR],
      args: agentCommandArgs(ag, launch, this.dyscoArgs(host)),
    });
  }

  /** The agent containers of the run (with `agentImage`), by name. */
  private agentContainers(): string[] {
    if (this.opts.agentImage === undefined) return [];
    return this.hosts.filter((h) => h.agent).map((h) => agentContainerName(this.runId, h.name));
  }

  /** Whether the agents run in Dysco mode. */
  get dysco(): boolean {
    return Boolean(this.opts.dysco);
  }

  /** With `signedLists`: the run's key file (one key, id 1), made on first use. */
  get keyFile(): string | undefined {
    if (!this.opts.signedLists) return undefined;
    const file = join(this.runDir, 'keys.json');
    if (!existsSync(file)) {
      const ring = { keys: [{ id: 1, key: randomBytes(16).toString('hex') }], signingKeyId: 1 };
      writeFileSync(file, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
    }
    return file;
  }

  /** Dysco mode: the host's address and gateway, and a config file with its policies. */
  private dyscoArgs(target: Target): string[] {
    if (!this.opts.dysco) return [];
    const h = typeof target === 'string' ? this.host(target) : target;
    return writeDyscoAgentConfig(h, {
      runDir: this.runDir,
      hosts: this.hosts,
      policies: this.opts.policies?.[h.name] ?? [],
      agentConfig: {
        ...this.agentConfigWithControlPort(),
        ...(this.opts.middleboxState && h.forwarding && { state: { adapter: this.opts.middleboxState, netns: `/var/run/netns/${h.ns}` } }),
        ...(this.opts.signedLists && { security: { keyFile: this.keyFile, ...((this.opts.agentConfig?.security as object) ?? {}) } }),
        ...(this.opts.policyEtcd && { policyEtcd: { ...this.opts.policyEtcd, cachePath: join(this.runDir, `policy-cache-${h.name}.json`) } }),
      },
    });
  }

  private agentConfigWithControlPort(): Readonly<Record<string, unknown>> {
    const config = this.opts.agentConfig ?? {};
    const dysco = (config.dysco ?? {}) as Record<string, unknown>;
    if (dysco.controlPort !== undefined) return config;
    return { ...config, dysco: { ...dysco, controlPort: this.opts.controlPort ?? DEFAULT_TESTBED_CONTROL_PORT } };
  }

  /**
   * Start the agent of `host` in its agent namespace, logging to its log file, and wait for its ready line.
   * On timeout or early exit the agent is killed and the error carries the log tail.
   */
  async startAgent(host: Target): Promise<number> {
    const name = this.agentHostName(host);
    const ag = this.agentOf(name);
    const entry = this.opts.agentEntry ?? DEFAULT_AGENT_ENTRY;
    const fromImage = this.opts.agentImage !== undefined;
    if (!fromImage && !existsSync(entry)) throw new Error(`agent entry ${entry} not found (build with npm run build:ts)`);
    return this.agents.start(name, {
      argv: this.agentCommand(name),
      logFile: ag.logFile,
      env: this.opts.agentEnv ?? process.env,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      // podman's pid is not the agent's: the agent names its own in its log
      pidFromLog: fromImage,
    });
  }

  /** Start every agent host's agent, in parallel. */
  async startAgents(): Promise<void> {
    await Promise.all(this.hosts.filter((h) => h.agent).map((h) => this.startAgent(h)));
  }

  /**
   * Signal the agent of `host` and wait for it to end; after `timeoutMs` (default 5 s) it is SIGKILLed and the
   * result says `timedOut`.
   */
  async stopAgent(host: Target, signal: NodeJS.Signals = 'SIGTERM', opts: { timeoutMs?: number } = {}): Promise<AgentExit> {
    return this.agents.stop(this.agentHostName(host), signal, opts.timeoutMs ?? this.opts.agentStopTimeoutMs);
  }

  /** GET the agent's /metrics from inside its agent namespace. */
  async scrapeMetrics(host: Target, opts: { timeoutMs?: number } = {}): Promise<string> {
    const ag = this.agentOf(host);
    const seconds = Math.max(1, Math.ceil((opts.timeoutMs ?? 5_000) / 1000));
    const r = await runInNamespace(ag.ns, ['curl', '-sS', '--max-time', String(seconds), ag.metricsUrl], {
      timeoutMs: seconds * 1000 + 2_000,
    });
    return r.stdout;
  }

  private resources(): RunResources {
    return {
      runId: this.runId,
      namespaces: this.namespaces,
      agents: this.agents.running(),
      dpdkPids: [...this.agents.pidsEver],
      containers: this.agentContainers(),
      runDir: this.runDir,
    };
  }

  private killSpawned(): void {
    for (const c of this.spawned) if (c.pid !== undefined && c.exitCode === null) signalQuiet(c.pid, 'SIGKILL');
  }

  /** Stop agents (SIGTERM, then SIGKILL), kill what is left in our namespaces, delete them, remove our dirs. */
  destroy(): Promise<TeardownReport> {
    if (this.destroyed === undefined) {
      this.destroyed = (async () => {
        try {
          this.killSpawned();
          return await teardownRun(this.resources(), { agentStopTimeoutMs: this.opts.agentStopTimeoutMs });
        } finally {
          unregisterLive(this);
        }
      })();
    }
    return this.destroyed;
  }

  /** Best-effort synchronous teardown (process 'exit'). */
  destroySync(): void {
    if (this.destroyed !== undefined) return;
    this.destroyed = Promise.resolve({ runId: this.runId, namespaces: [], killedPids: [], dpdkDirs: [], apiSockets: [] });
    unregisterLive(this);
    this.killSpawned();
    teardownRunSync(this.resources(), { agentStopTimeoutMs: Math.min(this.opts.agentStopTimeoutMs ?? 2_000, 2_000) });
  }

  /** Build the namespaces and links (called by createTestbed). */
  async build(): Promise<void> {
    const existing = new Set(listNamespaces());
    const clash = this.namespaces.find((ns) => existing.has(ns));
    if (clash) throw new Error(`namespace ${clash} already exists`);
    await buildNetwork({
      routerNs: this.routerNs,
      hosts: this.hosts,
      offloadsOffOnPlainLinks: this.opts.offloadsOffOnPlainLinks ?? true,
    });
  }

  /** Mark persistent (after a successful `up`) and save the state. */
  markPersistent(persistent: boolean): void {
    this._persistent = persistent;
    this.saveState();
  }

  /** Save the state (after a change the testbed cannot see). */
  persistState(): void {
    this.saveState();
  }
}

/**
 * Build a testbed: sweep stale runs, register cleanup, write the state file, create namespaces and links, start the
 * agents and wait for them. On any failure everything created so far is torn down and the error rethrown.
 */
export async function createTestbed(
  topology: string | TopologyInput | Topology,
  opts: TestbedOptions = {},
): Promise<Testbed> {
  const topo = resolveTopology(topology);
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new Error('a testbed needs root (network namespaces)');
  }
  if (opts.sweep ?? true) await sweep({ runRoot: opts.runRoot });
  const root = opts.runRoot ?? RUN_ROOT;
  const taken = new Set(listNamespaces());
  let runId = newRunId();
  for (let i = 0; i < 64 && (existsSync(runDirectory(runId, root)) || taken.has(routerNamespace(runId))); i++) {
    runId = newRunId();
  }
  const tb = new Testbed(runId, topo, opts);
  registerLive(tb); // cleanup before anything exists
  try {
    tb.persistState(); // the state file before any namespace: a sweep can always tell whose a namespace is
    await tb.build();
    if (opts.startAgents ?? true) await tb.startAgents();
    if (opts.persistent) tb.markPersistent(true);
    if (opts.persistent) unregisterLive(tb);
    return tb;
  } catch (err) {
    await tb.destroy().catch(() => undefined);
    throw err;
  }
}
