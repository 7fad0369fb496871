// Prometheus metrics of the policy store and the fleet's policy source (HTTP service or etcd), read at scrape time.
// Bounded labels only (result, source).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EtcdPolicySourceStatus } from './etcd-source';
import type { PolicyServiceStatus } from './service-client';
import type { PolicyStoreStatus } from './store';

export interface PolicyStatusSource {
  store(): PolicyStoreStatus | undefined;
  service(): PolicyServiceStatus | undefined;
  etcd(): EtcdPolicySourceStatus | undefined;
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
  new Gauge({
    name: 'dysco_policy_etcd_connected',
    help: 'Whether the watch on the etcd policy prefix is connected (1) or not (0).',
    registers: [registry],
    collect() {
      this.set(source.etcd()?.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dysco_policy_etcd_revision',
    help: 'The etcd revision this agent has caught up to (0: none yet).',
    registers: [registry],
    collect() {
      this.set(source.etcd()?.revision ?? 0);
    },
  });
  new Counter({
    name: 'dysco_policy_etcd_sets_total',
    help: 'New views of the etcd policy prefix, by what they did to the set in use.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const sets = source.etcd()?.sets;
      this.reset();
      this.inc({ result: 'applied' }, sets?.applied ?? 0);
      this.inc({ result: 'unchanged' }, sets?.unchanged ?? 0);
      this.inc({ result: 'invalid' }, sets?.invalid ?? 0);
    },
  });
  new Counter({
    name: 'dysco_policy_etcd_reads_total',
    help: 'Full reads of the etcd policy prefix (at start and after every reconnection), by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const reads = source.etcd()?.reads;
      this.reset();
      this.inc({ result: 'ok' }, reads?.ok ?? 0);
      this.inc({ result: 'failed' }, reads?.failed ?? 0);
    },
  });
}
