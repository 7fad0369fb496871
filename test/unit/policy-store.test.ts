import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCompiledPolicies } from '../../src/policy/compile';
import { formatIpv4 } from '../../src/net/ipv4';
import type { Policy } from '../../src/policy/model';
import { PolicyConflictError, PolicyInstallError, PolicyStore, type PolicySink } from '../../src/policy/store';
import { PolicyValidationError } from '../../src/policy/validate';

const p = (name: string, chain: string[] = [], match: Policy['match'] = {}): Policy => ({ name, match, chain });

/** A sink whose installs finish only when the test releases them, to observe overlap and coalescing. */
class GatedSink implements PolicySink {
  active = 0;
  maxActive = 0;
  installed: Buffer[] = [];
  failNext = false;
  private gates: (() => void)[] = [];
  async installPolicies(compiled: Buffer): Promise<void> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.active -= 1;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('datapath refused');
    }
    this.installed.push(compiled);
  }
  async releaseAll(): Promise<void> {
    for (let i = 0; i < 50 && (this.gates.length || this.active); i += 1) {
      this.gates.splice(0).forEach((open) => open());
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const firstHops = (buf: Buffer) => decodeCompiledPolicies(buf).map((r) => r.hops.map(formatIpv4).join(','));

describe('PolicyStore', () => {
  test('order: API-added, then config, then service; service names shadowed by local ones', async () => {
    const sink = new GatedSink();
    const store = new PolicyStore({ sink, config: [p('cfg', ['10.0.0.2'])] });
    const done = Promise.all([
      store.sync(),
      store.add(p('api1', ['10.0.0.1'])),
      store.setServicePolicies([p('svc', ['10.0.0.3']), p('cfg', ['10.0.0.9'])], 'v1'),
      store.add(p('api2', ['10.0.0.4'])),
    ]);
    await sink.releaseAll();
    await done;
    assert.deepEqual(store.effective().map((e) => `${e.source}:${e.name}`), ['api:api1', 'api:api2', 'config:cfg', 'service:svc']);
    assert.deepEqual(store.status().shadowed, ['cfg']);
    assert.equal(store.status().serviceVersion, 'v1');
    assert.deepEqual(firstHops(sink.installed[sink.installed.length - 1]!), ['10.0.0.1', '10.0.0.4', '10.0.0.2', '10.0.0.3']);
    assert.equal(sink.maxActive, 1, 'installs never overlap');
    assert.ok(sink.installed.length <= 2, `changes during an install are coalesced (got ${sink.installed.length} installs)`);
  });

  test('invalid and conflicting adds are rejected before anything is installed', async () => {
    const sink = new GatedSink();
    const store = new PolicyStore({ sink, config: [p('cfg')] });
    await assert.rejects(store.add({ name: 'x', match: { srcPrefix: '10.0.0.1/8' }, chain: [] }), PolicyValidationError);
    await assert.rejects(store.add(p('cfg')), PolicyConflictError);
    assert.equal(sink.installed.length, 0);
    assert.throws(() => new PolicyStore({ sink, config: [p('a'), p('a')] }), /policies\[1\]\.name: duplicate/);
  });

  test('a failed install rejects the change but keeps the store; the next install carries it', async () => {
    const sink = new GatedSink();
    const store = new PolicyStore({ sink });
    sink.failNext = true;
    const failing = assert.rejects(store.add(p('a', ['10.0.0.1'])), PolicyInstallError);
    await sink.releaseAll();
    await failing;
    assert.equal(store.status().installFailures, 1);
    assert.match(store.status().lastInstallError ?? '', /datapath refused/);
    const next = store.add(p('b', ['10.0.0.2']));
    await sink.releaseAll();
    await next;
    assert.deepEqual(firstHops(sink.installed[0]!), ['10.0.0.1', '10.0.0.2']);
    assert.equal(store.status().lastInstallError, undefined);
  });
});
