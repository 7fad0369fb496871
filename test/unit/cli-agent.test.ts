import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/agent/config';
import { resolveAgentConfig, type AgentArgs } from '../../src/cli/agent/options';
import { buildCli } from '../../src/cli/main';

const HOST = 'net_af_packet0,iface=veth0';
const WIRE = 'net_af_xdp0,iface=eth1';

const STOP = 'stop before the agent handler';

/**
 * Parses argv with the real `dysco` CLI and returns the arguments the agent handler would get.
 * A global middleware runs after validation and before the command handler; it captures the
 * arguments and aborts, so no agent (and no DPDK) is ever started.
 */
async function parsedAgentArgs(argv: string[]): Promise<AgentArgs> {
  let captured: AgentArgs | undefined;
  // yargs may throw synchronously from parseAsync(); the async wrapper turns that into a rejection.
  await assert.rejects(
    async () =>
      buildCli(argv)
        .fail(false)
        .middleware((args) => {
          captured = args as AgentArgs;
          throw new Error(STOP);
        })
        .parseAsync(),
    new RegExp(STOP),
  );
  assert.ok(captured, 'the middleware did not run');
  return captured;
}

/** Runs `fn` with DYSCO_* variables set, restoring the environment afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('resolveAgentConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-cli-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    [
      'host:',
      `  device: ${HOST}`,
      'wire:',
      `  device: ${WIRE}`,
      'poll:',
      '  mode: busy',
      '  txDrainUs: 50',
      'metrics:',
      '  port: 9100',
      '  host: 0.0.0.0',
      'eal:',
      '  memoryMb: 512',
      'log:',
      '  level: debug',
      '',
    ].join('\n'),
  );

  test('flags alone: defaults fill the rest', () => {
    const config = resolveAgentConfig({ hostDevice: HOST, wireDevice: WIRE });
    assert.equal(config.host.device, HOST);
    assert.equal(config.wire.device, WIRE);
    assert.equal(config.poll.mode, 'adaptive');
    assert.deepEqual(config.metrics, { enabled: true, host: '127.0.0.1', port: 9464 });
    assert.equal(config.eal.hugepages, false);
    assert.ok(config.eal.filePrefix.startsWith('dysco-'));
  });

  test('config file alone', () => {
    const config = resolveAgentConfig({ config: configFile });
    assert.equal(config.host.device, HOST);
    assert.equal(config.poll.mode, 'busy');
    assert.equal(config.poll.txDrainUs, 50);
    assert.deepEqual(config.metrics, { enabled: true, host: '0.0.0.0', port: 9100 });
    assert.equal(config.eal.memoryMb, 512);
    assert.equal(config.log.level, 'debug');
  });

  test('flags override file values; untouched file values stay', () => {
    const config = resolveAgentConfig({
      config: configFile,
      wireDevice: 'net_tap3,iface=t3',
      pollMode: 'adaptive',
      idleSleepMaxUs: 50,
      metrics: false,
      metricsPort: 9200,
      ealFilePrefix: 'dysco-cli',
      ealMemoryMb: 128,
      hugepages: true,
      logLevel: 'warn',
    });
    assert.equal(config.host.device, HOST);
    assert.equal(config.wire.device, 'net_tap3,iface=t3');
    assert.deepEqual(config.poll, { mode: 'adaptive', idleSleepMaxUs: 50, txDrainUs: 50 });
    assert.deepEqual(config.metrics, { enabled: false, host: '0.0.0.0', port: 9200 });
    assert.equal(config.eal.filePrefix, 'dysco-cli');
    assert.equal(config.eal.memoryMb, 128);
    assert.equal(config.eal.hugepages, true);
    assert.equal(config.log.level, 'warn');
  });

  test('several config files: each later one merged onto the ones before, flags on top', async () => {
    const node = join(dir, 'node.yaml');
    writeFileSync(node, 'dysco: { address: 10.0.1.2/24, gateway: 10.0.1.1 }\nmetrics: { port: 9300 }\n');
    const args = await parsedAgentArgs(['agent', '--config', configFile, '--config', node, '--metrics-host', '127.0.0.1']);
    assert.deepEqual(args.config, [configFile, node]);
    const config = resolveAgentConfig(args);
    assert.equal(config.poll.mode, 'busy');
    assert.deepEqual(config.metrics, { enabled: true, host: '127.0.0.1', port: 9300 });
    assert.equal(config.dysco?.address, '10.0.1.2/24');
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- 1\n');
    assert.throws(() => resolveAgentConfig({ config: [configFile, list] }), /config file .*list\.yaml must hold a mapping of keys/);
    assert.throws(
      () => resolveAgentConfig({ config: [configFile, node], metricsPort: 70000 }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(`(${configFile} + ${node} + flags)`),
    );
  });

  test('errors name the field and the source', () => {
    assert.throws(
      () => resolveAgentConfig({ hostDevice: 'eth0', wireDevice: WIRE }),
      (error: unknown) => error instanceof ConfigError && /\(flags\)/.test(error.message) && /host\.device: "eth0"/.test(error.message),
    );
    assert.throws(
      () => resolveAgentConfig({ config: configFile, metricsPort: 70000 }),
      (error: unknown) =>
        error instanceof ConfigError && error.message.includes(`(${configFile} + flags)`) && /metrics\.port: /.test(error.message),
    );
    assert.throws(
      () => resolveAgentConfig({ wireDevice: WIRE }),
      (error: unknown) => error instanceof ConfigError && /^\s*host(\.device)?: Required$/m.test(error.message),
    );
    assert.throws(() => resolveAgentConfig({ config: join(dir, 'missing.yaml') }), ConfigError);
  });
});

describe('dysco agent command line', () => {
  test('--poll-mode must be adaptive or busy', () => {
    assert.throws(() => buildCli(['agent', '--poll-mode', 'nope']).fail(false).parse(), /poll-mode.*nope/s);
  });

  test('unknown flags are rejected (strict)', () => {
    assert.throws(() => buildCli(['agent', '--host-device', HOST, '--bogus-flag']).fail(false).parse(), /Unknown arguments?: .*bogus-flag/);
  });

  test('a command is required', () => {
    assert.throws(() => buildCli([]).fail(false).parse(), /name a command/);
  });

  test('flags reach the handler camel-cased and typed', async () => {
    const args = await parsedAgentArgs([
      'agent',
      '--host-device',
      HOST,
      '--wire-device',
      WIRE,
      '--poll-mode',
      'busy',
      '--metrics-port',
      '9300',
      '--eal-memory-mb',
      '128',
    ]);
    assert.equal(args.hostDevice, HOST);
    assert.equal(args.pollMode, 'busy');
    assert.equal(args.metricsPort, 9300);
    assert.equal(args.ealMemoryMb, 128);
    assert.equal(args.metrics, undefined);
    const config = resolveAgentConfig(args);
    assert.equal(config.poll.mode, 'busy');
    assert.equal(config.metrics.port, 9300);
    assert.equal(config.eal.memoryMb, 128);
  });

  test('--no-metrics sets metrics.enabled false', async () => {
    const args = await parsedAgentArgs(['agent', '--host-device', HOST, '--wire-device', WIRE, '--no-metrics']);
    assert.equal(args.metrics, false);
    assert.equal(resolveAgentConfig(args).metrics.enabled, false);
    const without = await parsedAgentArgs(['agent', '--host-device', HOST, '--wire-device', WIRE]);
    assert.equal(resolveAgentConfig(without).metrics.enabled, true);
  });

  test('a non-numeric --metrics-port is rejected by the config check', async () => {
    const args = await parsedAgentArgs(['agent', '--host-device', HOST, '--wire-device', WIRE, '--metrics-port', 'abc']);
    assert.throws(() => resolveAgentConfig(args), /metrics\.port: /);
  });

  test('DYSCO_METRICS_PORT is honoured, and a flag beats it', async () => {
    await withEnv({ DYSCO_METRICS_PORT: '9555', DYSCO_HOST_DEVICE: HOST, DYSCO_WIRE_DEVICE: WIRE }, async () => {
      const args = await parsedAgentArgs(['agent']);
      assert.equal(args.metricsPort, 9555);
      const config = resolveAgentConfig(args);
      assert.equal(config.metrics.port, 9555);
      assert.equal(config.host.device, HOST);
      const flagged = await parsedAgentArgs(['agent', '--metrics-port', '9556']);
      assert.equal(resolveAgentConfig(flagged).metrics.port, 9556);
    });
    assert.equal(process.env.DYSCO_METRICS_PORT, undefined);
    const plain = await parsedAgentArgs(['agent', '--host-device', HOST, '--wire-device', WIRE]);
    assert.equal(plain.metricsPort, undefined);
  });

  test('a config file plus flags through the command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dysco-cli-test-'));
    try {
      const file = join(dir, 'agent.json');
      writeFileSync(file, JSON.stringify({ host: { device: HOST }, wire: { device: WIRE }, metrics: { port: 9101 }, poll: { mode: 'busy' } }));
      const args = await parsedAgentArgs(['agent', '--config', file, '--metrics-port', '9102']);
      const config = resolveAgentConfig(args);
      assert.equal(config.metrics.port, 9102);
      assert.equal(config.poll.mode, 'busy');
      assert.equal(config.host.device, HOST);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
