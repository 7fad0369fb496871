import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ApiClient } from '../../src/api/client';
import { AgentControlPlane } from '../../src/api/control-plane';
import { decodeCompiledPolicies } from '../../src/policy/compile';
import { startPolicyServer } from '../../src/policy/service-server';

const dir = mkdtempSync(join(tmpdir(), 'dysco-cp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('AgentControlPlane: config + service policies installed, API served, metrics, clean stop', async () => {
  const file = join(dir, 'policies.yaml');
  writeFileSync(file, '- name: svc\n  match: { dstPorts: 443 }\n  chain: [10.0.9.1]\n');
  const service = await startPolicyServer({ file, port: 0 });
  const installs: Buffer[] = [];
  const cp = new AgentControlPlane();
  const socket = join(dir, 'agent.sock');
  try {
    await cp.start({
      config: {
        policies: [{ name: 'cfg', match: { dstPorts: 80 }, chain: ['10.0.8.1'] }],
        policyService: { url: service.url, intervalMs: 60_000, timeoutMs: 1000, cachePath: join(dir, 'cache.json') },
        api: { socket, host: '127.0.0.1' },
      },
      sink: { installPolicies: async (b) => void installs.push(b) },
      sessions: { sessions: async () => ({ sessions: [], nextCursor: null }) },
      log: pino({ level: 'silent' }),
    });
    await cp.store!.whenIdle();
    assert.equal(cp.apiSocket, socket);
    const rules = decodeCompiledPolicies(installs[installs.length - 1]!);
    assert.deepEqual(rules.map((r) => r.dstPortLo), [80, 443]);
    const list = await new ApiClient(socket).listPolicies();
    assert.deepEqual(list.policies.map((p) => `${p.source}:${p.name}`), ['config:cfg', 'service:svc']);

    const registry = new Registry();
    cp.registerMetrics(registry);
    const text = await registry.metrics();
    assert.match(text, /^dysco_policy_rules 2$/m);
    assert.match(text, /^dysco_policy_service_polls_total\{result="updated"\} 1$/m);
    assert.match(text, /^dysco_policy_service_source\{source="service"\} 1$/m);
  } finally {
    await cp.stop();
    await service.close();
  }
  assert.equal(existsSync(socket), false);
});
