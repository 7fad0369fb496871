// The testbed's failure diagnosis keeps the samples of the trouble metrics that are not zero, and nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nonZeroSamples } from '../../src/testbed/diagnosis';
import { metricSamples, metricSum } from '../../src/testbed/exposition';

test('nonZeroSamples: the named metrics, labelled or not, whose value is not zero', () => {
  const exposition = [
    '# HELP dysco_drops_total Packets dropped by the datapath, by reason.',
    '# TYPE dysco_drops_total counter',
    'dysco_drops_total{reason="bad_checksum"} 0',
    'dysco_drops_total{reason="no_session"} 3',
    'dysco_drops_total_other 5',
    'dysco_control_rejected_total 2',
    'dysco_sessions 7',
    'dysco_reconfigurations_total{outcome="failed",reason="setup_timeout"} NaN',
  ].join('\n');
  assert.deepEqual(nonZeroSamples(exposition, ['dysco_drops_total', 'dysco_control_rejected_total', 'dysco_reconfigurations_total']), [
    'dysco_drops_total{reason="no_session"} 3',
    'dysco_control_rejected_total 2',
  ]);
});

test('metricSamples and metricSum: a family, or one labelled series of it; nothing for a longer name', () => {
  const exposition = [
    '# TYPE dysco_new_path_steps_total counter',
    'dysco_new_path_steps_total{kind="opened"} 4',
    'dysco_new_path_steps_total{kind="abandoned"} 1',
    'dysco_new_path_steps_total_extra 9',
  ].join('\n');
  assert.deepEqual(
    metricSamples(exposition, 'dysco_new_path_steps_total').map((s) => s.value),
    [4, 1],
  );
  assert.equal(metricSum(exposition, 'dysco_new_path_steps_total'), 5);
  assert.equal(metricSum(exposition, 'dysco_new_path_steps_total{kind="opened"}'), 4);
  assert.equal(metricSum(exposition, 'dysco_missing_total'), 0);
});
