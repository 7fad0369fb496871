// One agent per host: the datapath between the host and wire ports (Dysco sessions, or pass-through),
// its policy control plane and control API, and its metrics endpoint.
import { AgentControlPlane } from '../api/control-plane';
import { Datapath, type DatapathOptions } from '../datapath/datapath';
import { cleanupEal } from '../datapath/eal';
import type { Logger } from '../log/logger';
import { createAgentMetrics } from '../metrics/registry';
import { startMetricsServer, type MetricsServer } from '../metrics/server';
import type { PipelineOptions } from '../native/session-types';
import { parsePrefix, requireIpv4 } from '../net/ipv4';
import { compilePolicies } from '../policy/compile';
import type { AgentConfig } from './config';
import { DatapathSessionSource } from './session-source';

export function pipelineOptions(dysco: NonNullable<AgentConfig['dysco']>): PipelineOptions {
  const address = parsePrefix(dysco.address);
  if (address === undefined) throw new TypeError(`dysco.address: not an IPv4 address with a prefix length: ${dysco.address}`);
  const [portLo, portHi] = dysco.portRange.split('-').map(Number) as [number, number];
  return {
    hostIp: address.address,
    prefixLength: address.length,
    gatewayIp: dysco.gateway ? requireIpv4(dysco.gateway, 'dysco.gateway') : 0,
    maxSessions: dysco.maxSessions,
    maxSetups: dysco.maxSetups,
    maxReconfigurations: dysco.maxReconfigurations,
    portLo,
    portHi,
    mtu: dysco.mtu,
    setupTimeoutMs: dysco.timeouts.setupMs,
    establishedTimeoutMs: dysco.timeouts.establishedMs,
    closingTimeoutMs: dysco.timeouts.closingMs,
    lingerMs: dysco.timeouts.lingerMs,
    controlPort: dysco.controlPort,
    sessionEvents: dysco.sessionEvents,
  };
}

/** The datapath's options from a validated config: every value (and so every default) is the schema's. */
export function datapathOptions(config: AgentConfig): DatapathOptions {
  return {
    hostDevice: config.host.device,
    wireDevice: config.wire.device,
    pollMode: config.poll.mode,
    idleSleepMaxUs: config.poll.idleSleepMaxUs,
    txDrainUs: config.poll.txDrainUs,
    mbufs: config.datapath.mbufs,
    rxDescriptors: config.datapath.rxDescriptors,
    txDescriptors: config.datapath.txDescriptors,
    ringSize: config.datapath.ringSize,
    eal: config.eal,
    ...(config.dysco ? { dysco: { ...pipelineOptions(config.dysco), policies: compilePolicies(config.policies) } } : {}),
  };
}

export class Agent {
  private datapath: Datapath | undefined;
  private metricsServer: MetricsServer | undefined;
  private controlPlane: AgentControlPlane | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  get apiSocket(): string | undefined {
    return this.controlPlane?.apiSocket;
  }

  async start(): Promise<void> {
    const { config } = this;
    this.datapath = Datapath.open(datapathOptions(config));
    this.datapath.start();
    await this.datapath.ping();
    const info = this.datapath.info();
    const mode = config.dysco ? 'dysco' : 'passthrough';
    this.log.info({ host: info.host, wire: info.wire, lcore: info.lcore, mode, runtimeDir: this.datapath.runtimeDir }, 'datapath running');

    const metrics = createAgentMetrics(() => this.datapath);
    if (config.dysco) {
      const datapath = this.datapath;
      this.controlPlane = new AgentControlPlane();
      this.controlPlane.registerMetrics(metrics.registry);
      await this.controlPlane.start({
        config,
        sink: datapath,
        sessions: new DatapathSessionSource(datapath, () => this.controlPlane?.store?.effective() ?? []),
        log: this.log,
      });
    }
    if (config.metrics.enabled) {
      this.metricsServer = await startMetricsServer(metrics, config.metrics.host, config.metrics.port, () =>
        Boolean(this.datapath?.running),
      );
    }
    this.log.info(
      { event: 'ready', metricsUrl: this.metricsServer?.url, apiSocket: this.controlPlane?.apiSocket, mode },
      'agent ready',
    );
  }

  /** Ordered shutdown: control plane, lcore, ports, EAL, metrics server. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.log.info({ reason }, 'agent stopping');
    await this.controlPlane?.stop();
    if (this.datapath) {
      const counters = this.datapath.counters();
      const sessions = this.datapath.pipelineStats();
      this.datapath.close();
      this.log.info({ ports: counters.ports, drops: counters.drops, sessions }, 'datapath closed');
    }
    cleanupEal();
    await this.metricsServer?.close();
    this.log.info({ event: 'stopped' }, 'agent stopped');
  }
}
