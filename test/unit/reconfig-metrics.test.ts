// The reconfiguration series: present from the start, bounded labels, the histogram's buckets, the gauge read at
// scrape time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { RECONFIG_DURATION_BUCKETS, registerReconfigMetrics } from '../../src/metrics/reconfig-collector';
import { FAILURE_REASONS } from '../../src/reconfig/outcome';
import { parseMetrics, metric } from '../support/prometheus';

test('runs by role, outcome and reason; durations in buckets from 0.5 ms to 5 s; the two-path gauge', async () => {
  const registry = new Registry();
  let twoPaths = 3;
  const metrics = registerReconfigMetrics(registry, () => twoPaths);
  let values = parseMetrics(await registry.metrics());
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="left",outcome="completed",reason="none"}'), 0);
  for (const reason of FAILURE_REASONS) assert.equal(metric(values, `dysco_reconfigurations_total{role="left",outcome="failed",reason="${reason}"}`), 0);
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="right",outcome="failed",reason="canceled"}'), 0);
  assert.equal(metric(values, 'dysco_two_path_sessions'), 3);
  assert.deepEqual([RECONFIG_DURATION_BUCKETS[0], RECONFIG_DURATION_BUCKETS.at(-1)], [0.0005, 5]);

  metrics.finished('left', 'completed', 'none', 0.0031);
  metrics.finished('left', 'failed', 'setup_timeout', 2.1);
  metrics.finished('left', 'rejected', 'busy', 0);
  metrics.finished('right', 'completed', 'none');
  metrics.finished('left', 'failed', 'a reason nobody listed', 1);
  twoPaths = 0;
  values = parseMetrics(await registry.metrics());
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="left",outcome="completed",reason="none"}'), 1);
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="left",outcome="failed",reason="setup_timeout"}'), 1);
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="left",outcome="rejected",reason="busy"}'), 1);
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="right",outcome="completed",reason="none"}'), 1);
  assert.equal(metric(values, 'dysco_reconfigurations_total{role="left",outcome="failed",reason="other"}'), 1);
  assert.equal(metric(values, 'dysco_reconfiguration_duration_seconds_bucket{le="0.002",outcome="completed"}'), 0);
  assert.equal(metric(values, 'dysco_reconfiguration_duration_seconds_bucket{le="0.005",outcome="completed"}'), 1);
  assert.equal(metric(values, 'dysco_reconfiguration_duration_seconds_count{outcome="failed"}'), 2);
  // A refusal at the start has no duration; the right anchor's runs are not timed.
  assert.equal(values.has('dysco_reconfiguration_duration_seconds_count{outcome="rejected"}'), false);
  assert.equal(metric(values, 'dysco_two_path_sessions'), 0);
});
