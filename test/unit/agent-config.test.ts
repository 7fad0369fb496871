import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, mergeConfig, parseAgentConfig, readConfigFile } from '../../src/agent/config';

const minimal = () => ({
  host: { device: 'net_af_packet0,iface=veth0' },
  wire: { device: 'net_af_xdp0,iface=eth1' },
});

/** Parses `input` expecting failure; returns the ConfigError's message. */
function configErrorOf(input: unknown, source?: string): string {
  let caught: unknown;
  try {
    parseAgentConfig(input, source);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.name, 'ConfigError');
  return caught.message;
}

/** The problem lines of a ConfigError message, one per issue, without the heading. */
function issueLines(message: string): string[] {
  return message
    .split('\n')
    .slice(1)
    .map((line) => line.trim());
}

describe('parseAgentConfig: defaults', () => {
  test('a minimal config gets every default', () => {
    const config = parseAgentConfig(minimal());
    assert.equal(config.host.device, 'net_af_packet0,iface=veth0');
    assert.equal(config.wire.device, 'net_af_xdp0,iface=eth1');
    assert.deepEqual(config.poll, { mode: 'adaptive', idleSleepMaxUs: 200, txDrainUs: 100 });
    assert.deepEqual(config.datapath, { mbufs: 8191, rxDescriptors: 1024, txDescriptors: 1024, ringSize: 4096 });
    assert.deepEqual(config.metrics, { enabled: true, host: '127.0.0.1', port: 9464 });
    assert.equal(config.eal.hugepages, false);
    assert.equal(config.eal.memoryMb, 256);
    assert.equal(config.eal.logLevel, 'warning');
    assert.deepEqual(config.eal.extraArgs, []);
    assert.ok(config.eal.filePrefix.startsWith('dysco-'), config.eal.filePrefix);
    assert.equal(config.eal.filePrefix, `dysco-${process.pid}`);
    assert.equal(config.log.level, 'info');
    assert.equal(config.shutdown.timeoutMs, 4000);
  });

  test('given values are kept and partial sections are completed with defaults', () => {
    const config = parseAgentConfig({
      ...minimal(),
      poll: { mode: 'busy' },
      metrics: { port: 0, host: '::1' },
      eal: { filePrefix: 'dysco-test_1', hugepages: true },
    });
    assert.deepEqual(config.poll, { mode: 'busy', idleSleepMaxUs: 200, txDrainUs: 100 });
    assert.deepEqual(config.metrics, { enabled: true, host: '::1', port: 0 });
    assert.equal(config.eal.filePrefix, 'dysco-test_1');
    assert.equal(config.eal.hugepages, true);
    assert.equal(config.eal.memoryMb, 256);
  });

  test('PCI addresses are accepted as device strings', () => {
    const config = parseAgentConfig({ host: { device: '0000:01:00.0' }, wire: { device: '01:00.1' } });
    assert.equal(config.host.device, '0000:01:00.0');
    assert.equal(config.wire.device, '01:00.1');
  });

  test('the input object is not mutated', () => {
    const input = minimal();
    const snapshot = structuredClone(input);
    parseAgentConfig(input);
    assert.deepEqual(input, snapshot);
  });
});

describe('parseAgentConfig: rejections name the field', () => {
  const cases: Array<{ name: string; input: unknown; field: RegExp }> = [
    { name: 'unknown top-level key', input: { ...minimal(), bogus: 1 }, field: /^bogus: unknown key$/ },
    { name: 'unknown nested key', input: { ...minimal(), poll: { bogus: true } }, field: /^poll\.bogus: unknown key$/ },
    { name: 'unknown key inside a port', input: { ...minimal(), host: { device: 'net_tap0', iface: 'x' } }, field: /^host\.iface: unknown key$/ },
    { name: 'wrong type (string for number)', input: { ...minimal(), poll: { idleSleepMaxUs: '200' } }, field: /^poll\.idleSleepMaxUs: .*number/i },
    { name: 'wrong type (string for boolean)', input: { ...minimal(), eal: { hugepages: 'yes' } }, field: /^eal\.hugepages: .*boolean/i },
    { name: 'wrong type (number for device)', input: { ...minimal(), wire: { device: 5 } }, field: /^wire\.device: .*string/i },
    { name: 'non-integer number', input: { ...minimal(), datapath: { mbufs: 8191.5 } }, field: /^datapath\.mbufs: .*integer/i },
    { name: 'port above 65535', input: { ...minimal(), metrics: { port: 70000 } }, field: /^metrics\.port: .*65535/ },
    { name: 'negative port', input: { ...minimal(), metrics: { port: -1 } }, field: /^metrics\.port: / },
    { name: 'memoryMb below minimum', input: { ...minimal(), eal: { memoryMb: 1 } }, field: /^eal\.memoryMb: .*64/ },
    { name: 'bad poll mode enum', input: { ...minimal(), poll: { mode: 'lazy' } }, field: /^poll\.mode: .*'adaptive' \| 'busy'/ },
    { name: 'bad log level enum', input: { ...minimal(), log: { level: 'loud' } }, field: /^log\.level: / },
    { name: 'metrics host not an IP', input: { ...minimal(), metrics: { host: 'localhost' } }, field: /^metrics\.host: / },
    { name: 'bad device string', input: { ...minimal(), host: { device: 'eth0' } }, field: /^host\.device: "eth0" is neither a PCI address nor a vdev/ },
    { name: 'empty device string', input: { ...minimal(), wire: { device: '' } }, field: /^wire\.device: / },
    { name: 'filePrefix without dysco-', input: { ...minimal(), eal: { filePrefix: 'rte' } }, field: /^eal\.filePrefix: must start with "dysco-"/ },
    { name: 'filePrefix with a slash', input: { ...minimal(), eal: { filePrefix: 'dysco-../x' } }, field: /^eal\.filePrefix: / },
    { name: 'missing host.device', input: { host: {}, wire: { device: 'net_tap0' } }, field: /^host\.device: Required$/ },
    { name: 'missing host section', input: { wire: { device: 'net_tap0' } }, field: /^host: Required$/ },
    { name: 'not an object', input: 'net_tap0', field: /^\(root\): .*object/i },
    { name: 'state: a relative namespace path', input: { ...minimal(), state: { adapter: 'conntrack', netns: 'ns1' } }, field: /^state\.netns: must be an absolute path/ },
    { name: 'state: an unknown adapter', input: { ...minimal(), state: { adapter: 'vpp' } }, field: /^state\.adapter: / },
    { name: 'state: commands without an export', input: { ...minimal(), state: { adapter: 'commands', export: [], import: ['imp'] } }, field: /^state\.export: / },
  ];
  for (const { name, input, field } of cases) {
    test(name, () => {
      const message = configErrorOf(input);
      assert.match(message, /^invalid agent configuration \(config\):\n/);
      const lines = issueLines(message);
      assert.ok(
        lines.some((line) => field.test(line)),
        `no line matching ${field} in:\n${message}`,
      );
    });
  }

  test('the source appears in the message', () => {
    assert.match(configErrorOf({}, 'agent.yaml'), /^invalid agent configuration \(agent\.yaml\):/);
  });

  test('several errors at once are all reported', () => {
    const message = configErrorOf({
      host: { device: 'eth0' },
      wire: {},
      poll: { mode: 'nope', bogus: 1 },
      metrics: { port: 70000 },
      eal: { memoryMb: 1, filePrefix: 'bad' },
      extra: true,
      another: false,
    });
    const lines = issueLines(message);
    const expected = [
      /^host\.device: /,
      /^wire\.device: Required$/,
      /^poll\.mode: /,
      /^poll\.bogus: unknown key$/,
      /^metrics\.port: /,
      /^eal\.memoryMb: /,
      /^eal\.filePrefix: /,
      /^extra, another: unknown keys$/,
    ];
    for (const pattern of expected) {
      assert.ok(
        lines.some((line) => pattern.test(line)),
        `no line matching ${pattern} in:\n${message}`,
      );
    }
    assert.equal(lines.length, expected.length, message);
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-config-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('YAML', () => {
    const path = write(
      'agent.yaml',
      ['host:', '  device: net_af_packet0,iface=veth0', 'wire:', '  device: net_tap1,iface=t', 'metrics:', '  port: 9100', 'poll:', '  mode: busy', ''].join('\n'),
    );
    const raw = readConfigFile(path);
    assert.deepEqual(raw, {
      host: { device: 'net_af_packet0,iface=veth0' },
      wire: { device: 'net_tap1,iface=t' },
      metrics: { port: 9100 },
      poll: { mode: 'busy' },
    });
    const config = parseAgentConfig(raw, path);
    assert.equal(config.metrics.port, 9100);
    assert.equal(config.poll.mode, 'busy');
    assert.equal(config.metrics.host, '127.0.0.1');
  });

  test('JSON', () => {
    const input = { ...minimal(), eal: { memoryMb: 512, extraArgs: ['--in-memory'] } };
    const path = write('agent.json', JSON.stringify(input, null, 2));
    assert.deepEqual(readConfigFile(path), input);
    assert.equal(parseAgentConfig(readConfigFile(path)).eal.memoryMb, 512);
  });

  test('an empty file reads as an empty object', () => {
    assert.deepEqual(readConfigFile(write('empty.yaml', '')), {});
  });

  test('a missing file is a ConfigError naming the path', () => {
    const path = join(dir, 'does-not-exist.yaml');
    assert.throws(
      () => readConfigFile(path),
      (error: unknown) =>
        error instanceof ConfigError && error.message.startsWith(`cannot read config file ${path}:`) && /ENOENT/.test(error.message),
    );
  });

  test('invalid YAML is a ConfigError naming the path', () => {
    const path = write('broken.yaml', 'host:\n  device: [net_tap0\nwire: {\n');
    assert.throws(
      () => readConfigFile(path),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`config file ${path} is not valid YAML or JSON:`),
    );
  });

  test('invalid JSON is a ConfigError', () => {
    const path = write('broken.json', '{"host": {"device": "net_tap0"},, }');
    assert.throws(() => readConfigFile(path), ConfigError);
  });
});

describe('mergeConfig', () => {
  test('overlay wins', () => {
    assert.deepEqual(mergeConfig({ a: 1, b: 2 }, { b: 3, c: 4 }), { a: 1, b: 3, c: 4 });
  });

  test('undefined in the overlay keeps the base value', () => {
    assert.deepEqual(mergeConfig({ a: 1, n: { x: 1 } }, { a: undefined, n: { x: undefined } }), { a: 1, n: { x: 1 } });
    assert.ok(!('z' in mergeConfig({ a: 1 }, { z: undefined })));
  });

  test('null and false are values that override', () => {
    assert.deepEqual(mergeConfig({ a: 1, b: true }, { a: null, b: false }), { a: null, b: false });
  });

  test('nested objects merge key by key', () => {
    const base = { metrics: { enabled: true, port: 9464 }, poll: { mode: 'busy' } };
    const merged = mergeConfig(base, { metrics: { port: 9000, host: '0.0.0.0' } });
    assert.deepEqual(merged, { metrics: { enabled: true, port: 9000, host: '0.0.0.0' }, poll: { mode: 'busy' } });
  });

  test('arrays and scalars are replaced, not merged', () => {
    assert.deepEqual(mergeConfig({ eal: { extraArgs: ['a', 'b'] } }, { eal: { extraArgs: ['c'] } }), { eal: { extraArgs: ['c'] } });
    assert.deepEqual(mergeConfig({ a: 1 }, { a: { x: 1 } }), { a: { x: 1 } });
    assert.deepEqual(mergeConfig({ a: { x: 1 } }, { a: 2 }), { a: 2 });
  });

  test('a non-object base is treated as empty', () => {
    assert.deepEqual(mergeConfig(undefined, { a: 1 }), { a: 1 });
    assert.deepEqual(mergeConfig('text', { a: 1 }), { a: 1 });
    assert.deepEqual(mergeConfig([1, 2], { a: 1 }), { a: 1 });
  });

  test('the base is not mutated', () => {
    const base = { metrics: { port: 1 } };
    mergeConfig(base, { metrics: { port: 2 } });
    assert.deepEqual(base, { metrics: { port: 1 } });
  });
});

describe('dysco.controlPort and dysco.sessionEvents', () => {
  test('session events follow the control port unless set', () => {
    const dysco = (extra: object) => parseAgentConfig({ ...minimal(), dysco: { address: '10.0.1.2/24', ...extra } }).dysco!;
    assert.equal(dysco({ controlPort: 7070 }).sessionEvents, true);
    assert.equal(dysco({ controlPort: 7070, sessionEvents: false }).sessionEvents, false);
    assert.equal(dysco({ sessionEvents: true }).sessionEvents, true);
  });

  test('off by default, carried into the pipeline options when set, and bounded', async () => {
    const { pipelineOptions } = await import('../../src/agent/agent');
    const plain = parseAgentConfig({ ...minimal(), dysco: { address: '10.0.1.2/24' } });
    assert.equal(plain.dysco!.controlPort, 0);
    assert.equal(plain.dysco!.sessionEvents, false);
    const set = parseAgentConfig({ ...minimal(), dysco: { address: '10.0.1.2/24', controlPort: 7070, sessionEvents: true } });
    const options = pipelineOptions(set.dysco!);
    assert.equal(options.controlPort, 7070);
    assert.equal(options.sessionEvents, true);
    assert.match(configErrorOf({ ...minimal(), dysco: { address: '10.0.1.2/24', controlPort: 70000 } }), /dysco\.controlPort/);
  });
});
