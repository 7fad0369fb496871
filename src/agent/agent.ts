// One agent per host: the datapath between the host and wire ports (Dysco sessions, or pass-through),
// its policy control plane and control API, live reconfiguration over the control channel between agents
// (when dysco.controlPort is set), and its metrics endpoint.
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AgentControlPlane } from '../api/control-plane';
import type { Reconfigurer } from '../api/types';
import { DatapathLink } from '../control/datapath-link';
import { Datapath, type DatapathOptions } from '../datapath/datapath';
import { cleanupEal } from '../datapath/eal';
import type { Logger } from '../log/logger';
import { registerControlMetrics, type ControlMetrics } from '../metrics/control-collector';
import { registerReconfigMetrics, type ReconfigMetrics } from '../metrics/reconfig-collector';
import { createAgentMetrics } from '../metrics/registry';
import { startMetricsServer, type MetricsServer } from '../metrics/server';
import type { PipelineOptions } from '../native/session-types';
import { parsePrefix, requireIpv4 } from '../net/ipv4';
import { compilePolicies } from '../policy/compile';
import { stateAdapterFrom } from '../state/from-config';
import type { AgentConfig } from './config';
import { reconfigurerOf, ReconfigService } from './reconfig-service';
import { DatapathSessionSource } from './session-source';
import type { KeyRing } from '../security/key-ring';
import { FrameAuthenticator } from '../security/frame-auth';
import { compileListAuth, keyRingOf } from '../security/list-auth';

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

/**
 * The datapath's options from a validated config: every value (and so every default) is the schema's. `ring`: the
 * key ring the security section names, loaded by the caller (it reads a file).
 */
export function datapathOptions(config: AgentConfig, ring?: KeyRing): DatapathOptions {
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
    ...(config.dysco
      ? {
          dysco: {
            ...pipelineOptions(config.dysco),
            policies: compilePolicies(config.policies),
            ...(config.security && ring
              ? { listAuth: compileListAuth(config.security, ring), replayCacheSlots: config.security.replayCacheSlots }
              : {}),
          },
        }
      : {}),
  };
}

export class Agent {
  private datapath: Datapath | undefined;
  private metricsServer: MetricsServer | undefined;
  private controlPlane: AgentControlPlane | undefined;
  private link: DatapathLink | undefined;
  private reconfig: ReconfigService | undefined;
  private frameAuth: FrameAuthenticator | undefined;
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
    const ring = config.security && keyRingOf(config.security);
    this.datapath = Datapath.open(datapathOptions(config, ring));
    if (ring && config.security && config.dysco) {
      this.frameAuth = new FrameAuthenticator(ring, {
        self: pipelineOptions(config.dysco).hostIp,
        maxSkewSeconds: config.security.maxClockSkewSeconds,
        acceptUnsealed: config.security.acceptUnsigned === true,
      });
    }
    this.datapath.start();
    await this.datapath.ping();
    const info = this.datapath.info();
    const mode = config.dysco ? 'dysco' : 'passthrough';
    this.log.info({ host: info.host, wire: info.wire, lcore: info.lcore, mode, runtimeDir: this.datapath.runtimeDir }, 'datapath running');

    const metrics = createAgentMetrics(() => this.datapath);
    const controlMetrics = registerControlMetrics(metrics.registry, () => this.link);
    const reconfigMetrics = registerReconfigMetrics(metrics.registry, () => this.reconfig?.twoPathSessions() ?? 0);
    if (config.dysco) {
      const datapath = this.datapath;
      const reconfigurer =
        config.dysco.controlPort > 0 ? await this.startReconfiguration(config.dysco, reconfigMetrics, controlMetrics) : undefined;
      this.controlPlane = new AgentControlPlane();
      this.controlPlane.registerMetrics(metrics.registry);
      await this.controlPlane.start({
        config,
        sink: datapath,
        sessions: new DatapathSessionSource(datapath, () => this.controlPlane?.store?.effective() ?? []),
        log: this.log,
        ...(reconfigurer && { reconfigurer }),
      });
    }
    if (config.metrics.enabled) {
      this.metricsServer = await startMetricsServer(metrics, config.metrics.host, config.metrics.port, () =>
        Boolean(this.datapath?.running),
      );
    }
    if (ring) this.log.info({ keyIds: ring.ids, signingKeyId: ring.signingKeyId }, 'address lists signed and verified');
    this.log.info(
      { event: 'ready', metricsUrl: this.metricsServer?.url, apiSocket: this.controlPlane?.apiSocket, mode },
      'agent ready',
    );
  }

  /** The control channel and the reconfiguration machines on it. */
  private async startReconfiguration(
    dysco: NonNullable<AgentConfig['dysco']>,
    metrics: ReconfigMetrics,
    controlMetrics: ControlMetrics,
  ): Promise<Reconfigurer> {
    const datapath = this.datapath!;
    const log = this.log.child({ component: 'reconfig' });
    const now = () => performance.now();
    const self = pipelineOptions(dysco).hostIp;
    this.link = DatapathLink.create(datapath, {
      controlPort: dysco.controlPort,
      retry: dysco.controlRetry,
      rateLimit: dysco.controlRateLimit,
      now,
      ...(this.frameAuth && { auth: this.frameAuth }),
    });
    this.link.events.on('acked', (ack) => ack.roundTripMs !== undefined && controlMetrics.roundTrip(ack.roundTripMs / 1000));
    const state = this.config.state && stateAdapterFrom(this.config.state);
    this.reconfig = new ReconfigService({ self, datapath, link: this.link, retry: dysco.controlRetry, now, firstNonce: randomInt(0, 2 ** 32 - 1), metrics, log, ...(state && { state }) });
    this.link.start();
    await this.reconfig.start();
    log.info({ controlPort: dysco.controlPort }, 'control channel and reconfiguration running');
    return reconfigurerOf(this.reconfig, self);
  }

  /**
   * Reads the key ring again (a key file's rotation, on SIGHUP) and swaps it into the datapath. A ring that does not
   * load leaves the one in use; false then, with the reason logged.
   */
  async reloadKeys(): Promise<boolean> {
    const { security } = this.config;
    if (!security || !this.datapath?.running) return false;
    let ring: KeyRing;
    try {
      ring = keyRingOf(security);
    } catch (error) {
      this.log.error({ err: error }, 'key ring not reloaded: the one in use stays');
      return false;
    }
    await this.datapath.installListAuth(compileListAuth(security, ring));
    this.frameAuth?.setRing(ring);
    this.log.info({ keyIds: ring.ids, signingKeyId: ring.signingKeyId }, 'key ring reloaded');
    return true;
  }

  /** Ordered shutdown: control plane, reconfiguration and control channel, lcore, ports, EAL, metrics server. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.log.info({ reason }, 'agent stopping');
    await this.controlPlane?.stop();
    this.reconfig?.stop();
    this.link?.stop();
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
