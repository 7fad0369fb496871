// Defaults and limits of the Dysco section live only in the config schema: the addon takes every option from
// TypeScript and checks only what its types need; the schema's bounds are what an agent gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema, parseAgentConfig } from '../../src/agent/config';
import type { PipelineOptions } from '../../src/native/session-types';
import { coreTestAddon } from '../support/core-addon';

const { Pipeline } = coreTestAddon.pipeline;
const defaults = (): PipelineOptions => pipelineOptions(dyscoConfigSchema.parse({ address: '10.0.1.2/24', gateway: '10.0.1.1' }));

test('the schema defaults are a complete set of pipeline options', () => {
  const options = defaults();
  assert.deepEqual(options, {
    hostIp: 0x0a000102,
    prefixLength: 24,
    gatewayIp: 0x0a000101,
    maxSessions: 65_536,
    maxSetups: 16_384,
    maxReconfigurations: 4_096,
    portLo: 61_000,
    portHi: 65_535,
    mtu: 1500,
    setupTimeoutMs: 10_000,
    establishedTimeoutMs: 300_000,
    closingTimeoutMs: 30_000,
    lingerMs: 2_000,
    controlPort: 0,
    sessionEvents: false,
  });
  assert.doesNotThrow(() => new Pipeline(options));
});

test('the addon has no defaults of its own: a missing option is an error naming it', () => {
  for (const key of Object.keys(defaults()) as (keyof PipelineOptions)[]) {
    const options: Partial<PipelineOptions> = defaults();
    delete options[key];
    assert.throws(() => new Pipeline(options as PipelineOptions), (error: Error) => error instanceof TypeError && error.message.includes(key), key);
  }
});

test("the schema's limits are the agent's; the addon accepts their ends and refuses only what its types cannot hold", () => {
  const base = { host: { device: 'net_null0' }, wire: { device: 'net_null1' } };
  const dysco = (extra: Record<string, unknown>) => () => parseAgentConfig({ ...base, dysco: { address: '10.0.1.2/24', ...extra } });
  assert.throws(dysco({ mtu: 575 }), /dysco\.mtu/);
  assert.throws(dysco({ mtu: 9217 }), /dysco\.mtu/);
  assert.throws(dysco({ maxSessions: 0 }), /dysco\.maxSessions/);
  assert.throws(dysco({ portRange: '1000-2000' }), /dysco\.portRange/);
  assert.throws(dysco({ timeouts: { lingerMs: 600_001 } }), /dysco\.timeouts\.lingerMs/);
  for (const mtu of [576, 9216]) {
    const config = parseAgentConfig({ ...base, dysco: { address: '10.0.1.2/24', mtu } });
    assert.doesNotThrow(() => new Pipeline(pipelineOptions(config.dysco!)), `mtu ${mtu}`);
  }
  // What the C++ types cannot hold, and the invariants the tables need.
  assert.throws(() => new Pipeline({ ...defaults(), mtu: 65_536 }), /mtu/);
  assert.throws(() => new Pipeline({ ...defaults(), maxSessions: 0 }), /maxSessions/);
  assert.throws(() => new Pipeline({ ...defaults(), portLo: 2000, portHi: 2000 }), /portLo/);
  assert.throws(() => new Pipeline({ ...defaults(), prefixLength: 33 }), /prefixLength/);
});
