// The agent's policy control plane as one composable piece: the policy store (config + API + fleet
// policies, installed into the datapath through a PolicySink), the fleet's policy source (the HTTP policy
// service or etcd), and the control API server. The agent calls start() once its datapath runs and stop() first on shutdown.
import type { Registry } from 'prom-client';
import type { AgentConfig } from '../agent/config';
import type { Logger } from '../log/logger';
import { registerPolicyMetrics } from '../policy/metrics';
import type { Policy } from '../policy/model';
import { EtcdPolicySource, type EtcdPolicySourceStatus } from '../policy/etcd-source';
import { PolicyServiceClient, type PolicyServiceStatus } from '../policy/service-client';
import { PolicyStore, type PolicySink, type PolicyStoreStatus } from '../policy/store';
import { defaultApiSocket } from './socket-path';
import { startApiServer, type ApiServer } from './server';
import type { Reconfigurer, SessionSource } from './types';

export interface ControlPlaneConfig {
  policies: AgentConfig['policies'];
  policyService?: AgentConfig['policyService'];
  policyEtcd?: AgentConfig['policyEtcd'];
  api: AgentConfig['api'];
}

export interface ControlPlaneStartOptions {
  config: ControlPlaneConfig;
  sink: PolicySink;
  sessions: SessionSource;
  log: Logger;
  /** Live reconfiguration, when the agent runs it (POST /v1/reconfigure). */
  reconfigurer?: Reconfigurer;
}

export class AgentControlPlane {
  private storeRef: PolicyStore | undefined;
  private client: PolicyServiceClient | undefined;
  private etcd: EtcdPolicySource | undefined;
  private api: ApiServer | undefined;
  private log: Logger | undefined;
  private stopping: Promise<void> | undefined;

  get store(): PolicyStore | undefined {
    return this.storeRef;
  }

  /** The Unix socket of the control API, once started. */
  get apiSocket(): string | undefined {
    return this.api?.socketPath;
  }

  /** http://127.0.0.1:port of the optional TCP listener. */
  get apiUrl(): string | undefined {
    return this.api?.url;
  }

  status(): { store: PolicyStoreStatus | undefined; service: PolicyServiceStatus | undefined; etcd: EtcdPolicySourceStatus | undefined } {
    return { store: this.storeRef?.status(), service: this.client?.status(), etcd: this.etcd?.status() };
  }

  /** Adds the policy metrics to the agent's registry (read at scrape time). */
  registerMetrics(registry: Registry): void {
    registerPolicyMetrics(registry, {
      store: () => this.storeRef?.status(),
      service: () => this.client?.status(),
      etcd: () => this.etcd?.status(),
    });
  }

  /**
   * Installs the config policies, starts the fleet's policy source (its first read is bounded by
   * timeoutMs; if the source is down the cached set is used) and the control API. On failure everything
   * started is stopped again and the error is rethrown.
   */
  async start({ config, sink, sessions, log, reconfigurer }: ControlPlaneStartOptions): Promise<void> {
    this.log = log.child({ component: 'control-plane' });
    const store = new PolicyStore({ sink, config: config.policies, log: this.log });
    this.storeRef = store;
    // Both fleet sources emit 'update' (policies, source, version); the store takes either the same way.
    const installFleet = (what: string) => (policies: Policy[], source: string, version: string) => {
      store.setServicePolicies(policies, version).catch((error: Error) => {
        this.log?.error({ err: error.message, source, version }, `${what} policies not applied`);
      });
    };
    try {
      await store.sync();
      const service = config.policyService;
      if (service?.url) {
        const client = new PolicyServiceClient({
          url: service.url,
          intervalMs: service.intervalMs,
          timeoutMs: service.timeoutMs,
          cachePath: service.cachePath,
          log: this.log,
        });
        client.on('update', installFleet('service'));
        this.client = client;
        await client.start();
      }
      const etcd = config.policyEtcd;
      if (etcd) {
        const source = new EtcdPolicySource({ ...etcd, log: this.log });
        source.on('update', installFleet('etcd'));
        this.etcd = source;
        await source.start();
      }
      this.api = await startApiServer({
        store,
        sessions,
        ...(reconfigurer && { reconfigurer }),
        log: this.log,
        socketPath: config.api.socket ?? defaultApiSocket(),
        host: config.api.host,
        ...(config.api.port !== undefined ? { port: config.api.port } : {}),
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops the API server and the policy source, then waits for a running install. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.api?.close();
      await this.client?.stop();
      await this.etcd?.stop();
      await this.storeRef?.whenIdle().catch(() => undefined);
    })();
    return this.stopping;
  }
}
