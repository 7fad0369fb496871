import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { validateDevice } from '../../src/datapath/datapath';
import { allowedCpuList, defaultFilePrefix, ealArguments, isPciAddress, type EalOptions } from '../../src/datapath/eal';

const options = (overrides: Partial<EalOptions> = {}): EalOptions => ({
  hugepages: false,
  memoryMb: 256,
  filePrefix: 'dysco-test',
  logLevel: 'warning',
  extraArgs: [],
  ...overrides,
});

const VDEVS = ['net_af_packet0,iface=veth0', 'net_af_packet1,iface=veth1'];

/** The value following `flag`; fails unless the flag occurs exactly once. */
function valueOf(args: string[], flag: string): string | undefined {
  const indexes = args.flatMap((arg, index) => (arg === flag ? [index] : []));
  assert.equal(indexes.length, 1, `${flag} occurs ${indexes.length} times in ${args.join(' ')}`);
  return args[indexes[0]! + 1];
}

function cpusFromProc(): string {
  const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  assert.ok(match?.[1]);
  return match[1];
}

describe('ealArguments', () => {
  test('defaults: --no-huge with -m, --no-pci for vdevs only', () => {
    const args = ealArguments(options(), VDEVS);
    assert.ok(args.includes('--no-huge'));
    assert.equal(valueOf(args, '-m'), '256');
    assert.ok(!args.includes('--socket-mem'));
    assert.ok(args.includes('--no-pci'));
    assert.ok(!args.includes('-a'));
    assert.ok(args.includes('--no-shconf'));
    assert.ok(args.includes('--no-telemetry'));
    assert.equal(valueOf(args, '--file-prefix'), 'dysco-test');
    assert.equal(valueOf(args, '--main-lcore'), '0');
    assert.equal(valueOf(args, '--log-level'), 'warning');
    for (const arg of args) assert.equal(typeof arg, 'string');
  });

  test('memory size follows the option', () => {
    assert.equal(valueOf(ealArguments(options({ memoryMb: 1024 }), VDEVS), '-m'), '1024');
  });

  test('--lcores floats both lcores over the allowed CPU list', () => {
    const cpus = cpusFromProc();
    assert.equal(allowedCpuList(), cpus);
    const lcores = valueOf(ealArguments(options(), VDEVS), '--lcores');
    assert.equal(lcores, `0@(${cpus}),1@(${cpus})`);
    assert.match(lcores ?? '', /^0@\([0-9,-]+\),1@\([0-9,-]+\)$/);
  });

  test('a PCI device is allowed with -a and --no-pci is dropped', () => {
    const args = ealArguments(options(), ['0000:01:00.0', 'net_tap0,iface=t0']);
    assert.ok(!args.includes('--no-pci'));
    assert.equal(valueOf(args, '-a'), '0000:01:00.0');
  });

  test('two PCI devices give two -a flags, in order', () => {
    const args = ealArguments(options(), ['0000:01:00.0', '02:00.1']);
    assert.ok(!args.includes('--no-pci'));
    const allowed = args.flatMap((arg, index) => (arg === '-a' ? [args[index + 1]] : []));
    assert.deepEqual(allowed, ['0000:01:00.0', '02:00.1']);
  });

  test('hugepages: --socket-mem instead of --no-huge and -m', () => {
    const args = ealArguments(options({ hugepages: true, memoryMb: 512 }), VDEVS);
    assert.ok(!args.includes('--no-huge'));
    assert.ok(!args.includes('-m'));
    assert.equal(valueOf(args, '--socket-mem'), '512');
  });

  test('extra arguments come last, verbatim', () => {
    const args = ealArguments(options({ extraArgs: ['--in-memory', '--vdev', 'net_null9'] }), VDEVS);
    assert.deepEqual(args.slice(-3), ['--in-memory', '--vdev', 'net_null9']);
  });

  test('the options object is not mutated', () => {
    const opts = options({ extraArgs: ['--x'] });
    const args = ealArguments(opts, VDEVS);
    args.push('--mutated');
    assert.deepEqual(opts.extraArgs, ['--x']);
  });

  test('the default file prefix embeds the pid', () => {
    assert.equal(defaultFilePrefix(1234), 'dysco-1234');
    assert.equal(defaultFilePrefix(), `dysco-${process.pid}`);
  });
});

describe('isPciAddress', () => {
  for (const good of ['0000:01:00.0', '01:00.0', '0000:af:1f.7', 'ABCD:EF:01.3', '0000:01:00.0,rxq=2']) {
    test(`accepts ${JSON.stringify(good)}`, () => assert.equal(isPciAddress(good), true));
  }
  for (const bad of ['', 'eth0', 'net_tap0', 'net_af_packet0,iface=eth0', '0000:01:00.8', '0000:01:00', '1:00.0', '00000:01:00.0', 'zz:00.0', '0000:01:00.0x', ' 01:00.0']) {
    test(`rejects ${JSON.stringify(bad)}`, () => assert.equal(isPciAddress(bad), false));
  }
});

describe('validateDevice', () => {
  for (const good of ['net_af_packet0,iface=x', 'net_af_xdp1,iface=y', 'net_tap0,iface=t', 'net_null0', 'net_pcap12,rx_pcap=a.pcap', '0000:01:00.0']) {
    test(`accepts ${JSON.stringify(good)}`, () => assert.equal(validateDevice(good), undefined));
  }
  for (const bad of ['eth0', '', 'net_', 'af_packet0', 'net_tap', 'net_TAP0', 'net_tap0x,iface=t', ',iface=eth0']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      const problem = validateDevice(bad);
      assert.equal(typeof problem, 'string');
      assert.ok(problem!.includes(JSON.stringify(bad)), problem);
    });
  }
});
