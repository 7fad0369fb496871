// One agent per host: the datapath bridging the host and wire ports, and its metrics endpoint.
import { Datapath } from '../datapath/datapath';
import { cleanupEal } from '../datapath/eal';
import type { Logger } from '../log/logger';
import { createAgentMetrics } from '../metrics/registry';
import { startMetricsServer, type MetricsServer } from '../metrics/server';
import type { AgentConfig } from './config';

export class Agent {
  private datapath: Datapath | undefined;
  private metricsServer: MetricsServer | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  async start(): Promise<void> {
    const { config } = this;
    this.datapath = Datapath.open({
      hostDevice: config.host.device,
      wireDevice: config.wire.device,
      pollMode: config.poll.mode,
      idleSleepMaxUs: config.poll.idleSleepMaxUs,
      txDrainUs: config.poll.txDrainUs,
      mbufs: config.datapath.mbufs,
      rxDescriptors: config.datapath.rxDescriptors,
      txDescriptors: config.datapath.txDescriptors,
      eal: config.eal,
    });
    this.datapath.start();
    await this.datapath.ping();
    const info = this.datapath.info();
    this.log.info({ host: info.host, wire: info.wire, lcore: info.lcore, runtimeDir: this.datapath.runtimeDir }, 'datapath running');

    if (config.metrics.enabled) {
      const metrics = createAgentMetrics(() => this.datapath);
      this.metricsServer = await startMetricsServer(metrics, config.metrics.host, config.metrics.port, () =>
        Boolean(this.datapath?.running),
      );
    }
    this.log.info({ event: 'ready', metricsUrl: this.metricsServer?.url, mode: 'passthrough' }, 'agent ready');
  }

  /** Ordered shutdown: control plane, lcore, ports, EAL, metrics server. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.log.info({ reason }, 'agent stopping');
    if (this.datapath) {
      const counters = this.datapath.counters();
      this.datapath.close();
      this.log.info({ ports: counters.ports, drops: counters.drops }, 'datapath closed');
    }
    cleanupEal();
    await this.metricsServer?.close();
    this.log.info({ event: 'stopped' }, 'agent stopped');
  }
}
