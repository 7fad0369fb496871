// Shared set-up for tests that start the EAL: skip reasons, and EAL options that leave no files.
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatapathOptions } from '../../src/datapath/datapath';
import type { EalOptions } from '../../src/datapath/eal';
import { isRoot } from './netns';

export function dpdkUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'DPDK needs Linux';
  if (!isRoot()) return 'needs root (DPDK EAL)';
  if (!existsSync('/usr/lib/x86_64-linux-gnu/dpdk') && !existsSync('/usr/lib/dpdk')) return 'DPDK is not installed';
  return undefined;
}

export function skipUnlessDpdk(t: TestContext): boolean {
  const reason = dpdkUnavailableReason();
  if (reason === undefined) return false;
  t.skip(reason);
  return true;
}

export function testEalOptions(tag: string): EalOptions {
  return {
    hugepages: false,
    memoryMb: 128,
    filePrefix: `dysco-test-${tag}-${process.pid}`,
    logLevel: 'error',
    extraArgs: [],
  };
}

/**
 * A datapath on two net_pcap ports that read host-in.pcap / wire-in.pcap from `dir` and write host-out.pcap /
 * wire-out.pcap there. `firstPort` numbers the vdevs (each must be unique in the process).
 */
export function pcapDatapathOptions(
  dir: string,
  eal: EalOptions,
  extra: Partial<DatapathOptions> & { firstPort?: number } = {},
): DatapathOptions {
  const { firstPort = 0, ...rest } = extra;
  const port = (n: number, side: 'host' | 'wire') =>
    `net_pcap${n},rx_pcap=${join(dir, `${side}-in.pcap`)},tx_pcap=${join(dir, `${side}-out.pcap`)}`;
  return {
    hostDevice: port(firstPort, 'host'),
    wireDevice: port(firstPort + 1, 'wire'),
    pollMode: 'adaptive',
    idleSleepMaxUs: 100,
    txDrainUs: 100,
    mbufs: 2047,
    rxDescriptors: 256,
    txDescriptors: 256,
    ringSize: 1024,
    eal,
    ...rest,
  };
}
