import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DEFAULT_ADDRESS_BASE,
  TopologyError,
  addressPlan,
  builtinTopology,
  formatIssuePath,
  loadTopologyFile,
  parseTopology,
  resolveTopology,
} from '../../src/testbed/topology';

function issuesOf(input: unknown): string[] {
  try {
    parseTopology(input);
  } catch (err) {
    assert.ok(err instanceof TopologyError);
    return [...err.issues];
  }
  assert.fail('expected a TopologyError');
}

describe('topology validation names the field', () => {
  test('a bad host name', () => {
    const issues = issuesOf({ name: 't', hosts: [{ name: 'client', agent: true }, { name: 'Bad-Name', agent: true }] });
    assert.equal(issues.length, 1);
    assert.match(issues[0]!, /^hosts\[1\]\.name: must start with a lowercase letter/);
  });
  test('a missing and a mistyped field', () => {
    const issues = issuesOf({ name: 't', hosts: [{ name: 'a' }, { name: 'b', agent: 'yes' }] });
    assert.ok(issues.includes('hosts[0].agent: is required'), issues.join('\n'));
    assert.ok(issues.some((i) => /^hosts\[1\]\.agent: must be a boolean/.test(i)), issues.join('\n'));
  });
  test('an unknown field', () => {
    const issues = issuesOf({ name: 't', hosts: [{ name: 'a', agent: false, agnet: true }] });
    assert.deepEqual(issues, ['hosts[0]: unknown field "agnet"']);
  });
  test('duplicate host names, the reserved router name', () => {
    const issues = issuesOf({
      name: 't',
      hosts: [
        { name: 'a', agent: false },
        { name: 'a', agent: true },
        { name: 'router', agent: false },
      ],
    });
    assert.ok(issues.some((i) => /^hosts\[1\]\.name: duplicates hosts\[0\]\.name "a"/.test(i)), issues.join('\n'));
    assert.ok(issues.some((i) => /^hosts\[2\]\.name: "router" is reserved/.test(i)), issues.join('\n'));
  });
  test('address plan range, empty hosts, missing name', () => {
    assert.ok(issuesOf({ name: 't', hosts: [{ name: 'a', agent: false }], addressPlan: { base: 256 } }).some((i) =>
      /^addressPlan\.base: must be between 0 and 255/.test(i),
    ));
    assert.ok(issuesOf({ name: 't', hosts: [] }).some((i) => /^hosts: must list at least one host/.test(i)));
    assert.ok(issuesOf({ hosts: [{ name: 'a', agent: false }] }).includes('name: is required'));
  });
  test('the error message carries every issue and the source', () => {
    try {
      parseTopology({ name: 't', hosts: [{ name: '1x', agent: true }] }, 'topology file x.yaml');
      assert.fail('expected an error');
    } catch (err) {
      assert.match((err as Error).message, /^invalid topology file x\.yaml: hosts\[0\]\.name: /);
    }
  });
  test('issue paths', () => {
    assert.equal(formatIssuePath(['hosts', 3, 'name']), 'hosts[3].name');
    assert.equal(formatIssuePath([]), '(root)');
  });
});

describe('built-in topologies', () => {
  test('pair and pair-plain', () => {
    const pair = builtinTopology('pair')!;
    assert.deepEqual(
      pair.hosts.map((h) => [h.name, h.agent]),
      [
        ['client', true],
        ['server', true],
      ],
    );
    assert.equal(pair.addressPlan.base, DEFAULT_ADDRESS_BASE);
    const plain = builtinTopology('pair-plain')!;
    assert.ok(plain.hosts.every((h) => !h.agent));
  });
  test('chain-N', () => {
    const chain = builtinTopology('chain-3')!;
    assert.deepEqual(
      chain.hosts.map((h) => h.name),
      ['client', 'mb1', 'mb2', 'mb3', 'server'],
    );
    assert.ok(chain.hosts.every((h) => h.agent));
    assert.deepEqual(
      chain.hosts.map((h) => h.forwarding ?? false),
      [false, true, true, true, false],
    );
    assert.throws(() => builtinTopology('chain-0'), TopologyError);
    assert.equal(builtinTopology('nope'), undefined);
  });
  test('chain-N-plain: the same hosts without agents', () => {
    const plain = builtinTopology('chain-2-plain')!;
    assert.equal(plain.name, 'chain-2-plain');
    assert.deepEqual(
      plain.hosts.map((h) => [h.name, h.agent, h.forwarding ?? false]),
      [['client', false, false], ['mb1', false, true], ['mb2', false, true], ['server', false, false]],
    );
    assert.throws(() => builtinTopology('chain-17-plain'), TopologyError);
    assert.equal(builtinTopology('chain-2-plainer'), undefined);
  });
});

describe('loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-topo-'));
  test('from YAML and JSON files; unknown names are errors', (t) => {
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const yamlFile = join(dir, 'lab.yaml');
    writeFileSync(
      yamlFile,
      'name: lab\nhosts:\n  - { name: client, agent: true }\n  - name: fw\n    agent: true\n    forwarding: true\naddressPlan:\n  base: 9\n',
    );
    const topo = resolveTopology(yamlFile);
    assert.equal(topo.name, 'lab');
    assert.equal(topo.hosts[1]!.forwarding, true);
    assert.equal(topo.addressPlan.base, 9);

    const jsonFile = join(dir, 'lab.json');
    writeFileSync(jsonFile, JSON.stringify({ name: 'j', hosts: [{ name: 'a', agent: 1 }] }));
    assert.throws(() => loadTopologyFile(jsonFile), /lab\.json: hosts\[0\]\.agent: must be a boolean/);

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'name: [\n');
    assert.throws(() => loadTopologyFile(broken), /cannot parse topology file/);
    assert.throws(() => resolveTopology('no-such-topology'), /unknown topology "no-such-topology"/);
    assert.equal(resolveTopology('pair').name, 'pair');
    assert.equal(resolveTopology({ name: 'o', hosts: [{ name: 'x', agent: false }] }).addressPlan.base, DEFAULT_ADDRESS_BASE);
  });
});

describe('address plan', () => {
  test('host i on 10.<base>.<i+1>.0/24, host .2, router .1', () => {
    const plan = addressPlan(parseTopology({
      name: 't',
      hosts: [
        { name: 'client', agent: true },
        { name: 'mb1', agent: true },
        { name: 'server', agent: false },
      ],
      addressPlan: { base: 42 },
    }));
    assert.deepEqual(
      plan.map((p) => [p.host, p.index, p.address, p.gateway, p.subnet, p.prefixLength]),
      [
        ['client', 0, '10.42.1.2', '10.42.1.1', '10.42.1.0/24', 24],
        ['mb1', 1, '10.42.2.2', '10.42.2.1', '10.42.2.0/24', 24],
        ['server', 2, '10.42.3.2', '10.42.3.1', '10.42.3.0/24', 24],
      ],
    );
  });
});
