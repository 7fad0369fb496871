import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseAgentConfig } from '../../src/agent/config';
import { addressListFor, matchPolicy, type Policy } from '../../src/policy/model';
import { validatePolicies, validatePolicy } from '../../src/policy/validate';

const HOST = { device: 'net_af_packet0,iface=veth0' };
const WIRE = { device: 'net_af_packet1,iface=veth1' };

function errorsOf(input: unknown): string[] {
  const result = validatePolicies(input);
  assert.equal(result.ok, false, 'expected the policies to be rejected');
  return result.ok ? [] : result.errors;
}

const ok = (name: string, match: Policy['match'] = {}, chain: string[] = []): Policy => ({ name, match, chain });

describe('policy validation', () => {
  test('a bad prefix is named by its field path and value', () => {
    const errors = errorsOf([ok('a'), ok('b'), { name: 'c', match: { dstPrefix: '10.0.0.0/33' }, chain: [] }]);
    assert.deepEqual(errors, ['policies[2].match.dstPrefix: "10.0.0.0/33" is not an IPv4 prefix (a.b.c.d/n, n from 0 to 32)']);
  });

  test('host bits set are rejected with the network it probably meant', () => {
    const errors = errorsOf([{ name: 'a', match: { srcPrefix: '10.1.2.3/16' }, chain: [] }]);
    assert.deepEqual(errors, ['policies[0].match.srcPrefix: "10.1.2.3/16" has host bits set (did you mean "10.1.0.0/16"?)']);
  });

  test('malformed addresses and prefixes', () => {
    for (const bad of ['10.0.0/8', '10.0.0.256/8', '010.0.0.0/8', '10.0.0.0', '10.0.0.0/-1', 'x/8', '10.0.0.0/8/8']) {
      const errors = errorsOf([{ name: 'a', match: { dstPrefix: bad }, chain: [] }]);
      assert.match(errors[0]!, /^policies\[0\]\.match\.dstPrefix: .* is not an IPv4 prefix/, bad);
    }
  });

  test('port ranges: within 1..65535, lo <= hi', () => {
    for (const good of [1, 65535, '80', '1-65535', '443-443']) assert.equal(validatePolicies([ok('a', { dstPorts: good })]).ok, true, String(good));
    const cases: [unknown, RegExp][] = [
      [0, /^policies\[0\]\.match\.srcPorts: 0 is not a port or port range/],
      [65536, /srcPorts: 65536 is not a port/],
      ['200-100', /srcPorts: "200-100" is not a port/],
      ['80-', /srcPorts: "80-" is not a port/],
      [1.5, /srcPorts: 1.5 is not a port/],
      [true, /srcPorts: must be a port number or a "lo-hi" range/],
    ];
    for (const [spec, pattern] of cases) assert.match(errorsOf([ok('a', { srcPorts: spec as never })])[0]!, pattern);
  });

  test('chain entries are unicast IPv4 hosts, at most 31', () => {
    assert.deepEqual(errorsOf([ok('a', {}, ['10.0.0.1', 'mb.example'])]), ['policies[0].chain[1]: "mb.example" is not an IPv4 address']);
    assert.deepEqual(errorsOf([ok('a', {}, ['0.0.0.0'])]), ['policies[0].chain[0]: "0.0.0.0" is not a unicast host address']);
    const long = Array.from({ length: 32 }, (_, i) => `10.0.0.${i + 1}`);
    assert.deepEqual(errorsOf([ok('a', {}, long)]), ['policies[0].chain: at most 31 middlebox addresses']);
    assert.equal(validatePolicies([ok('a', {}, long.slice(0, 31))]).ok, true);
  });

  test('names: pattern, required, unique', () => {
    assert.deepEqual(errorsOf([ok('Web')]), ['policies[0].name: must be 1 to 64 characters of [a-z0-9_-]']);
    assert.deepEqual(errorsOf([{ match: {}, chain: [] }]), ['policies[0].name: is required']);
    assert.deepEqual(errorsOf([ok('a'), ok('b'), ok('a')]), ['policies[2].name: duplicate policy name "a" (first at index 0)']);
  });

  test('unknown keys are named', () => {
    assert.deepEqual(errorsOf([{ name: 'a', match: { dstPort: 80 }, chain: [] }]), ['policies[0].match: unknown key "dstPort"']);
  });

  test('a single policy (API body) is named from its own root', () => {
    const result = validatePolicy({ name: 'a', match: { dstPrefix: '1.2.3.4/40' }, chain: [] });
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.errors[0]!, /^match\.dstPrefix: "1\.2\.3\.4\/40" is not an IPv4 prefix/);
  });

  test('the agent config validates policies and names the field', () => {
    const config = parseAgentConfig({ host: HOST, wire: WIRE, policies: [ok('a', { dstPrefix: '10.0.0.0/8' }, ['10.1.0.1'])] });
    assert.deepEqual(config.policies, [ok('a', { dstPrefix: '10.0.0.0/8' }, ['10.1.0.1'])]);
    assert.deepEqual(config.api, { host: '127.0.0.1' });
    assert.equal(config.policyService, undefined);
    assert.throws(
      () => parseAgentConfig({ host: HOST, wire: WIRE, policies: [ok('a'), ok('a')] }),
      (error: Error) => error instanceof ConfigError && /policies\.1\.name: duplicate policy name "a"/.test(error.message),
    );
    assert.throws(
      () => parseAgentConfig({ host: HOST, wire: WIRE, policyService: { url: 'ftp://x/policies' } }),
      (error: Error) => error instanceof ConfigError && /policyService\.url: must be an http or https URL/.test(error.message),
    );
    const withService = parseAgentConfig({ host: HOST, wire: WIRE, policyService: { url: 'http://10.0.0.9:9466/policies' }, api: { port: 9470 } });
    assert.deepEqual(withService.policyService, {
      url: 'http://10.0.0.9:9466/policies',
      intervalMs: 5000,
      timeoutMs: 2000,
      cachePath: '/var/lib/dysco/policy-cache.json',
    });
    assert.deepEqual(withService.api, { host: '127.0.0.1', port: 9470 });
  });
});

describe('reference matcher', () => {
  const policies = [
    ok('ssh', { dstPorts: 22 }, []),
    ok('web', { srcPrefix: '10.0.0.0/24', dstPrefix: '10.0.1.0/24', dstPorts: '80-443' }, ['10.0.2.1', '10.0.2.2']),
    ok('rest', { srcPrefix: '10.0.0.0/8' }, ['10.0.9.9']),
  ];
  const header = (srcIp: string, dstIp: string, dstPort: number) => ({ srcIp, dstIp, srcPort: 40000, dstPort });

  test('first match wins, in list order', () => {
    assert.equal(matchPolicy(policies, header('10.0.0.5', '10.0.1.7', 22))?.name, 'ssh');
    assert.equal(matchPolicy(policies, header('10.0.0.5', '10.0.1.7', 443))?.name, 'web');
    assert.equal(matchPolicy(policies, header('10.0.0.5', '10.0.1.7', 444))?.name, 'rest');
    assert.equal(matchPolicy(policies, header('10.0.3.5', '10.0.1.7', 80))?.name, 'rest');
    assert.equal(matchPolicy(policies, header('192.168.0.1', '10.0.1.7', 80)), undefined);
  });

  test('/0 matches everything', () => {
    assert.equal(matchPolicy([ok('all', { srcPrefix: '0.0.0.0/0' })], header('255.1.2.3', '1.1.1.1', 1))?.name, 'all');
  });

  test('address list: chain then destination, unless the chain already ends with it', () => {
    assert.deepEqual(addressListFor(policies[1]!, '10.0.1.7'), ['10.0.2.1', '10.0.2.2', '10.0.1.7']);
    assert.deepEqual(addressListFor(ok('x', {}, ['10.0.2.1', '10.0.1.7']), '10.0.1.7'), ['10.0.2.1', '10.0.1.7']);
    assert.deepEqual(addressListFor(ok('x', {}, []), '10.0.1.7'), ['10.0.1.7']);
  });
});
