import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { DatapathCounters } from '../../src/datapath/datapath';
import type { CounterSource } from '../../src/metrics/datapath-collector';
import type { NativePipelineStats } from '../../src/native/binding';
import { createAgentMetrics } from '../../src/metrics/registry';
import { startMetricsServer } from '../../src/metrics/server';
import { DROP_REASONS, type DropReason } from '../../src/native/generated/codes';
import { VERSION } from '../../src/version';

/** A counter source with fixed, distinct values so that a mixed-up field is noticed. */
class FixedSource implements CounterSource {
  constructor(
    private readonly snapshot: DatapathCounters,
    public running: boolean,
  ) {}

  calls = 0;

  counters(): DatapathCounters {
    this.calls += 1;
    return structuredClone(this.snapshot);
  }

  pipelineStats(): NativePipelineStats {
    return structuredClone(PIPELINE_STATS);
  }
}

const PIPELINE_STATS: NativePipelineStats = {
  sessionsInitiated: 11,
  sessionsAccepted: 12,
  sessionsCompleted: 13,
  completedByTag: 4,
  established: 20,
  synRetransmits: 3,
  teardowns: { fin: 7, rst: 2, idle: 1, reconfigured: 0, reclaimed: 0 },
  tagNoSpace: 0,
  staleTags: 5,
  rstsIgnored: 0,
  arpRequests: 6,
  controlPackets: 8,
  controlSent: 10,
  newPathsOpened: 0,
  newPathsAnswered: 0,
  twoPathsEntered: 0,
  pathsFolded: 0,
  newPathsAbandoned: 0,
  newPathsReset: 0,
  staleAttemptsRetired: 0,
  pathAnnouncements: 0,
  sessionsRetired: 0,
  hostProbes: 0,
  oldPathStragglers: 0,
  listsVerified: 14,
  listsSigned: 15,
  unsignedAccepted: 0,
  replayEvictions: 0,
  setupsReclaimed: 0,
  activeSessions: 9,
  sessionCapacity: 65536,
  tableBytes: 123456,
  controlSlotsInUse: 1,
};

const SESSION_METRICS = [
  'dysco_sessions_active',
  'dysco_sessions_capacity',
  'dysco_session_table_bytes',
  'dysco_session_setups_total',
  'dysco_session_teardowns_total',
  'dysco_syn_retransmits_total',
  'dysco_tag_no_space_total',
  'dysco_stale_tags_total',
  'dysco_rsts_ignored_total',
  'dysco_arp_requests_total',
  'dysco_control_packets_total',
  'dysco_new_path_steps_total',
  'dysco_path_announcements_total',
  'dysco_sessions_retired_total',
  'dysco_host_probes_total',
  'dysco_old_path_stragglers_total',
  'dysco_address_lists_total',
  'dysco_replay_cache_evictions_total',
  'dysco_setups_reclaimed_total',
  'dysco_control_slots_in_use',
];

function snapshot(): DatapathCounters {
  return {
    ports: {
      host: { rxPackets: 11, rxBytes: 1100, txPackets: 12, txBytes: 1200 },
      wire: { rxPackets: 21, rxBytes: 2100, txPackets: 22, txBytes: 2200 },
    },
    passedNotDysco: { host: 13, wire: 23 },
    txFragmented: { host: 14, wire: 24 },
    drops: Object.fromEntries(DROP_REASONS.map((reason, index) => [reason, 100 + index])) as Record<DropReason, number>,
    busySeconds: 1.5,
    idleSeconds: 2.25,
    loopIterations: 123456,
    idleSleeps: 789,
    requestsServed: 31,
    eventsPosted: 32,
    eventsDropped: 3,
    eventsUnheard: 4,
    mempoolSize: 8191,
    mempoolAvailable: 8000,
  };
}

type Metric = MetricObjectWithValues<MetricValue<string>>;

/** Names of the metrics prom-client's collectDefaultMetrics registers with our prefix. */
async function defaultMetricNames(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dysco_' });
  return new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
}

async function metricsByName(registry: Registry): Promise<Map<string, Metric>> {
  const all = (await registry.getMetricsAsJSON()) as Metric[];
  return new Map(all.map((metric) => [metric.name, metric]));
}

function valueOf(metric: Metric | undefined, labels: Record<string, string> = {}): number {
  assert.ok(metric, 'metric missing');
  const matches = metric.values.filter((value) => {
    const keys = Object.keys(value.labels);
    return keys.length === Object.keys(labels).length && keys.every((key) => value.labels[key] === labels[key]);
  });
  assert.equal(matches.length, 1, `${metric.name}${JSON.stringify(labels)}: ${JSON.stringify(metric.values)}`);
  return matches[0]!.value;
}

const DATAPATH_COUNTERS: Record<string, (s: DatapathCounters) => number> = {
  dysco_datapath_busy_seconds_total: (s) => s.busySeconds,
  dysco_datapath_idle_seconds_total: (s) => s.idleSeconds,
  dysco_datapath_loop_iterations_total: (s) => s.loopIterations,
  dysco_datapath_idle_sleeps_total: (s) => s.idleSleeps,
  dysco_datapath_requests_total: (s) => s.requestsServed,
  dysco_datapath_events_total: (s) => s.eventsPosted,
  dysco_datapath_events_dropped_total: (s) => s.eventsDropped,
  dysco_datapath_events_unheard_total: (s) => s.eventsUnheard,
};

const PORT_COUNTERS = {
  dysco_port_rx_packets_total: 'rxPackets',
  dysco_port_rx_bytes_total: 'rxBytes',
  dysco_port_tx_packets_total: 'txPackets',
  dysco_port_tx_bytes_total: 'txBytes',
} as const;

/** Per-port counters kept beside `ports` (by receiving or sending port). */
const PORT_SIDE_COUNTERS = {
  dysco_port_passed_not_dysco_total: 'passedNotDysco',
  dysco_port_tx_fragmented_total: 'txFragmented',
} as const;

const BOUNDED_LABELS = new Set(['port', 'reason', 'version', 'node', 'kind', 'cause']);

describe('agent metrics registry', () => {
  test('names, types and label names', async () => {
    const source = new FixedSource(snapshot(), true);
    const metrics = createAgentMetrics(() => source);
    metrics.refresh();
    const defaults = await defaultMetricNames();
    const all = (await metrics.registry.getMetricsAsJSON()) as Metric[];
    const names = all.map((metric) => metric.name);
    assert.equal(new Set(names).size, names.length, 'duplicate metric names');
    for (const name of defaults) assert.ok(names.includes(name), `default metric ${name} missing`);

    const own = all.filter((metric) => !defaults.has(metric.name));
    assert.deepEqual(
      own.map((metric) => metric.name).sort(),
      [
        ...Object.keys(PORT_COUNTERS),
        ...Object.keys(PORT_SIDE_COUNTERS),
        ...Object.keys(DATAPATH_COUNTERS),
        'dysco_drops_total',
        'dysco_mempool_mbufs',
        'dysco_mempool_free_mbufs',
        'dysco_datapath_up',
        'dysco_build_info',
        ...SESSION_METRICS,
      ].sort(),
    );
    for (const metric of all) assert.ok(metric.name.startsWith('dysco_'), metric.name);
    for (const metric of own) {
      assert.ok(metric.help.length > 0, `${metric.name} has no help`);
      if (metric.name.endsWith('_total')) assert.equal(String(metric.type), 'counter', `${metric.name} ends in _total`);
      if (String(metric.type) === 'counter') assert.ok(metric.name.endsWith('_total'), `counter ${metric.name}`);
      if (String(metric.type) === 'gauge') assert.ok(!metric.name.endsWith('_total'), `gauge ${metric.name}`);
      for (const value of metric.values) {
        for (const label of Object.keys(value.labels)) {
          assert.ok(BOUNDED_LABELS.has(label), `${metric.name} has unbounded label ${label}`);
        }
      }
    }
    // Default process metrics are counters named *_total too (prom-client names some gauges *_total).
    for (const metric of all.filter((m) => defaults.has(m.name) && String(m.type) === 'counter')) {
      assert.ok(metric.name.endsWith('_total'), metric.name);
    }

    const types = new Map(own.map((metric) => [metric.name, String(metric.type)]));
    for (const name of [...Object.keys(PORT_COUNTERS), ...Object.keys(PORT_SIDE_COUNTERS), ...Object.keys(DATAPATH_COUNTERS), 'dysco_drops_total']) {
      assert.equal(types.get(name), 'counter', name);
    }
    for (const name of ['dysco_mempool_mbufs', 'dysco_mempool_free_mbufs', 'dysco_datapath_up', 'dysco_build_info']) {
      assert.equal(types.get(name), 'gauge', name);
    }
  });

  test('dysco_build_info is 1 with the version', async () => {
    const metrics = createAgentMetrics(() => undefined);
    const byName = await metricsByName(metrics.registry);
    const info = byName.get('dysco_build_info');
    assert.ok(info);
    assert.equal(info.values.length, 1);
    assert.equal(info.values[0]!.value, 1);
    assert.equal(info.values[0]!.labels.version, VERSION);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.equal(info.values[0]!.labels.node, process.version);
  });

  test('values after refresh() equal the snapshot', async () => {
    const expected = snapshot();
    const source = new FixedSource(expected, true);
    const metrics = createAgentMetrics(() => source);
    metrics.refresh();
    assert.equal(source.calls, 1, 'refresh() copies the counters exactly once');
    const byName = await metricsByName(metrics.registry);
    assert.equal(source.calls, 1, 'collecting does not read the counters again');

    for (const [name, field] of Object.entries(PORT_COUNTERS)) {
      const metric = byName.get(name);
      assert.ok(metric, name);
      assert.deepEqual(metric.values.map((v) => v.labels.port).sort(), ['host', 'wire'], name);
      assert.equal(valueOf(metric, { port: 'host' }), expected.ports.host[field], `${name} host`);
      assert.equal(valueOf(metric, { port: 'wire' }), expected.ports.wire[field], `${name} wire`);
    }
    for (const [name, field] of Object.entries(PORT_SIDE_COUNTERS)) {
      const metric = byName.get(name);
      assert.ok(metric, name);
      assert.deepEqual(metric.values.map((v) => v.labels.port).sort(), ['host', 'wire'], name);
      assert.equal(valueOf(metric, { port: 'host' }), expected[field].host, `${name} host`);
      assert.equal(valueOf(metric, { port: 'wire' }), expected[field].wire, `${name} wire`);
    }
    const drops = byName.get('dysco_drops_total');
    assert.ok(drops);
    assert.deepEqual(
      drops.values.map((v) => v.labels.reason),
      [...DROP_REASONS],
      'one reason label per drop reason',
    );
    for (const reason of DROP_REASONS) assert.equal(valueOf(drops, { reason }), expected.drops[reason], reason);
    for (const [name, pick] of Object.entries(DATAPATH_COUNTERS)) assert.equal(valueOf(byName.get(name)), pick(expected), name);
    assert.equal(valueOf(byName.get('dysco_mempool_mbufs')), expected.mempoolSize);
    assert.equal(valueOf(byName.get('dysco_mempool_free_mbufs')), expected.mempoolAvailable);
    assert.equal(valueOf(byName.get('dysco_datapath_up')), 1);

    const text = await metrics.registry.metrics();
    assert.match(text, /^# TYPE dysco_port_rx_packets_total counter$/m);
    assert.match(text, /^dysco_port_rx_packets_total\{port="host"\} 11$/m);
    assert.match(text, /^dysco_port_tx_bytes_total\{port="wire"\} 2200$/m);
    assert.match(text, new RegExp(`^dysco_drops_total\\{reason="${DROP_REASONS[0]}"\\} 100$`, 'm'));
    assert.match(text, /^dysco_datapath_busy_seconds_total 1\.5$/m);
    assert.match(text, /^dysco_mempool_free_mbufs 8000$/m);
  });

  test('a later refresh replaces the values instead of adding to them', async () => {
    const source = new FixedSource(snapshot(), true);
    const metrics = createAgentMetrics(() => source);
    metrics.refresh();
    await metrics.registry.metrics();
    metrics.refresh();
    await metrics.registry.metrics();
    const byName = await metricsByName(metrics.registry);
    assert.equal(valueOf(byName.get('dysco_port_rx_packets_total'), { port: 'host' }), 11);
    assert.equal(valueOf(byName.get('dysco_datapath_loop_iterations_total')), 123456);
  });

  test('no datapath: zeros and up 0; stopped datapath: up 0', async () => {
    const empty = createAgentMetrics(() => undefined);
    empty.refresh();
    const byName = await metricsByName(empty.registry);
    assert.equal(valueOf(byName.get('dysco_datapath_up')), 0);
    assert.equal(valueOf(byName.get('dysco_mempool_mbufs')), 0);
    const drops = byName.get('dysco_drops_total');
    assert.ok(drops);
    assert.equal(drops.values.length, DROP_REASONS.length);
    for (const reason of DROP_REASONS) assert.equal(valueOf(drops, { reason }), 0);

    const stopped = createAgentMetrics(() => new FixedSource(snapshot(), false));
    stopped.refresh();
    const stoppedByName = await metricsByName(stopped.registry);
    assert.equal(valueOf(stoppedByName.get('dysco_datapath_up')), 0);
    assert.equal(valueOf(stoppedByName.get('dysco_mempool_mbufs')), 8191);
  });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpRequest(url: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Lines of the exposition that belong to the agent's own (non-process) metrics: stable between scrapes. */
function ownLines(text: string, defaults: Set<string>): string[] {
  return text.split('\n').filter((line) => {
    const name = line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/)[0];
    return line.length > 0 && name !== undefined && ![...defaults].some((d) => name === d || name.startsWith(`${d}_`));
  });
}

describe('metrics HTTP server', () => {
  test('serves /metrics and /healthz on an ephemeral port', async () => {
    const source = new FixedSource(snapshot(), true);
    const metrics = createAgentMetrics(() => source);
    let healthy = true;
    const server = await startMetricsServer(metrics, '127.0.0.1', 0, () => healthy);
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.doesNotMatch(server.url, /:0\/metrics$/);
      const base = server.url.replace(/\/metrics$/, '');

      const scrape = await httpRequest(server.url);
      assert.equal(scrape.status, 200);
      assert.match(String(scrape.headers['content-type']), /^text\/plain/);
      assert.equal(scrape.headers['content-type'], metrics.registry.contentType);
      assert.equal(source.calls, 1, 'a scrape refreshes the counters once');
      const direct = await metrics.registry.metrics();
      const defaults = await defaultMetricNames();
      const served = ownLines(scrape.body, defaults);
      assert.ok(served.length > 40, `only ${served.length} lines`);
      assert.deepEqual(served, ownLines(direct, defaults));
      assert.match(scrape.body, /^dysco_port_rx_packets_total\{port="wire"\} 21$/m);
      assert.match(scrape.body, /^dysco_build_info\{version="[^"]+",node="v[^"]+"\} 1$/m);
      assert.match(scrape.body, /^# HELP dysco_process_cpu_user_seconds_total /m);

      const withQuery = await httpRequest(`${server.url}?x=1`);
      assert.equal(withQuery.status, 200);

      const health = await httpRequest(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.body, 'ok\n');
      healthy = false;
      const unhealthy = await httpRequest(`${base}/healthz`);
      assert.equal(unhealthy.status, 503);
      assert.match(unhealthy.body, /not running/);

      const missing = await httpRequest(`${base}/nope`);
      assert.equal(missing.status, 404);
      const root = await httpRequest(`${base}/`);
      assert.equal(root.status, 404);

      const post = await httpRequest(server.url, 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
      const del = await httpRequest(`${base}/healthz`, 'DELETE');
      assert.equal(del.status, 405);

      const head = await httpRequest(server.url, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    } finally {
      await server.close();
    }
    await assert.rejects(httpRequest(server.url), /ECONNREFUSED/);
  });

  test('close() resolves even with an idle keep-alive connection open', async () => {
    const metrics = createAgentMetrics(() => undefined);
    const server = await startMetricsServer(metrics, '127.0.0.1', 0, () => true);
    const reply = await fetch(server.url);
    assert.equal(reply.status, 200);
    await reply.text();
    const closed = server.close().then(() => 'closed');
    const timeout = new Promise<string>((resolve) => setTimeout(resolve, 3000, 'timeout').unref());
    assert.equal(await Promise.race([closed, timeout]), 'closed');
  });

  test('a busy port is an error, not a hang', async () => {
    const metrics = createAgentMetrics(() => undefined);
    const first = await startMetricsServer(metrics, '127.0.0.1', 0, () => true);
    try {
      const port = Number(new URL(first.url).port);
      await assert.rejects(startMetricsServer(metrics, '127.0.0.1', port, () => true), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('session metrics', () => {
  test('mirror the pipeline counters by kind and cause', async () => {
    const source = new FixedSource(snapshot(), true);
    const metrics = createAgentMetrics(() => source);
    metrics.refresh();
    const text = await metrics.registry.metrics();
    const line = (key: string) => new RegExp(`^${key.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1];
    assert.equal(line('dysco_sessions_active'), '9');
    assert.equal(line('dysco_session_setups_total{kind="initiated"}'), '11');
    assert.equal(line('dysco_session_setups_total{kind="completed_by_tag"}'), '4');
    assert.equal(line('dysco_session_teardowns_total{cause="fin"}'), '7');
    assert.equal(line('dysco_session_teardowns_total{cause="rst"}'), '2');
    assert.equal(line('dysco_session_teardowns_total{cause="idle"}'), '1');
    assert.equal(line('dysco_arp_requests_total'), '6');
    assert.equal(line('dysco_control_packets_total{kind="received"}'), '8');
    assert.equal(line('dysco_control_packets_total{kind="sent"}'), '10');
    assert.equal(line('dysco_control_slots_in_use'), '1');
  });
});
