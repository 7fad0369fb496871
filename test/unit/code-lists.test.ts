// The TypeScript generated from native/core/*.def agrees with what the compiled addon holds, and the
// TypeScript that consumes the lists covers them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native } from '../../src/native/binding';
import {
  EVENT_LABELS,
  EVENT_TYPES,
  PIPELINE_COUNTERS,
  REQUEST_SERVED_BY,
  REQUEST_TYPES,
  SESSION_ROLES,
  SESSION_STATES,
  TEARDOWN_CAUSES,
} from '../../src/native/generated/codes';
import { EVERY_EVENT_DESCRIBED } from '../../src/native/events';

describe('generated lists agree with the addon', () => {
  test('request types: names, numbers and who serves them', () => {
    assert.deepEqual({ ...native().requestTypes }, { ...REQUEST_TYPES });
    assert.deepEqual({ ...native().requestServedBy }, { ...REQUEST_SERVED_BY });
  });

  test('event types: names, numbers and labels', () => {
    assert.deepEqual({ ...native().eventTypes }, { ...EVENT_TYPES });
    assert.deepEqual({ ...native().eventLabels }, { ...EVENT_LABELS });
  });

  test('session states, roles and teardown causes in numbering order', () => {
    assert.deepEqual([...native().sessionStates], [...SESSION_STATES]);
    assert.deepEqual([...native().sessionRoles], [...SESSION_ROLES]);
    assert.deepEqual([...native().teardownCauses], [...TEARDOWN_CAUSES]);
  });

  test('pipeline counters: the keys of the stats object', () => {
    assert.deepEqual([...native().pipelineCounters], PIPELINE_COUNTERS.map((c) => c.key));
  });
});

describe('generated lists are well formed', () => {
  test('numbers are unique and positive; pipeline requests and loop requests both exist', () => {
    for (const list of [REQUEST_TYPES, EVENT_TYPES]) {
      const values = Object.values(list);
      assert.equal(new Set(values).size, values.length);
      for (const value of values) assert.ok(Number.isInteger(value) && value > 0);
    }
    assert.deepEqual(new Set(Object.values(REQUEST_SERVED_BY)), new Set(['loop', 'pipeline']));
    assert.equal(EVENT_TYPES.RequestDone, 1, 'completions keep their number');
  });

  test('labels are valid Prometheus label values and unique', () => {
    for (const labels of [SESSION_STATES, SESSION_ROLES, TEARDOWN_CAUSES, Object.values(EVENT_LABELS)]) {
      assert.equal(new Set(labels).size, labels.length);
      for (const label of labels) assert.match(label, /^[a-z][a-z0-9_]*$/);
    }
    assert.equal(SESSION_STATES[0], 'free');
  });

  test('every counter names a dysco_ counter series; kinds are unique within one', () => {
    const seen = new Set<string>();
    for (const counter of PIPELINE_COUNTERS) {
      assert.match(counter.metric, /^dysco_[a-z_]+_total$/);
      assert.match(counter.kind, /^([a-z][a-z0-9_]*)?$/);
      assert.ok(counter.meaning.length > 0);
      const id = `${counter.metric}{${counter.kind}}`;
      assert.ok(!seen.has(id), `${id} twice`);
      seen.add(id);
    }
    const unlabelled = PIPELINE_COUNTERS.filter((c) => c.kind === '').map((c) => c.metric);
    const labelled = new Set<string>(PIPELINE_COUNTERS.filter((c) => c.kind !== '').map((c) => c.metric));
    for (const metric of unlabelled) assert.ok(!labelled.has(metric), `${metric} is both labelled and not`);
  });

  test('the TypeScript event union describes every event but completions', () => {
    assert.equal(EVERY_EVENT_DESCRIBED, true);
  });
});
