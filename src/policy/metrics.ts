// Prometheus metrics of the policy store and the policy-service client, read at scrape time.
// Bounded labels only (result, source).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PolicyServiceStatus } from './service-client';
import type { PolicyStoreStatus } from './store';

export interface PolicyStatusSource {
  store(): PolicyStoreStatus | undefined;
  service(): PolicyServiceStatus | undefined;
}

export function registerPolicyMetrics(registry: Registry, source: PolicyStatusSource): void {
  new Gauge({
    name: 'dysco_policy_rules',
    help: 'Policies in the effective list installed into the datapath.',
    registers: [registry],
    collect() {
      this.set(source.store()?.rules ?? 0);
    },
  });
  new Counter({
    name: 'dysco_policy_installs_total',
    help: 'Installs of the compiled policy list into the datapath, by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = source.store();
      this.reset();
      this.inc({ result: 'ok' }, s?.installs ?? 0);
      this.inc({ result: 'error' }, s?.installFailures ?? 0);
    },
  });
  new Counter({
    name: 'dysco_policy_service_polls_total',
    help: 'Polls of the policy service, by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const polls = source.service()?.polls;
      this.reset();
      this.inc({ result: 'updated' }, polls?.updated ?? 0);
      this.inc({ result: 'not_modified' }, polls?.notModified ?? 0);
      this.inc({ result: 'failed' }, polls?.failed ?? 0);
      this.inc({ result: 'bad_response' }, polls?.badResponse ?? 0);
    },
  });
  new Gauge({
    name: 'dysco_policy_service_last_success_timestamp_seconds',
    help: 'Unix time of the last successful poll of the policy service (0: never).',
    registers: [registry],
    collect() {
      const at = source.service()?.lastSuccessAt;
      this.set(at ? at / 1000 : 0);
    },
  });
  new Gauge({
    name: 'dysco_policy_service_source',
    help: 'Where the service policies in use came from: 1 for the current source, 0 otherwise.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const current = source.service()?.source;
      for (const s of ['service', 'cache'] as const) this.set({ source: s }, current === s ? 1 : 0);
    },
  });
}
